// libFuzzer target: cli::parse_load and cli::parse. The input, after "-l", is one load
// command; split at NUL bytes it is also a whole command line. Invariants: an accepted load
// command has a path, a name without '/' or ':', a priority in a 16-bit range and keeps the
// argument as given; a refused one says why; parse() accounts for every argument.
#include <remora/cli/options.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  std::string arg = "-l" + raw;
  std::string error;
  auto spec = remora::cli::parse_load(arg, error);
  if (spec) {
    if (spec->path.empty() || spec->arg != arg) std::abort();
    if (spec->name.find('/') != std::string::npos || spec->name.find(':') != std::string::npos) std::abort();
    if (spec->priority < -32768 || spec->priority > 32767) std::abort();
    // name:priority:path, rebuilt, is the argument (the priority as given may differ in form)
    if (arg.compare(2, spec->name.size(), spec->name) != 0) std::abort();
    if (arg.size() < spec->path.size() || arg.compare(arg.size() - spec->path.size(), std::string::npos, spec->path) != 0)
      std::abort();
  } else if (error.empty()) {
    std::abort();
  }

  std::vector<std::string> args{"remora"};
  std::size_t i = 0;
  while (i <= raw.size() && args.size() < 9) {  // a few arguments: parse() is slow at -O0
    auto z = raw.find('\0', i);
    args.push_back(raw.substr(i, z == std::string::npos ? std::string::npos : z - i));
    if (z == std::string::npos) break;
    i = z + 1;
  }
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  auto o = remora::cli::parse(int(args.size()), argv.data());
  if (o.argv.size() != args.size() - 1) std::abort();
  if (o.apps.size() + o.errors.size() > o.argv.size()) std::abort();
  for (auto& a : o.apps)
    if (a.arg.rfind("-l", 0) != 0) std::abort();
  return 0;
}
