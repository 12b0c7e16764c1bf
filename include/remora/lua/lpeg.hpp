// LPeg in the VM: require"lpeg" (Debian's liblua5.4-lpeg.a, linked statically) and
// require"re" (Debian's re.lua, put into the resource zip's .lua/ by the build).
//
// Debian compiles LPeg as C against C Lua, while Remora links Lua compiled as C++ (a Lua
// error is a C++ exception). They link as they are: Debian's luaconf.h declares the lua_*
// and luaL_* API `extern "C"` under C++, so liblua5.4-c++ exports the very C names LPeg
// calls. An error raised inside LPeg (luaL_error, a bad argument, a Lua function a pattern
// calls) is then a C++ exception unwinding through LPeg's C frames: GCC emits unwind tables
// for C on x86-64 (the archive's objects have .eh_frame) and LPeg keeps nothing across such
// a jump that a longjmp would not also skip, so the enclosing pcall catches it; the tests
// check it (tests/unit/lpeg_test.cpp, tests/integration/test_sqlite.py).
//
// Separately compiled builds only: a header-only product links no LPeg (REMORA_LPEG is 0).
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// package.preload.lpeg = luaopen_lpeg; a no-op without LPeg.
void open_lpeg(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/lpeg.ipp>
#endif
