#pragma once
#include <remora/lua/host.hpp>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail {
inline const char host_key = 0;
}

REMORA_DECL void set_host(lua_State* L, host* h) {
  lua_pushlightuserdata(L, h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &detail::host_key);
}

REMORA_DECL host* get_host(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &detail::host_key);
  auto* h = static_cast<host*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return h;
}

}  // namespace remora::lua
