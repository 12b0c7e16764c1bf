// A product that embeds Remora from its headers alone: its own directory, one server on an
// ephemeral loopback port, one request over a plain socket.
#include <remora/server.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <string>
#include <thread>

static_assert(REMORA_HEADER_ONLY == 1, "this product must build in header-only mode");
static_assert(REMORA_HAS_BUILD_CONFIG == 0, "no generated build_config.hpp on this path");

struct hello : remora::vfs::directory {
  bool service(const remora::http::request& req, std::string_view rel, remora::http::response& res) override {
    res.set_header("Content-Type", "text/plain");
    res.body = "hello from a product: " + std::string(req.method) + " /" + std::string(rel);
    return true;
  }
};

int main() {
  remora::basic_server<remora::minimal_policies> srv;
  srv.vfs().insert(std::make_shared<hello>(), "/", 0);
  auto r = srv.listen("127.0.0.1", 0);
  if (r.endpoints.empty()) {
    std::fprintf(stderr, "listen failed: %s\n", r.error.c_str());
    return 1;
  }
  std::thread loop([&] { srv.run(); });

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect(r.endpoints.front());
  std::string req = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(req));
  std::string reply;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    std::size_t n = s.read_some(boost::asio::buffer(buf), ec);
    reply.append(buf, n);
    if (ec) break;
  }
  srv.stop();
  loop.join();
  bool ok = reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
            reply.find("\r\n\r\nhello from a product: GET /x") != std::string::npos;
  std::printf("%s\n", ok ? "header-only product: ok" : reply.c_str());
  return ok ? 0 : 1;
}
