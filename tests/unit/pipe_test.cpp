// ba.pipe: FIFOs made with mkfifo, opened for reading and writing from Lua, data through
// them, timeouts, a writer that goes away, a reader that is missing, and bad arguments.
#include "lua_state.hpp"
#include "temp_dir.hpp"

#include <remora/lua/pipe_lib.hpp>

#include <sys/stat.h>
#include <unistd.h>

TEST_CASE("ba.pipe: mkfifo, open, read, write, close") {
  temp_dir dir;
  ba_state st({remora::lua::open_pipe_lib});
  st.set("dir", dir.path.string());
  LUA_OK_RUN(st, R"lua(
    local path = dir .. "/fifo"
    assert(ba.pipe.mkfifo(path) == true)
    local ok, err = ba.pipe.mkfifo(path)
    assert(ok == nil and err:find("exists"), err)
    -- no reader yet: a writer cannot open, at once or after waiting
    local w, e = ba.pipe.open(path, "w")
    assert(w == nil and e == "noreader", e)
    w, e = ba.pipe.open(path, "w", 60)
    assert(w == nil and e == "noreader", e)
    local r = assert(ba.pipe.open(path))        -- "r" by default, no writer needed
    assert(tostring(r) == "pipe (r)")
    assert(select(2, r:read(30)) == "timeout")  -- nothing written yet
    w = assert(ba.pipe.open(path, "w"))
    assert(w:write("hello ") == true and w:write("pipe") == true)
    local got = ""
    while #got < 10 do got = got .. assert(r:read(1000)) end
    assert(got == "hello pipe", got)
    assert(select(2, r:read(30)) == "timeout")  -- still usable
    -- a big write goes through whole while the reader drains it
    local big = ("0123456789"):rep(20000)
    assert(w:write(big:sub(1, 50000)))
    local n = 0
    while n < 50000 do n = n + #assert(r:read(1000)) end
    assert(n == 50000)
    -- wrong direction
    assert(select(2, r:write("x")):find("reading"))
    assert(select(2, w:read(1)):find("writing"))
    -- the writer goes: the reader sees the end
    assert(w:close() == true)
    assert(tostring(w) == "pipe (w, closed)")
    assert(select(2, w:write("x")) == "closed")
    local d, why = r:read(1000)
    assert(d == nil and why == "closed", why)
    -- the reader goes: a writer gets "closed", not a signal
    local r2 = assert(ba.pipe.open(path))
    local w2 = assert(ba.pipe.open(path, "w"))
    r2:close()
    r:close()
    assert(select(2, w2:write("nobody reads")) == "closed")
    w2:close()
    do local r3 <close> = assert(ba.pipe.open(path)) end
  )lua");
  struct stat sb {};
  REQUIRE(::stat((dir.path / "fifo").c_str(), &sb) == 0);
  CHECK(S_ISFIFO(sb.st_mode));
}

TEST_CASE("ba.pipe: modes, non-FIFOs and bad arguments") {
  temp_dir dir;
  std::string plain = dir.write("plain.txt", "data");
  ba_state st({remora::lua::open_pipe_lib});
  st.set("dir", dir.path.string());
  st.set("plain", plain);
  mode_t old = ::umask(0);
  LUA_OK_RUN(st, R"lua(
    assert(ba.pipe.mkfifo(dir .. "/a", "600"))
    assert(ba.pipe.mkfifo(dir .. "/b", 416))    -- 0640
    assert(select(2, ba.pipe.open(plain)) == "not a pipe")
    local r, e = ba.pipe.open(dir .. "/missing")
    assert(r == nil and e:find("No such file"), e)
    assert(not pcall(ba.pipe.open, dir .. "/a", "rw"))
    assert(not pcall(ba.pipe.mkfifo, dir .. "/c", "9"))
    assert(not pcall(ba.pipe.mkfifo, dir .. "/c", -1))
  )lua");
  ::umask(old);
  struct stat sa {}, sb {};
  REQUIRE(::stat((dir.path / "a").c_str(), &sa) == 0);
  REQUIRE(::stat((dir.path / "b").c_str(), &sb) == 0);
  CHECK((sa.st_mode & 07777) == 0600);
  CHECK((sb.st_mode & 07777) == 0640);
}
