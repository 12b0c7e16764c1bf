// The core ba.* functions: encoders, dates, randomness, compression and utilities.
#include <doctest.h>
#include <remora/lua/ba_core.hpp>

#include "lua_state.hpp"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <zlib.h>

#include <chrono>
#include <string>

TEST_CASE("ba.b64encode/b64decode: RFC 4648 vectors") {
  ba_state st;
  const char* vec[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},       {"foo", "Zm9v"},
                          {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto& v : vec) {
    CAPTURE(v[0]);
    CHECK(st.eval(std::string("ba.b64encode('") + v[0] + "')") == v[1]);
    CHECK(st.eval(std::string("ba.b64decode('") + v[1] + "')") == v[0]);
  }
  // Missing padding, whitespace, the URL alphabet.
  CHECK(st.eval("ba.b64decode('Zg')") == "f");
  CHECK(st.eval("ba.b64decode('Zm9v\\r\\nYmE')") == "fooba");
  CHECK(st.eval("ba.b64urlencode('\\251\\255\\254')") == "-__-");
  CHECK(st.eval("ba.b64encode('\\251\\255\\254')") == "+//+");
  CHECK(st.eval("ba.b64urlencode('f')") == "Zg");
  CHECK(st.eval("ba.b64decode('-__-') == '\\251\\255\\254'") == "true");
  // Invalid input gives nil.
  CHECK(st.eval("ba.b64decode('Z')") == "nil");
  CHECK(st.eval("ba.b64decode('Zg=x')") == "nil");
  CHECK(st.eval("ba.b64decode('Zm9v!')") == "nil");
  CHECK(st.eval("ba.b64decode('Zg===')") == "nil");
  CHECK(st.eval("ba.b64decode('Zm9=')") == "fo");
  CHECK(st.eval("ba.b64decode('Zm=')") == "nil");
  // Binary round trip of every byte.
  LUA_OK_RUN(st, R"lua(
    local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end
    local s = table.concat(t)
    for n = 0, 20 do
      assert(ba.b64decode(ba.b64encode(s:sub(1, 200 + n))) == s:sub(1, 200 + n))
      assert(ba.b64decode(ba.b64urlencode(s:sub(n + 1))) == s:sub(n + 1))
    end)lua");
}

TEST_CASE("ba.urlencode/urldecode") {
  ba_state st;
  CHECK(st.eval("ba.urlencode('a b&c=d/é~._-')") == "a%20b%26c%3Dd%2F%C3%A9~._-");
  CHECK(st.eval("ba.urlencode({b='2 3', a=1})") == "a=1&b=2%203");
  CHECK(st.eval("ba.urlencode({k={'x','y'}})") == "k=x&k=y");
  CHECK(st.eval("ba.urlencode({})") == "");
  CHECK(st.eval("ba.urldecode('a+b%20c%2Bd%41')") == "a b c+dA");
  CHECK(st.eval("ba.urldecode('%')") == "nil");
  CHECK(st.eval("ba.urldecode('%4')") == "nil");
  CHECK(st.eval("ba.urldecode('%zz')") == "nil");
  LUA_OK_RUN(st, R"lua(
    local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end
    local s = table.concat(t)
    local e = ba.urlencode(s)
    assert(not e:find('[^%w%%%-%._~]'), e)
    assert(ba.urldecode(e) == s))lua");
}

