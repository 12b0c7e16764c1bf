// libFuzzer target: ba.json decode/encode and the streaming parser. Invariants: decode either
// pushes exactly one value or fails with a positioned message and pushes nothing; a decoded
// value always encodes (decode accepts only what encode can write), and decoding that text
// gives an equal value (same types, integer/float kept, same keys); the streaming parser fed
// the text plus a space, whole or one byte at a time, yields exactly that value; for any
// other input, feeding it whole or one byte at a time gives the same values or both fail.
#include <remora/lua/json.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// Deep equality of the values at absolute indexes a and b (tables by content).
bool same(lua_State* L, int a, int b) {
  int t = lua_type(L, a);
  if (t != lua_type(L, b)) return false;
  if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, a) != lua_isinteger(L, b)) return false;
    return lua_rawequal(L, a, b);
  }
  if (t != LUA_TTABLE) return lua_rawequal(L, a, b);
  if (!lua_checkstack(L, 4)) std::abort();
  lua_Integer na = 0, nb = 0;
  lua_pushnil(L);
  while (lua_next(L, a)) {
    ++na;
    int v = lua_gettop(L);
    lua_pushvalue(L, v - 1);
    lua_rawget(L, b);
    if (!same(L, v, v + 1)) return false;
    lua_pop(L, 2);
  }
  lua_pushnil(L);
  while (lua_next(L, b)) {
    ++nb;
    lua_pop(L, 1);
  }
  return na == nb;
}

// Feeds `text` to ba.json.parser() in pieces of `step` bytes (0: whole) with all=true.
// Pushes one table with every value found; false when the parser reported an error.
bool stream(lua_State* L, std::string_view text, std::size_t step) {
  int base = lua_gettop(L);
  bool ok = true;
  lua_getglobal(L, "ba");
  lua_getfield(L, -1, "json");
  lua_getfield(L, -1, "parser");
  lua_call(L, 0, 1);
  int parser = lua_gettop(L);
  lua_newtable(L);
  int all = lua_gettop(L);
  lua_Integer k = 0;
  if (step == 0) step = text.size() ? text.size() : 1;
  for (std::size_t i = 0; i < text.size(); i += step) {
    std::string_view piece = text.substr(i, step);
    lua_getfield(L, parser, "parse");
    lua_pushvalue(L, parser);
    lua_pushlstring(L, piece.data(), piece.size());
    lua_pushboolean(L, 1);
    lua_call(L, 3, 2);
    if (lua_isnil(L, -2)) {
      if (lua_type(L, -1) != LUA_TSTRING) std::abort();
      ok = false;
      break;
    }
    if (lua_istable(L, -1)) {
      lua_Integer n = lua_Integer(lua_rawlen(L, -1));
      if (n == 0) std::abort();  // a table comes only with values
      for (lua_Integer j = 1; j <= n; ++j) {
        lua_rawgeti(L, -1, j);
        lua_rawseti(L, all, ++k);
      }
    }
    lua_pop(L, 2);
  }
  lua_settop(L, all);
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  remora::lua::open_json_lib(L);
  lua_setglobal(L, "ba");

  std::string err, out, out2;
  int top = lua_gettop(L);
  bool ok = remora::lua::decode_value(L, text, err);
  if (ok) {
    if (lua_gettop(L) != top + 1 || !err.empty()) std::abort();
    int v = lua_gettop(L);
    if (!remora::lua::encode_value(L, v, out, err)) std::abort();
    if (lua_gettop(L) != v) std::abort();
    if (!remora::lua::decode_value(L, out, err)) std::abort();
    if (!same(L, v, v + 1)) std::abort();
    // Whatever order the keys come in, the re-encoding has the same length.
    if (!remora::lua::encode_value(L, v + 1, out2, err) || out2.size() != out.size()) std::abort();
    lua_pop(L, 1);

    std::string spaced(text);
    spaced += ' ';  // completes a top-level number
    for (std::size_t step : {std::size_t(0), std::size_t(1)}) {
      if (!stream(L, spaced, step)) std::abort();
      if (lua_rawlen(L, -1) != 1) std::abort();
      lua_rawgeti(L, -1, 1);
      if (!same(L, v, lua_gettop(L))) std::abort();
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  } else {
    if (lua_gettop(L) != top) std::abort();
    if (err.rfind("json decode error at position ", 0) != 0) std::abort();
    // Streaming does not depend on how the text is cut: whole and byte by byte agree on
    // failure and on the values found (compared in order).
    std::string spaced(text);
    spaced += ' ';
    bool whole = stream(L, spaced, 0);
    int a = lua_gettop(L);
    bool bytes = stream(L, spaced, 1);
    if (whole != bytes) std::abort();
    if (whole && !same(L, a, lua_gettop(L))) std::abort();
    lua_settop(L, top);
  }
  lua_close(L);
  return 0;
}
