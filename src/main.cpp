// The remora executable: command line, first pass over mako.conf, listeners, apps, loop.
#include <remora/cli/options.hpp>
#include <remora/lua/runtime.hpp>
#include <remora/lua/thread_lib.hpp>
#include <remora/server.hpp>
#include <remora/vfs/net_io.hpp>
#include <remora/vfs/resrdr.hpp>
#include <remora/vfs/zip_io.hpp>

#include <lua.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <thread>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#if REMORA_EMBEDDED_ZIP
extern const unsigned char remora_embedded_zip[];
extern const std::size_t remora_embedded_zip_size;
#endif

namespace {

std::string exec_dir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.parent_path().string();
}

void print_version() {
  std::printf("Remora %s\n", remora::version);
  std::printf("edition: %s\n", remora::edition);
  std::printf("policies: io=%s tls=%s alloc=%s threads=%s\n", remora::default_policies::io::name,
              remora::default_policies::tls::name, remora::default_policies::alloc::name,
              remora::default_policies::thread::name);
#if REMORA_ALLOC_ARENA
  std::printf("arena: %d bytes\n", REMORA_ARENA_SIZE);
#endif
  std::printf("features: lua5.4%s%s%s%s%s\n", REMORA_SENDFILE ? " sendfile" : "",
              REMORA_CRYPTO ? " crypto" : "", REMORA_TLS_BOTAN ? " tls" : "", REMORA_LPEG ? " lpeg" : "",
              REMORA_SQLITE ? " sqlite" : "");
}

// The resource zip, looked for as Mako looks for mako.zip: the directory named by MAKO_ZIP
// (an unpacked tree: edit and restart, no rebuild), remora.zip beside the executable, beside
// the conf file, then the copy compiled into the executable. A candidate must hold .config
// and .openports. nullptr when none is usable.
std::shared_ptr<remora::vfs::io> mount_resource_zip(const std::string& exec_dir, const std::string& conf_file) {
  namespace fs = std::filesystem;
  auto usable = [](remora::vfs::io& io, const std::string& name) {
    remora::vfs::file_info info;
    std::string err;
    if (io.stat(".config", info, err) && io.stat(".openports", info, err)) return true;
    std::fprintf(stderr, "%s is missing .config or .openports\n", name.c_str());
    return false;
  };
  if (const char* dir = std::getenv("MAKO_ZIP"); dir && *dir) {
    try {
      auto io = std::make_shared<remora::vfs::disk_io>(dir);
      if (usable(*io, dir)) {
        std::fprintf(stderr, "Mounting %s\n", dir);
        return io;
      }
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "MAKO_ZIP=%s: %s\n", dir, e.code().message().c_str());
    }
  }
  std::vector<std::string> candidates;
  if (!exec_dir.empty()) candidates.push_back(exec_dir + "/remora.zip");
  if (!conf_file.empty()) candidates.push_back((fs::path(conf_file).parent_path() / "remora.zip").string());
  std::error_code ec;
  for (auto& path : candidates) {
    if (!fs::exists(path, ec)) continue;
    std::string err;
    auto io = remora::vfs::zip_io::open_file(path, err);
    if (!io) {
      std::fprintf(stderr, "%s\n", err.c_str());
      continue;
    }
    if (usable(*io, path)) {
      std::fprintf(stderr, "Mounting %s\n", path.c_str());
      return io;
    }
  }
#if REMORA_EMBEDDED_ZIP
  std::string err;
  auto archive = remora::zip::archive::open(
      remora::zip::memory_source(remora_embedded_zip, remora_embedded_zip_size), err);
  if (archive) {
    auto io = std::make_shared<remora::vfs::zip_io>(std::move(archive));
    if (usable(*io, "the embedded remora.zip")) {
      std::fprintf(stderr, "Mounting the embedded remora.zip\n");
      return io;
    }
  } else {
    std::fprintf(stderr, "the embedded remora.zip: %s\n", err.c_str());
  }
#endif
  return nullptr;
}

// -u user: as Mako, only as root; a name whose second character is a digit is a numeric
// uid (and gid). Otherwise the user's uid, gid, groups and $HOME.
bool drop_privileges(const std::string& user) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "Cannot use command line option: -u %s You are not root.\n", user.c_str());
    return false;
  }
  uid_t uid;
  gid_t gid;
  if (user.size() > 1 && std::isdigit(static_cast<unsigned char>(user[1]))) {
    char* end = nullptr;
    unsigned long n = std::strtoul(user.c_str(), &end, 10);
    if (*end) {
      std::fprintf(stderr, "-u %s: not a number\n", user.c_str());
      return false;
    }
    uid = uid_t(n);
    gid = gid_t(n);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
      std::fprintf(stderr, "-u %s: %s\n", user.c_str(), std::strerror(errno));
      return false;
    }
    return true;
  }
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) {
    std::fprintf(stderr, "-u %s: no such user\n", user.c_str());
    return false;
  }
  uid = pw->pw_uid;
  gid = pw->pw_gid;
  std::string home = pw->pw_dir ? pw->pw_dir : "";
  if (::initgroups(user.c_str(), gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
    std::fprintf(stderr, "-u %s: %s\n", user.c_str(), std::strerror(errno));
    return false;
  }
  if (!home.empty()) ::setenv("HOME", home.c_str(), 1);
  return true;
}

