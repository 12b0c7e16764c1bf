// ba.json: encode/decode rules, errors, and the streaming parser, driven from Lua.
#include <doctest.h>
#include <remora/lua/json.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <string>

namespace {

// Lua helpers every snippet can use: J = ba.json, eq (deep, math.type-aware), rt (round trip).
constexpr const char* prelude = R"lua(
J = ba.json
function eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return math.type(a) == math.type(b) and a == b end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function rt(v)
  local s, err = J.encode(v)
  assert(s, err)
  local back, derr = J.decode(s)
  assert(derr == nil, derr)
  assert(eq(v, back), "round trip of " .. s)
  return s
end
function decode_fails(s, what)
  local v, err = J.decode(s)
  assert(v == nil, "decoded: " .. tostring(s))
  assert(type(err) == "string" and err:find("json decode error at position %d+: "), tostring(err))
  if what then assert(err:find(what, 1, true), err) end
  return err
end
function encode_fails(v, what)
  local s, err = J.encode(v)
  assert(s == nil, "encoded: " .. tostring(s))
  assert(type(err) == "string", "no message")
  if what then assert(err:find(what, 1, true), err) end
end
)lua";

struct lua_env {
  lua_State* L = luaL_newstate();
  lua_env() {
    luaL_openlibs(L);
    lua_newtable(L);
    remora::lua::open_json_lib(L);
    lua_setglobal(L, "ba");
    if (luaL_dostring(L, prelude) != LUA_OK) FAIL(lua_tostring(L, -1));
  }
  ~lua_env() { lua_close(L); }
  lua_env(const lua_env&) = delete;
  lua_env& operator=(const lua_env&) = delete;

  // Runs `code`; the error message, or "" on success.
  std::string run(const char* code) {
    if (luaL_dostring(L, code) == LUA_OK) {
      lua_settop(L, 0);
      return {};
    }
    std::string m = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error without a message)";
    lua_settop(L, 0);
    return m;
  }
};

#define CHECK_LUA(env, code)       \
  do {                             \
    std::string msg_ = (env).run(code); \
    INFO(msg_);                    \
    CHECK(msg_.empty());           \
  } while (0)

}  // namespace

