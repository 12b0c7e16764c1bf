// basic_server<P>: HTTP/1.1 over the IO policy, requests dispatched into a vfs::tree.
//
// Templated on the policy bundle only at the edge: connections and listeners. Everything a
// directory sees (http::request, http::response, vfs::tree) is non-template. A Remora build
// compiles basic_server<default_policies> once (src/server_default.cpp); a product that
// only adds include/ to its path instantiates it itself.
#pragma once
#include <remora/config.hpp>
#include <remora/lua/host.hpp>
#include <remora/net/stream.hpp>
#include <remora/policy/bundle.hpp>
#include <remora/server_config.hpp>
#include <remora/vfs/directory.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct lua_State;

namespace remora {

namespace detail {
// What the reaper needs of a connection, whatever the bundle.
class conn_base {
 public:
  virtual ~conn_base() = default;
  virtual void expire() = 0;              // close now (posted to the connection's executor)
  std::atomic<std::int64_t> deadline{0};  // steady-clock ms; 0 = none
  std::atomic<bool> busy{false};          // a request (its header in) is being read or answered
  std::list<std::weak_ptr<conn_base>>::iterator slot;
};
std::int64_t now_ms() noexcept;
lua_State* new_lua_state(std::pmr::memory_resource& r);
void close_lua_state(lua_State* L) noexcept;

// Connections of one server: counted against conncnt and swept for expired deadlines.
class registry {
 public:
  bool add(const std::shared_ptr<conn_base>& c, std::size_t limit);
  void remove(conn_base& c);
  std::size_t size() const;
  void sweep(std::int64_t now);  // expire() every connection whose deadline passed
  void expire_all();
  void expire_idle();  // those between requests (a graceful stop)

 private:
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<conn_base>> list_;
  std::size_t size_ = 0;
};

// The Lua host of a server: its VM behind the thread policy's mutex.
template<class Mutex>
class vm_host final : public lua::host {
 public:
  explicit vm_host(Mutex& m) : m_(m) {}
  void lock() override {
    m_.lock();
    holder() = this;
  }
  void unlock() override {
    holder() = nullptr;
    m_.unlock();
  }
  bool held() const override { return holder() == this; }
  bool try_lock() override {
    if (!m_.try_lock()) return false;
    holder() = this;
    return true;
  }

 private:
  static const vm_host*& holder() {
    thread_local const vm_host* h = nullptr;
    return h;
  }
  Mutex& m_;
};

// Shared, non-template state every connection reads.
struct server_state {
  server_config config;
  vfs::tree vfs;
  registry conns;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<bool> stopping{false};
};
}  // namespace detail

struct listen_result {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // what was bound
  std::string error;                                      // why nothing was bound
  int id = 0;                                             // for close_listener()
};

template<policy_bundle P>
class basic_server {
 public:
  using policies = P;
  using log_fn = std::function<void(const std::string&)>;

  explicit basic_server(server_config cfg = {});
  ~basic_server();
  basic_server(const basic_server&) = delete;
  basic_server& operator=(const basic_server&) = delete;

  vfs::tree& vfs() noexcept { return state_->vfs; }
  const server_config& config() const noexcept { return state_->config; }
  // The loop that owns the listeners, signals and timers (thread 0's).
  boost::asio::io_context& context() noexcept { return ioc_; }

  using tls_context = typename P::tls::context;
  // Binds `port` on `host` (empty: every interface, IPv6 and IPv4). Port 0 binds an
  // ephemeral port. Returns the bound endpoints; an empty list with `error` when none bound.
  // With `tls` (a TLS policy's context) every connection accepted there speaks TLS. `family`
  // 6 or 4 binds only that family when `host` is empty. Callable from any thread.
  listen_result listen(const std::string& host, std::uint16_t port, std::shared_ptr<tls_context> tls = nullptr,
                       int family = 0);
  // Binds the first of `preferred`, then first..last, that can be bound.
  listen_result listen_fallback(const std::string& host, std::uint16_t preferred, std::uint16_t first,
                                std::uint16_t last, std::shared_ptr<tls_context> tls = nullptr);
  // Stops accepting on the listeners of one listen() call.
  void close_listener(int id);

  // Runs the loop on the thread policy's threads until stop(); SIGINT/SIGTERM stop it when
  // handle_signals() was called first.
  void run();
  // A graceful stop: no new connections, idle ones closed, requests being answered finish
  // (for at most 5 s); then the loops end. A second call stops at once.
  void stop();
  void handle_signals(log_fn on_signal);

  // The Lua VM, allocated from the allocation policy's resource and guarded by vm_mutex().
  lua_State* lua() noexcept { return lua_; }
  typename P::thread::mutex& vm_mutex() noexcept { return vm_mutex_; }
  // The VM, its lock, the tree and limits, as the Lua side (LSP pages) sees them.
  lua::host& lua_host() noexcept { return host_; }

  std::size_t connections() const { return state_->conns.size(); }
  std::uint64_t requests() const noexcept { return state_->requests.load(); }

 private:
  using acceptor_t = typename P::io::template acceptor<boost::asio::io_context::executor_type>;
  struct listener {
    acceptor_t a;
    std::shared_ptr<tls_context> tls;
    int id;
  };
  void accept(listener& l);
  void schedule_sweep();
  void drain(std::int64_t until);
  void stop_now();

  // With several loop threads each runs its own io_context; a connection lives on one of them
  // for its whole life, so its handlers never overlap and need no strand. workers_[0] is ioc_.
  // Declared before ioc_: an accept still pending in ioc_ when it is destroyed holds a socket
  // of a worker's context, which must still exist then.
  std::vector<std::unique_ptr<boost::asio::io_context>> extra_;
  boost::asio::io_context ioc_;
  std::vector<boost::asio::io_context*> workers_;
  std::size_t next_worker_ = 0;
  std::shared_ptr<detail::server_state> state_;
  std::mutex listeners_mutex_;
  std::vector<std::unique_ptr<listener>> listeners_;  // closed ones stay (a pending accept may name one)
  int next_listener_id_ = 0;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer drain_timer_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::atomic<bool> running_{false};             // the loops run (run() has started them)
  std::shared_ptr<net::factory> net_;            // Lua sockets' connections and listeners
  lua_State* lua_ = nullptr;
  typename P::thread::mutex vm_mutex_;
  detail::vm_host<typename P::thread::mutex> host_{vm_mutex_};
};

using server = basic_server<default_policies>;

#if !REMORA_HEADER_ONLY
extern template class basic_server<default_policies>;
#endif

}  // namespace remora

#include <remora/impl/server.hpp>
#if REMORA_HEADER_ONLY
#  include <remora/impl/server.ipp>
#endif
