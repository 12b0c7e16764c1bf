// The Lua side of a running server: the globals a Mako application sees.
//
//   ba        io objects (ba.openio, ba.mkio, ba.io), ba.json, the core functions
//             (b64*, url*, clock, datetime, encdate/parsedate, rnd*, sleep, version, deflate,
//             mime, cmpaddr) and ba.parselsp
//   mako      version, argv, env, cfgfname, cfgdir, execpath, cwd, daemon, exit(code)
//   print     writes its tab-separated arguments and a newline to stderr (the trace channel)
//   trace     like print, with " <line>: " in front (the caller's line)
//   luasql    SQLite (editions with sqlite), and package.preload's lpeg and luasql.sqlite
//
// The Lua bootstrap that runs the resource zip's .openports and .config builds on this.
#pragma once
#include <remora/config.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/vfs/directory.hpp>

#include <string>
#include <vector>

struct lua_State;

namespace remora::lua {

struct runtime_info {
  std::vector<std::string> argv;  // every argument after argv[0]
  std::string cfgfname, execpath, cwd;
  bool daemon = false;
  vfs::tree* tree = nullptr;  // where ba.create.resrdr mounts; none: no ba.create
};

// Runs the resource zip's .config: it must return (init, 1); init() loads the apps and
// returns the function to call at exit, left on the stack (or nil). False with the error
// printed when .config is missing, fails, or returns something else.
bool run_config(lua_State* L, vfs::io& vm);
// Runs the resource zip's .openports (the listeners). False, with ".openports error: ..."
// printed, when it fails: the server must not start.
bool run_openports(lua_State* L, vfs::io& vm);
// Calls the onunload function run_config kept (if any), once.
void run_onunload(lua_State* L);

// Installs ba, mako, print and trace into L's globals. `reg` must outlive L.
void open_runtime(lua_State* L, io_registry& reg, const runtime_info& info);

// Runs a script file as `remora script.lua` does: a "#!" first line is skipped, the chunk
// runs under a traceback handler. Returns the process exit status: the script's integer
// return value, 0 when it returns none, 1 when it does not compile or raises an error (the
// message and traceback go to stderr).
int run_script(lua_State* L, const std::string& path);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/runtime.ipp>
#endif
