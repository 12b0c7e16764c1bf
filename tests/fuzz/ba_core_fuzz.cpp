// libFuzzer target: the ba.* decoders on arbitrary bytes, through Lua as applications call
// them. Invariants: ba.b64decode gives nil or a string whose re-encoding decodes to the same
// bytes; ba.urldecode gives nil or a string that survives ba.urlencode -> ba.urldecode;
// ba.parsedate gives nil or a non-negative integer that ba.encdate formats back to a date
// ba.parsedate reads as the same instant; ba.datetime gives nil or a datetime whose tostring
// parses back to an equal datetime. Any Lua error is a finding (abort).
#include <remora/lua/ba_core.hpp>

#include "lua_checks.hpp"

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static lua_State* L = make_checks_state(checks, {remora::lua::open_ba_core});
  return run_checks(L, "ba_core_fuzz", data, size);
}
