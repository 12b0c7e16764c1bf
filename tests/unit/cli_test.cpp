// cli/options.hpp: the command line, load commands and the first pass over mako.conf.
#include <doctest.h>
#include "temp_dir.hpp"
#include <remora/cli/options.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace remora::cli;

namespace {
options parse_args(std::vector<std::string> args) {
  args.insert(args.begin(), "remora");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return parse(int(args.size()), argv.data());
}

}  // namespace

TEST_CASE("parse_load: the accepted forms") {
  std::string err;
  auto a = parse_load("-l::dir", err);
  REQUIRE(a);
  CHECK(a->name.empty());
  CHECK(a->priority == 0);
  CHECK(a->path == "dir");
  CHECK(a->arg == "-l::dir");

  a = parse_load("-lname::dir", err);
  REQUIRE(a);
  CHECK(a->name == "name");
  CHECK(a->priority == 0);
  CHECK(a->path == "dir");

  a = parse_load("-lname:5:dir", err);
  REQUIRE(a);
  CHECK(a->name == "name");
  CHECK(a->priority == 5);
  CHECK(a->path == "dir");

  a = parse_load("-l:-3:/abs/path:with:colons", err);
  REQUIRE(a);
  CHECK(a->name.empty());
  CHECK(a->priority == -3);
  CHECK(a->path == "/abs/path:with:colons");
}

TEST_CASE("parse_load: errors") {
  std::string err;
  CHECK_FALSE(parse_load("-l:x:dir", err));
  CHECK(err.find("-l:x:dir") != std::string::npos);
  CHECK(err.find("priority") != std::string::npos);

  err.clear();
  CHECK_FALSE(parse_load("-l:5x:dir", err));
  CHECK(err.find("priority") != std::string::npos);

  err.clear();
  CHECK_FALSE(parse_load("-l:99999:dir", err));  // out of range
  CHECK_FALSE(err.empty());

  err.clear();
  CHECK_FALSE(parse_load("-lfoo", err));
  CHECK(err.find("expected -l[name]:[priority]:path") != std::string::npos);

  err.clear();
  CHECK_FALSE(parse_load("-lfoo:dir", err));  // one colon only
  CHECK_FALSE(err.empty());

  err.clear();
  CHECK_FALSE(parse_load("-l::", err));
  CHECK(err.find("no path") != std::string::npos);

  err.clear();
  CHECK_FALSE(parse_load("-la/b::dir", err));
  CHECK(err.find("'/'") != std::string::npos);

  err.clear();
  CHECK_FALSE(parse_load("-l", err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("parse: the command line") {
  auto o = parse_args({"-l::www", "-lapp:2:apps/app", "-c", "my.conf"});
  CHECK(o.errors.empty());
  REQUIRE(o.apps.size() == 2);
  CHECK(o.apps[0].path == "www");
  CHECK(o.apps[1].name == "app");
  CHECK(o.apps[1].priority == 2);
  CHECK(o.conf_file == "my.conf");
  CHECK(o.argv.size() == 4);
  CHECK_FALSE(o.help);
  CHECK_FALSE(o.show_version);

  CHECK(parse_args({"-h"}).help);
  CHECK(parse_args({"-?"}).help);
  CHECK(parse_args({"--help"}).help);
  CHECK(parse_args({"--version"}).show_version);
  CHECK(parse_args({}).errors.empty());

  // Only arguments that begin with "-l" are load commands.
  o = parse_args({"xl::dir", "-l::x"});
  CHECK(o.apps.size() == 1);
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0].find("unknown argument 'xl::dir'") != std::string::npos);

  // Script mode: one argument that is not an option (and only then).
  o = parse_args({"run.lua"});
  CHECK(o.script == "run.lua");
  CHECK(o.errors.empty());
  CHECK(parse_args({"-c", "x.conf", "run.lua"}).script.empty());

  o = parse_args({"--log=x"});
  CHECK(o.apps.empty());
  CHECK(o.errors.size() == 1);

  o = parse_args({"-lfoo", "-l:x:dir", "-l::ok"});
  CHECK(o.errors.size() == 2);
  REQUIRE(o.apps.size() == 1);
  CHECK(o.apps[0].path == "ok");

  o = parse_args({"-c"});
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0].find("-c") != std::string::npos);
  CHECK(o.conf_file.empty());

  o = parse_args({"-c", "-l::dir"});  // -c takes the next argument, whatever it is
  CHECK(o.conf_file == "-l::dir");
  CHECK(o.apps.empty());
}

