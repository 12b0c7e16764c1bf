// The driver of a libFuzzer target that runs a Lua chunk of checks on each input: one state
// (standard libraries and a global `ba` filled by the openers) made on first use, the chunk
// called with the input as its argument; any Lua error is a finding (abort, with `name`).
#pragma once
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

inline lua_State* make_checks_state(const char* checks, std::initializer_list<void (*)(lua_State*)> open) {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  for (auto f : open) f(L);
  lua_setglobal(L, "ba");
  if (luaL_loadstring(L, checks) != LUA_OK) std::abort();
  lua_setglobal(L, "checks");
  return L;
}

inline int run_checks(lua_State* L, const char* name, const std::uint8_t* data, std::size_t size) {
  lua_settop(L, 0);
  lua_getglobal(L, "checks");
  lua_pushlstring(L, reinterpret_cast<const char*>(data), size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "%s: %s\n", name, lua_tostring(L, -1));
    std::abort();
  }
  return 0;
}
