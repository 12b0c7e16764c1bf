// net::stream: a connected byte stream (TCP, plain or TLS) that Lua sockets, WebSockets and
// the HTTP client use, whatever policy bundle made it. The server's template code (which
// knows the bundle's socket and TLS types) implements it (net/impl/stream_impl.hpp); the
// rest of the socket layer is ordinary compiled code over this interface.
//
// Handlers run on the stream's executor and never inside the call that starts an operation.
// One read and one write may be under way at a time.
#pragma once
#include <remora/config.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace remora::tls {
class session;
struct peer_info;
class context;
class client_context;
}  // namespace remora::tls

namespace remora::net {

using error_code = boost::system::error_code;
using executor = boost::asio::any_io_executor;
using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
using wait_handler = boost::asio::any_completion_handler<void(error_code)>;

// Up to eight pieces written with one call (a frame header and its payload in one segment).
struct const_buffers {
  using value_type = boost::asio::const_buffer;
  using const_iterator = const boost::asio::const_buffer*;
  std::array<boost::asio::const_buffer, 8> b{};
  std::size_t n = 0;
  const boost::asio::const_buffer* begin() const noexcept { return b.data(); }
  const boost::asio::const_buffer* end() const noexcept { return b.data() + n; }
};

struct endpoint_info {
  std::string ip;
  unsigned port = 0;
  bool v6 = false;
};

class stream {
 public:
  virtual ~stream() = default;
  virtual executor get_executor() = 0;
  virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
  virtual void async_write_some(const const_buffers& b, io_handler h) = 0;
  // Completes when a read would find data (or the peer closed): an idle reader holds no
  // buffer while it waits.
  virtual void async_wait_readable(wait_handler h) = 0;
  // Reads what is there now without waiting (after async_wait_readable): the byte count, or
  // `ec` would_block / eof. A TLS stream answers operation_not_supported (use async reads).
  virtual std::size_t try_read(void* b, std::size_t n, error_code& ec) = 0;
  virtual void shutdown_send() = 0;  // TLS: a close_notify first
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  virtual bool endpoint(bool peer, endpoint_info& out) const = 0;
  virtual int native_handle() = 0;
  virtual void set_keepalive(bool on, int idle_s, int interval_s) = 0;
  // TLS: the session (nullptr on a plain stream) and, for a client, starting one on a plain
  // connection (STARTTLS and connect with a TLS context); `done` once the handshake is over.
  virtual tls::session* tls() = 0;
  virtual bool start_tls(std::unique_ptr<tls::session> s, wait_handler done) = 0;

  // Bytes received before the stream was handed over (what followed an upgraded request):
  // reads return them first.
  std::string prefix;
};

// A listening socket (ba.socket.bind).
class acceptor {
 public:
  virtual ~acceptor() = default;
  virtual executor get_executor() = 0;
  virtual void async_accept(std::function<void(error_code, std::unique_ptr<stream>)> h) = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  virtual bool endpoint(endpoint_info& out) const = 0;
};

// A UDP socket (ba.socket.udpcon).
class datagram {
 public:
  virtual ~datagram() = default;
  virtual executor get_executor() = 0;
  // One datagram into `b` (truncated to its size); `from` is its sender.
  virtual void async_receive(boost::asio::mutable_buffer b,
                             std::function<void(error_code, std::size_t, endpoint_info from)> h) = 0;
  // To `ip`:`port`, or (ip empty) to the connected peer.
  virtual void async_send(boost::asio::const_buffer b, const std::string& ip, std::uint16_t port,
                          std::function<void(error_code)> h) = 0;
  virtual void close() = 0;
  virtual bool endpoint(bool peer, endpoint_info& out) const = 0;
  virtual void set_broadcast(bool on) = 0;
};

// What the server offers the socket layer: new connections and listeners on its loops.
class factory {
 public:
  virtual ~factory() = default;
  // An executor for a new socket (one of the server's loops).
  virtual executor pick_executor() = 0;
  // Resolves `host` and connects (IPv4 or IPv6, first that answers); `intf` binds the local
  // side first; `timeout_ms` (0: none) bounds the whole. Errors: the BAS names
  // ("cannotresolve", "cannotconnect", "bind", "timeout").
  virtual void connect(const std::string& host, std::uint16_t port, const std::string& intf, unsigned timeout_ms,
                       std::function<void(std::string err, std::unique_ptr<stream>)> done) = 0;
  virtual std::unique_ptr<acceptor> bind(const std::string& intf, std::uint16_t port, bool v6,
                                         std::shared_ptr<tls::context> tls, std::string& err) = 0;
  // A UDP socket bound to `intf`:`port` (port 0: any), connected to `peer`:`peer_port` when
  // `peer` is set (resolved now). Errors: "bind", "cannotresolve".
  virtual std::unique_ptr<datagram> udp(const std::string& intf, std::uint16_t port, const std::string& peer,
                                        std::uint16_t peer_port, bool v6, std::string& err) = 0;
  // Serves HTTP on a stream again (ba.socket.sock2req); false when it is not one of the
  // server's own (then it is closed).
  virtual bool serve(std::unique_ptr<stream> s) = 0;
  // Whether the calling thread runs one of the server's loops (it must not block on one).
  virtual bool on_loop_thread() const = 0;
  // Whether the loops run now; when not (start-up, scripts), run_until() runs them from
  // the calling thread until `done` says so.
  virtual bool running() const = 0;
  virtual void run_until(const std::function<bool()>& done) = 0;
};

// An Asio AsyncReadStream/AsyncWriteStream over a net::stream (Beast's WebSocket and HTTP
// code take it as their next layer).
class stream_ref {
 public:
  using executor_type = executor;
  explicit stream_ref(stream& s) noexcept : s_(&s) {}
  executor_type get_executor() const { return s_->get_executor(); }
  stream& get() const noexcept { return *s_; }

  template<class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    boost::asio::mutable_buffer first = *boost::asio::buffer_sequence_begin(b);
    return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = s_, first](auto handler) { s->async_read_some(first, io_handler(std::move(handler))); }, token);
  }
  template<class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    const_buffers pieces;
    for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b) && pieces.n < 8; ++it)
      if (boost::asio::const_buffer c(*it); c.size()) pieces.b[pieces.n++] = c;
    return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = s_, pieces](auto handler) { s->async_write_some(pieces, io_handler(std::move(handler))); }, token);
  }

 private:
  stream* s_;
};

// A stream_ref to whatever stream an owner holds at the time of each call (its stream may be
// replaced between operations); an lvalue that lives as long as the owner, for Asio's and
// Beast's composed operations, which keep a reference to their stream.
class owned_ref {
 public:
  using executor_type = executor;
  explicit owned_ref(std::unique_ptr<stream>& s) noexcept : s_(&s) {}
  executor_type get_executor() const { return (*s_)->get_executor(); }
  template<class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return stream_ref(**s_).async_read_some(b, std::forward<Token>(token));
  }
  template<class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return stream_ref(**s_).async_write_some(b, std::forward<Token>(token));
  }

 private:
  std::unique_ptr<stream>* s_;
};

}  // namespace remora::net
