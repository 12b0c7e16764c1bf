// The policy concepts (policy/*.hpp): archetypes that meet exactly the documented
// requirements, near misses that do not, the null models, and the three edition bundles.
#include <doctest.h>
#include <remora/policy/bundle.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <cstddef>
#include <mutex>
#include <cstring>
#include <memory_resource>
#include <string>
#include <type_traits>

namespace {

// ---- alloc_policy ------------------------------------------------------------------------
struct alloc_archetype {
  static std::pmr::memory_resource& resource() noexcept { return *std::pmr::null_memory_resource(); }
  static constexpr const char* name = "archetype";
};
struct alloc_no_resource {
  static constexpr const char* name = "x";
};
struct alloc_throwing_resource {  // resource() must be noexcept
  static std::pmr::memory_resource& resource() { return *std::pmr::null_memory_resource(); }
  static constexpr const char* name = "x";
};
struct alloc_pointer_resource {  // a pointer, not a reference
  static std::pmr::memory_resource* resource() noexcept { return std::pmr::null_memory_resource(); }
  static constexpr const char* name = "x";
};
struct alloc_no_name {
  static std::pmr::memory_resource& resource() noexcept { return *std::pmr::null_memory_resource(); }
};
struct alloc_int_name {
  static std::pmr::memory_resource& resource() noexcept { return *std::pmr::null_memory_resource(); }
  static constexpr int name = 3;
};
static_assert(remora::alloc_policy<alloc_archetype>);
static_assert(!remora::alloc_policy<alloc_no_resource>);
static_assert(!remora::alloc_policy<alloc_throwing_resource>);
static_assert(!remora::alloc_policy<alloc_pointer_resource>);
static_assert(!remora::alloc_policy<alloc_no_name>);
static_assert(!remora::alloc_policy<alloc_int_name>);
static_assert(remora::alloc_policy<remora::alloc::system>);
static_assert(remora::alloc_policy<remora::alloc::arena<4096>>);

// ---- thread_policy -----------------------------------------------------------------------
struct lockable {
  void lock() {}
  void unlock() {}
  bool try_lock() { return true; }
};
struct basic_lockable_only {
  void lock() {}
  void unlock() {}
};
struct thread_archetype {
  using mutex = lockable;
  static constexpr bool multi = false;
  static unsigned threads(unsigned) noexcept { return 1; }
  static constexpr const char* name = "archetype";
};
struct thread_no_mutex {
  static constexpr bool multi = false;
  static unsigned threads(unsigned) noexcept { return 1; }
  static constexpr const char* name = "x";
};
struct thread_no_try_lock {
  using mutex = basic_lockable_only;
  static constexpr bool multi = false;
  static unsigned threads(unsigned) noexcept { return 1; }
  static constexpr const char* name = "x";
};
struct thread_no_multi {
  using mutex = lockable;
  static unsigned threads(unsigned) noexcept { return 1; }
  static constexpr const char* name = "x";
};
struct thread_int_threads {  // threads() must return exactly unsigned
  using mutex = lockable;
  static constexpr bool multi = false;
  static int threads(unsigned) noexcept { return 1; }
  static constexpr const char* name = "x";
};
struct thread_throwing_threads {
  using mutex = lockable;
  static constexpr bool multi = false;
  static unsigned threads(unsigned) { return 1; }
  static constexpr const char* name = "x";
};
struct thread_no_threads {
  using mutex = lockable;
  static constexpr bool multi = false;
  static constexpr const char* name = "x";
};
struct thread_no_name {
  using mutex = lockable;
  static constexpr bool multi = false;
  static unsigned threads(unsigned) noexcept { return 1; }
};
static_assert(remora::thread_policy<thread_archetype>);
static_assert(!remora::thread_policy<thread_no_mutex>);
static_assert(!remora::thread_policy<thread_no_try_lock>);
static_assert(!remora::thread_policy<thread_no_multi>);
static_assert(!remora::thread_policy<thread_int_threads>);
static_assert(!remora::thread_policy<thread_throwing_threads>);
static_assert(!remora::thread_policy<thread_no_threads>);
static_assert(!remora::thread_policy<thread_no_name>);
static_assert(remora::thread_policy<remora::thread::single>);
static_assert(remora::thread_policy<remora::thread::pool>);
static_assert(std::is_same_v<remora::thread::single::mutex, remora::null_mutex>);
static_assert(!remora::thread::single::multi);
static_assert(remora::thread::pool::multi);

// ---- tls_policy --------------------------------------------------------------------------
struct tls_archetype {
  static constexpr bool enabled = false;
  static constexpr bool zero_copy = true;
  static constexpr const char* name = "archetype";
  struct context {};
};
struct tls_no_enabled {
  static constexpr bool zero_copy = true;
  static constexpr const char* name = "x";
  struct context {};
};
struct tls_no_zero_copy {
  static constexpr bool enabled = false;
  static constexpr const char* name = "x";
  struct context {};
};
struct tls_no_name {
  static constexpr bool enabled = false;
  static constexpr bool zero_copy = true;
  struct context {};
};
struct tls_no_context {
  static constexpr bool enabled = false;
  static constexpr bool zero_copy = true;
  static constexpr const char* name = "x";
};
static_assert(remora::tls_policy<tls_archetype>);
static_assert(!remora::tls_policy<tls_no_enabled>);
static_assert(!remora::tls_policy<tls_no_zero_copy>);
static_assert(!remora::tls_policy<tls_no_name>);
static_assert(!remora::tls_policy<tls_no_context>);
static_assert(remora::tls_policy<remora::tls::none>);
static_assert(!remora::tls::none::enabled);
static_assert(std::is_same_v<remora::tls::none::stream<int>, int>);

// ---- io_policy ---------------------------------------------------------------------------
// The least an Asio async stream is: an executor and the two async operations.
template<class Executor>
struct stream_archetype {
  using executor_type = Executor;
  executor_type get_executor() const noexcept;
  template<class Buffers, class Handler>
  void async_read_some(const Buffers&, Handler&&);
  template<class Buffers, class Handler>
  void async_write_some(const Buffers&, Handler&&);
};
template<class Executor>
struct read_only_stream {
  using executor_type = Executor;
  executor_type get_executor() const noexcept;
  template<class Buffers, class Handler>
  void async_read_some(const Buffers&, Handler&&);
};
struct io_archetype {
  template<class Executor>
  using socket = stream_archetype<Executor>;
  static constexpr bool zero_copy_file = false;
  static constexpr const char* name = "archetype";
};
struct io_no_socket {
  static constexpr bool zero_copy_file = false;
  static constexpr const char* name = "x";
};
struct io_not_a_stream {
  template<class Executor>
  using socket = int;
  static constexpr bool zero_copy_file = false;
  static constexpr const char* name = "x";
};
struct io_read_only {
  template<class Executor>
  using socket = read_only_stream<Executor>;
  static constexpr bool zero_copy_file = false;
  static constexpr const char* name = "x";
};
struct io_no_zero_copy {
  template<class Executor>
  using socket = stream_archetype<Executor>;
  static constexpr const char* name = "x";
};
struct io_no_name {
  template<class Executor>
  using socket = stream_archetype<Executor>;
  static constexpr bool zero_copy_file = false;
};
static_assert(remora::io_policy<io_archetype>);
static_assert(!remora::io_policy<io_no_socket>);
static_assert(!remora::io_policy<io_not_a_stream>);
static_assert(!remora::io_policy<io_read_only>);
static_assert(!remora::io_policy<io_no_zero_copy>);
static_assert(!remora::io_policy<io_no_name>);
static_assert(remora::io_policy<remora::io::null>);
static_assert(remora::io_policy<remora::io::asio_tcp>);
static_assert(!remora::io::null::zero_copy_file);

// ---- policy_bundle -----------------------------------------------------------------------
struct bundle_archetype {
  using io = io_archetype;
  using tls = tls_archetype;
  using alloc = alloc_archetype;
  using thread = thread_archetype;
  static constexpr const char* name = "archetype";
};
struct bundle_no_name {
  using io = io_archetype;
  using tls = tls_archetype;
  using alloc = alloc_archetype;
  using thread = thread_archetype;
};
struct bundle_no_io {
  using tls = tls_archetype;
  using alloc = alloc_archetype;
  using thread = thread_archetype;
  static constexpr const char* name = "x";
};
struct bundle_no_tls {
  using io = io_archetype;
  using alloc = alloc_archetype;
  using thread = thread_archetype;
  static constexpr const char* name = "x";
};
struct bundle_no_alloc {
  using io = io_archetype;
  using tls = tls_archetype;
  using thread = thread_archetype;
  static constexpr const char* name = "x";
};
struct bundle_no_thread {
  using io = io_archetype;
  using tls = tls_archetype;
  using alloc = alloc_archetype;
  static constexpr const char* name = "x";
};
static_assert(remora::policy_bundle<bundle_archetype>);
static_assert(!remora::policy_bundle<bundle_no_name>);
static_assert(!remora::policy_bundle<bundle_no_io>);
static_assert(!remora::policy_bundle<bundle_no_tls>);
static_assert(!remora::policy_bundle<bundle_no_alloc>);
static_assert(!remora::policy_bundle<bundle_no_thread>);
// A bundle whose axes are there but one does not model its concept.
static_assert(!remora::policy_bundle<remora::bundle<io_archetype, tls_archetype, alloc_no_name, thread_archetype>>);
static_assert(!remora::policy_bundle<remora::bundle<io_archetype, tls_no_context, alloc_archetype, thread_archetype>>);
static_assert(!remora::policy_bundle<remora::bundle<io_read_only, tls_archetype, alloc_archetype, thread_archetype>>);
static_assert(!remora::policy_bundle<remora::bundle<io_archetype, tls_archetype, alloc_archetype, thread_no_try_lock>>);
// The null models together make a bundle.
static_assert(remora::policy_bundle<remora::bundle<remora::io::null, remora::tls::none, remora::alloc::system,
                                                   remora::thread::single>>);

template<class T>
struct is_arena : std::false_type {};
template<std::size_t N>
struct is_arena<remora::alloc::arena<N>> : std::true_type {};

}  // namespace

