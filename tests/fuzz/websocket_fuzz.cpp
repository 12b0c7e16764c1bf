// libFuzzer target: the WebSocket frame parser (net::ws_codec) on a client's bytes, in pieces
// of a size the first byte chooses so that frames split anywhere. Invariants: no message
// larger than the limit; a text message is valid UTF-8; after a close or an error nothing more
// comes out and the input is swallowed; an error names a close code the protocol allows. Then
// the rest of the input, framed by a client codec and parsed by a server codec, must come back
// byte for byte.
#include <remora/net/ws_codec.hpp>

#include <boost/beast/websocket/detail/utf8_checker.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t limit = 4096;

bool valid_utf8(const std::string& s) {
  boost::beast::websocket::detail::utf8_checker c;
  c.reset();
  return c.write(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) && c.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using remora::net::ws_codec;
  std::size_t piece = 1 + data[0] % 64;
  std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);

  ws_codec server(true, limit);
  bool ended = false;
  for (std::size_t at = 0; at < all.size(); at += piece) {
    std::string_view in = all.substr(at, piece);
    while (!in.empty()) {
      auto before = in.size();
      auto ev = server.feed(in);
      if (ended && (ev.what != ws_codec::event::none || !in.empty())) std::abort();  // nothing after the end
      switch (ev.what) {
        case ws_codec::event::none:
          if (!in.empty()) std::abort();  // none means it took everything
          break;
        case ws_codec::event::message:
          if (ev.data.size() > limit) std::abort();
          if (ev.text && !valid_utf8(ev.data)) std::abort();
          break;
        case ws_codec::event::ping:
        case ws_codec::event::pong:
          if (ev.data.size() > 125) std::abort();
          break;
        case ws_codec::event::close:
          ended = true;
          break;
        case ws_codec::event::error:
          if (ev.code != 1002 && ev.code != 1007 && ev.code != 1009) std::abort();
          ended = true;
          break;
      }
      if (in.size() > before) std::abort();
    }
  }

  // Round trip: the input as one binary message and, when it is UTF-8, as text.
  std::string payload(all.substr(0, limit));
  ws_codec client(false, limit), peer(true, limit);
  for (auto op : {ws_codec::binary, ws_codec::text}) {
    if (op == ws_codec::text && !valid_utf8(payload)) continue;
    std::string frame = client.frame(op, payload);
    std::string_view in = frame;
    auto ev = peer.feed(in);
    if (ev.what != ws_codec::event::message || ev.data != payload || ev.text != (op == ws_codec::text) || !in.empty())
      std::abort();
  }
  return 0;
}
