#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/vfs/net_io.hpp>
#include <remora/vfs/zip_io.hpp>

#include <cstdio>
#include <vector>

namespace remora::lua {

namespace detail {

struct io_ud {
  std::shared_ptr<vfs::io> io;
};
struct file_ud {
  std::unique_ptr<vfs::file> file;
  std::shared_ptr<vfs::io> io;
};

inline vfs::file& check_file(lua_State* L) {
  auto* f = check_object<file_ud>(L, 1, file_tname);
  if (!f->file) luaL_error(L, "attempt to use a closed file");
  return *f->file;
}

inline int io_open(lua_State* L) {
  auto io = check_io(L, 1);
  std::string err;
  auto f = io->open(luaL_checkstring(L, 2), luaL_optstring(L, 3, "r"), err);
  if (!f) return fail(L, err.c_str());
  push_object<file_ud>(L, file_tname, file_ud{std::move(f), io});
  return 1;
}

inline int io_stat(lua_State* L) {
  auto io = check_io(L, 1);
  std::string err;
  vfs::file_info i;
  if (!io->stat(luaL_checkstring(L, 2), i, err)) return fail(L, err.c_str());
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, lua_Integer(i.mtime));
  lua_setfield(L, -2, "mtime");
  lua_pushinteger(L, lua_Integer(i.size));
  lua_setfield(L, -2, "size");
  lua_pushboolean(L, i.is_dir);
  lua_setfield(L, -2, "isdir");
  lua_pushstring(L, i.is_dir ? "directory" : "file");
  lua_setfield(L, -2, "type");
  return 1;
}

// io:files(dir [, extended]): the listing is taken at once; the iterator walks a table.
inline int files_next(lua_State* L) {
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2)) + 1;
  lua_pushinteger(L, i);
  lua_replace(L, lua_upvalueindex(2));
  if (lua_rawgeti(L, lua_upvalueindex(1), i) != LUA_TTABLE) return 0;
  bool extended = lua_toboolean(L, lua_upvalueindex(3));
  int t = lua_gettop(L);
  lua_rawgeti(L, t, 1);
  if (!extended) return 1;
  lua_rawgeti(L, t, 2);
  lua_rawgeti(L, t, 3);
  lua_rawgeti(L, t, 4);
  return 4;
}
inline int io_files(lua_State* L) {
  auto io = check_io(L, 1);
  bool extended = lua_toboolean(L, 3);
  std::string err;
  struct item {
    std::string name;
    vfs::file_info info;
  };
  std::vector<item> items;
  if (!io->files(luaL_optstring(L, 2, ""), [&](std::string_view n, const vfs::file_info& i) {
        items.push_back(item{std::string(n), i});
      }, err))
    return fail(L, err.c_str());
  lua_createtable(L, int(items.size()), 0);
  lua_Integer k = 0;
  for (auto& it : items) {
    lua_createtable(L, 4, 0);
    lua_pushlstring(L, it.name.data(), it.name.size());
    lua_rawseti(L, -2, 1);
    lua_pushboolean(L, it.info.is_dir);
    lua_rawseti(L, -2, 2);
    lua_pushinteger(L, lua_Integer(it.info.mtime));
    lua_rawseti(L, -2, 3);
    lua_pushinteger(L, lua_Integer(it.info.size));
    lua_rawseti(L, -2, 4);
    lua_rawseti(L, -2, ++k);
  }
  lua_pushinteger(L, 0);
  lua_pushboolean(L, extended);
  lua_pushcclosure(L, &files_next, 3);
  return 1;
}