TEST_CASE("null models: thread::single, null_mutex, tls::none, alloc::system") {
  remora::null_mutex m;
  m.lock();
  CHECK(m.try_lock());
  CHECK(m.try_lock());  // never held
  m.unlock();
  CHECK(remora::thread::single::threads(0) == 1);
  CHECK(remora::thread::single::threads(8) == 1);
  CHECK(std::string(remora::thread::single::name) == "single");
  CHECK(std::string(remora::tls::none::name) == "none");
  CHECK(remora::tls::none::zero_copy);
  CHECK(&remora::alloc::system::resource() == std::pmr::new_delete_resource());
  CHECK(std::string(remora::io::null::name) == "null");
}

TEST_CASE("thread::pool::threads") {
  CHECK(remora::thread::pool::threads(0) >= 1);
  CHECK(remora::thread::pool::threads(3) == 3);
  CHECK(remora::thread::pool::threads(1) == 1);
  CHECK(std::string(remora::thread::pool::name) == "pool");
  static_assert(std::is_same_v<remora::thread::pool::mutex, std::mutex>);
}

TEST_CASE("io::null_stream: reads end at once, writes swallow everything") {
  boost::asio::io_context ioc;
  using stream = remora::io::null::socket<boost::asio::io_context::executor_type>;
  stream s(ioc.get_executor());
  CHECK(s.get_executor() == ioc.get_executor());

  char buf[64];
  bool read_done = false, write_done = false;
  boost::system::error_code read_ec, write_ec;
  std::size_t read_n = 99, write_n = 0;
  s.async_read_some(boost::asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
    read_done = true;
    read_ec = ec;
    read_n = n;
  });
  std::string data(1000, 'x');
  std::array<boost::asio::const_buffer, 2> bufs{boost::asio::buffer(data), boost::asio::buffer(buf, 24)};
  s.async_write_some(bufs, [&](boost::system::error_code ec, std::size_t n) {
    write_done = true;
    write_ec = ec;
    write_n = n;
  });
  CHECK_FALSE(read_done);  // handlers never run inside the initiating call
  CHECK_FALSE(write_done);
  ioc.run();
  CHECK(read_done);
  CHECK(read_ec == boost::asio::error::eof);
  CHECK(read_n == 0);
  CHECK(write_done);
  CHECK_FALSE(write_ec);
  CHECK(write_n == 1024);
}

