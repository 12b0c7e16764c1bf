// A Lua state for unit tests: the standard libraries and a global `ba` filled by the given
// openers (the core ba.* functions by default), with helpers to run code and read results.
#pragma once
#include <doctest.h>
#include <remora/lua/ba_core.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <initializer_list>
#include <string>

struct ba_state {
  lua_State* L = luaL_newstate();
  explicit ba_state(std::initializer_list<void (*)(lua_State*)> open = {remora::lua::open_ba_core}) {
    luaL_openlibs(L);
    lua_newtable(L);
    for (auto f : open) f(L);
    lua_setglobal(L, "ba");
  }
  ~ba_state() { lua_close(L); }
  ba_state(const ba_state&) = delete;
  ba_state& operator=(const ba_state&) = delete;

  // Runs `code`; "" on success, else the error message.
  std::string run(const std::string& code) {
    lua_settop(L, 0);
    if (luaL_dostring(L, code.c_str()) == LUA_OK) return {};
    std::string err = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(non-string error)";
    lua_settop(L, 0);
    return err;
  }
  // Runs "return <expr>" and gives the result as a string ("nil" for nil, "<err>..." on error).
  std::string eval(const std::string& expr) {
    lua_settop(L, 0);
    if (luaL_dostring(L, ("return " + expr).c_str()) != LUA_OK) {
      std::string err = "<err>" + std::string(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
      lua_settop(L, 0);
      return err;
    }
    if (lua_gettop(L) == 0 || lua_isnil(L, 1)) return "nil";
    std::size_t n;
    const char* s = luaL_tolstring(L, 1, &n);
    std::string r(s, n);
    lua_settop(L, 0);
    return r;
  }
  // Sets the global `name` to the string `value`.
  void set(const char* name, const std::string& value) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setglobal(L, name);
  }
};

#define LUA_OK_RUN(st, code)          \
  do {                                \
    std::string err_ = (st).run(code); \
    INFO(err_);                       \
    CHECK(err_.empty());              \
  } while (0)
