// IO interfaces (disk, prefix, zip) and the Lua IO/file objects over them.
#include <doctest.h>
#include "temp_dir.hpp"
#include <remora/lua/io_lib.hpp>
#include <remora/vfs/io.hpp>
#include <remora/vfs/zip_io.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string slurp(remora::vfs::file& f) {
  std::string out, err;
  char buf[7];  // small on purpose: many reads
  for (std::ptrdiff_t n; (n = f.read(buf, sizeof buf, err)) > 0;) out.append(buf, std::size_t(n));
  return out;
}
}  // namespace

TEST_CASE("normalize never climbs above the root") {
  std::string out;
  CHECK(remora::vfs::normalize("/a//b/./c/", out));
  CHECK(out == "a/b/c");
  CHECK(remora::vfs::normalize("a/b/../c", out));
  CHECK(out == "a/c");
  CHECK(remora::vfs::normalize("", out));
  CHECK(out.empty());
  CHECK_FALSE(remora::vfs::normalize("..", out));
  CHECK_FALSE(remora::vfs::normalize("a/../../b", out));
  CHECK_FALSE(remora::vfs::normalize(std::string_view("a\0b", 3), out));
}

TEST_CASE("disk_io: files, directories, errors") {
  temp_dir t;
  t.write("a.txt", "hello");
  t.write("sub/b.txt", "world");
  remora::vfs::disk_io io(t.path.string());
  std::string err;
  remora::vfs::file_info info;
  REQUIRE(io.stat("a.txt", info, err));
  CHECK(info.size == 5);
  CHECK_FALSE(info.is_dir);
  REQUIRE(io.stat("/sub", info, err));
  CHECK(info.is_dir);
  CHECK_FALSE(io.stat("nope", info, err));
  CHECK(err == "notfound");
  CHECK_FALSE(io.stat("../etc/passwd", info, err));
  CHECK(err == "invalidname");

  auto f = io.open("sub/b.txt", "r", err);
  REQUIRE(f);
  CHECK(slurp(*f) == "world");
  CHECK(io.open("sub", "r", err) == nullptr);
  CHECK(err == "isdir");

  auto w = io.open("new/c.txt", "w", err);
  CHECK(w == nullptr);  // parent missing
  REQUIRE(io.mkdir("new", err));
  CHECK_FALSE(io.mkdir("new", err));
  CHECK(err == "exist");
  w = io.open("new/c.txt", "w", err);
  REQUIRE(w);
  CHECK(w->write("abc", 3, err));
  w.reset();
  auto a = io.open("new/c.txt", "a", err);
  REQUIRE(a);
  CHECK(a->write("def", 3, err));
  a.reset();
  auto r = io.open("new/c.txt", "r", err);
  REQUIRE(r);
  CHECK(r->seek(2, err));
  CHECK(slurp(*r) == "cdef");
  CHECK(io.rename("new/c.txt", "new/d.txt", err));
  CHECK_FALSE(io.rmdir("new", err));
  CHECK(err == "notempty");
  CHECK(io.remove("new/d.txt", err));
  CHECK(io.rmdir("new", err));

  std::set<std::string> names;
  CHECK(io.files("", [&](std::string_view n, const remora::vfs::file_info&) { names.insert(std::string(n)); }, err));
  CHECK(names == std::set<std::string>{"a.txt", "sub"});
  CHECK(io.realpath("sub/b.txt") == fs::canonical(t.path).string() + "/sub/b.txt");
}

TEST_CASE("disk_io: symlinks cannot leave the root") {
  temp_dir t;
  t.write("in.txt", "inside");
  fs::create_symlink("/etc/passwd", t.path / "out");
  fs::create_symlink("in.txt", t.path / "ok");
  remora::vfs::disk_io io(t.path.string());
  std::string err;
  CHECK(io.open("out", "r", err) == nullptr);
  auto f = io.open("ok", "r", err);
  REQUIRE(f);
  CHECK(slurp(*f) == "inside");
  CHECK(io.open("out", "w", err) == nullptr);  // no writing through a link either
}

TEST_CASE("prefix_io maps into a subtree") {
  temp_dir t;
  t.write("apps/x/index.html", "x");
  auto base = std::make_shared<remora::vfs::disk_io>(t.path.string());
  remora::vfs::prefix_io io(base, "apps/x");
  std::string err;
  auto f = io.open("index.html", "r", err);
  REQUIRE(f);
  CHECK(slurp(*f) == "x");
  remora::vfs::file_info info;
  CHECK_FALSE(io.stat("../../apps", info, err));
}

