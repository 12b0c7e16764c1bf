#pragma once
#include <remora/lsp/compiler.hpp>
#include <remora/lsp/pages.hpp>
#include <remora/lua/aes.hpp>
#include <remora/lua/crypto_lib.hpp>
#include <remora/lua/ba_core.hpp>
#include <remora/lua/dir_lib.hpp>
#include <remora/lua/json.hpp>
#include <remora/lua/net_lib.hpp>
#include <remora/lua/timer_lib.hpp>
#include <remora/lua/thread_lib.hpp>
#include <remora/lua/socket_lib.hpp>
#include <remora/lua/pipe_lib.hpp>
#include <remora/lua/mime_lib.hpp>
#include <remora/lua/sockcompat.hpp>
#include <remora/lua/httpc.hpp>
#include <remora/lua/lpeg.hpp>
#include <remora/lua/sqlite.hpp>
#include <remora/lua/runtime.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

extern char** environ;

namespace remora::lua {

namespace detail {
inline void write_args(lua_State* L, int first, std::string& line) {
  int n = lua_gettop(L);
  for (int i = first; i <= n; ++i) {
    if (i > first) line.push_back('\t');
    std::size_t len;
    const char* s = luaL_tolstring(L, i, &len);
    line.append(s, len);
    lua_pop(L, 1);
  }
  line.push_back('\n');
}

inline int lua_print(lua_State* L) {
  std::string line;
  write_args(L, 1, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
  return 0;
}

inline int lua_trace(lua_State* L) {
  lua_Debug ar;
  std::string line = " ";
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
    line.append(std::to_string(ar.currentline));
  line.append(": ");
  write_args(L, 1, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
  return 0;
}

// tracep(ts, prio, ...): like trace, the " <line>: " prefix only when ts is true; priority 7
// and above are suppressed, as Mako's default trace level does.
inline int lua_tracep(lua_State* L) {
  bool ts = lua_toboolean(L, 1);
  lua_Integer prio = luaL_checkinteger(L, 2);
  if (prio >= 7) return 0;
  std::string line;
  if (ts) {
    lua_Debug ar;
    line = " ";
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
      line.append(std::to_string(ar.currentline));
    line.append(": ");
  }
  write_args(L, 3, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
  return 0;
}

inline int lua_parselsp(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string chunk, err;
  if (!lsp::compile(std::string_view(s, n), chunk, err)) return fail(L, err.c_str());
  lua_pushlstring(L, chunk.data(), chunk.size());
  return 1;
}

// ba.loadfile(name [, io] [, env]) -> function | nil, message: compiles `name` from `io` (the
// resource zip by default) without running it; `env` becomes its _ENV.
inline int ba_loadfile(lua_State* L) {
  auto* reg = static_cast<io_registry*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string name = luaL_checkstring(L, 1);
  int env = 2;
  std::shared_ptr<vfs::io> io;
  if (lua_type(L, 2) == LUA_TUSERDATA) {
    io = check_io(L, 2);
    env = 3;
  } else if (auto it = reg->named.find("vm"); it != reg->named.end()) {
    io = it->second;
  }
  bool has_env = !lua_isnone(L, env);  // before the chunk is pushed
  if (has_env) luaL_checktype(L, env, LUA_TTABLE);
  std::string text, err;
  if (!io || !read_file(*io, name, text, err)) {
    auto colon = err.find(": ");
    return fail(L, ("cannot open " + name + ": " + (colon == std::string::npos ? "notfound" : err.substr(colon + 2)) + " ").c_str());
  }
  std::string chunkname = "@" + name;
  if (luaL_loadbufferx(L, text.data(), text.size(), chunkname.c_str(), "bt") != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

// ba.exec(command) -> output, 0 | nil, status, output | nil, "popen: ..."
// The command runs through the shell with stderr joined to stdout; at most 64 KiB of output
// is kept. It blocks the calling thread until the command ends.
inline int ba_exec(lua_State* L) {
  // Mako appends " 2>&1"; the braces make it hold for every command of a list.
  std::string cmd = "{ " + std::string(luaL_checkstring(L, 1)) + "\n} 2>&1";
  std::fflush(nullptr);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return fail(L, (std::string("popen: ") + std::strerror(errno)).c_str());
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    if (out.size() < 65536) out.append(buf, std::min(n, 65536 - out.size()));
  int status = ::pclose(p);
  if (status == 0) {
    lua_pushlstring(L, out.data(), out.size());
    lua_pushinteger(L, 0);
    return 2;
  }
  lua_pushnil(L);
  lua_pushinteger(L, status);
  lua_pushlstring(L, out.data(), out.size());
  return 3;
}

// mako.dos2unix(path): the identity on POSIX (Windows paths are turned around there).
inline int mako_dos2unix(lua_State* L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 1);
  return 1;
}

// mako.tracefile(name) -> bool: the trace channel (print, trace, the server's messages) goes
// to the file `name` (truncated) from now on.
inline int mako_tracefile(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  int fd = ::open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  std::fflush(stderr);
  bool ok = ::dup2(fd, 2) == 2;
  ::close(fd);
  lua_pushboolean(L, ok);
  return 1;
}

inline int mako_exit(lua_State* L) {
  int code = int(luaL_optinteger(L, 1, 0));
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(code);
}

inline void set_string(lua_State* L, const char* k, const std::string& v) {
  lua_pushlstring(L, v.data(), v.size());
  lua_setfield(L, -2, k);
}

// A package.searchers entry: require"a.b" finds .lua/a/b.lua in the resource zip (the vm IO),
// where Remora's own Lua modules (loadconf, sqlutil, re, ...) live; in script mode too.
inline int vm_searcher(lua_State* L) {
  auto* reg = static_cast<io_registry*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string name = luaL_checkstring(L, 1);
  std::replace(name.begin(), name.end(), '.', '/');
  std::string path = ".lua/" + name + ".lua";
  auto it = reg->named.find("vm");
  vfs::file_info info;
  std::string err;
  if (it == reg->named.end() || !it->second->stat(path, info, err) || info.is_dir) {
    lua_pushfstring(L, "no file '%s' in the resource zip", path.c_str());
    return 1;
  }
  if (!load_chunk(L, *it->second, path, err)) return luaL_error(L, "error loading module '%s':\n\t%s", lua_tostring(L, 1), err.c_str());
  lua_pushstring(L, path.c_str());
  return 2;
}

inline void add_vm_searcher(lua_State* L, io_registry& reg) {
  lua_getglobal(L, "package");
  if (lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
    // second, right after package.preload: the zip's own modules (loadconf, sqlutil, re)
    // come before files of the same name on the disk's Lua path
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = n; i >= 2; --i) {
      lua_rawgeti(L, -1, i);
      lua_rawseti(L, -2, i + 1);
    }
    lua_pushlightuserdata(L, &reg);
    lua_pushcclosure(L, vm_searcher, 1);
    lua_rawseti(L, -2, 2);
  }
  lua_pop(L, 2);
}

inline int traceback(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, nullptr);
  luaL_traceback(L, L, msg, 1);
  return 1;
}
}  // namespace detail

REMORA_DECL void open_runtime(lua_State* L, io_registry& reg, const runtime_info& info) {
  lua_newtable(L);  // ba
  open_io_lib(L, reg);
  lua_pushlightuserdata(L, &reg);
  lua_pushcclosure(L, detail::ba_loadfile, 1);
  lua_setfield(L, -2, "loadfile");
  lua_pushcfunction(L, detail::ba_exec);
  lua_setfield(L, -2, "exec");
  open_json_lib(L);
  open_ba_core(L);
  open_aes_lib(L);
  open_net_lib(L);
  open_timer_lib(L);
  open_thread_lib(L);
  open_socket_lib(L);
  open_pipe_lib(L);
  open_httpc(L);
  open_crypto_lib(L);
  lua_pushcfunction(L, detail::lua_parselsp);
  lua_setfield(L, -2, "parselsp");
  if (info.tree) open_dir_lib(L, *info.tree);
  lsp::open_request_lib(L);
  lua_setglobal(L, "ba");

  lua_newtable(L);  // mako
  detail::set_string(L, "version", REMORA_VERSION);
  lua_createtable(L, int(info.argv.size()), 0);
  for (std::size_t i = 0; i < info.argv.size(); ++i) {
    lua_pushlstring(L, info.argv[i].data(), info.argv[i].size());
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "argv");
  lua_newtable(L);
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    lua_pushlstring(L, kv.data(), eq);
    lua_pushlstring(L, kv.data() + eq + 1, kv.size() - eq - 1);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "env");
  if (!info.cfgfname.empty()) {
    detail::set_string(L, "cfgfname", info.cfgfname);
    auto slash = info.cfgfname.rfind('/');
    detail::set_string(L, "cfgdir", slash == std::string::npos ? std::string(".") : info.cfgfname.substr(0, slash));
  }
  detail::set_string(L, "execpath", info.execpath);
  detail::set_string(L, "cwd", info.cwd);
  lua_pushboolean(L, info.daemon);
  lua_setfield(L, -2, "daemon");
  lua_pushcfunction(L, detail::mako_dos2unix);
  lua_setfield(L, -2, "dos2unix");
  lua_pushcfunction(L, detail::mako_tracefile);
  lua_setfield(L, -2, "tracefile");
  if (!info.daemon) {  // as in Mako: no exit() in daemon mode
    lua_pushcfunction(L, detail::mako_exit);
    lua_setfield(L, -2, "exit");
  }
  lua_setglobal(L, "mako");

  detail::add_vm_searcher(L, reg);
  open_lpeg(L);    // require"lpeg"
  open_sqlite(L);  // require"luasql.sqlite", the global luasql
  open_mime(L);    // the global mime, require"mime.core"
  open_sockcompat(L);  // the global sockcompat (socket/core.lua builds `socket` on it)

  lua_pushcfunction(L, detail::lua_print);
  lua_setglobal(L, "print");
  lua_pushcfunction(L, detail::lua_trace);
  lua_setglobal(L, "trace");
  lua_pushcfunction(L, detail::lua_tracep);
  lua_setglobal(L, "tracep");
}

REMORA_DECL bool run_openports(lua_State* L, vfs::io& vm) {
  std::string err;
  if (!load_chunk(L, vm, ".openports", err)) {
    std::fprintf(stderr, ".openports error: %s\n", err.c_str());
    return false;
  }
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    std::fprintf(stderr, ".openports error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return false;
  }
  return true;
}

REMORA_DECL bool run_config(lua_State* L, vfs::io& vm) {
  std::string err;
  lua_pushcfunction(L, detail::traceback);
  int handler = lua_gettop(L);
  if (!load_chunk(L, vm, ".config", err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    lua_settop(L, handler - 1);
    return false;
  }
  if (lua_pcall(L, 0, 2, handler) != LUA_OK) {
    std::fprintf(stderr, ".config: %s\n", lua_tostring(L, -1));
    lua_settop(L, handler - 1);
    return false;
  }
  if (!lua_isfunction(L, -2) || lua_tointeger(L, -1) != 1) {
    std::fprintf(stderr, "remora.zip version err: .config must return (init, 1)\n");
    lua_settop(L, handler - 1);
    return false;
  }
  lua_pop(L, 1);
  if (lua_pcall(L, 0, 1, handler) != LUA_OK) {
    std::fprintf(stderr, ".config init: %s\n", lua_tostring(L, -1));
    lua_settop(L, handler - 1);
    return false;
  }
  // The onunload function (or nil) waits in the registry: the main stack is shared with
  // the timers' and threads' bookkeeping once the server runs.
  lua_setfield(L, LUA_REGISTRYINDEX, "remora.onunload");
  lua_settop(L, handler - 1);
  return true;
}

REMORA_DECL void run_onunload(lua_State* L) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, detail::traceback);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "remora.onunload") == LUA_TFUNCTION) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "remora.onunload");  // once
    if (lua_pcall(L, 0, 0, top + 1) != LUA_OK) std::fprintf(stderr, "onunload: %s\n", lua_tostring(L, -1));
  }
  lua_settop(L, top);
}

REMORA_DECL int run_script(lua_State* L, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "%s: cannot open the script\n", path.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.rfind("#!", 0) == 0) text.replace(0, 2, "--");  // keeps the line numbers
  lua_pushcfunction(L, detail::traceback);
  int handler = lua_gettop(L);
  std::string name = "@" + path;
  if (luaL_loadbuffer(L, text.data(), text.size(), name.c_str()) != LUA_OK) {
    // Mako reports this as "attempt to call a nil value"; we say what went wrong.
    std::fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_settop(L, handler - 1);
    return 1;
  }
  int base = lua_gettop(L) - 1;
  if (lua_pcall(L, 0, LUA_MULTRET, handler) != LUA_OK) {
    std::fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_settop(L, handler - 1);
    return 1;
  }
  int status = 0;
  if (lua_gettop(L) > base && lua_isinteger(L, base + 1)) status = int(lua_tointeger(L, base + 1));
  lua_settop(L, handler - 1);
  return status;
}

}  // namespace remora::lua