TEST_CASE("ba.encdate/parsedate") {
  ba_state st;
  CHECK(st.eval("ba.encdate(784111777)") == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(st.eval("ba.parsedate('Sun, 06 Nov 1994 08:49:37 GMT')") == "784111777");
  CHECK(st.eval("ba.parsedate('Sunday, 06-Nov-94 08:49:37 GMT')") == "784111777");
  CHECK(st.eval("ba.parsedate('Sun Nov  6 08:49:37 1994')") == "784111777");
  CHECK(st.eval("ba.parsedate('Mon, 2 Mar 2024')") == "1709337600");
  CHECK(st.eval("ba.parsedate('6 Nov 1994 08:49:37 GMT')") == "784111777");
  CHECK(st.eval("ba.parsedate('yesterday')") == "nil");
  CHECK(st.eval("ba.parsedate('Mon, 31 Feb 2024')") == "nil");
  CHECK(st.eval("ba.parsedate('')") == "nil");
  LUA_OK_RUN(st, "local t = os.time() assert(ba.parsedate(ba.encdate()) - t <= 1)");
  // The third value of ba.version() goes through parsedate in BAS code (SharkTrust).
  LUA_OK_RUN(st, R"lua(
    local _, _, date = ba.version()
    assert(ba.parsedate("Mon, " .. date:gsub("^(%w+)%s*(%w+)", "%2 %1")), date))lua");
}

TEST_CASE("ba.rnd, rndbs, rnds") {
  ba_state st;
  LUA_OK_RUN(st, R"lua(
    local seen = {}
    for i = 1, 6000 do
      local v = ba.rnd(1, 6)
      assert(math.type(v) == 'integer' and v >= 1 and v <= 6, v)
      seen[v] = (seen[v] or 0) + 1
    end
    for v = 1, 6 do assert(seen[v] > 800 and seen[v] < 1200, v .. ':' .. tostring(seen[v])) end
    for i = 1, 200 do
      local a = ba.rnd(10) assert(a >= 1 and a <= 10)
      local b = ba.rnd() assert(b >= 0 and b <= 0x7fffffff)
      local c = ba.rnd(-5, -5) assert(c == -5)
      local d = ba.rnd(1, 0xFFFFFFFF/2-1) assert(d >= 1 and d <= 0x7FFFFFFE)
      local e = ba.rnd(math.mininteger, math.maxinteger) assert(math.type(e) == 'integer')
    end
    assert(not pcall(ba.rnd, 5, 1))
    assert(#ba.rndbs(0) == 0 and #ba.rndbs(33) == 33)
    assert(ba.rndbs(16) ~= ba.rndbs(16))
    local ones = 0
    local s = ba.rndbs(4096)
    for i = 1, #s do local b = s:byte(i) while b > 0 do ones = ones + (b & 1) b = b >> 1 end end
    assert(ones > 4096 * 4 - 600 and ones < 4096 * 4 + 600, ones)
    for i = 1, 100 do
      local v = ba.rnds(1) assert(v >= 0 and v <= 255)
      local w = ba.rnds(4) assert(w >= 0 and w <= 0xFFFFFFFF)
    end
    assert(not pcall(ba.rnds, 0) and not pcall(ba.rnds, 9))
    ba.rndseed('entropy', 42))lua");
}

TEST_CASE("ba.clock is monotonic and ba.sleep blocks") {
  ba_state st;
  LUA_OK_RUN(st, R"lua(
    local a = ba.clock()
    assert(math.type(a) == 'integer')
    local b = ba.clock()
    assert(b >= a))lua");
  auto t0 = std::chrono::steady_clock::now();
  LUA_OK_RUN(st, "local a = ba.clock() ba.sleep(50) local d = ba.clock() - a assert(d >= 45, d)");
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
  LUA_OK_RUN(st, "ba.sleep(0) ba.sleep(-1)");
}

TEST_CASE("ba.datetime: construction and formatting") {
  ba_state st;
  CHECK(st.eval("ba.datetime(784111777):tostring()") == "1994-11-06T08:49:37Z");
  CHECK(st.eval("tostring(ba.datetime('1994-11-06T08:49:37Z'))") == "1994-11-06T08:49:37Z");
  CHECK(st.eval("ba.datetime('1994-11-06T08:49:37Z'):ticks()") == "784111777");
  CHECK(st.eval("select(2, ba.datetime('2023-04-04T10:51:26.289z'):ticks())") == "289000000");
  CHECK(st.eval("ba.datetime('2023-04-04T10:51:26.289z'):tostring()") == "2023-04-04T10:51:26.289Z");
  CHECK(st.eval("ba.datetime('2024-01-01T01:00:00+01:00'):ticks()") == "1704067200");
  CHECK(st.eval("ba.datetime('2024-01-01T01:00:00+01:00'):tostring()") == "2024-01-01T01:00:00+01:00");
  CHECK(st.eval("ba.datetime('2024-01-01T01:00:00+01:00'):offset()") == "60");
  CHECK(st.eval("ba.datetime('2024-01-01T00:00:00-0530'):offset(0):tostring()") == "2024-01-01T05:30:00Z");
  CHECK(st.eval("ba.datetime('2024-02-29'):tostring()") == "2024-02-29T00:00:00Z");
  CHECK(st.eval("ba.datetime('2023-02-29')") == "nil");
  CHECK(st.eval("ba.datetime('2024-13-01')") == "nil");
  CHECK(st.eval("ba.datetime('2024-01-01T25:00')") == "nil");
  CHECK(st.eval("ba.datetime('2024-01-01Tjunk')") == "nil");
  CHECK(st.eval("select(2, ba.datetime('nonsense'))") == "invalid datetime");
  CHECK(st.eval("ba.datetime('MIN'):tostring()") == "0001-01-01T00:00:00Z");
  CHECK(st.eval("ba.datetime('MAX'):tostring()") == "9999-12-31T23:59:59.999999999Z");
  CHECK(st.eval("ba.datetime{year=2000, month=2, day=29, hour=12, min=30, sec=5}:tostring()") ==
        "2000-02-29T12:30:05Z");
  CHECK(st.eval("ba.datetime(1.5):tostring()") == "1970-01-01T00:00:01.5Z");
  CHECK(st.eval("ba.datetime(-1):tostring()") == "1969-12-31T23:59:59Z");
  CHECK(st.eval("ba.datetime(10, 7):tostring()") == "1970-01-01T00:00:10.000000007Z");
  CHECK(st.eval("ba.datetime(0):tostring('%Y/%m/%d %H:%M:%S %a')") == "1970/01/01 00:00:00 Thu");
  CHECK(st.eval("ba.datetime(0, {days=1, hours=2, mins=3, secs=4}):tostring()") == "1970-01-02T02:03:04Z");
  CHECK(st.eval("ba.datetime(ba.datetime(5)):ticks()") == "5");
  CHECK(st.eval("pcall(ba.datetime, '9999-12-31T23:59:59Z', {secs=1})") == "false");
  LUA_OK_RUN(st, R"lua(
    local d = ba.datetime(784111777):date()
    assert(d.year == 1994 and d.month == 11 and d.day == 6 and d.hour == 8 and d.min == 49 and d.sec == 37)
    assert(d.wday == 1 and d.yday == 310 and d.nsec == 0)
    local now = ba.datetime('NOW')
    local s, ns = now:ticks()
    assert(math.abs(s - os.time()) <= 2 and ns >= 0 and ns < 1e9)
    -- tostring output parses back to the same instant
    for _, v in ipairs{0, 1.25, -86401, 951782400, 4102444799} do
      local a = ba.datetime(v)
      assert(ba.datetime(a:tostring()) == a, a:tostring())
      assert(ba.datetime(a:offset(-300):tostring()) == a)
    end)lua");
}

TEST_CASE("ba.datetime: arithmetic and comparisons") {
  ba_state st;
  LUA_OK_RUN(st, R"lua(
    local a = ba.datetime('2024-03-02T10:00:00Z')
    local b = a + {mins=10}
    assert(b:tostring() == '2024-03-02T10:10:00Z', b:tostring())
    assert(b - a == 600 and math.type(b - a) == 'integer')
    assert((a + 60):tostring() == '2024-03-02T10:01:00Z')
    assert((60 + a):tostring() == '2024-03-02T10:01:00Z')
    assert((a - {days=2}):tostring() == '2024-02-29T10:00:00Z')
    assert((a - 0.5):tostring() == '2024-03-02T09:59:59.5Z')
    assert((a + 0.25) - a == 0.25)
    assert(a < b and a <= b and b > a and b >= a and not (b < a) and a <= a)
    assert(a == ba.datetime('2024-03-02T11:00:00+01:00'))
    assert(a ~= b and a ~= 5)
    assert(a + {hours=1} == ba.datetime('2024-03-02T11:00:00Z'))
    assert(not pcall(function() return a + b end))
    assert(not pcall(function() return 5 - a end))
    assert(not pcall(function() return a < 5 end))
    assert(not pcall(function() return a + 'x' end))
    -- the BAS idiom: nonce age check
    local now = ba.datetime'NOW'
    assert((ba.datetime(now:tostring()) + {mins=10}) > now)
    assert(ba.datetime('MIN') < now and now < ba.datetime('MAX')))lua");
}

TEST_CASE("ba.deflate output inflates back") {
  ba_state st;
  std::string input;
  for (int i = 0; i < 2000; ++i) input += "remora ba.deflate " + std::to_string(i % 17) + "\n";
  lua_pushlstring(st.L, input.data(), input.size());
  lua_setglobal(st.L, "input");
  struct fmt_case {
    const char* expr;
    int bits;
  } cases[] = {{"ba.deflate(input)", -15},
               {"ba.deflate(input, 9)", -15},
               {"ba.deflate(input, 1, 'zlib')", 15},
               {"ba.deflate(input, nil, 'gzip')", 31}};
  for (auto& c : cases) {
    CAPTURE(c.expr);
    lua_settop(st.L, 0);
    REQUIRE(luaL_dostring(st.L, (std::string("return ") + c.expr).c_str()) == LUA_OK);
    std::size_t n;
    const char* z = lua_tolstring(st.L, -1, &n);
    REQUIRE(z);
    CHECK(n < input.size() / 4);
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, c.bits) == Z_OK);
    std::string out(input.size() + 16, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z));
    zs.avail_in = uInt(n);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = uInt(out.size());
    CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    CHECK(out == input);
  }
  CHECK(st.eval("#ba.deflate('') > 0") == "true");
  CHECK(st.eval("pcall(ba.deflate, 'x', 10)") == "false");
  CHECK(st.eval("pcall(ba.deflate, 'x', 1, 'zip')") == "false");
}

