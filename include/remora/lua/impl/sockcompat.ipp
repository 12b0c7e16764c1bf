#pragma once
#include <remora/lua/sockcompat.hpp>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail::sockcompat {

// The metatable marking the errors raised by try functions.
inline constexpr const char* try_error_t = "remora.sockcompat.error";

// try(ret1, ...): the arguments when ret1 is true, else finalizer() and a marked error
// carrying ret2.
inline int try_call(lua_State* L) {
  if (lua_toboolean(L, 1)) return lua_gettop(L);
  lua_settop(L, 2);
  if (!lua_isnil(L, lua_upvalueindex(1))) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 0);
  }
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  luaL_setmetatable(L, try_error_t);
  return lua_error(L);
}

inline int newtry(lua_State* L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, try_call, 1);
  return 1;
}

// What a protected call answers once func has returned or raised (after yields too).
inline int protect_done(lua_State* L, int status, lua_KContext) {
  if (status == LUA_OK || status == LUA_YIELD) return lua_gettop(L);
  if (lua_type(L, -1) == LUA_TTABLE && lua_getmetatable(L, -1)) {
    luaL_getmetatable(L, try_error_t);
    bool marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (marked) {
      lua_pushnil(L);
      lua_rawgeti(L, -2, 1);
      return 2;
    }
  }
  return lua_error(L);
}

inline int protected_call(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  int status = lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, protect_done);
  return protect_done(L, status, 0);
}

inline int protect(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, protected_call, 1);
  return 1;
}

inline int skip(lua_State* L) {
  lua_Integer d = luaL_checkinteger(L, 1);
  lua_Integer left = lua_gettop(L) - 1 - d;
  if (d < 0 || left <= 0) return 0;
  return int(left);
}

}  // namespace detail::sockcompat

REMORA_DECL void open_sockcompat(lua_State* L) {
  namespace s = detail::sockcompat;
  if (luaL_newmetatable(L, s::try_error_t)) {
    // a try error that nothing catches still reads as its message
    lua_pushcfunction(L, [](lua_State* L) -> int {
      lua_rawgeti(L, 1, 1);
      luaL_tolstring(L, -1, nullptr);
      return 1;
    });
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  static const luaL_Reg lib[] = {
      {"newtry", s::newtry}, {"protect", s::protect}, {"skip", s::skip}, {nullptr, nullptr}};
  luaL_newlib(L, lib);
  lua_setglobal(L, "sockcompat");
}

}  // namespace remora::lua