// The trace file of -d and -s: the first of /var/log/remora.log, ./remora.log and
// $TMP/remora.log (or /tmp) that opens for appending. -1 when none does.
int open_trace_file(std::string& path) {
  const char* tmp = std::getenv("TMP");
  std::vector<std::string> candidates = {"/var/log/remora.log", "remora.log",
                                         std::string(tmp && *tmp ? tmp : "/tmp") + "/remora.log"};
  for (auto& c : candidates) {
    int fd = ::open(c.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      std::error_code ec;
      auto abs = std::filesystem::absolute(c, ec);
      path = ec ? c : abs.string();
      return fd;
    }
  }
  return -1;
}

// -d: the process detaches (two forks and setsid, as Mako does); stdin and stdout go to
// /dev/null and the trace channel (stderr) to the trace file. Job-control and hangup signals
// are ignored. Only the grandchild returns.
void daemonize(int trace_fd) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid > 0) std::_Exit(0);
  ::setsid();
  pid = ::fork();
  if (pid < 0) std::_Exit(1);
  if (pid > 0) std::_Exit(0);
  for (int sig : {SIGHUP, SIGTTOU, SIGTTIN, SIGTSTP, SIGPIPE, SIGXFSZ, SIGXCPU}) ::signal(sig, SIG_IGN);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::close(null);
  }
  ::dup2(trace_fd, 2);
  ::close(trace_fd);
}

// -s: everything written to stderr also goes to the trace file. stderr becomes a pipe that a
// thread copies to both; finish() drains it before the process ends.
class trace_tee {
 public:
  bool start(int file_fd) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    console_ = ::dup(2);
    file_ = file_fd;
    ::dup2(p[1], 2);
    ::close(p[1]);
    read_ = p[0];
    thread_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(read_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        write_all(console_, buf, std::size_t(n));
        write_all(file_, buf, std::size_t(n));
      }
    });
    return true;
  }
  void finish() {
    if (!thread_.joinable()) return;
    std::fflush(stderr);
    ::dup2(console_, 2);  // the pipe's last writer goes: the thread sees the end
    thread_.join();
  }
  ~trace_tee() { finish(); }

 private:
  static void write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      p += w;
      n -= std::size_t(w);
    }
  }
  int console_ = -1, file_ = -1, read_ = -1;
  std::thread thread_;
};

