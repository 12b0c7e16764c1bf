// The three edition bundles end to end: a server per bundle, a request over loopback.
// The instantiations live in bundles_inst.cpp; here they are only declared.
#include <doctest.h>
#include <remora/server.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

extern template class remora::basic_server<remora::full_policies>;
extern template class remora::basic_server<remora::embedded_policies>;
extern template class remora::basic_server<remora::minimal_policies>;

namespace {

class hello final : public remora::vfs::directory {
 public:
  explicit hello(std::string who) : who_(std::move(who)) {}
  bool service(const remora::http::request& req, std::string_view rel, remora::http::response& res) override {
    if (rel != "hello" || !req.is_get_or_head()) return false;
    res.status = 200;
    res.set_header("Content-Type", "text/plain");
    res.body = "Hello from " + who_;
    return true;
  }

 private:
  std::string who_;
};

// Sends `request` and reads until the server closes (every request here ends the connection).
std::string exchange(std::uint16_t port, const std::string& request) {
  using boost::asio::ip::tcp;
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  boost::asio::write(s, boost::asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    std::size_t n = s.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  CHECK(ec == boost::asio::error::eof);
  return out;
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

template<class B>
void check_bundle() {
  remora::server_config cfg;
  cfg.threads = 2;
  remora::basic_server<B> srv(cfg);
  REQUIRE(srv.lua() != nullptr);
  srv.vfs().insert(std::make_shared<hello>(B::name), "/", 0);
  auto lr = srv.listen("127.0.0.1", 0);
  REQUIRE_MESSAGE(!lr.endpoints.empty(), lr.error);
  const std::uint16_t port = lr.endpoints.front().port();
  CHECK(port != 0);

  std::thread loop([&] { srv.run(); });
  struct stopper {
    remora::basic_server<B>& s;
    std::thread& t;
    ~stopper() {
      s.stop();
      if (t.joinable()) t.join();
    }
  } guard{srv, loop};

  auto r = exchange(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.find("\r\nContent-Type: text/plain\r\n") != std::string::npos);
  std::string expected = std::string("Hello from ") + B::name;
  CHECK(r.find("\r\nContent-Length: " + std::to_string(expected.size()) + "\r\n") != std::string::npos);
  CHECK(r.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(body_of(r) == expected);

  // Keep-alive and pipelining: two answers on one connection, the second a 404.
  r = exchange(port,
               "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  auto second = r.find("HTTP/1.1 404 Not Found\r\n");
  CHECK(second != std::string::npos);
  CHECK(r.find(expected) < second);

  // A target that is not a path.
  r = exchange(port, "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(r.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(srv.requests() >= 4);
}

}  // namespace

TEST_CASE("full_policies: a request over loopback") {
  check_bundle<remora::full_policies>();
}

TEST_CASE("minimal_policies: a request over loopback") {
  check_bundle<remora::minimal_policies>();
}

TEST_CASE("embedded_policies: a request over loopback, Lua in the arena") {
  check_bundle<remora::embedded_policies>();

  auto* arena = dynamic_cast<remora::arena_resource_mt*>(&remora::embedded_policies::alloc::resource());
  REQUIRE(arena != nullptr);
  remora::basic_server<remora::embedded_policies> srv;
  lua_State* L = srv.lua();
  REQUIRE(L != nullptr);
  lua_gc(L, LUA_GCCOLLECT, 0);
  auto before = arena->in_use();
  CHECK(before > 0);  // the state itself came from the arena
  REQUIRE(luaL_dostring(L, "keep = {} for i = 1, 20000 do keep[i] = 'value ' .. i end") == LUA_OK);
  auto after = arena->in_use();
  CHECK(after > before + 20000 * 16);
  REQUIRE(luaL_dostring(L, "keep = nil") == LUA_OK);
  lua_gc(L, LUA_GCCOLLECT, 0);
  CHECK(arena->in_use() < after);
}

TEST_CASE("full and minimal: Lua comes from the system heap") {
  remora::basic_server<remora::minimal_policies> srv;
  REQUIRE(srv.lua() != nullptr);
  void* ud = nullptr;
  lua_getallocf(srv.lua(), &ud);
  CHECK(ud == static_cast<void*>(std::pmr::new_delete_resource()));
  REQUIRE(luaL_dostring(srv.lua(), "return string.upper('ok')") == LUA_OK);
  CHECK(std::string(lua_tostring(srv.lua(), -1)) == "OK");
}
