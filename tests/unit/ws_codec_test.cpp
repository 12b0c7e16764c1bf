// net::ws_codec against RFC 6455's own examples (section 5.7 frames, section 1.3 handshake
// key), byte by byte feeding, control frames between fragments, and every close code the
// parser sends.
#include <doctest/doctest.h>

#include <remora/net/ws_codec.hpp>

#include <string>
#include <string_view>
#include <vector>

using remora::net::ws_codec;
using event = ws_codec::event;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(char(c));
  return s;
}

// Everything `input` produces, fed in pieces of `piece` bytes.
std::vector<event> feed_all(ws_codec& c, std::string_view input, std::size_t piece = 1 << 20) {
  std::vector<event> out;
  for (std::size_t at = 0; at < input.size(); at += piece) {
    std::string_view in = input.substr(at, piece);
    while (!in.empty()) {
      auto ev = c.feed(in);
      if (ev.what != event::none) out.push_back(std::move(ev));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("RFC 6455 5.7: single-frame messages, masked and not") {
  ws_codec client(false);  // reads a server's unmasked frames
  auto ev = feed_all(client, bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].what == event::message);
  CHECK(ev[0].text);
  CHECK(ev[0].data == "Hello");

  ws_codec server(true);  // reads a client's masked frames
  auto masked = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  for (std::size_t piece : {1u, 2u, 3u, 100u}) {
    ws_codec s(true);
    auto e = feed_all(s, masked, piece);
    REQUIRE(e.size() == 1);
    CHECK(e[0].data == "Hello");
    CHECK(s.idle());
  }
}

TEST_CASE("RFC 6455 5.7: a fragmented message, pings and pongs, 16- and 64-bit lengths") {
  ws_codec client(false);
  // "Hel" + "lo" with an unsolicited pong between the fragments
  auto ev = feed_all(client, bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x8a, 0x00, 0x80, 0x02, 0x6c, 0x6f}));
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].what == event::pong);
  CHECK(ev[1].what == event::message);
  CHECK(ev[1].data == "Hello");
  // ping "Hello"
  ev = feed_all(client, bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].what == event::ping);
  CHECK(ev[0].data == "Hello");
  // 256 bytes binary: 0x82 0x7E 0x0100; 65536 bytes: 0x82 0x7F 0x0000000000010000
  std::string f256 = bytes({0x82, 0x7e, 0x01, 0x00}) + std::string(256, 'x');
  std::string f64k = bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}) + std::string(65536, 'y');
  ev = feed_all(client, f256 + f64k, 1000);
  REQUIRE(ev.size() == 2);
  CHECK((ev[0].data.size() == 256 && !ev[0].text));
  CHECK(ev[1].data.size() == 65536);
  // what we encode is what RFC 6455 shows
  ws_codec server(true);
  CHECK(server.frame(ws_codec::text, "Hello") == bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  CHECK(server.frame(ws_codec::binary, std::string(256, 'x')).substr(0, 4) == bytes({0x82, 0x7e, 0x01, 0x00}));
  CHECK(server.frame(ws_codec::binary, std::string(65536, 'y')).substr(0, 10) ==
        bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
}

TEST_CASE("RFC 6455 1.3: the accept key, and a client's frames a server reads back") {
  CHECK(ws_codec::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(ws_codec::new_key().size() == 24);
  ws_codec client(false), server(true);
  std::string f = client.frame(ws_codec::text, "round trip");
  CHECK((static_cast<unsigned char>(f[1]) & 0x80) != 0);  // a client masks
  auto ev = feed_all(server, f + client.close_frame(1001, "bye"));
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == "round trip");
  CHECK(ev[1].what == event::close);
  CHECK(ev[1].code == 1001);
  CHECK(ev[1].data == "bye");
  std::string_view more = "anything";
  CHECK(server.feed(more).what == event::none);  // nothing after a close
  CHECK(more.empty());
}

TEST_CASE("protocol errors name the close code to send") {
  auto first_error = [](bool server, const std::string& input, std::size_t max = 1 << 20) {
    ws_codec c(server, max);
    for (auto& e : feed_all(c, input))
      if (e.what == event::error) return int(e.code);
    return 0;
  };
  CHECK(first_error(true, bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'})) == 1002);            // unmasked to a server
  CHECK(first_error(false, bytes({0x81, 0x80, 1, 2, 3, 4})) == 1002);                       // masked to a client
  CHECK(first_error(false, bytes({0xc1, 0x00})) == 1002);                                   // RSV1 without an extension
  CHECK(first_error(false, bytes({0x83, 0x00})) == 1002);                                   // reserved opcode
  CHECK(first_error(false, bytes({0x09, 0x00})) == 1002);                                   // fragmented ping
  CHECK(first_error(false, bytes({0x89, 0x7e, 0x00, 0x7e}) + std::string(126, 'p')) == 1002);  // ping > 125
  CHECK(first_error(false, bytes({0x80, 0x00})) == 1002);                                   // continuation of nothing
  CHECK(first_error(false, bytes({0x01, 0x01, 'a', 0x81, 0x01, 'b'})) == 1002);              // new message inside one
  CHECK(first_error(false, bytes({0x88, 0x01, 0x03})) == 1002);                             // 1-byte close payload
  CHECK(first_error(false, bytes({0x88, 0x02, 0x03, 0xed})) == 1002);                       // close code 1005 is reserved
  CHECK(first_error(false, bytes({0x81, 0x02, 0xc3, 0x28})) == 1007);                       // bad UTF-8
  CHECK(first_error(false, bytes({0x01, 0x02, 0xe2, 0x82, 0x80, 0x01, 0xac})) == 0);         // € split over fragments
  CHECK(first_error(false, bytes({0x81, 0x01, 0xe2})) == 1007);                             // truncated UTF-8
  CHECK(first_error(false, bytes({0x88, 0x04, 0x03, 0xe8, 0xc3, 0x28})) == 1007);            // close reason not UTF-8
  CHECK(first_error(false, bytes({0x82, 0x7e, 0x10, 0x00}), 4095) == 1009);                // over the limit, by the header
  CHECK(first_error(false, bytes({0x02, 0x7e, 0x08, 0x00}) + std::string(2048, 'a') +
                               bytes({0x80, 0x7e, 0x08, 0x00}), 4095) == 1009);             // over it, by fragments
}