// ba.thread jobs get 3 s to end; false (said on the console) when some did not: the VM must
// then be left open.
bool end_threads(remora::server& srv) {
  if (remora::lua::stop_threads(srv.lua(), 3000)) return true;
  std::fprintf(stderr, "ba.thread jobs still running after 3 s: exiting without closing the VM\n");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // A write past the file-size limit (ulimit -f) fails with EFBIG, which SQLite and the IO
  // objects report to Lua, instead of killing the server.
  ::signal(SIGXFSZ, SIG_IGN);
  auto opts = remora::cli::parse(argc, argv);
  if (opts.show_version) {
    print_version();
    return 0;
  }
  if (opts.help) {
    std::fputs(remora::cli::usage().c_str(), stderr);
    return 1;
  }
  if (!opts.errors.empty()) {
    for (auto& e : opts.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }

  std::fprintf(stderr, "\nRemora Server. Version %s\nEdition %s. Build date: %s\nCopyright (c) the Remora developers.\n\n",
               remora::version, remora::edition, __DATE__);

  remora::cli::conf_values conf;
  const std::string exe_dir = exec_dir();
  std::string conf_file = remora::cli::find_conf(opts.conf_file, exe_dir);
  if (!conf_file.empty()) {
    std::fprintf(stderr, "Loading %s\n", conf_file.c_str());
    std::string err;
    if (!remora::cli::load_conf(conf_file, conf, err)) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }
  }

  // -d and -s: the trace file (as Mako's mako.log; here remora.log).
  static trace_tee tee;
  if (opts.daemon || opts.systemd) {
    std::string trace_path;
    int fd = open_trace_file(trace_path);
    if (fd < 0) {
      std::fprintf(stderr, "Cannot open a trace file (/var/log, ., $TMP)\n");
      return 1;
    }
    std::fprintf(stderr, "Trace file: %s\n", trace_path.c_str());
    if (opts.daemon) daemonize(fd);
    else if (!tee.start(fd)) std::fprintf(stderr, "-s: cannot copy the trace to %s\n", trace_path.c_str());
  }

  auto vm = mount_resource_zip(exe_dir, conf_file);
  if (!vm) {
    std::fprintf(stderr, "Fatal error: cannot mount remora.zip.\n");
    return 1;
  }

  remora::server srv(conf.limits);
  if (!srv.lua()) {
    std::fprintf(stderr, "Fatal error: cannot create the Lua VM\n");
    return 1;
  }
  // The Lua globals apps see (ba, mako, print, trace), over the disk, home and vm IOs.
  remora::lua::io_registry ios;
  remora::lua::runtime_info info;
  {
    std::error_code ec;
    info.argv = opts.argv;
    info.daemon = opts.daemon;
    info.cfgfname = conf_file;
    info.execpath = exe_dir;
    info.tree = &srv.vfs();
    info.cwd = std::filesystem::current_path(ec).string();
    try {
      ios.named["disk"] = std::make_shared<remora::vfs::disk_io>("/");
      auto net = std::make_shared<remora::vfs::net_io>();  // ba.openio"net": names are URLs
      ios.named["net"] = net;
      std::string home = info.cwd.empty() ? "." : info.cwd;
      if (conf.homeio.rfind("http://", 0) == 0 || conf.homeio.rfind("https://", 0) == 0) {
        // a network home: a net IO rooted at the URL (read-only; nothing is asked of it yet)
        std::string err;
        auto io = net->sub(conf.homeio, err);
        if (!io) {
          std::fprintf(stderr, "homeio: not a usable URL: %s\n", conf.homeio.c_str());
          return 1;
        }
        std::fprintf(stderr, "Home dir: %s\n", io->base().c_str());
        ios.named["home"] = io;
      } else {
        if (!conf.homeio.empty()) {  // mako.conf's homeio: relative to the working directory
          home = std::filesystem::absolute(conf.homeio, ec).lexically_normal().string();
          if (!home.empty() && home.size() > 1 && home.back() == '/') home.pop_back();
          std::fprintf(stderr, "Home dir: %s\n", home.c_str());
        }
        ios.named["home"] = std::make_shared<remora::vfs::disk_io>(home);
      }
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "Fatal error: %s: %s\n", e.what(), e.code().message().c_str());
      return 1;
    }
    ios.named["vm"] = vm;
    remora::lua::open_runtime(srv.lua(), ios, info);
  }
  // Lua runs under the VM lock from here on, start-up included: a ba.thread job started by a
  // script or a .preload must wait for it.
  auto& host = srv.lua_host();
  if (!opts.script.empty()) {
    host.after = nullptr;  // no loop runs in script mode: timers say so
    host.lock();
    int status = remora::lua::run_script(srv.lua(), opts.script);
    host.unlock();
    if (!end_threads(srv)) {
      std::fflush(nullptr);
      std::_Exit(status);
    }
    return status;
  }

  // From here on SIGINT/SIGTERM wait in the loop's queue and stop the server once it runs.
  srv.handle_signals([](const std::string& sig) { std::fprintf(stderr, "\nGot %s; exiting...\n", sig.c_str()); });

  // The listeners: the resource zip's .openports (Lua) opens them from mako.conf.
  host.lock();
  bool ports = remora::lua::run_openports(srv.lua(), *vm);
  host.unlock();
  if (!ports) return 1;

  // -u: drop to that user now that the ports are open, before any app code runs.
  if (!opts.user.empty() && !drop_privileges(opts.user)) return 1;

  // /rtl/: the resource zip's public files (dot files, such as .config, are never served).
  srv.vfs().insert(std::make_shared<remora::vfs::resrdr>(vm), "/rtl/", conf.rtlprio);

  // The apps: loaded by the resource zip's .config (Lua), which prints the "Loading" lines.
  host.lock();
  bool have_onunload = remora::lua::run_config(srv.lua(), *vm);
  host.unlock();
  if (!have_onunload) std::fprintf(stderr, "Warning: no applications loaded (see the .config error above)\n");

  srv.run();
  // ba.thread jobs end first (bounded): then nothing else runs Lua while the apps unload.
  if (!end_threads(srv)) {
    bool locked = false;
    for (int i = 0; i < 400 && !(locked = host.try_lock()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!locked) std::fprintf(stderr, "the VM stays busy: the apps' onunload is skipped\n");
    else if (have_onunload) remora::lua::run_onunload(srv.lua());
    std::fflush(nullptr);
    tee.finish();
    std::_Exit(0);
  }
  if (have_onunload) remora::lua::run_onunload(srv.lua());  // every app's onunload
  return 0;
}