TEST_CASE("edition bundles have the documented axes") {
  using namespace remora;
  static_assert(std::is_same_v<full_policies::thread, thread::pool>);
  static_assert(std::is_same_v<full_policies::alloc, alloc::system>);
  static_assert(std::is_same_v<full_policies::tls, tls::none>);
  static_assert(std::is_same_v<full_policies::io, io::asio_tcp>);

  static_assert(std::is_same_v<embedded_policies::thread, thread::single>);
  static_assert(is_arena<embedded_policies::alloc>::value);
  static_assert(embedded_policies::alloc::size == REMORA_ARENA_SIZE);
  static_assert(std::is_same_v<embedded_policies::io, io::asio_tcp>);

  static_assert(std::is_same_v<minimal_policies::thread, thread::single>);
  static_assert(std::is_same_v<minimal_policies::tls, tls::none>);
  static_assert(std::is_same_v<minimal_policies::alloc, alloc::system>);
  static_assert(!is_arena<minimal_policies::alloc>::value);

  static_assert(policy_bundle<full_policies> && policy_bundle<embedded_policies> &&
                policy_bundle<minimal_policies> && policy_bundle<default_policies>);
  CHECK(std::string(full_policies::name) == "full");
  CHECK(std::string(embedded_policies::name) == "embedded");
  CHECK(std::string(minimal_policies::name) == "minimal");
  CHECK(std::string(default_policies::name) == REMORA_EDITION);
  CHECK(std::string(bundle<io::null, tls::none, alloc::system, thread::single>::name) == "custom");
}
