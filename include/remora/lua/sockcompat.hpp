// The global `sockcompat`: the C part of Mako's LuaSocket layer (lua/.lua/socket/core.lua
// turns it into the `socket` namespace). Written for Remora from LuaSocket's manual.
//
//   sockcompat.newtry([finalizer]) -> try
//     try(ret1, ret2, ...) returns its arguments when ret1 is true; otherwise it calls
//     finalizer() (when given) and raises ret2 as an error that protect() recognises.
//   sockcompat.protect(func) -> a function that calls func with its arguments and returns
//     its results; an error raised by a try function becomes `nil, message`; any other
//     error goes on. func may yield (a socket call in a page or a cosocket).
//   sockcompat.skip(d, ...) -> the arguments after the first d of `...`.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Creates the global `sockcompat`.
void open_sockcompat(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/sockcompat.ipp>
#endif
