// IO policy.
//
// An IO policy names the byte streams the server accepts and how a file body may reach one.
// It is fixed for the life of the binary.
//
//   template<class Executor> using socket;   // an Asio AsyncReadStream + AsyncWriteStream
//   template<class Executor> using acceptor; // yields sockets (asio_tcp only)
//   static constexpr bool zero_copy_file;    // can send a file with sendfile(2)
//   static void async_sendfile(socket&, int fd, uint64 offset, uint64 count, handler)
//       // handler(error_code, bytes_sent); only called when zero_copy_file is true
//   static constexpr const char* name;
//
// io::null is the null model: a stream with nothing to read (end of stream at once) that
// swallows every write. asio_tcp is TCP over Asio, with sendfile when the build allows it.
#pragma once
#include <remora/config.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <cerrno>
#include <concepts>
#include <cstdint>
#include <utility>

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace remora {

template<class T>
concept io_policy = requires {
  typename T::template socket<boost::asio::io_context::executor_type>;
  { T::zero_copy_file } -> std::convertible_to<bool>;
  { T::name } -> std::convertible_to<const char*>;
} && boost::beast::is_async_stream<typename T::template socket<boost::asio::io_context::executor_type>>::value;

namespace io {

// A stream with nothing to read that swallows every write.
template<class Executor>
class null_stream {
 public:
  using executor_type = Executor;
  explicit null_stream(Executor ex) : ex_(std::move(ex)) {}
  executor_type get_executor() const noexcept { return ex_; }

  template<class Buffers, class Handler>
  void async_read_some(const Buffers&, Handler&& h) {
    boost::asio::post(ex_, [h = std::forward<Handler>(h)]() mutable {
      std::move(h)(boost::asio::error::eof, std::size_t(0));
    });
  }
  template<class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    std::size_t n = boost::asio::buffer_size(b);
    boost::asio::post(ex_, [h = std::forward<Handler>(h), n]() mutable {
      std::move(h)(boost::system::error_code{}, n);
    });
  }

 private:
  Executor ex_;
};

struct null {
  static constexpr bool zero_copy_file = false;
  static constexpr const char* name = "null";
  template<class Executor>
  using socket = null_stream<Executor>;
};

struct asio_tcp {
  static constexpr bool zero_copy_file = REMORA_SENDFILE != 0;
  static constexpr const char* name = "asio_tcp";
  template<class Executor>
  using socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
  template<class Executor>
  using acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;

  // Sends what it can of `bufs` now, without blocking, telling the kernel more follows
  // (MSG_MORE), so a header goes out in one segment with the file data behind it. Returns
  // the bytes sent (0 when the socket would block or failed: the caller goes on asynchronously).
  template<class Socket>
  static std::size_t send_more(Socket& s, const boost::asio::const_buffer* bufs, std::size_t n) {
    iovec iov[4];
    std::size_t k = 0;
    for (; k < n && k < 4; ++k) iov[k] = {const_cast<void*>(bufs[k].data()), bufs[k].size()};
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = k;
    ssize_t r;
    do r = ::sendmsg(s.native_handle(), &m, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r > 0 ? std::size_t(r) : 0;
  }

  // sendfile(2) until `count` bytes are out, waiting for writability between bursts.
  template<class Socket, class Handler>
  static void async_sendfile(Socket& s, int fd, std::uint64_t offset, std::uint64_t count, Handler&& h) {
    struct op {
      Socket& s;
      int fd;
      off_t offset;
      std::uint64_t left, sent;
      std::decay_t<Handler> handler;
      void operator()(boost::system::error_code ec = {}) {
        while (!ec && left) {
          std::size_t chunk = left > (1u << 30) ? (1u << 30) : static_cast<std::size_t>(left);
          ssize_t n = ::sendfile(s.native_handle(), fd, &offset, chunk);
          if (n > 0) { left -= std::uint64_t(n); sent += std::uint64_t(n); continue; }
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s.async_wait(Socket::wait_write, std::move(*this));
            return;
          }
          ec = n == 0 ? boost::asio::error::eof
                      : boost::system::error_code(errno, boost::system::system_category());
        }
        std::move(handler)(ec, sent);
      }
    };
    boost::system::error_code ec;
    if (!s.native_non_blocking()) s.native_non_blocking(true, ec);  // an ioctl: once per socket
    op o{s, fd, static_cast<off_t>(offset), count, 0, std::forward<Handler>(h)};
    o(ec);
  }
};

}  // namespace io
}  // namespace remora
