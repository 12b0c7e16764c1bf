// ba.socket's byte-order and name functions: n2h/h2n, fn2h/fh2n (checked against Python's
// struct module's values), toip, and their argument checks.
#include "lua_state.hpp"

#include <remora/lua/socket_lib.hpp>

TEST_CASE("ba.socket.n2h and h2n: big-endian integers of 1 to 8 bytes") {
  ba_state st({remora::lua::open_socket_lib});
  CHECK(st.eval("ba.socket.n2h(2, '\\1\\2')") == "258");
  CHECK(st.eval("ba.socket.n2h(4, '\\255\\255\\255\\254')") == "4294967294");
  CHECK(st.eval("ba.socket.n2h(4, 'xx\\0\\0\\1\\0', 3)") == "256");  // from position 3
  CHECK(st.eval("ba.socket.n2h(1, '\\200')") == "200");  // Lua escapes are decimal
  CHECK(st.eval("ba.socket.n2h(8, '\\0\\0\\0\\1\\0\\0\\0\\0')") == "4294967296");
  CHECK(st.eval("ba.socket.h2n(2, 258) == '\\1\\2'") == "true");
  CHECK(st.eval("ba.socket.h2n(4, 0xDEADBEEF) == '\\222\\173\\190\\239'") == "true");
  CHECK(st.eval("#ba.socket.h2n(8, -1)") == "8");
  CHECK(st.eval("ba.socket.n2h(8, ba.socket.h2n(8, -2))") == "-2");  // 64 bits wrap as Lua integers
  // every width round-trips
  LUA_OK_RUN(st, R"lua(
    for n = 1, 8 do
      local v = n == 8 and 0x0102030405060708 or (1 << (8 * n - 1)) + 5
      assert(ba.socket.n2h(n, ba.socket.h2n(n, v)) == v, n)
    end
  )lua");
  // bad input raises
  CHECK(st.eval("pcall(ba.socket.n2h, 4, '\\1\\2')") == "false");          // too short
  CHECK(st.eval("pcall(ba.socket.n2h, 2, '\\1\\2', 2)") == "false");        // runs past the end
  CHECK(st.eval("pcall(ba.socket.n2h, 2, '\\1\\2', 0)") == "false");
  CHECK(st.eval("pcall(ba.socket.n2h, 9, '123456789')") == "false");
  CHECK(st.eval("pcall(ba.socket.h2n, 0, 1)") == "false");
}

TEST_CASE("ba.socket.fn2h and fh2n: IEEE 754 big-endian") {
  ba_state st({remora::lua::open_socket_lib});
  // struct.pack('>f', 1.5) = 3f c0 00 00; struct.pack('>d', -2.25) = c0 02 00 00 00 00 00 00
  CHECK(st.eval("ba.socket.fh2n(4, 1.5) == '\\63\\192\\0\\0'") == "true");
  CHECK(st.eval("ba.socket.fh2n(8, -2.25) == '\\192\\2\\0\\0\\0\\0\\0\\0'") == "true");
  CHECK(st.eval("ba.socket.fn2h(4, '\\63\\192\\0\\0')") == "1.5");
  CHECK(st.eval("ba.socket.fn2h(8, 'ab\\192\\2\\0\\0\\0\\0\\0\\0', 3)") == "-2.25");
  CHECK(st.eval("ba.socket.fn2h(8, ba.socket.fh2n(8, math.pi)) == math.pi") == "true");
  CHECK(st.eval("pcall(ba.socket.fh2n, 2, 1)") == "false");
  CHECK(st.eval("pcall(ba.socket.fn2h, 8, '1234')") == "false");
}

TEST_CASE("ba.socket.toip") {
  ba_state st({remora::lua::open_socket_lib});
  CHECK(st.eval("ba.socket.toip('127.0.0.1')") == "127.0.0.1");
  CHECK(st.eval("ba.socket.toip('::1')") == "::1");
  std::string lh = st.eval("ba.socket.toip('localhost')");
  CHECK((lh == "127.0.0.1" || lh == "::1"));
  CHECK(st.eval("select(2, ba.socket.toip('no-such-host.invalid'))") == "cannotresolve");
}
