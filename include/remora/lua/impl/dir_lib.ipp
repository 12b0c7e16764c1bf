#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/dir_lib.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/lsp/pages.hpp>
#include <remora/vfs/resrdr.hpp>

namespace remora::lua {

namespace detail {

struct dir_ud {
  std::shared_ptr<vfs::resrdr> dir;
  vfs::tree* tree = nullptr;
  std::string name;  // "" for the root
  int prio = 0;
  bool inserted = false;
  int app_ref = LUA_NOREF;
  std::string prefix() const { return name.empty() ? "/" : "/" + name + "/"; }
};

inline dir_ud& check_dir(lua_State* L) { return *check_object<dir_ud>(L, 1, dir_tname); }

inline int create_resrdr(lua_State* L) {
  auto* tree = static_cast<vfs::tree*>(lua_touserdata(L, lua_upvalueindex(1)));
  int i = 1;
  std::string name;
  if (lua_type(L, i) == LUA_TSTRING) name = lua_tostring(L, i++);
  else if (lua_isnil(L, i)) ++i;
  int prio = 0;
  if (lua_type(L, i) == LUA_TNUMBER) prio = int(lua_tointeger(L, i++));
  auto io = check_io(L, i);
  if (name.find('/') != std::string::npos) return luaL_argerror(L, 1, "a name cannot contain '/'");
  auto* d = push_object<dir_ud>(L, dir_tname);
  d->dir = std::make_shared<vfs::resrdr>(std::move(io));
  d->tree = tree;
  d->name = std::move(name);
  d->prio = prio;
  return 1;
}

inline int dir_insert(lua_State* L) {
  auto& d = check_dir(L);
  if (!d.inserted) {
    d.tree->insert(d.dir, d.prefix(), d.prio);
    d.inserted = true;
  }
  lua_settop(L, 1);
  return 1;
}

inline int dir_unlink(lua_State* L) {
  auto& d = check_dir(L);
  bool was = d.inserted && d.tree->remove(d.dir.get());
  d.inserted = false;
  lua_pushboolean(L, was);
  return 1;
}

inline int dir_baseuri(lua_State* L) {
  lua_pushstring(L, check_dir(L).prefix().c_str());
  return 1;
}

inline int dir_name(lua_State* L) {
  auto& d = check_dir(L);
  if (d.name.empty()) return 0;
  lua_pushstring(L, d.name.c_str());
  return 1;
}

inline int dir_header(lua_State* L) {
  auto& d = check_dir(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::string name = lua_tostring(L, -2);  // before luaL_tolstring pushes onto the stack
      std::string value = luaL_tolstring(L, -1, nullptr);
      d.dir->add_header(std::move(name), std::move(value));
    }
    lua_settop(L, 3);
  }
  return 0;
}

inline int dir_maxage(lua_State* L) {
  check_dir(L).dir->maxage(long(luaL_checkinteger(L, 2)));
  return 0;
}

inline int dir_io(lua_State* L) {
  push_io(L, check_dir(L).dir->get_io());
  return 1;
}

// dir:lspfilter(env): .lsp files run as pages in `env`; dir:lspfilter(nil) turns that off.
inline int dir_lspfilter(lua_State* L) {
  auto& d = check_dir(L);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lsp::disable(*d.dir);
    d.app_ref = LUA_NOREF;  // the old refs stay with a page that may still be running
    return 0;
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  d.app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (auto* h = lua::get_host(L)) {
    push_io(L, d.dir->get_io());
    int io_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lsp::enable(*h, *d.dir, d.prefix(), d.app_ref, io_ref);
  }
  return 0;
}

inline int dir_getapp(lua_State* L) {
  auto& d = check_dir(L);
  if (d.app_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, d.app_ref);
  return 1;
}

inline int dir_gc(lua_State* L) {
  auto* d = static_cast<dir_ud*>(lua_touserdata(L, 1));
  d->~dir_ud();  // app_ref stays: pages of the dir (still mounted, perhaps) run in it  // the tree keeps its own reference while the dir is inserted
  return 0;
}

}  // namespace detail

REMORA_DECL void open_dir_lib(lua_State* L, vfs::tree& tree) {
  static const luaL_Reg methods[] = {
      {"insert", detail::dir_insert},       {"unlink", detail::dir_unlink},
      {"baseuri", detail::dir_baseuri},     {"name", detail::dir_name},
      {"header", detail::dir_header},       {"maxage", detail::dir_maxage},
      {"io", detail::dir_io},               {"lspfilter", detail::dir_lspfilter},
      {"getapp", detail::dir_getapp},       {nullptr, nullptr}};
  define_class<detail::dir_ud>(L, dir_tname, methods);
  luaL_getmetatable(L, dir_tname);
  lua_pushcfunction(L, detail::dir_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  if (lua_getfield(L, -1, "create") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "create");
  }
  lua_pushlightuserdata(L, &tree);
  lua_pushcclosure(L, detail::create_resrdr, 1);
  lua_setfield(L, -2, "resrdr");
  lua_pop(L, 1);
}

}  // namespace remora::lua
