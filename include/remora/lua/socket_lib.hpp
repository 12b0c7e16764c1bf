// ba.socket, the parts that need no connection (sockets themselves arrive with the rest of
// issue 7):
//
//   ba.socket.n2h(n, s [, i]) -> integer    the n (1-8) bytes of s from position i (default 1),
//                                           big-endian (network order), as an unsigned integer
//   ba.socket.h2n(n, v) -> string           v as n (1-8) big-endian bytes
//   ba.socket.fn2h(4|8, s [, i]) -> number  a big-endian IEEE 754 float/double from s at i
//   ba.socket.fh2n(4|8, v) -> string        v as a big-endian float/double
//   ba.socket.toip(name) -> ip | nil, "cannotresolve"   (the VM lock is released meanwhile)
//
// A position outside s, or n out of range, raises an error.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Installs ba.socket into the `ba` table at the top of the stack.
void open_socket_lib(lua_State* L);
// ba.sleep in a cosocket (or any task that can yield, lua/await.hpp): the coroutine waits
// on a timer of the loop. Returns what the C function returns; -1 when L cannot yield.
int sleep_in_task(lua_State* L, unsigned ms);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/socket_lib.ipp>
#endif
