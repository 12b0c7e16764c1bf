// The global `mime` (LuaSocket's mime.core): RFC 4648 Base64 vectors, RFC 2045
// Quoted-Printable rules, line wrapping, end-of-line translation and SMTP dot-stuffing, each
// checked whole and fed in pieces of every size through the (context, chunk) protocol.
#include "lua_state.hpp"

#include <remora/lua/mime_lib.hpp>

namespace {

// Feeds `input` (a Lua expression) to mime.<fn> in pieces of k bytes, starting from context
// `ctx`, and ends with a nil chunk; `extra` is passed as the third argument.
const char* stream_lua = R"lua(
function stream(f, ctx, s, k, extra)
  local out = {}
  for i = 1, #s, k do
    local a
    a, ctx = f(ctx, s:sub(i, i + k - 1), extra)
    out[#out + 1] = a
  end
  while true do
    local a
    a, ctx = f(ctx, nil, extra)
    if a == nil then break end
    out[#out + 1] = a
    if ctx == nil then break end
  end
  return table.concat(out)
end
)lua";

}  // namespace

TEST_CASE("mime is a global, and require'mime.core' answers the same table") {
  ba_state st({remora::lua::open_mime});
  CHECK(st.eval("require'mime.core' == mime") == "true");
  for (const char* f : {"b64", "unb64", "qp", "unqp", "wrp", "qpwrp", "eol", "dot"})
    CHECK(st.eval(std::string("type(mime.") + f + ")") == "function");
}

TEST_CASE("mime.b64 and mime.unb64: RFC 4648 section 10 vectors") {
  ba_state st({remora::lua::open_mime});
  const char* vectors[][2] = {{"f", "Zg=="},     {"fo", "Zm8="},         {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto& v : vectors) {
    INFO(v[0]);
    st.set("plain", v[0]);
    st.set("coded", v[1]);
    CHECK(st.eval("(mime.b64(plain))") == v[1]);
    CHECK(st.eval("(mime.unb64(coded))") == v[0]);
    CHECK(remora::lua::mime::b64(v[0]) == v[1]);
    CHECK(remora::lua::mime::unb64(v[1]) == v[0]);
  }
  // LuaSocket's manual
  CHECK(st.eval("(mime.b64('diego:password'))") == "ZGllZ286cGFzc3dvcmQ=");
  CHECK(st.eval("(mime.unb64('ZGllZ286cGFzc3dvcmQ='))") == "diego:password");
  // the end of an empty stream is nil, and so is a nil chunk
  CHECK(st.eval("select('#', mime.b64(''))") == "2");
  CHECK(st.eval("mime.b64('') == nil and select(2, mime.b64('')) == nil") == "true");
  CHECK(st.eval("mime.b64(nil) == nil and mime.unb64() == nil") == "true");
  // all 256 byte values: + and / appear, and the bytes come back
  CHECK(st.eval("(mime.b64('\\251\\255\\191'))") == "+/+/");
  LUA_OK_RUN(st, R"lua(
    local t = {} for i = 0, 255 do t[#t + 1] = string.char(i) end
    local all = table.concat(t)
    assert(mime.unb64(mime.b64(all)) == all)
  )lua");
}

TEST_CASE("mime.b64/unb64 with D: whole groups now, the rest as context") {
  ba_state st({remora::lua::open_mime});
  CHECK(st.eval("table.concat({mime.b64('ab', 'cdefg')}, '|')") == "YWJjZGVm|g");
  CHECK(st.eval("table.concat({mime.b64('ab', '')}, '|')") == "|ab");
  CHECK(st.eval("table.concat({mime.b64('', 'abc')}, '|')") == "YWJj|");
  // decoding skips what is not Base64 (line breaks, spaces) and keeps an incomplete group
  CHECK(st.eval("table.concat({mime.unb64('Zm9v\\r\\nYm', 'Fy Zg')}, '|')") == "foobar|Zg");
  CHECK(st.eval("table.concat({mime.unb64('Zm 9v', '')}, '|')") == "foo|");
  // at the end an incomplete group cannot be decoded: it is left over as B
  CHECK(st.eval("table.concat({mime.unb64('Zm9vYg')}, '|')") == "foo|Yg");
  CHECK(st.eval("select(2, mime.unb64('Zm9v')) == nil") == "true");
}

TEST_CASE("mime.b64/unb64 fed in pieces give what they give whole") {
  ba_state st({remora::lua::open_mime});
  LUA_OK_RUN(st, stream_lua);
  LUA_OK_RUN(st, R"lua(
    local t = {} for i = 0, 255 do t[#t + 1] = string.char((i * 37) % 256) end
    local data = table.concat(t, "", 1, 100)
    local coded = mime.b64(data)
    -- the same text wrapped in lines, as mail carries it
    local wrapped = coded:gsub(("."):rep(19), "%0\r\n")
    for k = 1, 9 do
      assert(stream(mime.b64, "", data, k) == coded, "b64 k=" .. k)
      assert(stream(mime.unb64, "", coded, k) == data, "unb64 k=" .. k)
      assert(stream(mime.unb64, "", wrapped, k) == data, "unb64 wrapped k=" .. k)
    end
  )lua");
}

TEST_CASE("mime.qp: RFC 2045 6.7 rules") {
  ba_state st({remora::lua::open_mime});
  auto qp = [&](const std::string& lua_string) { return st.eval("(mime.qp(" + lua_string + "))"); };
  CHECK(qp("'Hello, World!'") == "Hello, World!");             // rule 2: literal
  CHECK(qp("'a=b'") == "a=3Db");                               // '=' is always quoted
  CHECK(qp("'caf\\233'") == "caf=E9");                         // 8-bit bytes, upper-case hex
  CHECK(qp("'\\0\\127~!'") == "=00=7F~!");                     // controls and DEL
  CHECK(qp("'a b\\tc'") == "a b\tc");                          // rule 3: white space inside a line
  CHECK(qp("'a \\r\\nb'") == "a=20\r\nb");                     // ... but not at its end
  CHECK(qp("'a\\t\\r\\nb'") == "a=09\r\nb");
  CHECK(qp("'one\\r\\ntwo'") == "one\r\ntwo");                 // rule 4: line breaks stay
  CHECK(qp("'a\\rb\\nc'") == "a=0Db=0Ac");                     // bare CR and LF are data
  CHECK(st.eval("(mime.qp('one\\r\\ntwo', nil, '=0D=0A'))") == "one=0D=0Atwo");  // binary mode
  // bytes whose encoding depends on what follows wait at the end: they are encoded as the
  // last of the data and a soft line break follows
  CHECK(qp("'end '") == "end=20=\r\n");
  CHECK(qp("'cr\\r'") == "cr=0D=\r\n");
  CHECK(remora::lua::mime::qp("end\t") == "end=09=\r\n");
  CHECK(st.eval("mime.qp('') == nil") == "true");
  // with D, they are returned as the context
  CHECK(st.eval("table.concat({mime.qp('ab ', '')}, '|')") == "ab| ");
  CHECK(st.eval("table.concat({mime.qp('ab ', 'c')}, '|')") == "ab c|");
  CHECK(st.eval("table.concat({mime.qp('x\\r', '')}, '|')") == "x|\r");
  CHECK(st.eval("table.concat({mime.qp('x \\r', '\\n')}, '|')") == "x=20\r\n|");
}

TEST_CASE("mime.unqp: escapes, soft line breaks, malformed input") {
  ba_state st({remora::lua::open_mime});
  auto unqp = [&](const std::string& lua_string) { return st.eval("(mime.unqp(" + lua_string + "))"); };
  CHECK(unqp("'caf=E9 =3D ok'") == "caf\xe9 = ok");
  CHECK(unqp("'caf=e9'") == "caf\xe9");                        // lower-case hex accepted
  CHECK(unqp("'long=\\r\\nline'") == "longline");              // soft line break
  CHECK(unqp("'long=\\nline'") == "longline");                 // ... with a bare LF
  CHECK(unqp("'a\\r\\nb'") == "a\r\nb");                       // hard line breaks stay
  CHECK(unqp("'=ZZ=4'") == "=ZZ=4");                           // not escapes: kept as they are
  CHECK(unqp("'tail='") == "tail");                            // a soft break cut short
  CHECK(unqp("'ma=E7=E3='") == "ma\xe7\xe3");                  // LuaSocket's manual
  CHECK(st.eval("table.concat({mime.unqp('ab=4', '')}, '|')") == "ab|=4");
  CHECK(st.eval("table.concat({mime.unqp('ab=4', '1c')}, '|')") == "abAc|");
  CHECK(remora::lua::mime::unqp("x=41=\r\n") == "xA");
}

TEST_CASE("mime.qp/unqp: round trips, and pieces give what the whole gives") {
  ba_state st({remora::lua::open_mime});
  LUA_OK_RUN(st, stream_lua);
  LUA_OK_RUN(st, R"lua(
    local text = "Line one \r\nTab\t\r\n=equals= and caf\233\r\ntrailing  \r\nbare\rcr bare\nlf end "
    local coded = mime.qp(text)
    assert(mime.unqp(coded) == text)
    for k = 1, 9 do
      assert(stream(mime.qp, "", text, k) == coded, "qp k=" .. k)
      assert(stream(mime.unqp, "", coded, k) == text, "unqp k=" .. k)
      assert(stream(mime.qp, "", text, k, "=0D=0A") == mime.qp(text, nil, "=0D=0A"), "binary k=" .. k)
    end
    math.randomseed(7)
    for n = 1, 200 do
      local t = {}
      for i = 1, n % 40 do t[i] = string.char(({32, 9, 13, 10, 61, 65, 200, 0})[math.random(8)]) end
      local s = table.concat(t)
      assert((mime.unqp(mime.qp(s) or "") or "") == s, ("%q"):format(s))
      assert((mime.unqp(mime.qp(s, nil, "=0D=0A") or "") or "") == s, ("%q"):format(s))
    end
  )lua");
}

TEST_CASE("mime.wrp and mime.qpwrp break lines") {
  ba_state st({remora::lua::open_mime});
  LUA_OK_RUN(st, stream_lua);
  // 100 bytes: 76, CRLF, 24; 52 left on the line
  CHECK(st.eval("table.concat({mime.wrp(76, ('x'):rep(100))}, '|') == ('x'):rep(76) .. '\\r\\n' .. ('x'):rep(24) .. '|52'") ==
        "true");
  CHECK(st.eval("table.concat({mime.wrp(10, 'ab\\ncd\\r\\nefghijklmnop', 5)}, '|')") == "ab\r\ncd\r\nefghi\r\njklmn\r\nop|3");
  CHECK(st.eval("table.concat({mime.wrp(3, nil, 5)}, '|')") == "\r\n|5");  // the last line ends
  CHECK(st.eval("mime.wrp(5, nil, 5) == nil") == "true");                  // it had ended
  // exactly `length` bytes need no break: breaks only come before a byte that does not fit
  CHECK(st.eval("(mime.wrp(4, 'abcd', 4))") == "abcd");
  // qpwrp: soft breaks, never inside =XX
  CHECK(st.eval("(mime.qpwrp(76, ('a'):rep(74) .. '=E9b'))") == std::string(74, 'a') + "=\r\n=E9b");
  CHECK(st.eval("(mime.qpwrp(76, ('a'):rep(80)))") == std::string(75, 'a') + "=\r\n" + "aaaaa");
  CHECK(st.eval("table.concat({mime.qpwrp(70, nil)}, '|')") == "=\r\n|76");
  LUA_OK_RUN(st, R"lua(
    local text = ("word "):rep(50) .. "\r\n" .. ("=E9"):rep(40) .. "\nend"
    for k = 1, 7 do
      assert(stream(mime.wrp, 76, text, k, 76) == stream(mime.wrp, 76, text, #text, 76), "wrp k=" .. k)
      assert(stream(mime.qpwrp, 76, text, k, 76) == stream(mime.qpwrp, 76, text, #text, 76), "qpwrp k=" .. k)
    end
    -- no line of the output is longer than 76, and no escape is split
    for line in (stream(mime.qpwrp, 76, text, 3, 76) .. "\r\n"):gmatch("(.-)\r\n") do
      assert(#line <= 76, #line)
      local body = line:gsub("=$", "")  -- the soft break
      assert(not body:find("=%x?$"), line)
    end
  )lua");
}

TEST_CASE("mime.eol translates CR, LF, CRLF and LFCR") {
  ba_state st({remora::lua::open_mime});
  LUA_OK_RUN(st, stream_lua);
  CHECK(st.eval("(mime.eol(0, 'a\\rb\\nc\\r\\nd\\n\\re', '\\n'))") == "a\nb\nc\nd\ne");
  CHECK(st.eval("(mime.eol(0, 'a\\n\\nb'))") == "a\r\n\r\nb");        // two breaks, not a pair
  CHECK(st.eval("(mime.eol(0, '\\r\\r\\n'))") == "\r\n\r\n");
  CHECK(st.eval("table.concat({mime.eol(0, 'x\\r')}, '|')") == "x\r\n|13");  // context: a CR
  CHECK(st.eval("table.concat({mime.eol(13, '\\ny')}, '|')") == "y|0");      // its LF
  CHECK(st.eval("mime.eol(0, nil) == nil and select(2, mime.eol(13)) == 0") == "true");
  LUA_OK_RUN(st, R"lua(
    local text = "a\r\nb\rc\nd\n\re\r\r\nf\n\ng\r"
    local whole = mime.eol(0, text)
    for k = 1, 5 do assert(stream(mime.eol, 0, text, k) == whole, k) end
  )lua");
}

TEST_CASE("mime.dot stuffs lines that start with a dot") {
  ba_state st({remora::lua::open_mime});
  LUA_OK_RUN(st, stream_lua);
  // LuaSocket's manual
  CHECK(st.eval(R"((string.gsub(mime.dot(2, ".\r\nStuffing the message.\r\n.\r\n."), "\r\n", "\\n")))") ==
        R"(..\nStuffing the message.\n..\n..)");
  CHECK(st.eval("table.concat({mime.dot(0, '.a\\r\\n')}, '|')") == ".a\r\n|2");  // mid-line: no stuffing
  CHECK(st.eval("table.concat({mime.dot(2, 'x\\r')}, '|')") == "x\r|1");
  CHECK(st.eval("table.concat({mime.dot(1, '\\n.')}, '|')") == "\n..|0");
  CHECK(st.eval("mime.dot(2) == nil and select(2, mime.dot(0)) == 2") == "true");
  LUA_OK_RUN(st, R"lua(
    local text = ".start\r\n.\r\nmid.dle\r\n..two\r\n"
    local whole = mime.dot(2, text)
    assert(whole == "..start\r\n..\r\nmid.dle\r\n...two\r\n", whole)
    for k = 1, 5 do assert(stream(mime.dot, 2, text, k) == whole, k) end
  )lua");
}

TEST_CASE("mime functions check their arguments") {
  ba_state st({remora::lua::open_mime});
  CHECK(st.eval("pcall(mime.wrp, 'x', 'abc')") == "false");
  CHECK(st.eval("pcall(mime.eol, nil, 'abc')") == "false");
  CHECK(st.eval("pcall(mime.b64, {}, 'abc')") == "false");
  CHECK(st.eval("(mime.b64(12))") == "MTI=");  // numbers are strings, as in Lua
}
