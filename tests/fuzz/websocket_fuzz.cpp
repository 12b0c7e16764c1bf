// libFuzzer target: WebSocket frames from a client, after a good upgrade, through net::websocket
// (Beast's parser: masking, fragments, control frames, UTF-8, size limits) in the server role.
// The input arrives in pieces (the first byte sets the piece size) so that frames split across
// reads. Messages are read until an error; every read either yields a message no larger than
// the limit or fails; nothing may crash, hang or leak. The server's own frames (pongs, close
// replies) are checked to be well-formed and unmasked.
#include <remora/net/websocket.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
using remora::net::error_code;

constexpr std::size_t limit = 4096;

class memory_stream final : public remora::net::stream {
 public:
  memory_stream(asio::io_context& io, std::string in, std::size_t piece) : io_(io), in_(std::move(in)), piece_(piece) {}
  remora::net::executor get_executor() override { return io_.get_executor(); }
  void async_read_some(asio::mutable_buffer b, remora::net::io_handler h) override {
    std::size_t n = std::min({b.size(), piece_, in_.size() - pos_});
    std::memcpy(b.data(), in_.data() + pos_, n);
    pos_ += n;
    error_code ec = n ? error_code() : error_code(asio::error::eof);
    asio::post(io_, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
  }
  void async_write_some(const remora::net::const_buffers& b, remora::net::io_handler h) override {
    std::size_t n = 0;
    for (auto& c : b) {
      out.append(static_cast<const char*>(c.data()), c.size());
      n += c.size();
    }
    if (closed_) return asio::post(io_, [h = std::move(h)]() mutable { std::move(h)(asio::error::broken_pipe, 0); });
    asio::post(io_, [h = std::move(h), n]() mutable { std::move(h)(error_code(), n); });
  }
  void async_wait_readable(remora::net::wait_handler h) override {
    asio::post(io_, [h = std::move(h)]() mutable { std::move(h)(error_code()); });
  }
  void shutdown_send() override {}
  void close() override { closed_ = true; }
  bool is_open() const override { return !closed_; }
  bool endpoint(bool, remora::net::endpoint_info&) const override { return false; }
  int native_handle() override { return -1; }
  void set_keepalive(bool, int, int) override {}
  remora::tls::session* tls() override { return nullptr; }
  bool start_tls(std::unique_ptr<remora::tls::session>, remora::net::wait_handler) override { return false; }

  std::string out;

 private:
  asio::io_context& io_;
  std::string in_;
  std::size_t pos_ = 0, piece_;
  bool closed_ = false;
};

// The server's frames: unmasked, lengths that add up.
void check_frames(const std::string& out) {
  std::size_t i = out.find("\r\n\r\n");
  if (out.compare(0, 12, "HTTP/1.1 101") != 0 || i == std::string::npos) std::abort();
  i += 4;
  while (i < out.size()) {
    if (out.size() - i < 2) std::abort();
    auto b1 = static_cast<unsigned char>(out[i + 1]);
    if (b1 & 0x80) std::abort();  // a server never masks
    std::uint64_t n = b1 & 0x7F;
    std::size_t head = 2;
    if (n == 126) {
      if (out.size() - i < 4) std::abort();
      n = (std::uint64_t(static_cast<unsigned char>(out[i + 2])) << 8) | static_cast<unsigned char>(out[i + 3]);
      head = 4;
    } else if (n == 127) {
      head = 10;
      if (out.size() - i < head) std::abort();
      n = 0;
      for (int k = 0; k < 8; ++k) n = (n << 8) | static_cast<unsigned char>(out[i + 2 + std::size_t(k)]);
    }
    if (out.size() - i - head < n) std::abort();
    i += head + std::size_t(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = 1 + data[0] % 64;
  asio::io_context io(1);
  auto s = std::make_unique<memory_stream>(io, std::string(reinterpret_cast<const char*>(data) + 1, size - 1), piece);
  auto* raw = s.get();
  remora::net::websocket ws(std::move(s), true);
  ws.read_message_max(limit);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", "x"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}};
  std::string msg;
  int messages = 0;
  std::function<void()> next = [&] {
    ws.async_read(msg, [&](error_code ec, bool) {
      if (ec) return;
      if (msg.size() > limit) std::abort();
      if (++messages < 1000) next();
    });
  };
  ws.async_accept("GET", "/", headers, "", [&](error_code ec) {
    if (ec) std::abort();  // the upgrade itself is good
    next();
  });
  io.run_for(std::chrono::seconds(5));
  if (!io.stopped()) std::abort();  // a hang
  check_frames(raw->out);
  return 0;
}
