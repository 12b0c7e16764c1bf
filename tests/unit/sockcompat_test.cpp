// The global `sockcompat` (LuaSocket's newtry, protect, skip): try errors become nil,
// message inside protect, other errors go through, finalizers run, and a protected function
// may yield (a socket call inside a page or cosocket suspends the coroutine).
#include "lua_state.hpp"

#include <remora/lua/sockcompat.hpp>

TEST_CASE("sockcompat.newtry and protect") {
  ba_state st({remora::lua::open_sockcompat});
  LUA_OK_RUN(st, R"lua(
    local s = sockcompat
    local try = s.newtry()
    -- true first value: every value comes back
    local a, b, c = try(1, 2, 3)
    assert(a == 1 and b == 2 and c == 3)
    -- inside protect, a failing try is nil, message
    local f = s.protect(function(x) return try(x, "failed: " .. tostring(x)) end)
    assert(f(5) == 5)
    local r, e = f(false)
    assert(r == nil and e == "failed: false", tostring(e))
    r, e = f(nil)
    assert(r == nil and e == "failed: nil")
    -- protect passes every argument and every result
    local g = s.protect(function(...) return select("#", ...), ... end)
    local n, x, y = g("a", nil, "c")
    assert(n == 3 and x == "a" and y == nil)
    -- finalizers run before the error
    local closed = 0
    local ftry = s.newtry(function() closed = closed + 1 end)
    r, e = s.protect(function() ftry(nil, "boom") end)()
    assert(r == nil and e == "boom" and closed == 1)
    assert(ftry(true) == true and closed == 1)
    -- ordinary errors are not caught
    local ok, err = pcall(s.protect(function() error("plain", 0) end))
    assert(not ok and err == "plain")
    ok, err = pcall(s.protect(function() error({code = 7}) end))
    assert(not ok and err.code == 7)
    -- a try error nobody catches reads as its message
    ok, err = pcall(try, nil, "uncaught")
    assert(not ok and tostring(err) == "uncaught")
    -- nested protects: the inner one answers
    local outer = s.protect(function()
      local v, m = s.protect(function() try(false, "inner") end)()
      return "outer saw " .. tostring(m)
    end)
    assert(outer() == "outer saw inner")
  )lua");
  CHECK(st.eval("pcall(sockcompat.newtry, 5)") == "false");
  CHECK(st.eval("pcall(sockcompat.protect, nil)") == "false");
}

TEST_CASE("sockcompat.protect: the protected function may yield") {
  ba_state st({remora::lua::open_sockcompat});
  LUA_OK_RUN(st, R"lua(
    local s = sockcompat
    local try = s.newtry()
    local f = s.protect(function(v)
      local got = coroutine.yield("waiting")
      try(got ~= "bad", "got bad after the yield")
      return v, got
    end)
    local co = coroutine.wrap(function(v) return f(v) end)
    assert(co(1) == "waiting")
    local a, b = co("fine")
    assert(a == 1 and b == "fine", tostring(a))
    co = coroutine.wrap(function(v) return f(v) end)
    assert(co(2) == "waiting")
    local r, e = co("bad")
    assert(r == nil and e == "got bad after the yield", tostring(e))
    -- an ordinary error after the yield still goes through
    local g = s.protect(function() coroutine.yield() error("late", 0) end)
    local c2 = coroutine.create(g)
    assert(coroutine.resume(c2))
    local ok, err = coroutine.resume(c2)
    assert(not ok and err == "late")
  )lua");
}

TEST_CASE("sockcompat.skip") {
  ba_state st({remora::lua::open_sockcompat});
  CHECK(st.eval("select('#', sockcompat.skip(1, 'a', 'b', 'c'))") == "2");
  CHECK(st.eval("sockcompat.skip(2, 'a', 'b', 'c')") == "c");
  CHECK(st.eval("select('#', sockcompat.skip(0, 'a', 'b'))") == "2");
  CHECK(st.eval("select('#', sockcompat.skip(5, 'a'))") == "0");
  CHECK(st.eval("select('#', sockcompat.skip(-1, 'a'))") == "0");
  CHECK(st.eval("select(2, sockcompat.skip(1, 'x', nil, 'z'))") == "z");
}
