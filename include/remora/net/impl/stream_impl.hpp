// net::stream over a bundle's stream type (an Asio TCP socket, or a tls::stream around one).
// Instantiated by the server's template code.
#pragma once
#include <remora/net/stream.hpp>
#include <remora/tls/session.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace remora::net {

// An address as Lua sees it: an IPv4-mapped IPv6 address as the IPv4 one.
inline endpoint_info info_of(boost::asio::ip::address a, unsigned port) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return endpoint_info{a.to_string(), port, a.is_v6()};
}

template<class Socket>
inline bool endpoint_of(const Socket& s, bool peer, endpoint_info& out) {
  error_code ec;
  auto ep = peer ? s.remote_endpoint(ec) : s.local_endpoint(ec);
  if (ec) return false;
  out = info_of(ep.address(), ep.port());
  return true;
}

template<class S>
class stream_impl final : public stream {
 public:
  explicit stream_impl(S s) : s_(std::move(s)) {}
  ~stream_impl() override { close(); }

  // The stream itself, for the server to serve HTTP on again (this is left closed).
  S release() { return std::move(s_); }

  executor get_executor() override { return s_.get_executor(); }

  void async_read_some(boost::asio::mutable_buffer b, io_handler h) override {
    if (!prefix.empty()) {
      std::size_t n = boost::asio::buffer_copy(b, boost::asio::buffer(prefix));
      prefix.erase(0, n);
      return boost::asio::post(s_.get_executor(), [h = std::move(h), n]() mutable { std::move(h)(error_code(), n); });
    }
    s_.async_read_some(b, std::move(h));
  }
  void async_write_some(const const_buffers& b, io_handler h) override {
    s_.async_write_some(b, std::move(h));
  }
  void async_wait_readable(wait_handler h) override {
    bool ready = !prefix.empty();
    if constexpr (secure_capable) {
      if (auto* t = s_.tls()) ready = ready || !t->input().empty() || t->peer_closed();
    }
    if (ready) return boost::asio::post(s_.get_executor(), [h = std::move(h)]() mutable { std::move(h)(error_code()); });
    s_.async_wait(S::wait_read, std::move(h));
  }
  std::size_t try_read(void* b, std::size_t n, error_code& ec) override {
    ec = {};
    if (!prefix.empty()) {
      n = std::min(n, prefix.size());
      std::memcpy(b, prefix.data(), n);
      prefix.erase(0, n);
      return n;
    }
    if constexpr (secure_capable) {
      if (s_.is_secure()) {
        ec = boost::asio::error::operation_not_supported;
        return 0;
      }
    }
    ssize_t got = ::recv(native_handle(), b, n, MSG_DONTWAIT);
    if (got > 0) return std::size_t(got);
    if (got == 0) ec = boost::asio::error::eof;
    else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ec = boost::asio::error::would_block;
    else ec = error_code(errno, boost::system::system_category());
    return 0;
  }
  void shutdown_send() override {
    error_code ec;
    s_.shutdown(boost::asio::socket_base::shutdown_send, ec);
  }
  void close() override {
    error_code ec;
    s_.close(ec);
  }
  bool is_open() const override { return s_.is_open(); }
  bool endpoint(bool peer, endpoint_info& out) const override { return endpoint_of(s_, peer, out); }
  int native_handle() override { return s_.is_open() ? int(const_cast<S&>(s_).native_handle()) : -1; }
  void set_keepalive(bool on, int idle_s, int interval_s) override {
    int fd = native_handle();
    if (fd < 0) return;
    int v = on ? 1 : 0;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    if (on && idle_s > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    if (on && interval_s > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  }
  tls::session* tls() override {
    if constexpr (secure_capable) return s_.tls();
    else return nullptr;
  }
  bool start_tls(std::unique_ptr<tls::session> t, wait_handler done) override {
    if constexpr (secure_capable) {
      if (!t || s_.is_secure()) return false;
      s_.secure(std::move(t));
      s_.async_handshake(std::move(done));
      return true;
    } else {
      (void)t;
      (void)done;
      return false;
    }
  }

 private:
  static constexpr bool secure_capable = requires(S& s) { s.tls(); s.is_secure(); };
  S s_;
};

}  // namespace remora::net
