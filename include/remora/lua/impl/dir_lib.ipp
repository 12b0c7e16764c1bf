#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/dir_lib.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/lsp/pages.hpp>
#include <remora/lua/host.hpp>

#include <atomic>
#include <remora/vfs/resrdr.hpp>

namespace remora::lua {

namespace detail {

// A directory whose requests go to a Lua function (ba.create.dir + dir:setfunc).
class func_dir final : public vfs::directory {
 public:
  explicit func_dir(lua::host* h) : h_(h) {}
  bool service(const http::request& req, std::string_view rel, http::response& res) override {
    if (redirected_to_tls(req, res)) return true;
    int f = fn_ref.load(std::memory_order_acquire);
    if (f == LUA_NOREF || !h_) return false;
    return lsp::run_function(*h_, f, req, rel, res);
  }
  std::atomic<int> fn_ref{LUA_NOREF};

 private:
  lua::host* h_;
};

struct dir_ud {
  std::shared_ptr<vfs::directory> base;  // what is mounted
  std::shared_ptr<vfs::resrdr> dir;      // the same, when it is a resource reader
  func_dir* fdir = nullptr;              // the same, when it is a function dir
  vfs::tree* tree = nullptr;
  std::string name;  // "" for the root
  int prio = 0;
  bool inserted = false;
  std::string mounted;  // where it is mounted, when inserted
  std::string p403;
  int app_ref = LUA_NOREF;
  std::string prefix() const {
    if (inserted) return mounted;
    return name.empty() ? "/" : "/" + name + "/";
  }
};

// A dir, or (as BAS accepts) a table whose `dir` field is one.
inline dir_ud& check_dir(lua_State* L, int idx = 1) {
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "dir");
    auto* d = static_cast<dir_ud*>(luaL_testudata(L, -1, dir_tname));
    lua_pop(L, 1);  // the table keeps the dir alive
    if (d) return *d;
  }
  return *check_object<dir_ud>(L, idx, dir_tname);
}
inline vfs::resrdr& check_resrdr(lua_State* L) {
  auto& d = check_dir(L);
  if (!d.dir) luaL_error(L, "not a resource reader");
  return *d.dir;
}

// Name and priority arguments as BAS takes them: [name,] [prio,] ...; returns the next index.
inline int name_prio(lua_State* L, std::string& name, int& prio) {
  int i = 1;
  if (lua_type(L, i) == LUA_TSTRING) name = lua_tostring(L, i++);
  else if (lua_isnil(L, i)) ++i;
  if (lua_type(L, i) == LUA_TNUMBER) prio = int(lua_tointeger(L, i++));
  if (name.find('/') != std::string::npos) luaL_argerror(L, 1, "a name cannot contain '/'");
  return i;
}

inline int create_resrdr(lua_State* L) {
  auto* tree = static_cast<vfs::tree*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string name;
  int prio = 0;
  auto io = check_io(L, name_prio(L, name, prio));
  auto* d = push_object<dir_ud>(L, dir_tname);
  d->dir = std::make_shared<vfs::resrdr>(std::move(io));
  d->base = d->dir;
  d->tree = tree;
  d->name = std::move(name);
  d->prio = prio;
  return 1;
}

// ba.create.dir([name] [, prio]) -> a directory whose requests go to dir:setfunc(f)
inline int create_dir(lua_State* L) {
  auto* tree = static_cast<vfs::tree*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string name;
  int prio = 0;
  name_prio(L, name, prio);
  auto fd = std::make_shared<func_dir>(lua::get_host(L));
  auto* d = push_object<dir_ud>(L, dir_tname);
  d->fdir = fd.get();
  d->base = std::move(fd);
  d->tree = tree;
  d->name = std::move(name);
  d->prio = prio;
  return 1;
}

// dir:insert() mounts the dir at its base URI; parent:insert(child) mounts child below the
// parent (at the parent's URI plus the child's name).
inline int dir_insert(lua_State* L) {
  auto& d = check_dir(L);
  if (lua_isuserdata(L, 2) || lua_istable(L, 2)) {
    auto& child = check_dir(L, 2);
    if (&child == &d) return luaL_argerror(L, 2, "a dir cannot hold itself");
    if (child.inserted) child.tree->remove(child.base.get());
    child.mounted = d.prefix() + (child.name.empty() ? std::string() : child.name + "/");
    child.tree->insert(child.base, child.mounted, child.prio);
    child.inserted = true;
    lua_settop(L, 1);
    return 1;
  }
  if (!d.inserted) {
    d.mounted = d.name.empty() ? "/" : "/" + d.name + "/";
    d.tree->insert(d.base, d.mounted, d.prio);
    d.inserted = true;
  }
  lua_settop(L, 1);
  return 1;
}

