// Small helpers for binding C++ objects to Lua 5.4 (built as C++, so Lua errors unwind C++
// destructors): full userdata that own a C++ object, with a __gc that destroys it.
#pragma once
#include <remora/config.hpp>

#include <lauxlib.h>
#include <lua.h>

#include <new>
#include <utility>

namespace remora::lua {

// Pushes a new userdata holding T{args...} with the metatable registered as `tname`.
template<class T, class... Args>
T* push_object(lua_State* L, const char* tname, Args&&... args) {
  void* mem = lua_newuserdatauv(L, sizeof(T), 1);
  T* obj = new (mem) T(std::forward<Args>(args)...);
  luaL_setmetatable(L, tname);
  return obj;
}

template<class T>
T* check_object(lua_State* L, int idx, const char* tname) {
  return static_cast<T*>(luaL_checkudata(L, idx, tname));
}

template<class T>
int gc_object(lua_State* L) {
  // luaL_testudata: __gc may also be reached through a foreign call; be strict.
  if (void* p = lua_touserdata(L, 1)) static_cast<T*>(p)->~T();
  return 0;
}

// Creates (once) the metatable `tname` with `methods` as __index and a __gc for T.
template<class T>
void define_class(lua_State* L, const char* tname, const luaL_Reg* methods) {
  if (luaL_newmetatable(L, tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, &gc_object<T>);
    lua_setfield(L, -2, "__gc");
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

// The main thread of L's state (where registry-anchored work of timers and threads starts).
inline lua_State* main_thread(lua_State* L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lua_State* m = lua_tothread(L, -1);
  lua_pop(L, 1);
  return m;
}

// `nil, message` — the way BAS and LuaSQL report failure.
inline int fail(lua_State* L, const char* message) {
  lua_pushnil(L);
  lua_pushstring(L, message);
  return 2;
}

}  // namespace remora::lua
