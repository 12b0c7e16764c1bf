#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/socket_lib.hpp>
#include <remora/lua/impl/net_lib.ipp>  // the SharkSSL objects
#include <remora/lua/impl/sock.ipp>

#include <cstdint>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail {

// The n bytes of the string argument at `si` starting at the 1-based position argument `pi`.
inline const unsigned char* bytes_at(lua_State* L, int si, int pi, std::size_t n) {
  std::size_t len;
  const char* s = luaL_checklstring(L, si, &len);
  lua_Integer pos = luaL_optinteger(L, pi, 1);
  luaL_argcheck(L, pos >= 1 && std::size_t(pos - 1) <= len && len - std::size_t(pos - 1) >= n, pi,
                "position outside the string");
  return reinterpret_cast<const unsigned char*>(s) + (pos - 1);
}

inline std::size_t check_width(lua_State* L, int i, bool floating) {
  lua_Integer n = luaL_checkinteger(L, i);
  if (floating) luaL_argcheck(L, n == 4 || n == 8, i, "4 or 8 expected");
  else luaL_argcheck(L, n >= 1 && n <= 8, i, "1 to 8 expected");
  return std::size_t(n);
}

inline std::uint64_t read_be(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

inline void push_be(lua_State* L, std::uint64_t v, std::size_t n) {  // n: 1 to 8
  char b[8];
  for (int i = 0; i < 8; ++i) b[7 - i] = char((v >> (8 * i)) & 0xff);
  lua_pushlstring(L, b + (8 - n), n);
}

inline int sock_n2h(lua_State* L) {
  std::size_t n = check_width(L, 1, false);
  lua_pushinteger(L, lua_Integer(read_be(bytes_at(L, 2, 3, n), n)));
  return 1;
}

inline int sock_h2n(lua_State* L) {
  std::size_t n = check_width(L, 1, false);
  push_be(L, std::uint64_t(luaL_checkinteger(L, 2)), n);
  return 1;
}

inline int sock_fn2h(lua_State* L) {
  std::size_t n = check_width(L, 1, true);
  std::uint64_t bits = read_be(bytes_at(L, 2, 3, n), n);
  if (n == 4) {
    std::uint32_t b32 = std::uint32_t(bits);
    float f;
    std::memcpy(&f, &b32, 4);
    lua_pushnumber(L, f);
  } else {
    double d;
    std::memcpy(&d, &bits, 8);
    lua_pushnumber(L, d);
  }
  return 1;
}

inline int sock_fh2n(lua_State* L) {
  std::size_t n = check_width(L, 1, true);
  lua_Number v = luaL_checknumber(L, 2);
  if (n == 4) {
    float f = float(v);
    std::uint32_t b32;
    std::memcpy(&b32, &f, 4);
    push_be(L, b32, 4);
  } else {
    double d = double(v);
    std::uint64_t b64;
    std::memcpy(&b64, &d, 8);
    push_be(L, b64, 8);
  }
  return 1;
}

inline int sock_toip(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  std::string ip;
  without_lock(get_host(L), [&] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0 || !res) return;
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a = res->ai_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr);
    if (::inet_ntop(res->ai_family, a, buf, sizeof buf)) ip = buf;
    ::freeaddrinfo(res);
  });
  if (ip.empty()) return fail(L, "cannotresolve");
  lua_pushstring(L, ip.c_str());
  return 1;
}

}  // namespace detail

REMORA_DECL int sleep_in_task(lua_State* L, unsigned ms) {
  host* h = get_host(L);
  if (!can_yield(L) || !h || !h->net) return -1;
  auto ex = h->net->pick_executor();
  return await(L, [ex, ms](completion done) {
    auto t = std::make_shared<boost::asio::steady_timer>(ex, std::chrono::milliseconds(ms));
    t->async_wait([t, done](net::error_code) { done(nullptr); });
  });
}

REMORA_DECL void open_socket_lib(lua_State* L) {
  static const luaL_Reg lib[] = {{"n2h", detail::sock_n2h},   {"h2n", detail::sock_h2n},
                                 {"fn2h", detail::sock_fn2h}, {"fh2n", detail::sock_fh2n},
                                 {"toip", detail::sock_toip}, {nullptr, nullptr}};
  luaL_newlib(L, lib);
  detail::open_sockets(L);
  lua_setfield(L, -2, "socket");
}

}  // namespace remora::lua