template<bool (vfs::io::*Op)(std::string_view, std::string&)>
int io_simple(lua_State* L) {
  auto io = check_io(L, 1);
  std::string err;
  if (!((*io).*Op)(luaL_checkstring(L, 2), err)) return fail(L, err.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

inline int io_rename(lua_State* L) {
  auto io = check_io(L, 1);
  std::string err;
  if (!io->rename(luaL_checkstring(L, 2), luaL_checkstring(L, 3), err)) return fail(L, err.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

inline int io_realpath(lua_State* L) {
  auto io = check_io(L, 1);
  std::string p = io->realpath(luaL_optstring(L, 2, ""));
  if (p.empty()) lua_pushnil(L);
  else lua_pushlstring(L, p.data(), p.size());
  return 1;
}

inline int io_resourcetype(lua_State* L) {
  auto t = check_io(L, 1)->resourcetype();
  lua_pushstring(L, t.first.c_str());
  if (t.second.empty()) return 1;
  lua_pushstring(L, t.second.c_str());
  return 2;
}

inline int io_type(lua_State* L) {
  lua_pushstring(L, check_io(L, 1)->resourcetype().first.c_str());
  return 1;
}

inline int io_loadfile(lua_State* L) {
  auto io = check_io(L, 1);
  lua_settop(L, 3);  // the environment (or nil) sits at 3, below the loaded chunk
  std::string err;
  if (!load_chunk(L, *io, luaL_checkstring(L, 2), err)) return fail(L, err.c_str());
  if (!lua_isnoneornil(L, 3)) {  // the environment becomes the chunk's _ENV
    lua_pushvalue(L, 3);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

inline int io_dofile(lua_State* L) {
  auto io = check_io(L, 1);
  lua_settop(L, 3);
  std::string err;
  int base = lua_gettop(L);
  if (!load_chunk(L, *io, luaL_checkstring(L, 2), err)) return luaL_error(L, "%s", err.c_str());
  if (!lua_isnoneornil(L, 3)) {
    lua_pushvalue(L, 3);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - base;
}

inline int io_noop(lua_State*) { return 0; }
inline int io_false(lua_State* L) {
  lua_pushboolean(L, 0);
  return 1;
}
inline int io_setpasswd(lua_State* L) { return fail(L, "notsupported"); }
inline int io_close(lua_State* L) {
  check_object<io_ud>(L, 1, io_tname)->io.reset();
  return 0;
}
inline int io_tostring(lua_State* L) {
  auto* u = check_object<io_ud>(L, 1, io_tname);
  lua_pushfstring(L, "IO: %p", static_cast<void*>(u->io.get()));
  return 1;
}

inline int file_read(lua_State* L) {
  auto& f = check_file(L);
  std::string err;
  luaL_Buffer b;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n <= 0) return fail(L, "invalid size");
    char* p = luaL_buffinitsize(L, &b, std::size_t(n));
    auto got = f.read(p, std::size_t(n), err);
    if (got < 0) return fail(L, err.c_str());
    if (got == 0) {
      lua_pushnil(L);
      return 1;
    }
    luaL_pushresultsize(&b, std::size_t(got));
    return 1;
  }
  const char* fmt = luaL_optstring(L, 2, "a");
  if (*fmt == '*') ++fmt;
  if (*fmt != 'a') return luaL_argerror(L, 2, "invalid format");
  luaL_buffinit(L, &b);
  for (;;) {
    char* p = luaL_prepbuffer(&b);
    auto got = f.read(p, LUAL_BUFFERSIZE, err);
    if (got < 0) return fail(L, err.c_str());
    if (got == 0) break;
    luaL_addsize(&b, std::size_t(got));
  }
  luaL_pushresult(&b);
  return 1;
}

inline int file_write(lua_State* L) {
  auto& f = check_file(L);
  std::string err;
  int n = lua_gettop(L);
  for (int i = 2; i <= n; ++i) {
    std::size_t len;
    const char* s = luaL_checklstring(L, i, &len);
    if (!f.write(s, len, err)) return fail(L, err.c_str());
  }
  lua_pushboolean(L, 1);
  return 1;
}

inline int file_seek(lua_State* L) {
  auto& f = check_file(L);
  std::string err;
  lua_Integer pos = luaL_checkinteger(L, 2);
  if (pos < 0 || !f.seek(std::uint64_t(pos), err)) return fail(L, err.empty() ? "invalidname" : err.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

inline int file_flush(lua_State* L) {
  auto& f = check_file(L);
  std::string err;
  if (!f.flush(err)) return fail(L, err.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

inline int file_close(lua_State* L) {
  auto* f = check_object<file_ud>(L, 1, file_tname);
  f->file.reset();
  lua_pushboolean(L, 1);
  return 1;
}

inline int file_getio(lua_State* L) {
  auto* f = check_object<file_ud>(L, 1, file_tname);
  if (!f->io) return 0;
  push_io(L, f->io);
  return 1;
}

inline io_registry& registry_of(lua_State* L) {
  return *static_cast<io_registry*>(lua_touserdata(L, lua_upvalueindex(1)));
}

inline int ba_openio(lua_State* L) {
  auto& reg = registry_of(L);
  auto it = reg.named.find(luaL_checkstring(L, 1));
  if (it == reg.named.end() || !it->second) return 0;
  push_io(L, it->second);
  return 1;
}

// ba.mkio(io, path), and ba.mkio(url): a net IO rooted at an http(s) URL (made from the
// "net" IO, so with its settings).
inline int ba_mkio(lua_State* L) {
  std::string err;
  std::shared_ptr<vfs::io> io;
  if (lua_type(L, 1) == LUA_TSTRING) {
    std::string_view url = lua_tostring(L, 1);
    auto& reg = registry_of(L);
    auto net = reg.named.count("net") ? reg.named["net"] : nullptr;
    if (!net || url.find("://") == std::string_view::npos)
      return luaL_argerror(L, 1, "an IO or an http(s) URL expected");
    io = make_io(net, url, err);
  } else {
    io = make_io(check_io(L, 1), luaL_checkstring(L, 2), err);
  }
  if (!io) return fail(L, err.c_str());
  push_io(L, io);
  return 1;
}

inline int ba_io(lua_State* L) {
  auto& reg = registry_of(L);
  lua_newtable(L);
  for (auto& [name, io] : reg.named) {
    if (!io) continue;
    push_io(L, io);
    lua_setfield(L, -2, name.c_str());
  }
  return 1;
}

}  // namespace detail

REMORA_DECL void push_io(lua_State* L, std::shared_ptr<vfs::io> io) {
  push_object<detail::io_ud>(L, io_tname, detail::io_ud{std::move(io)});
}

REMORA_DECL std::shared_ptr<vfs::io> check_io(lua_State* L, int idx) {
  auto* u = check_object<detail::io_ud>(L, idx, io_tname);
  if (!u->io) luaL_error(L, "attempt to use a closed IO");
  return u->io;
}

REMORA_DECL std::shared_ptr<vfs::io> make_io(const std::shared_ptr<vfs::io>& base, std::string_view path,
                                             std::string& err) {
  if (auto* net = dynamic_cast<vfs::net_io*>(base.get())) return net->sub(path, err);
  vfs::file_info info;
  if (!base->stat(path, info, err)) return nullptr;
  if (info.is_dir) {
    std::string real = base->realpath(path);
    if (!real.empty()) {
      try {
        return std::make_shared<vfs::disk_io>(real);
      } catch (const std::system_error& e) {
        err = vfs::error_word(e.code().value());
        return nullptr;
      }
    }
    return std::make_shared<vfs::prefix_io>(base, std::string(path));
  }
  std::string real = base->realpath(path);
  if (real.empty()) return err = "notsupported", nullptr;  // a ZIP inside a ZIP
  auto z = vfs::zip_io::open_file(real, err);
  if (z)  // entries the reader refused (hostile names) are named once, here
    for (auto& w : z->archive().warnings()) std::fprintf(stderr, "%s: %s\n", real.c_str(), w.c_str());
  return z;
}

REMORA_DECL bool read_file(vfs::io& io, std::string_view name, std::string& text, std::string& err) {
  auto f = io.open(name, "r", err);
  if (!f) {
    err = std::string(name) + ": " + (err.empty() ? "notfound" : err);
    return false;
  }
  text.clear();
  char buf[16384];
  for (;;) {
    auto n = f->read(buf, sizeof buf, err);
    if (n < 0) {
      err = std::string(name) + ": " + err;
      return false;
    }
    if (n == 0) return true;
    text.append(buf, std::size_t(n));
  }
}

REMORA_DECL bool load_chunk(lua_State* L, vfs::io& io, std::string_view name, std::string& err) {
  std::string text;
  if (!read_file(io, name, text, err)) return false;
  if (text.rfind("#!", 0) == 0) text.replace(0, 2, "--");  // keeps the line count
  std::string real = io.realpath(name);
  std::string chunkname = "@" + (real.empty() ? std::string(name) : real);
  if (luaL_loadbuffer(L, text.data(), text.size(), chunkname.c_str()) != LUA_OK) {
    err = lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  return true;
}

REMORA_DECL void open_io_lib(lua_State* L, io_registry& reg) {
  static const luaL_Reg io_methods[] = {
      {"open", detail::io_open},
      {"stat", detail::io_stat},
      {"files", detail::io_files},
      {"mkdir", detail::io_simple<&vfs::io::mkdir>},
      {"rmdir", detail::io_simple<&vfs::io::rmdir>},
      {"remove", detail::io_simple<&vfs::io::remove>},
      {"rename", detail::io_rename},
      {"realpath", detail::io_realpath},
      {"resourcetype", detail::io_resourcetype},
      {"type", detail::io_type},
      {"loadfile", detail::io_loadfile},
      {"dofile", detail::io_dofile},
      {"hide", detail::io_noop},
      {"encrypted", detail::io_false},
      {"setpasswd", detail::io_setpasswd},
      {"close", detail::io_close},
      {nullptr, nullptr}};
  static const luaL_Reg file_methods[] = {
      {"read", detail::file_read},   {"write", detail::file_write}, {"seek", detail::file_seek},
      {"flush", detail::file_flush}, {"close", detail::file_close}, {"getio", detail::file_getio},
      {nullptr, nullptr}};
  define_class<detail::io_ud>(L, io_tname, io_methods);
  luaL_getmetatable(L, io_tname);
  lua_pushcfunction(L, detail::io_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  define_class<detail::file_ud>(L, file_tname, file_methods);
  if (!reg.named.count("net")) reg.named["net"] = std::make_shared<vfs::net_io>();  // URLs as names
  lua_pushlightuserdata(L, &reg);
  lua_pushcclosure(L, detail::ba_openio, 1);
  lua_setfield(L, -2, "openio");
  lua_pushlightuserdata(L, &reg);
  lua_pushcclosure(L, detail::ba_io, 1);
  lua_setfield(L, -2, "io");
  lua_pushlightuserdata(L, &reg);
  lua_pushcclosure(L, detail::ba_mkio, 1);
  lua_setfield(L, -2, "mkio");
}

}  // namespace remora::lua
