// libFuzzer target: the ba.* decoders on arbitrary bytes, through Lua as applications call
// them. Invariants: ba.b64decode gives nil or a string whose re-encoding decodes to the same
// bytes; ba.urldecode gives nil or a string that survives ba.urlencode -> ba.urldecode;
// ba.parsedate gives nil or a non-negative integer that ba.encdate formats back to a date
// ba.parsedate reads as the same instant; ba.datetime gives nil or a datetime whose tostring
// parses back to an equal datetime. Any Lua error is a finding (abort).
#include <remora/lua/ba_core.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {
constexpr const char* checks = R"lua(
local s = ...
local d = ba.b64decode(s)
if d ~= nil then
  assert(type(d) == "string")
  assert(ba.b64decode(ba.b64encode(d)) == d)
  assert(ba.b64decode(ba.b64urlencode(d)) == d)
end
local u = ba.urldecode(s)
if u ~= nil then assert(ba.urldecode(ba.urlencode(u)) == u) end
local t = ba.parsedate(s)
if t ~= nil then
  assert(math.type(t) == "integer" and t >= 0)
  local f = ba.encdate(t)
  assert(#f == 29 and ba.parsedate(f) == t)
end
local dt = ba.datetime(#s > 0 and s or "x")
if dt ~= nil then
  assert(ba.datetime(dt:tostring()) == dt)
  local _ = dt:date()
end
)lua";

lua_State* make_state() {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  remora::lua::open_ba_core(L);
  lua_setglobal(L, "ba");
  if (luaL_loadstring(L, checks) != LUA_OK) std::abort();
  lua_setglobal(L, "checks");
  return L;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static lua_State* L = make_state();
  lua_settop(L, 0);
  lua_getglobal(L, "checks");
  lua_pushlstring(L, reinterpret_cast<const char*>(data), size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "ba_core_fuzz: %s\n", lua_tostring(L, -1));
    std::abort();
  }
  return 0;
}
