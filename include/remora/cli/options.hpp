// The command line and the first, C-side pass over mako.conf.
#pragma once
#include <remora/config.hpp>
#include <remora/server_config.hpp>

#include <optional>
#include <string>
#include <vector>

namespace remora::cli {

struct app_spec {
  std::string name;  // "" for the root application
  int priority = 0;
  std::string path;
  std::string arg;   // the argument as given, for messages
};

struct options {
  std::vector<std::string> argv;   // every argument after argv[0]
  std::string conf_file;           // -c
  std::vector<app_spec> apps;      // -l..., in order
  std::string script;              // script mode: the only argument, not an option
  std::string user;                // -u: the user to run as once the ports are open
  bool daemon = false;             // -d: detach, trace to the log file
  bool systemd = false;            // -s: stay in the foreground, trace to the log file and stderr
  bool help = false, show_version = false;
  std::vector<std::string> errors; // messages for arguments we could not use
};

// Parses argv[1..]. Only arguments that begin with "-l" are load commands (the original
// matches an 'l' anywhere in an argument, a bug we do not copy).
options parse(int argc, const char* const* argv);

// Parses the text after "-l": "[name]:[priority]:path". nullopt with `error` set otherwise.
std::optional<app_spec> parse_load(const std::string& arg, std::string& error);

// What the first pass reads: resource limits and listeners.
struct conf_values {
  server_config limits;
  std::optional<long long> port;   // HTTP port; 0 = no listener
  std::string host;
  int rtlprio = 127;               // priority of /rtl/ (the resource zip's public files)
  std::string homeio;              // root of the home IO ("" = the working directory)
};

// Runs `file` in a Lua state that has only the base library (as Mako's C side does) and
// reads the options it knows. Returns false with `error` naming the file and the option.
bool load_conf(const std::string& file, conf_values& out, std::string& error);

// The conf file to use: `explicit_file` when given, else mako.conf beside the executable,
// in the working directory, then in $HOME. Empty when there is none.
std::string find_conf(const std::string& explicit_file, const std::string& exec_dir);

std::string usage();

}  // namespace remora::cli

#if REMORA_HEADER_ONLY
#  include <remora/cli/impl/options.ipp>
#endif
