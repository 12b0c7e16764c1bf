// LPeg (Debian's C archive) inside Lua built as C++, and luasql.sqlite, driven from Lua: an
// error raised in LPeg's C code, or in a Lua function a pattern calls, unwinds through LPeg's
// C frames as a C++ exception and is caught by pcall; the state stays usable.
#include <doctest.h>
#include <remora/lua/lpeg.hpp>
#include <remora/lua/sqlite.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <string>

namespace {

struct state {
  lua_State* L = luaL_newstate();
  state() {
    luaL_openlibs(L);
    remora::lua::open_lpeg(L);
    remora::lua::open_sqlite(L);
  }
  ~state() { lua_close(L); }
  // Runs `code`; "" when it ran, else the error message.
  std::string run(const char* code) {
    if (luaL_dostring(L, code) == LUA_OK) return "";
    std::string err = lua_tostring(L, -1);
    lua_pop(L, 1);
    return err;
  }
};

}  // namespace

TEST_CASE("lpeg: the manual's example and errors caught by pcall") {
  state s;
  CHECK(s.run("lpeg = require'lpeg' assert(lpeg.match(lpeg.P'a', 'aaa') == 2)") == "");
  // luaL_error inside LPeg's C code (an empty grammar), a bad argument, and a Lua error
  // raised by a function the matcher calls: each one crosses C frames.
  CHECK(s.run(R"(local ok, e = pcall(lpeg.P, {}) assert(not ok and e:find'grammar', e))") == "");
  CHECK(s.run(R"(local ok, e = pcall(lpeg.match, lpeg.P'a', {}) assert(not ok and e:find'bad argument', e))") == "");
  CHECK(s.run(R"(local p = lpeg.P(function() error('inner', 0) end)
    local ok, e = pcall(lpeg.match, p, 'x') assert(not ok and e == 'inner', e))") == "");
  // Not caught in Lua: the host's protected call gets it, and the state goes on.
  CHECK(s.run("lpeg.P{}").find("grammar") != std::string::npos);
  CHECK(s.run("for i = 1, 1000 do pcall(lpeg.P, {}) end assert(lpeg.match(lpeg.R'09'^1, '123x') == 4)") == "");
}

#if REMORA_SQLITE
TEST_CASE("luasql.sqlite in memory") {
  state s;
  CHECK(s.run(R"lua(
    local ls = require'luasql.sqlite'
    assert(ls == luasql and ls.quotestr"a'b" == "'a''b'")
    local env = ls.sqlite()
    local c = assert(env:connect':memory:')
    assert(c:execute'CREATE TABLE t(a INTEGER, b TEXT)' == 0)
    assert(c:execute"INSERT INTO t VALUES(1, 'x'), (2, NULL)" == 2)
    local cur = c:execute'SELECT a, b FROM t ORDER BY a'
    local a, b = cur:fetch() assert(a == 1 and b == 'x')
    a, b = cur:fetch() assert(a == 2 and b == nil)
    assert(cur:fetch() == nil)
    local r, e = c:execute'SELECT nope' assert(r == nil and e:find'no such column', e)
    assert(not pcall(c.execute, c))   -- misuse raises
    assert(c:close() and not c:close() and env:close())
    assert(not pcall(c.execute, c, 'SELECT 1'))
  )lua") == "");
}
#endif
