// ba.timer: Lua functions run by the server's loop after a delay, once or at an interval.
//
//   local t = ba.timer(func | coroutine)
//   t:set(ms [, once [, now]]) -> true | nil,err   arms the timer (again: re-arms it). ms is
//                                                   rounded up to mako.conf's timertick.
//                                                   now: the first run comes at once.
//   t:reset([ms]) -> bool                          restarts the wait (with a new interval); a
//                                                   timer that ended or was cancelled runs again
//   t:cancel() -> bool                             disarms; true when it was armed
//
// Each tick runs func in a coroutine under the VM lock. Returning true keeps an interval
// timer going; returning false or nil stops it. A function that yields (coroutine.yield(true))
// is resumed at the next tick where it left off; yield(false) stops the timer. An error is
// printed with its traceback and stops the timer. ba.sleep inside the function suspends it
// (the loop goes on) and it continues where it was when the time is up. An armed timer is kept alive by the server
// (ba.timer(f):set(1000) needs no variable); a disarmed one is collected like any value.
// Where there is no loop (script mode) set() returns nil, "no event loop".
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Installs ba.timer into the `ba` table at the top of the stack.
void open_timer_lib(lua_State* L);

// ba.sleep inside a timer's function: true when L is that function's coroutine and can yield;
// the caller then yields and the timer resumes it `ms` later, leaving the loop free meanwhile.
bool timer_sleep(lua_State* L, unsigned ms);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/timer_lib.ipp>
#endif