inline int dir_unlink(lua_State* L) {
  auto& d = check_dir(L);
  bool was = d.inserted && d.tree->remove(d.base.get());
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
  auto& rr = check_resrdr(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::string name = lua_tostring(L, -2);  // before luaL_tolstring pushes onto the stack
      std::string value = luaL_tolstring(L, -1, nullptr);
      rr.add_header(std::move(name), std::move(value));
    }
    lua_settop(L, 3);
  }
  return 0;
}

inline int dir_maxage(lua_State* L) {
  check_resrdr(L).maxage(long(luaL_checkinteger(L, 2)));
  return 0;
}

inline int dir_io(lua_State* L) {
  push_io(L, check_resrdr(L).get_io());
  return 1;
}

// dir:setfunc(f): f(_ENV, relpath) answers the dir's requests like a page (request,
// response, print in _ENV); returning false passes the request on (a 404 when nobody else
// answers). setfunc(nil) removes it.
inline int dir_setfunc(lua_State* L) {
  auto& d = check_dir(L);
  if (!d.fdir) return luaL_error(L, "setfunc: not a dir from ba.create.dir");
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  int old = d.fdir->fn_ref.exchange(lua_isnil(L, 2) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX));
  (void)old;  // kept: a request may still be running it
  return 0;
}

// dir:service(request, rel): the running request goes to this dir as if it had been mounted
// there; true when the dir answered.
inline int dir_service(lua_State* L) {
  auto& d = check_dir(L);
  luaL_checkudata(L, 2, lsp::request_tname);
  std::size_t n;
  const char* rel = luaL_checklstring(L, 3, &n);
  std::string_view r(rel, n);
  while (!r.empty() && r.front() == '/') r.remove_prefix(1);
  lua_pushboolean(L, lsp::delegate(L, 2, *d.base, r));
  return 1;
}

// dir:redirect2tls([on=true]): plain-HTTP requests to this dir get a 301 to https.
inline int dir_redirect2tls(lua_State* L) {
  auto& d = check_dir(L);
  d.base->tls_only = lua_isnone(L, 2) || lua_toboolean(L, 2);
  return 0;
}

// rr:insertprolog(dir): `dir` is searched before the resource reader's own files (mounted at
// the same URI with a higher priority).
inline int dir_insertprolog(lua_State* L) {
  auto& d = check_dir(L);
  check_resrdr(L);
  auto& child = check_dir(L, 2);
  if (&child == &d) return luaL_argerror(L, 2, "a dir cannot hold itself");
  if (child.inserted) child.tree->remove(child.base.get());
  child.mounted = d.prefix();
  child.prio = d.prio + 1;
  child.tree->insert(child.base, child.mounted, child.prio);
  child.inserted = true;
  return 0;
}

// dir:p403([url]): the page shown when an authorizer denies access (kept for the
// authenticators); returns the previous one.
inline int dir_p403(lua_State* L) {
  auto& d = check_dir(L);
  if (d.p403.empty()) lua_pushnil(L);
  else lua_pushstring(L, d.p403.c_str());
  if (lua_type(L, 2) == LUA_TSTRING) d.p403 = lua_tostring(L, 2);
  else if (lua_isnil(L, 2)) d.p403.clear();
  return 1;
}

// dir:lspfilter(env): .lsp files run as pages in `env`; dir:lspfilter(nil) turns that off.
inline int dir_lspfilter(lua_State* L) {
  auto& d = check_dir(L);
  check_resrdr(L);
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
      {"getapp", detail::dir_getapp},       {"setfunc", detail::dir_setfunc},
      {"p403", detail::dir_p403},           {"redirect2tls", detail::dir_redirect2tls},
      {"insertprolog", detail::dir_insertprolog}, {"service", detail::dir_service},
      {nullptr, nullptr}};
  define_class<detail::dir_ud>(L, dir_tname, methods);
  luaL_getmetatable(L, dir_tname);
  lua_pushcfunction(L, detail::dir_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_getsubtable(L, -1, "create");  // ba.create, made by whichever library comes first
  lua_pushlightuserdata(L, &tree);
  lua_pushcclosure(L, detail::create_resrdr, 1);
  lua_setfield(L, -2, "resrdr");
  lua_pushlightuserdata(L, &tree);
  lua_pushcclosure(L, detail::create_dir, 1);
  lua_setfield(L, -2, "dir");
  lua_pop(L, 1);
}

}  // namespace remora::lua