TEST_CASE("json: round trips of nested structures") {
  lua_env e;
  CHECK_LUA(e, R"(rt({a = {1, 2, {b = "c", d = {true, false}}}, e = "f", n = 1.25, z = {x = {y = {}}}}))");
  CHECK_LUA(e, R"(rt({{1}, {{2}}, {{{3}}}, "s", 0, -1}))");
  CHECK_LUA(e, R"(rt("plain") rt(true) rt(false) rt(42) rt(-7.5) rt(""))");
  CHECK_LUA(e, R"(
    local v = J.decode(' { "k" : [ 1 , 2.5 , "x" , null , true ] , "o" : { } } ')
    assert(v.k[1] == 1 and v.k[2] == 2.5 and v.k[3] == "x" and v.k[4] == J.null and v.k[5] == true)
    assert(type(v.o) == "table" and next(v.o) == nil)
    assert(#v.k == 5))");
}

TEST_CASE("json: array versus object detection, empty table") {
  lua_env e;
  CHECK_LUA(e, R"(assert(J.encode({1, 2, 3}) == "[1,2,3]"))");
  CHECK_LUA(e, R"(assert(J.encode({"a"}) == '["a"]'))");
  CHECK_LUA(e, R"(assert(J.encode({a = 1}) == '{"a":1}'))");
  CHECK_LUA(e, R"(assert(J.encode({}) == "{}"))");
  CHECK_LUA(e, R"(assert(J.encode(setmetatable({}, {__jsontype = "array"})) == "[]"))");
  // holes and extra keys make an object, number keys become strings
  CHECK_LUA(e, R"(
    local v = J.decode(J.encode({[1] = "a", [3] = "c"}))
    assert(v["1"] == "a" and v["3"] == "c" and v[1] == nil, J.encode({[1] = "a", [3] = "c"})))");
  CHECK_LUA(e, R"(
    local v = J.decode(J.encode({10, 20, x = 1}))
    assert(v["1"] == 10 and v["2"] == 20 and v.x == 1))");
  CHECK_LUA(e, R"(assert(J.encode({[0] = "z"}) == '{"0":"z"}'))");
  CHECK_LUA(e, R"(assert(J.encode({[2.5] = 1}) == '{"2.5":1}'))");
  CHECK_LUA(e, R"(encode_fails({[true] = 1}, "key"))");
  CHECK_LUA(e, R"(encode_fails({[{}] = 1}, "key"))");
  CHECK_LUA(e, R"(local v = J.decode("[]") assert(type(v) == "table" and next(v) == nil))");
}

TEST_CASE("json: null both ways and the nullvalue argument") {
  lua_env e;
  CHECK_LUA(e, R"(assert(type(J.null) == "userdata"))");
  CHECK_LUA(e, R"(assert(J.encode(J.null) == "null" and J.encode(nil) == "null"))");
  CHECK_LUA(e, R"(assert(J.encode({a = J.null}) == '{"a":null}'))");
  CHECK_LUA(e, R"(assert(J.encode({1, J.null, 3}) == "[1,null,3]"))");
  CHECK_LUA(e, R"(assert(J.decode("null") == J.null))");
  CHECK_LUA(e, R"(local v = J.decode('{"a":null,"b":1}') assert(v.a == J.null and v.b == 1))");
  CHECK_LUA(e, R"(local v = J.decode('{"a":null,"b":1}', nil) assert(v.a == nil and v.b == 1))");
  CHECK_LUA(e, R"(local v = J.decode('[1,null,3]', nil) assert(v[1] == 1 and v[2] == nil and v[3] == 3))");
  CHECK_LUA(e, R"(local v = J.decode('[null]', false) assert(v[1] == false))");
  CHECK_LUA(e, R"(local s = {} local v = J.decode('{"x":[null]}', s) assert(v.x[1] == s))");
  CHECK_LUA(e, R"(encode_fails(function() end, "function"))");
}

TEST_CASE("json: integers and floats") {
  lua_env e;
  CHECK_LUA(e, R"(assert(J.encode(1) == "1" and math.type(J.decode("1")) == "integer"))");
  CHECK_LUA(e, R"(assert(J.encode(1.5) == "1.5" and J.decode("1.5") == 1.5))");
  CHECK_LUA(e, R"(assert(J.encode(3.0) == "3.0" and math.type(J.decode("3.0")) == "float"))");
  CHECK_LUA(e, R"(assert(J.encode(0.1) == "0.1"))");
  CHECK_LUA(e, R"(local v = J.decode("-0") assert(math.type(v) == "integer" and v == 0))");
  CHECK_LUA(e, R"(local s = J.encode(-0.0) assert(s == "-0.0", s) assert(1 / J.decode(s) < 0))");
  CHECK_LUA(e, R"(local v = J.decode("1e300") assert(math.type(v) == "float" and v == 1e300) rt(1e300))");
  CHECK_LUA(e, R"(local v = J.decode("1E2") assert(math.type(v) == "float" and v == 100.0))");
  CHECK_LUA(e, R"(local v = J.decode("9007199254740993") assert(v == math.tointeger(2^53) + 1 and math.type(v) == "integer") rt(v))");
  CHECK_LUA(e, R"(local v = J.decode("9223372036854775807") assert(v == math.maxinteger) rt(v))");
  CHECK_LUA(e, R"(local v = J.decode("-9223372036854775808") assert(v == math.mininteger) rt(v))");
  CHECK_LUA(e, R"(local v = J.decode("9223372036854775808") assert(math.type(v) == "float" and v == 2^63))");
  CHECK_LUA(e, R"(decode_fails("1e400", "out of range"))");
  CHECK_LUA(e, R"(decode_fails("-1e400", "out of range"))");
  CHECK_LUA(e, R"(local v = J.decode("1e-400") assert(v == 0 and math.type(v) == "float"))");
  CHECK_LUA(e, R"(local v = J.decode("0.000001e-400") assert(v == 0))");
  CHECK_LUA(e, R"(rt(5e-324) rt(1.7976931348623157e308) rt(-123456.789e-10) rt(math.pi))");
  CHECK_LUA(e, R"(encode_fails(0/0, "NaN") encode_fails(1/0) encode_fails({x = -1/0}))");
}

TEST_CASE("json: strings, escapes and UTF-8") {
  lua_env e;
  CHECK_LUA(e, R"(assert(J.encode('a"b\\c/d') == [["a\"b\\c/d"]]))");
  CHECK_LUA(e, R"(assert(J.encode("\n\t\r\b\f\1\31\127") == [["\n\t\r\b\f\u0001\u001f]] .. "\127" .. '"'))");
  CHECK_LUA(e, R"(assert(J.encode("\0") == [["\u0000"]] and J.decode([["\u0000"]]) == "\0"))");
  CHECK_LUA(e, R"(assert(J.encode("é😀") == '"é😀"'))");
  CHECK_LUA(e, R"(assert(J.decode([["\u00e9"]]) == "é"))");
  CHECK_LUA(e, R"(assert(J.decode([["\u20AC"]]) == "€"))");
  CHECK_LUA(e, R"(assert(J.decode([["\ud83d\ude00"]]) == "😀"))");
  CHECK_LUA(e, R"(assert(J.decode([["\"\\\/\b\f\n\r\t"]]) == "\"\\/\b\f\n\r\t"))");
  CHECK_LUA(e, R"(decode_fails([["\ud83d"]], "surrogate"))");
  CHECK_LUA(e, R"(decode_fails([["\ud83dx"]], "surrogate"))");
  CHECK_LUA(e, R"(decode_fails([["\ud83d\u0041"]], "surrogate"))");
  CHECK_LUA(e, R"(decode_fails([["\ude00"]], "surrogate"))");
  CHECK_LUA(e, R"(decode_fails([["\u12"]], "escape"))");
  CHECK_LUA(e, R"(decode_fails('"\255"', "UTF-8") decode_fails('"\192\128"', "UTF-8") decode_fails('"\237\160\128"', "UTF-8"))");
  CHECK_LUA(e, R"(encode_fails("\255", "UTF-8") encode_fails({k = "\226\130"}, "UTF-8") encode_fails({["\200"] = 1}, "UTF-8"))");
  CHECK_LUA(e, R"(rt("tab\tquote\"back\\slash/nul\0é€😀"))");
  CHECK_LUA(e, R"(assert(J.encodestr('x"y') == [["x\"y"]] and J.encodestr("") == '""'))");
  CHECK_LUA(e, R"(local s, err = J.encodestr("\255") assert(s == nil and err))");
}

