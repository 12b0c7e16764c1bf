#pragma once
#include <remora/cli/options.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

namespace remora::cli {

REMORA_DECL std::optional<app_spec> parse_load(const std::string& arg, std::string& error) {
  // arg begins with "-l"
  std::string rest = arg.substr(2);
  auto c1 = rest.find(':');
  auto c2 = c1 == std::string::npos ? std::string::npos : rest.find(':', c1 + 1);
  if (c2 == std::string::npos) {
    error = "Invalid load command '" + arg + "': expected -l[name]:[priority]:path";
    return std::nullopt;
  }
  app_spec a;
  a.arg = arg;
  a.name = rest.substr(0, c1);
  std::string prio = rest.substr(c1 + 1, c2 - c1 - 1);
  a.path = rest.substr(c2 + 1);
  if (!prio.empty()) {
    char* end = nullptr;
    long v = std::strtol(prio.c_str(), &end, 10);
    if (*end || v < -32768 || v > 32767) {
      error = "Invalid load command '" + arg + "': priority must be a number";
      return std::nullopt;
    }
    a.priority = int(v);
  }
  if (a.path.empty()) {
    error = "Invalid load command '" + arg + "': no path";
    return std::nullopt;
  }
  if (a.name.find('/') != std::string::npos) {
    error = "Invalid load command '" + arg + "': the name cannot contain '/'";
    return std::nullopt;
  }
  return a;
}

REMORA_DECL options parse(int argc, const char* const* argv) {
  options o;
  for (int i = 1; i < argc; ++i) o.argv.emplace_back(argv[i]);
  // Script mode, as Mako decides it: exactly one argument, and it is not an option.
  if (o.argv.size() == 1 && !o.argv[0].empty() && o.argv[0][0] != '-') {
    o.script = o.argv[0];
    return o;
  }
  for (std::size_t i = 0; i < o.argv.size(); ++i) {
    const std::string& a = o.argv[i];
    if (a == "-h" || a == "-?" || a == "--help") {
      o.help = true;
    } else if (a == "--version" || a == "-v") {
      o.show_version = true;
    } else if (a == "-c") {
      if (i + 1 >= o.argv.size()) o.errors.push_back("-c needs a configuration file");
      else o.conf_file = o.argv[++i];
    } else if (a.rfind("-l", 0) == 0) {
      std::string err;
      if (auto spec = parse_load(a, err)) o.apps.push_back(std::move(*spec));
      else o.errors.push_back(err);
    } else if (a == "-u") {
      if (i + 1 >= o.argv.size()) o.errors.push_back("-u needs a user name");
      else o.user = o.argv[++i];
    } else if (a == "-d") {
      o.daemon = true;
    } else if (a == "-s") {
      o.systemd = true;
    } else {
      o.errors.push_back("unknown argument '" + a + "' (try -h)");
    }
  }
  return o;
}

namespace detail {
inline bool read_number(lua_State* L, const char* name, long long lo, long long hi, long long& out,
                        const std::string& file, std::string& error) {
  int t = lua_getglobal(L, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return true;
  }
  if (!lua_isinteger(L, -1)) {
    // Mako prints "Invalid value for paramater"; we fix the spelling and name the file.
    error = file + ": invalid value for parameter '" + name + "': (integer expected, got " +
            (t == LUA_TNUMBER ? std::string("float") : std::string(lua_typename(L, t))) + ")";
    lua_pop(L, 1);
    return false;
  }
  long long v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (v < lo || v > hi) {
    error = file + ": invalid value for parameter '" + name + "': " + std::to_string(v) +
            " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
    return false;
  }
  out = v;
  return true;
}
}  // namespace detail

REMORA_DECL bool load_conf(const std::string& file, conf_values& out, std::string& error) {
  lua_State* L = luaL_newstate();
  if (!L) {
    error = "out of memory";
    return false;
  }
  struct closer {
    lua_State* L;
    ~closer() { lua_close(L); }
  } guard{L};
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pop(L, 1);
  if (luaL_loadfile(L, file.c_str()) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
    error = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error loading " + file;
    return false;
  }
  auto& c = out.limits;
  long long v;
  struct num {
    const char* name;
    long long lo, hi;
    std::function<void(long long)> set;
  };
  const num nums[] = {
      {"conncnt", 1, 65535, [&](long long x) { c.conncnt = unsigned(x); }},
      {"reqmaxsz", 512, 65535, [&](long long x) { c.reqmaxsz = std::size_t(x); }},
      {"reqbodymax", 0, (1ll << 40), [&](long long x) { c.reqbodymax = std::uint64_t(x); }},
      {"headertimeout", 1, 3600, [&](long long x) { c.headertimeout = unsigned(x); }},
      {"keepalivetimeout", 1, 86400, [&](long long x) { c.keepalivetimeout = unsigned(x); }},
      {"iotimeout", 1, 86400, [&](long long x) { c.iotimeout = unsigned(x); }},
      {"threads", 0, 1024, [&](long long x) { c.threads = unsigned(x); }},
      {"rspsz", 1024, 65535, [&](long long x) { c.rspsz = std::size_t(x); }},
      {"sessioncnt", 1, 65535, [&](long long x) { c.sessioncnt = unsigned(x); }},
      {"port", 0, 65535, [&](long long x) { out.port = x; }},
      {"rtlprio", -32768, 32767, [&](long long x) { out.rtlprio = int(x); }},
      // Checked now, used by the subsystems that read them (TLS, timers, the login tracker).
      {"sslport", 0, 65535, [](long long) {}},
      {"commandcnt", 1, 65535, [](long long) {}},
      {"reqminsz", 512, 65535, [](long long) {}},
      {"timertick", 1, 60000, [&](long long x) { c.timertick = unsigned(x); }},
      {"tracker_nodes", 0, 1000000, [](long long) {}},
      {"tracker_maxlogin", 1, 1000000, [](long long) {}},
      {"tracker_bantime", 0, 31536000, [](long long) {}},
  };
  for (auto& n : nums) {
    v = -1;
    bool present = lua_getglobal(L, n.name) != LUA_TNIL;
    lua_pop(L, 1);
    if (!detail::read_number(L, n.name, n.lo, n.hi, v, file, error)) return false;
    if (present) n.set(v);
  }
  int t = lua_getglobal(L, "host");
  if (t == LUA_TSTRING) {
    out.host = lua_tostring(L, -1);
  } else if (t != LUA_TNIL) {
    error = file + ": invalid value for parameter 'host': (string expected, got " + lua_typename(L, t) + ")";
    return false;
  }
  lua_pop(L, 1);
  // The options Lua reads (.config and the modules), checked here so a wrong type stops the
  // start with the option's name instead of failing later, half started.
  struct typed {
    const char* name;
    const char* expected;  // for the message
    bool (*ok)(lua_State*, int);
  };
  auto is_string = [](lua_State* S, int i) { return lua_type(S, i) == LUA_TSTRING; };
  auto is_table = [](lua_State* S, int i) { return lua_type(S, i) == LUA_TTABLE; };
  auto is_bool = [](lua_State* S, int i) { return lua_type(S, i) == LUA_TBOOLEAN; };
  auto string_or_strings = [](lua_State* S, int i) {
    if (lua_type(S, i) == LUA_TSTRING) return true;
    if (lua_type(S, i) != LUA_TTABLE) return false;
    for (lua_Integer k = 1;; ++k) {
      int tt = lua_rawgeti(S, i, k);
      lua_pop(S, 1);
      if (tt == LUA_TNIL) return true;
      if (tt != LUA_TSTRING) return false;
    }
  };
  auto true_or_table = [](lua_State* S, int i) {
    return lua_type(S, i) == LUA_TTABLE || (lua_type(S, i) == LUA_TBOOLEAN && lua_toboolean(S, i));
  };
  const typed others[] = {
      {"sslhost", "string", +is_string},      {"homeio", "string", +is_string},
      {"realm", "string", +is_string},        {"dbdir", "string", +is_string},
      {"apps", "table", +is_table},           {"users", "table", +is_table},
      {"fileserver", "table", +is_table},     {"log", "table", +is_table},
      {"proxy", "table", +is_table},          {"acme", "table", +is_table},
      {"favorRSA", "boolean", +is_bool},      {"acmetpm", "boolean", +is_bool},
      {"certfile", "string or table of strings", +string_or_strings},
      {"keyfile", "string or table of strings", +string_or_strings},
      {"certstore", "string or table of strings", +string_or_strings},
      {"tracelogger", "true or table", +true_or_table},
  };
  for (auto& o : others) {
    int tt = lua_getglobal(L, o.name);
    bool good = tt == LUA_TNIL || o.ok(L, lua_gettop(L));
    if (!good) {
      error = file + ": invalid value for parameter '" + o.name + "': (" + o.expected + " expected, got " +
              lua_typename(L, tt) + ")";
      return false;
    }
    if (tt == LUA_TSTRING && std::string_view(o.name) == "homeio") out.homeio = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  return true;
}

REMORA_DECL std::string find_conf(const std::string& explicit_file, const std::string& exec_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!explicit_file.empty()) return fs::absolute(explicit_file, ec).string();
  std::vector<fs::path> candidates;
  if (!exec_dir.empty()) candidates.push_back(fs::path(exec_dir) / "mako.conf");
  candidates.push_back(fs::current_path(ec) / "mako.conf");
  if (const char* home = std::getenv("HOME")) candidates.push_back(fs::path(home) / "mako.conf");
  for (auto& p : candidates)
    if (fs::is_regular_file(p, ec)) return fs::absolute(p, ec).lexically_normal().string();
  return {};
}

REMORA_DECL std::string usage() {
  return "Usage: remora [options] [script]\n"
         "  -l[name]:[priority]:app   load an application (directory or ZIP file); repeatable\n"
         "  -c configfile             load a configuration file (mako.conf)\n"
         "  -d                        run as a daemon, detached from the console\n"
         "  -s                        run as a daemon without detaching (systemd)\n"
         "  -u username               the user to run as, once the ports are open (root only)\n"
         "  script                    run a Lua script with the server's API, then exit\n"
         "  --version                 print version, edition and features\n"
         "  -h, -?                    print this text\n";
}

}  // namespace remora::cli
