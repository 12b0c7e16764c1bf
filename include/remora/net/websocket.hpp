// net::websocket: RFC 6455 over a net::stream, with Beast doing the protocol (handshake,
// masking, fragments, control frames, UTF-8 checks, close codes). Compiled once (src/net.cpp):
// Beast's WebSocket templates are heavy and only that unit sees them.
//
// Handlers run on the stream's executor. One read and one write may be under way at a time;
// close() may overlap them.
#pragma once
#include <remora/config.hpp>
#include <remora/net/stream.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remora::net {

class websocket {
 public:
  // `server`: this side accepts (frames it sends are not masked, those it reads must be).
  websocket(std::unique_ptr<stream> s, bool server);
  ~websocket();
  websocket(const websocket&) = delete;
  websocket& operator=(const websocket&) = delete;

  stream& next() noexcept { return *s_; }
  executor get_executor() { return s_->get_executor(); }

  // Server: answers the upgrade request (method, target, version 11, header fields) with
  // 101, echoing `subprotocol` when set; fails (with a 400 sent) on a bad handshake.
  void async_accept(std::string_view method, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& headers, std::string subprotocol,
                    std::function<void(error_code)> done);
  // Client: the opening handshake to `host` for `target`; extra header lines are sent too.
  void async_handshake(std::string host, std::string target,
                       std::vector<std::pair<std::string, std::string>> headers, std::function<void(error_code)> done);

  // The largest message read() accepts; a bigger one fails the connection with close code
  // 1009 and the error "message too big".
  void read_message_max(std::size_t n);
  // Reads one whole message into `into` (replaced); `text` tells its type.
  void async_read(std::string& into, std::function<void(error_code, bool text)> done);
  void async_write(std::string_view data, bool text, std::function<void(error_code)> done);
  void async_ping(std::string payload, std::function<void(error_code)> done);
  // Sends a close frame (`code`, `reason`) and closes the stream once the peer answers.
  void async_close(std::uint16_t code, std::string reason, std::function<void(error_code)> done);
  bool is_open() const;
  // The close code and reason the peer sent (0 when none).
  std::uint16_t close_code() const;
  std::string close_reason() const;

  // BAS's name for a failure ("socketclosed", "toomuchdata", ...).
  static const char* error_name(error_code ec);

  struct impl;

 private:
  std::unique_ptr<stream> s_;
  std::unique_ptr<impl> p_;
};

}  // namespace remora::net

#if REMORA_HEADER_ONLY
#  include <remora/net/impl/websocket.ipp>
#endif
