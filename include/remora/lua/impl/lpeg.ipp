#pragma once
#include <remora/lua/lpeg.hpp>

#include <lauxlib.h>
#include <lua.h>

#if REMORA_LPEG
extern "C" int luaopen_lpeg(lua_State* L);  // liblua5.4-lpeg.a
#endif

namespace remora::lua {

REMORA_DECL void open_lpeg([[maybe_unused]] lua_State* L) {
#if REMORA_LPEG
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_lpeg);
  lua_setfield(L, -2, "lpeg");
  lua_pop(L, 1);
#endif
}

}  // namespace remora::lua
