// The LSP compiler: the reference's observed examples, run through a real Lua state.
#include <doctest.h>
#include <remora/lsp/compiler.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <string>

namespace {

// Compiles `page`, runs it with an _emit that collects output; returns the output, or
// "ERR:" + the Lua error.
std::string run(const std::string& page) {
  std::string chunk, err;
  if (!remora::lsp::compile(page, chunk, err)) return "COMPILE:" + err;
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  std::string out;
  if (luaL_loadbuffer(L, chunk.data(), chunk.size(), "=page") != LUA_OK) {
    out = std::string("ERR:") + lua_tostring(L, -1);
    lua_close(L);
    return out;
  }
  // cmdEnv: a table with _emit and __index=_G
  lua_newtable(L);
  lua_pushlightuserdata(L, &out);
  lua_pushcclosure(L, [](lua_State* S) -> int {
    auto* o = static_cast<std::string*>(lua_touserdata(S, lua_upvalueindex(1)));
    size_t n;
    const char* s = luaL_checklstring(S, 1, &n);
    o->append(s, n);
    return 0;
  }, 1);
  lua_setfield(L, -2, "_emit");
  lua_newtable(L);
  lua_pushglobaltable(L);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pushstring(L, "index.lsp");
  lua_pushnil(L);
  lua_newtable(L);
  lua_newtable(L);
  if (lua_pcall(L, 5, 0, 0) != LUA_OK) out = std::string("ERR:") + lua_tostring(L, -1);
  lua_close(L);
  return out;
}

}  // namespace

TEST_CASE("expression tags and the swallowed newline") {
  CHECK(run("<?lsp= 1+1 ?>\n") == "2");
  CHECK(run("<?lsp= 1+1 ?>\r\nx") == "2x");
  CHECK(run("<?lsp= 1+1 ?>\n\n") == "2\n");
  CHECK(run("a<?lsp= 'b' ?>c") == "abc");
  CHECK(run("<?lsp=nil?>") == "nil");
}

TEST_CASE("code tags") {
  CHECK(run("<?lsp for i=1,3 do ?><?lsp= i ?><?lsp end ?>") == "123");
  CHECK(run("<?lsp local x = 5 ?>\nx=<?lsp= x ?>") == "x=5");
  CHECK(run("<?lsp local t={} -- a comment ?>after") == "after");
  CHECK(run("<?lsp= 7 -- comment ?>!") == "7!");
}

TEST_CASE("text is kept exactly, including what breaks Mako's long brackets") {
  CHECK(run("]===] and ]] and [[ and \"quotes\" and \\ backslash") ==
        "]===] and ]] and [[ and \"quotes\" and \\ backslash");
  CHECK(run("\nstarts with a newline") == "\nstarts with a newline");
  std::string bin("a\0b\x01\x7f\r\n", 7);
  CHECK(run(bin) == bin);
}

TEST_CASE("tags are case-sensitive and other tags are text") {
  CHECK(run("<?LSP x ?>") == "<?LSP x ?>");
  CHECK(run("<?lua x ?><% y %><%= z %><?xml version=\"1.0\"?>") == "<?lua x ?><% y %><%= z %><?xml version=\"1.0\"?>");
  std::string chunk, err;
  REQUIRE(remora::lsp::compile("<?lspx ?>", chunk, err));
  CHECK(chunk.find("x ") != std::string::npos);  // <?lspx ?> is the code `x`
}

TEST_CASE("the first ?> ends a tag, even inside a Lua string") {
  std::string chunk, err;
  REQUIRE(remora::lsp::compile("<?lsp x=\"?>\" ?>", chunk, err));
  CHECK(chunk.find("x=\" ") != std::string::npos);
  CHECK(run("<?lsp x=\"?>\" ?>").rfind("ERR:", 0) == 0);
}

TEST_CASE("a start tag without an end tag") {
  std::string chunk, err;
  CHECK_FALSE(remora::lsp::compile("line1\nline2\n<?lsp x=1\n", chunk, err));
  CHECK(err == "start tag without end tag at line# 3");
  CHECK_FALSE(remora::lsp::compile("<?lsp= 1", chunk, err));
  CHECK(err == "start tag without end tag at line# 1");
}

TEST_CASE("Lua errors point at the page's line") {
  auto r = run("one\ntwo\n<?lsp error('boom') ?>\n");
  CHECK(r.find("page:3:") != std::string::npos);
  r = run("<?lsp local a=1 ?>\n<?lsp local b=2 ?>\n\n<?lsp error('x') ?>");
  CHECK(r.find("page:4:") != std::string::npos);
}

TEST_CASE("the chunk's prologue") {
  std::string chunk, err;
  REQUIRE(remora::lsp::compile("", chunk, err));
  CHECK(chunk.rfind("local _ENV,pathname,io,page,app=...", 0) == 0);
}
