#pragma once
#include <remora/net/ws_codec.hpp>

#include <boost/beast/websocket/detail/hybi13.hpp>

#include <algorithm>
#include <random>

namespace remora::net {

REMORA_DECL ws_codec::event ws_codec::fail(std::uint16_t code) {
  done_ = true;
  event ev;
  ev.what = event::error;
  ev.code = code;
  return ev;
}

// The header in head_ is complete: checks it and starts the frame. False with `ev` set to
// the error when the frame breaks the protocol.
REMORA_DECL bool ws_codec::begin_frame(event& ev) {
  std::uint8_t b0 = head_[0], b1 = head_[1];
  bool fin = b0 & 0x80, masked = b1 & 0x80;
  std::uint8_t op = b0 & 0x0F;
  if ((b0 & 0x70) || masked != server_) return ev = fail(1002), false;  // no extensions; masking rules
  std::uint64_t len = b1 & 0x7F;
  std::size_t at = 2;
  if (len == 126) {
    len = (std::uint64_t(head_[2]) << 8) | head_[3];
    at = 4;
  } else if (len == 127) {
    len = 0;
    for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | head_[i];
    if (len >> 63) return ev = fail(1002), false;
    at = 10;
  }
  if (masked) std::copy(head_.begin() + std::ptrdiff_t(at), head_.begin() + std::ptrdiff_t(at) + 4, key_.begin());
  if (op >= 8) {
    if (op > pong || !fin || len > 125) return ev = fail(1002), false;
    control_.clear();
  } else if (op == cont) {
    if (!fragmented_) return ev = fail(1002), false;  // nothing to continue
  } else if (op == text || op == binary) {
    if (fragmented_) return ev = fail(1002), false;  // a new message inside another
    fragmented_ = true;
    msg_text_ = op == text;
    msg_.clear();
    utf8_.reset();
  } else {
    return ev = fail(1002), false;  // reserved opcode
  }
  if (op < 8 && (len > max_ || msg_.size() > max_ - len)) return ev = fail(1009), false;
  in_frame_ = true;
  fin_ = fin;
  masked_ = masked;
  op_ = op;
  remain_ = len;
  key_pos_ = 0;
  return true;
}

REMORA_DECL ws_codec::event ws_codec::feed(std::string_view& in) {
  event ev;
  if (done_) {
    in = {};
    return ev;
  }
  for (;;) {
    if (!in_frame_) {
      auto take = [&](std::size_t upto) {
        while (hlen_ < upto && !in.empty()) {
          head_[hlen_++] = static_cast<std::uint8_t>(in.front());
          in.remove_prefix(1);
        }
        return hlen_ >= upto;
      };
      if (!take(2)) return ev;
      std::size_t need = 2 + ((head_[1] & 0x7F) == 126 ? 2 : (head_[1] & 0x7F) == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
      if (!take(need)) return ev;
      hlen_ = 0;
      if (!begin_frame(ev)) return ev;
    }
    std::size_t n = std::size_t(std::min<std::uint64_t>(remain_, in.size()));
    std::string& to = op_ >= 8 ? control_ : msg_;
    std::size_t from = to.size();
    to.append(in.data(), n);
    in.remove_prefix(n);
    remain_ -= n;
    if (masked_) {
      for (std::size_t i = from; i < to.size(); ++i) to[i] = char(to[i] ^ key_[key_pos_++ & 3]);
    }
    if (op_ < 8 && msg_text_ &&
        !utf8_.write(reinterpret_cast<const std::uint8_t*>(to.data()) + from, to.size() - from))
      return fail(1007);
    if (remain_) return ev;  // wants more bytes
    in_frame_ = false;
    switch (op_) {
      case ping:
      case pong:
        ev.what = op_ == ping ? event::ping : event::pong;
        ev.data = std::move(control_);
        control_.clear();
        return ev;
      case close: {
        ev.what = event::close;
        done_ = true;
        if (control_.empty()) {
          ev.code = 1005;
          return ev;
        }
        if (control_.size() == 1) return fail(1002);
        std::uint16_t code = std::uint16_t((std::uint8_t(control_[0]) << 8) | std::uint8_t(control_[1]));
        bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
        if (!valid) return fail(1002);
        boost::beast::websocket::detail::utf8_checker check;
        check.reset();
        if (!check.write(reinterpret_cast<const std::uint8_t*>(control_.data()) + 2, control_.size() - 2) || !check.finish())
          return fail(1007);
        ev.code = code;
        ev.data = control_.substr(2);
        return ev;
      }
      default:
        if (!fin_) break;  // more fragments follow
        if (msg_text_ && !utf8_.finish()) return fail(1007);
        fragmented_ = false;
        ev.what = event::message;
        ev.text = msg_text_;
        ev.data = std::move(msg_);
        msg_ = std::string();
        return ev;
    }
  }
}

REMORA_DECL std::string ws_codec::frame(opcode op, std::string_view payload) const {
  std::string f;
  std::size_t n = payload.size();
  f.reserve(n + 14);
  f.push_back(char(0x80 | op));
  std::uint8_t mask_bit = server_ ? 0 : 0x80;
  if (n < 126) {
    f.push_back(char(mask_bit | n));
  } else if (n <= 0xFFFF) {
    f.push_back(char(mask_bit | 126));
    f.push_back(char(n >> 8));
    f.push_back(char(n & 0xFF));
  } else {
    f.push_back(char(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(char((std::uint64_t(n) >> (8 * i)) & 0xFF));
  }
  if (server_) return f.append(payload);
  // Masking keys need not be secret, only unpredictable to a script on the page (RFC 6455
  // 10.3): xorshift64* seeded per thread from the system's entropy.
  thread_local std::uint64_t x = (std::uint64_t(std::random_device{}()) << 32) | std::random_device{}() | 1;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  auto k = std::uint32_t((x * 0x2545F4914F6CDD1DULL) >> 32);
  char key[4] = {char(k >> 24), char(k >> 16), char(k >> 8), char(k)};
  f.append(key, 4);
  std::size_t at = f.size();
  f.append(payload);
  for (std::size_t i = 0; i < n; ++i) f[at + i] = char(f[at + i] ^ key[i & 3]);
  return f;
}

REMORA_DECL std::string ws_codec::close_frame(std::uint16_t code, std::string_view reason) const {
  std::string p;
  p.push_back(char(code >> 8));
  p.push_back(char(code & 0xFF));
  p.append(reason.substr(0, 123));
  return frame(close, p);
}

REMORA_DECL std::string ws_codec::accept_key(std::string_view key) {
  boost::beast::websocket::detail::sec_ws_accept_type out;
  if (key.size() > boost::beast::websocket::detail::sec_ws_key_type::static_capacity) key = key.substr(0, 0);
  boost::beast::websocket::detail::make_sec_ws_accept(out, key);
  return std::string(out.data(), out.size());
}

REMORA_DECL std::string ws_codec::new_key() {
  boost::beast::websocket::detail::sec_ws_key_type key;
  boost::beast::websocket::detail::make_sec_ws_key(key);
  return std::string(key.data(), key.size());
}

}  // namespace remora::net
