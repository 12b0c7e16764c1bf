#pragma once
#include <remora/net/websocket.hpp>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace remora::net {

// Beast closes the next layer through these (found by argument-dependent lookup).
REMORA_DECL void teardown(boost::beast::role_type, stream_ref& s, error_code& ec) {
  s.get().shutdown_send();
  s.get().close();
  ec = {};
}

// Beast closes the next layer this way when it fails a connection.
inline void beast_close_socket(stream_ref& s) { s.get().close(); }

template<class Handler>
void async_teardown(boost::beast::role_type, stream_ref& s, Handler&& h) {
  s.get().shutdown_send();
  s.get().close();
  boost::asio::post(s.get_executor(), [h = std::forward<Handler>(h)]() mutable { h(error_code()); });
}

struct websocket::impl {
  explicit impl(stream& s) : ws(s) {}
  boost::beast::websocket::stream<stream_ref> ws;
  boost::beast::flat_buffer buf;
};

REMORA_DECL websocket::websocket(std::unique_ptr<stream> s, bool server) : s_(std::move(s)), p_(std::make_unique<impl>(*s_)) {
  namespace ws = boost::beast::websocket;
  p_->ws.set_option(ws::stream_base::timeout{ws::stream_base::none(), ws::stream_base::none(), false});
  p_->ws.set_option(ws::stream_base::decorator([server](auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m)>, ws::response_type>) m.set(boost::beast::http::field::server, "Remora");
    (void)server;
  }));
  p_->ws.auto_fragment(false);
  p_->ws.read_message_max(1 << 20);
}

REMORA_DECL websocket::~websocket() = default;

REMORA_DECL void websocket::async_accept(std::string_view method, std::string_view target,
                                         const std::vector<std::pair<std::string, std::string>>& headers,
                                         std::string subprotocol, std::function<void(error_code)> done) {
  namespace bhttp = boost::beast::http;
  namespace ws = boost::beast::websocket;
  auto req = std::make_shared<bhttp::request<bhttp::empty_body>>();
  req->method_string(method);
  req->target(target);
  req->version(11);
  for (auto& [k, v] : headers) req->insert(k, v);
  if (!subprotocol.empty())
    p_->ws.set_option(ws::stream_base::decorator([subprotocol](ws::response_type& m) {
      m.set(bhttp::field::server, "Remora");
      m.set(bhttp::field::sec_websocket_protocol, subprotocol);
    }));
  p_->ws.async_accept(*req, [req, done = std::move(done)](error_code ec) { done(ec); });
}

REMORA_DECL void websocket::async_handshake(std::string host, std::string target,
                                            std::vector<std::pair<std::string, std::string>> headers,
                                            std::function<void(error_code)> done) {
  namespace ws = boost::beast::websocket;
  p_->ws.set_option(ws::stream_base::decorator([headers = std::move(headers)](ws::request_type& m) {
    m.set(boost::beast::http::field::user_agent, "Remora");
    for (auto& [k, v] : headers) m.set(k, v);
  }));
  auto h = std::make_shared<std::string>(std::move(host));
  auto t = std::make_shared<std::string>(std::move(target));
  p_->ws.async_handshake(*h, *t, [h, t, done = std::move(done)](error_code ec) { done(ec); });
}

REMORA_DECL void websocket::read_message_max(std::size_t n) { p_->ws.read_message_max(n); }

REMORA_DECL void websocket::async_read(std::string& into, std::function<void(error_code, bool)> done) {
  p_->ws.async_read(p_->buf, [this, &into, done = std::move(done)](error_code ec, std::size_t) {
    auto d = p_->buf.data();
    into.assign(static_cast<const char*>(d.data()), d.size());
    p_->buf.clear();
    if (p_->buf.capacity() > 4096) p_->buf.shrink_to_fit();  // an idle socket keeps no big buffer
    done(ec, p_->ws.got_text());
  });
}

REMORA_DECL void websocket::async_write(std::string_view data, bool text, std::function<void(error_code)> done) {
  p_->ws.text(text);
  p_->ws.async_write(boost::asio::buffer(data.data(), data.size()),
                     [done = std::move(done)](error_code ec, std::size_t) { done(ec); });
}

REMORA_DECL void websocket::async_ping(std::string payload, std::function<void(error_code)> done) {
  auto p = std::make_shared<boost::beast::websocket::ping_data>();
  p->assign(payload.substr(0, p->max_size()));
  p_->ws.async_ping(*p, [p, done = std::move(done)](error_code ec) { done(ec); });
}

REMORA_DECL void websocket::async_close(std::uint16_t code, std::string reason, std::function<void(error_code)> done) {
  boost::beast::websocket::close_reason cr(static_cast<boost::beast::websocket::close_code>(code), reason.substr(0, 123));
  p_->ws.async_close(cr, [done = std::move(done)](error_code ec) { done(ec); });
}

REMORA_DECL bool websocket::is_open() const { return p_->ws.is_open(); }
REMORA_DECL std::uint16_t websocket::close_code() const { return p_->ws.reason().code; }
REMORA_DECL std::string websocket::close_reason() const { const auto& r = p_->ws.reason().reason;
  return std::string(r.data(), r.size()); }

REMORA_DECL const char* websocket::error_name(error_code ec) {
  namespace ws = boost::beast::websocket;
  if (ec == ws::error::message_too_big || ec == boost::beast::http::error::buffer_overflow) return "toomuchdata";
  if (ec == boost::asio::error::operation_aborted) return "socketclosed";
  return "socketclosed";
}

}  // namespace remora::net