TEST_CASE("zip_io reads an archive made by Debian's zip") {
  temp_dir t;
  t.write("src/index.html", "<h1>zip</h1>");
  t.write("src/big.txt", std::string(100000, 'z'));
  t.write("src/dir/s.txt", "stored");
  std::string cmd = "cd " + (t.path / "src").string() + " && zip -q -r ../app.zip index.html big.txt && zip -q -0 -r ../app.zip dir";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string err;
  auto io = remora::vfs::zip_io::open_file((t.path / "app.zip").string(), err);
  REQUIRE(io);
  CHECK(io->resourcetype().first == "zip");
  CHECK(io->realpath("index.html").empty());
  auto f = io->open("index.html", "r", err);
  REQUIRE(f);
  CHECK(slurp(*f) == "<h1>zip</h1>");
  f = io->open("big.txt", "r", err);
  REQUIRE(f);
  CHECK(f->seek(99990, err));
  CHECK(slurp(*f) == std::string(10, 'z'));
  CHECK(f->seek(5, err));  // backwards: restarts the stream
  CHECK(slurp(*f).size() == 99995);
  CHECK(io->open("x.txt", "w", err) == nullptr);
  CHECK(err == "noaccess");
  CHECK_FALSE(io->mkdir("d", err));

  remora::vfs::send_source s;
  REQUIRE(io->source("big.txt", s, err));
  CHECK(s.deflated);
  CHECK(s.info.size == 100000);
  CHECK(s.length < 100000);  // compressed bytes, sent as they are
  remora::vfs::send_source st;
  REQUIRE(io->source("dir/s.txt", st, err));
  CHECK_FALSE(st.deflated);
  CHECK(st.fd);
  CHECK(st.length == 6);
  remora::vfs::file_info info;
  REQUIRE(io->stat("dir", info, err));
  CHECK(info.is_dir);
  int n = 0;
  CHECK(io->files("", [&](std::string_view, const remora::vfs::file_info&) { ++n; }, err));
  CHECK(n == 3);
}

TEST_CASE("the Lua IO object") {
  temp_dir t;
  t.write("www/a.txt", "alpha");
  t.write("www/mod.lua", "#!/usr/bin/env lua\nreturn (...) or x or 42\n");
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  remora::lua::io_registry reg;
  reg.named["disk"] = std::make_shared<remora::vfs::disk_io>("/");
  reg.named["home"] = std::make_shared<remora::vfs::disk_io>(t.path.string());
  lua_newtable(L);
  remora::lua::open_io_lib(L, reg);
  lua_setglobal(L, "ba");
  const char* script = R"(
    local home = ba.openio("home")
    assert(ba.openio("nope") == nil)
    local io = assert(ba.mkio(home, "www"))
    assert(io:resourcetype() == "disk")
    local f = assert(io:open("a.txt"))
    assert(f:read("a") == "alpha")
    f:close()
    assert(not pcall(f.read, f))
    local w = assert(io:open("b.txt", "w"))
    assert(w:write("be", "ta"))
    w:close()
    assert(io:open("b.txt"):read(2) == "be")
    local st = assert(io:stat("b.txt"))
    assert(st.size == 4 and st.isdir == false and st.mtime > 0)
    local n, e = io:stat("zz")
    assert(n == nil and e == "notfound")
    local names = {}
    for name, isdir, mtime, size in io:files("", true) do names[name] = size end
    assert(names["a.txt"] == 5 and names["b.txt"] == 4)
    local fn = assert(io:loadfile("mod.lua", {x = 7}))
    assert(fn() == 7)
    assert(io:dofile("mod.lua") == 42)
    assert(io:rename("b.txt", "c.txt"))
    assert(io:remove("c.txt"))
    local ok, err = io:mkdir("d")
    assert(ok and io:rmdir("d"))
    assert(io:realpath("a.txt"):match("/www/a.txt$"))
    local all = ba.io()
    assert(all.home and all.disk)
    return "done"
  )";
  int rc = luaL_dostring(L, script);
  std::string msg = rc ? lua_tostring(L, -1) : "";
  INFO(msg);
  CHECK(rc == LUA_OK);
  lua_close(L);
}