TEST_CASE("ba.mime, ba.cmpaddr, ba.version") {
  ba_state st;
  CHECK(st.eval("ba.mime('png')") == "image/png");
  CHECK(st.eval("ba.mime('HTML'):match('^text/html') ~= nil") == "true");
  CHECK(st.eval("ba.mime('nosuchext')") == "application/octet-stream");
  CHECK(st.eval("ba.cmpaddr('127.0.0.1', '::ffff:127.0.0.1')") == "true");
  CHECK(st.eval("ba.cmpaddr('::FFFF:7f00:1', '127.0.0.1')") == "true");
  CHECK(st.eval("ba.cmpaddr('127.0.0.1', '127.0.0.2')") == "false");
  CHECK(st.eval("ba.cmpaddr('::1', '0:0:0:0:0:0:0:1')") == "true");
  CHECK(st.eval("ba.cmpaddr('[fe80::1%eth0]', 'fe80::1')") == "true");
  CHECK(st.eval("ba.cmpaddr('::1', '127.0.0.1')") == "false");
  CHECK(st.eval("ba.cmpaddr('bogus', 'bogus')") == "false");
  CHECK(st.eval("ba.version()") == "Remora " REMORA_VERSION);
  CHECK(st.eval("math.type(select(2, ba.version()))") == "integer");
  CHECK(st.eval("type(select(3, ba.version()))") == "string");
  // AES needs the crypto backend: not registered yet.
  CHECK(st.eval("ba.aesencode") == "nil");
}