TEST_CASE("json: invalid documents are errors with a position") {
  lua_env e;
  CHECK_LUA(e, R"(decode_fails("{", "end of input"))");
  CHECK_LUA(e, R"(local err = decode_fails("[1,]") assert(err:find("position 4:", 1, true), err))");
  CHECK_LUA(e, R"(decode_fails('{"a":}'))");
  CHECK_LUA(e, R"(decode_fails('{"a" 1}', "':'"))");
  CHECK_LUA(e, R"(decode_fails('{a:1}', "key"))");
  CHECK_LUA(e, R"(decode_fails('{"a":1,}', "key"))");
  CHECK_LUA(e, R"(local err = decode_fails("01", "leading zero") assert(err:find("position 2:", 1, true), err))");
  CHECK_LUA(e, R"(decode_fails("-") decode_fails("1.") decode_fails(".5") decode_fails("1e") decode_fails("+1") decode_fails("-01"))");
  CHECK_LUA(e, R"(decode_fails([["\x"]], "escape"))");
  CHECK_LUA(e, R"(local err = decode_fails("[1] x", "trailing") assert(err:find("position 5:", 1, true), err))");
  CHECK_LUA(e, R"(decode_fails("1 2", "trailing") decode_fails("{}{}", "trailing"))");
  CHECK_LUA(e, R"(decode_fails('"a\nb"', "control character"))");
  CHECK_LUA(e, R"(decode_fails("") decode_fails("   ") decode_fails("nul") decode_fails("tru e") decode_fails("NaN") decode_fails("[1 2]"))");
  CHECK_LUA(e, R"(decode_fails('"abc', "end of input"))");
  CHECK_LUA(e, R"(assert(J.decode(" \t\r\n[ ] \n") ~= nil))");
}

TEST_CASE("json: nesting limits, not stack overflows") {
  lua_env e;
  CHECK_LUA(e, R"(decode_fails(string.rep("[", 100000), "too deep"))");
  CHECK_LUA(e, R"(decode_fails(string.rep('{"a":', 5000), "too deep"))");
  CHECK_LUA(e, R"(
    local ok = string.rep("[", 1000) .. "1" .. string.rep("]", 1000)
    local v = assert(J.decode(ok))
    local s = assert(J.encode(v))
    assert(s == ok)
    decode_fails("[" .. ok .. "]", "too deep"))");
  CHECK_LUA(e, R"(
    local t = {} local cur = t
    for i = 1, 2000 do cur[1] = {} cur = cur[1] end
    encode_fails(t, "deep"))");
  CHECK_LUA(e, R"(local t = {} t.self = t encode_fails(t, "cyclic"))");
  CHECK_LUA(e, R"(local a, b = {}, {} a[1] = b b.x = a encode_fails({a}, "cyclic"))");
  CHECK_LUA(e, R"(local shared = {1} assert(J.encode({shared, shared}) == "[[1],[1]]"))");
  CHECK_LUA(e, R"(encode_fails(coroutine.create(print), "thread") encode_fails(io.stdout, "userdata"))");
}

TEST_CASE("json: streaming parser, one byte at a time") {
  lua_env e;
  // all = true: every completed value, in order
  CHECK_LUA(e, R"(
    local text = [=[{"a":1} [2,3] "x\u00e9" 4 true null ]=]
    local p = J.parser()
    local got = {}
    for i = 1, #text do
      local ok, vals = p:parse(text:sub(i, i), true)
      assert(ok == true, vals)
      if vals then for _, v in ipairs(vals) do got[#got + 1] = v end end
      if vals then assert(#vals > 0) end
    end
    assert(#got == 6, #got)
    assert(eq(got[1], {a = 1}) and eq(got[2], {2, 3}) and got[3] == "xé" and got[4] == 4)
    assert(got[5] == true and got[6] == J.null))");
  // one chunk holding several values
  CHECK_LUA(e, R"(
    local p = J.parser()
    local ok, vals = p:parse('[1] {"b":[{}]} 7 ', true)
    assert(ok and #vals == 3 and vals[1][1] == 1 and type(vals[2].b[1]) == "table" and vals[3] == 7)
    assert(p:parse("  ", true) == true and select("#", p:parse("", true)) == 1))");
  // single-value form: the rest is kept for the next call
  CHECK_LUA(e, R"(
    local p = J.parser()
    local ok, v = p:parse('{"k":')
    assert(ok == true and v == nil)
    ok, v = p:parse('"v"}[5]"s')
    assert(ok and v.k == "v")
    ok, v = p:parse("")
    assert(ok and v[1] == 5)
    ok, v = p:parse('tr"')
    assert(ok and v == "str")
    ok, v = p:parse("[1] [2] [3")
    assert(ok and v[1] == 1)
    ok, v = p:parse("")
    assert(ok and v[1] == 2)
    ok, v = p:parse("")
    assert(ok == true and v == nil)
    ok, v = p:parse("]")
    assert(ok and v[1] == 3)
    assert(select("#", p:parse("")) == 1))");
  // a number only completes when something that cannot continue it follows
  CHECK_LUA(e, R"(
    local p = J.parser()
    assert(select("#", p:parse("12", true)) == 1)
    assert(select("#", p:parse("3.5", true)) == 1)
    local ok, vals = p:parse("e1 ", true)
    assert(ok and vals[1] == 1235.0 and math.type(vals[1]) == "float")
    ok, vals = p:parse(",", true)
    assert(ok == nil and vals:find("position 9:", 1, true), vals))");
  CHECK_LUA(e, R"(
    local p = J.parser()
    local ok, vals = p:parse("-12.5e1\n", true)
    assert(ok and vals[1] == -125.0))");
  // split inside escapes and surrogate pairs
  CHECK_LUA(e, R"(
    local text = [=[["\ud83d\ude00\n", "\u00e9", {"\"k": -0.25e-1}]]=]
    local want = J.decode(text)
    for cut = 1, #text - 1 do
      local p = J.parser(); local got
      local ok, v = p:parse(text:sub(1, cut)); assert(ok and v == nil, cut)
      ok, got = p:parse(text:sub(cut + 1)); assert(ok, got)
      assert(eq(got, want), cut)
    end)");
}

TEST_CASE("json: streaming parser errors and nullvalue") {
  lua_env e;
  CHECK_LUA(e, R"(
    local p = J.parser()
    local ok, vals = p:parse("[1] ", true)
    assert(ok and #vals == 1)
    local text = "[2] garbage"
    local err
    for i = 1, #text do
      ok, err = p:parse(text:sub(i, i), true)
      if not ok then break end
    end
    assert(ok == nil and err:find("json decode error at position 9:", 1, true), err)
    local ok2, err2 = p:parse("[3]", true)
    assert(ok2 == nil and err2 == err))");
  CHECK_LUA(e, R"(local ok, err = J.parser():parse('"a\1"') assert(ok == nil and err:find("control", 1, true)))");
  CHECK_LUA(e, R"(local ok, err = J.parser():parse(string.rep("[", 2000)) assert(ok == nil and err:find("too deep", 1, true)))");
  CHECK_LUA(e, R"(
    local p = J.parser(false)
    local ok, vals = p:parse('[null] null ', true)
    assert(ok and vals[1][1] == false and vals[2] == false))");
}

TEST_CASE("json: C++ entry points") {
  lua_env e;
  lua_State* L = e.L;
  std::string out, err;
  int top = lua_gettop(L);
  REQUIRE(remora::lua::decode_value(L, R"({"a":[1,2.5,"x",null]})", err));
  CHECK(lua_gettop(L) == top + 1);
  CHECK(lua_istable(L, -1));
  REQUIRE(remora::lua::encode_value(L, -1, out, err));
  CHECK(out.find(R"("a":[1,2.5,"x",null])") != std::string::npos);
  CHECK(lua_gettop(L) == top + 1);
  lua_pop(L, 1);

  CHECK_FALSE(remora::lua::decode_value(L, "[1,", err));
  CHECK(err.rfind("json decode error at position 4:", 0) == 0);
  CHECK(lua_gettop(L) == top);

  lua_pushcfunction(L, [](lua_State*) { return 0; });
  CHECK_FALSE(remora::lua::encode_value(L, -1, out, err));
  CHECK(out.empty());
  CHECK(err.find("function") != std::string::npos);
  CHECK(lua_gettop(L) == top + 1);
  lua_pop(L, 1);

  remora::lua::push_json_null(L);
  REQUIRE(remora::lua::encode_value(L, -1, out, err));
  CHECK(out == "null");
  lua_pop(L, 1);
}
