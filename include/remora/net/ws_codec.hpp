// net::ws_codec: RFC 6455 framing for one side of a WebSocket, as a push parser over the bytes
// that arrive and an encoder for the frames that leave. No I/O, no buffers while idle: the
// socket layer (lua/impl/sock.ipp) reads, feeds and writes.
//
// Why not Beast's websocket::stream (Remora uses Beast for HTTP): every Beast stream carries a
// 1,536-byte read buffer and about a kilobyte of other state for its whole life, and a read
// waits with a prepared message buffer and a composed operation; with a Lua coroutine per
// cosocket that put an idle connection at 6 KiB against a 4 KiB target (bench/RESULTS.md).
// Here an idle connection costs the few dozen bytes of this object. Beast still supplies the
// parts worth sharing: the SHA-1 of the handshake key, the masking and the UTF-8 checker.
//
// What is checked (the close code sent): masking rules, reserved bits, unknown opcodes,
// fragmented or oversize control frames, continuation frames out of place, bad close payloads
// (1002); invalid UTF-8 in text messages and close reasons (1007); messages over `max` (1009).
#pragma once
#include <remora/config.hpp>

#include <boost/beast/websocket/detail/utf8_checker.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace remora::net {

class ws_codec {
 public:
  enum opcode : std::uint8_t { cont = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

  // What feed() found, one at a time.
  struct event {
    enum kind { none, message, ping, pong, close, error } what = none;
    std::string data;         // message / ping / pong payload, close reason
    bool text = false;        // message
    std::uint16_t code = 0;   // close: the peer's code (1005 when none); error: the code to send
  };

  // `server`: frames from the peer must be masked and ours are not (and the reverse).
  explicit ws_codec(bool server, std::size_t max = 1 << 20) : server_(server), max_(max) { utf8_.reset(); }
  ws_codec(const ws_codec&) = delete;  // the UTF-8 checker points into itself
  ws_codec& operator=(const ws_codec&) = delete;

  void max_message(std::size_t n) noexcept { max_ = n; }
  std::size_t max_message() const noexcept { return max_; }

  // Consumes bytes from `in` (advancing it) until an event is complete, which it returns, or
  // until `in` is empty (none). After an error or a close, feed() returns none for ever.
  event feed(std::string_view& in);

  // True between messages with no partial frame kept: an idle connection.
  bool idle() const noexcept { return hlen_ == 0 && remain_ == 0 && !in_frame_ && !fragmented_; }

  // A complete frame (FIN set), masked when this side is a client.
  std::string frame(opcode op, std::string_view payload) const;
  std::string close_frame(std::uint16_t code, std::string_view reason = {}) const;

  // The handshake's Sec-WebSocket-Accept for a Sec-WebSocket-Key, and a new key (client).
  static std::string accept_key(std::string_view key);
  static std::string new_key();

 private:
  event fail(std::uint16_t code);
  bool begin_frame(event& ev);

  bool server_;
  bool done_ = false;          // after an error or a close
  std::size_t max_;
  // the frame header being read
  std::array<std::uint8_t, 14> head_{};
  std::size_t hlen_ = 0;
  // the frame being read
  bool in_frame_ = false, fin_ = false, masked_ = false;
  std::uint8_t op_ = 0;
  std::uint64_t remain_ = 0;
  std::array<std::uint8_t, 4> key_{};
  std::size_t key_pos_ = 0;
  std::string control_;        // a control frame's payload (at most 125 bytes)
  // the message being assembled
  bool fragmented_ = false, msg_text_ = false;
  std::string msg_;
  boost::beast::websocket::detail::utf8_checker utf8_;
};

}  // namespace remora::net

#if REMORA_HEADER_ONLY
#  include <remora/net/impl/ws_codec.ipp>
#endif