TEST_CASE("load_conf: the values it reads") {
  temp_dir t;
  auto f = t.write("mako.conf",
                   "port = 9357\n"
                   "host = \"127.0.0.1\"\n"
                   "conncnt = 200\n"
                   "reqmaxsz = 16384\n"
                   "reqbodymax = 1024 * 1024\n"
                   "headertimeout = 7\n"
                   "-- Lua code runs\n"
                   "local x = 2\n"
                   "keepalivetimeout = x * 10\n");
  conf_values v;
  std::string err;
  REQUIRE_MESSAGE(load_conf(f, v, err), err);
  REQUIRE(v.port);
  CHECK(*v.port == 9357);
  CHECK(v.host == "127.0.0.1");
  CHECK(v.limits.conncnt == 200);
  CHECK(v.limits.reqmaxsz == 16384);
  CHECK(v.limits.reqbodymax == 1024 * 1024);
  CHECK(v.limits.headertimeout == 7);
  CHECK(v.limits.keepalivetimeout == 20);
  CHECK(v.limits.iotimeout == remora::server_config{}.iotimeout);  // untouched

  // An empty file changes nothing.
  conf_values d;
  REQUIRE(load_conf(t.write("empty.conf", ""), d, err));
  CHECK_FALSE(d.port);
  CHECK(d.host.empty());
  CHECK(d.limits.conncnt == remora::server_config{}.conncnt);
  CHECK(d.limits.reqmaxsz == remora::server_config{}.reqmaxsz);

  conf_values z;
  REQUIRE(load_conf(t.write("port0.conf", "port = 0"), z, err));
  REQUIRE(z.port);
  CHECK(*z.port == 0);
}

TEST_CASE("load_conf: wrong types and ranges") {
  temp_dir t;
  conf_values v;
  std::string err;
  auto f = t.write("a.conf", "port = \"80\"\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f) != std::string::npos);
  CHECK(err.find("port") != std::string::npos);
  CHECK(err.find("string") != std::string::npos);

  err.clear();
  f = t.write("b.conf", "conncnt = 1.5\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f) != std::string::npos);
  CHECK(err.find("conncnt") != std::string::npos);
  CHECK(err.find("float") != std::string::npos);

  err.clear();
  f = t.write("c.conf", "host = 5\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f) != std::string::npos);
  CHECK(err.find("host") != std::string::npos);

  err.clear();
  f = t.write("d.conf", "port = 70000\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f) != std::string::npos);
  CHECK(err.find("port") != std::string::npos);
  CHECK(err.find("70000") != std::string::npos);

  err.clear();
  f = t.write("e.conf", "reqmaxsz = 100\n");  // below the minimum
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find("reqmaxsz") != std::string::npos);

  err.clear();
  f = t.write("f.conf", "conncnt = 0\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find("conncnt") != std::string::npos);

  err.clear();
  f = t.write("g.conf", "headertimeout = {}\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find("headertimeout") != std::string::npos);
  CHECK(err.find("table") != std::string::npos);
}

TEST_CASE("load_conf: Lua errors and the sandbox") {
  temp_dir t;
  conf_values v;
  std::string err;
  auto f = t.write("syntax.conf", "port = 80\nthis is not lua\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f + ":2:") != std::string::npos);

  err.clear();
  f = t.write("env.conf", "x = os.getenv(\"HOME\")\n");  // only the base library
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find(f + ":1:") != std::string::npos);
  CHECK(err.find("os") != std::string::npos);

  err.clear();
  f = t.write("io.conf", "io.open('/etc/passwd')\n");
  CHECK_FALSE(load_conf(f, v, err));

  err.clear();
  f = t.write("require.conf", "require('os')\n");
  CHECK_FALSE(load_conf(f, v, err));

  err.clear();
  f = t.write("error.conf", "error('boom')\n");
  CHECK_FALSE(load_conf(f, v, err));
  CHECK(err.find("boom") != std::string::npos);

  err.clear();
  CHECK_FALSE(load_conf((t.path / "missing.conf").string(), v, err));
  CHECK(err.find("missing.conf") != std::string::npos);

  // The base library is there.
  err.clear();
  f = t.write("base.conf", "port = tonumber('8080') assert(type(print) == 'function')\n");
  REQUIRE_MESSAGE(load_conf(f, v, err), err);
  CHECK(*v.port == 8080);
}

TEST_CASE("find_conf") {
  temp_dir t;
  auto f = t.write("explicit.conf", "");
  CHECK(find_conf(f, "") == f);
  CHECK(find_conf(f, "/nonexistent") == f);

  // Relative: made absolute against the working directory.
  auto cwd = fs::current_path();
  fs::current_path(t.path);
  auto rel = find_conf("explicit.conf", "");
  fs::current_path(cwd);
  CHECK(rel == f);

  // Beside the executable first.
  auto exec_conf = t.write("mako.conf", "");
  CHECK(find_conf("", t.path.string()) == exec_conf);

  // Nothing to be found: empty (HOME pointed at an empty directory).
  temp_dir empty;
  const char* old_home = std::getenv("HOME");
  std::string saved = old_home ? old_home : "";
  ::setenv("HOME", empty.path.c_str(), 1);
  fs::current_path(empty.path);
  auto none = find_conf("", (empty.path / "bin").string());
  fs::current_path(cwd);
  if (old_home) ::setenv("HOME", saved.c_str(), 1);
  else ::unsetenv("HOME");
  CHECK(none.empty());
}

TEST_CASE("usage names the options") {
  auto u = usage();
  CHECK(u.find("-l") != std::string::npos);
  CHECK(u.find("-c") != std::string::npos);
  CHECK(u.find("--version") != std::string::npos);
}
