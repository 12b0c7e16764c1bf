#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/pipe_lib.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail::pipe {

inline constexpr const char* pipe_t = "remora.pipe";
inline constexpr std::size_t read_max = 65536;

struct pipe_obj {
  int fd = -1;
  bool writer = false;
  int busy = 0;                     // calls waiting with the VM lock released (changed under it)
  std::atomic<bool> closing{false}; // close() while busy: the last waiting call closes the fd
  pipe_obj(int f, bool w) : fd(f), writer(w) {}
  ~pipe_obj() {
    if (fd >= 0) ::close(fd);
  }
  pipe_obj(const pipe_obj&) = delete;
  pipe_obj& operator=(const pipe_obj&) = delete;
};

inline pipe_obj* check_pipe(lua_State* L) { return check_object<pipe_obj>(L, 1, pipe_t); }

inline int errno_fail(lua_State* L, int err) { return fail(L, std::strerror(err)); }

// Waits for `events` on fd: 1 ready, 0 timed out (ms >= 0), -1 the pipe is being closed.
// Polls in slices so that a close() from another thread is seen.
inline int wait_fd(int fd, short events, lua_Integer ms, const std::atomic<bool>& closing) {
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  while (!closing) {
    int slice = 100;
    if (ms >= 0) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      lua_Integer spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (spent >= ms) return 0;
      slice = int(std::min<lua_Integer>(slice, ms - spent));
    }
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, slice);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 1;  // let the read or write report it
  }
  return -1;
}

// Ends a waiting call: the fd is closed here when close() came meanwhile.
inline void leave(pipe_obj* p) {
  if (--p->busy == 0 && p->closing && p->fd >= 0) {
    ::close(p->fd);
    p->fd = -1;
  }
}

inline int pipe_read(lua_State* L) {
  pipe_obj* p = check_pipe(L);
  lua_Integer ms = luaL_optinteger(L, 2, -1);
  if (p->fd < 0 || p->closing) return fail(L, "closed");
  if (p->writer) return fail(L, "the pipe was opened for writing");
  std::string buf;
  int err = 0;
  bool timed_out = false, closed = false;
  ++p->busy;
  without_lock(get_host(L), [&] {
    for (;;) {
      int w = wait_fd(p->fd, POLLIN, ms, p->closing);
      if (w <= 0) {
        timed_out = w == 0;
        closed = w < 0;
        return;
      }
      buf.resize(read_max);
      ssize_t n = ::read(p->fd, buf.data(), buf.size());
      if (n > 0) {
        buf.resize(std::size_t(n));
        return;
      }
      if (n == 0) {
        closed = true;
        return;
      }
      if (errno != EAGAIN && errno != EINTR) {
        err = errno;
        return;
      }
    }
  });
  leave(p);
  if (timed_out) return fail(L, "timeout");
  if (closed) return fail(L, "closed");
  if (err) return errno_fail(L, err);
  lua_pushlstring(L, buf.data(), buf.size());
  return 1;
}

inline int pipe_write(lua_State* L) {
  pipe_obj* p = check_pipe(L);
  std::size_t len;
  const char* s = luaL_checklstring(L, 2, &len);
  if (p->fd < 0 || p->closing) return fail(L, "closed");
  if (!p->writer) return fail(L, "the pipe was opened for reading");
  // a reader that has gone raises SIGPIPE, which would end the process (the server ignores
  // it; scripts and embedders may not)
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  std::string data(s, len);
  int err = 0;
  bool closed = false;
  ++p->busy;
  without_lock(get_host(L), [&] {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(p->fd, data.data() + done, data.size() - done);
      if (n > 0) {
        done += std::size_t(n);
        continue;
      }
      if (n < 0 && errno == EPIPE) {
        closed = true;
        return;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        err = errno;
        return;
      }
      if (wait_fd(p->fd, POLLOUT, -1, p->closing) < 0) {
        closed = true;
        return;
      }
    }
  });
  leave(p);
  if (closed) return fail(L, "closed");
  if (err) return errno_fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

inline int pipe_close(lua_State* L) {
  pipe_obj* p = check_pipe(L);
  if (p->busy > 0) {
    p->closing = true;  // the waiting call closes it
  } else if (p->fd >= 0) {
    ::close(p->fd);
    p->fd = -1;
  }
  lua_pushboolean(L, 1);
  return 1;
}

inline int pipe_tostring(lua_State* L) {
  pipe_obj* p = check_pipe(L);
  lua_pushfstring(L, "pipe (%s%s)", p->writer ? "w" : "r", p->fd < 0 ? ", closed" : "");
  return 1;
}

inline int pipe_open(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  std::string mode = luaL_optstring(L, 2, "r");
  lua_Integer ms = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, mode == "r" || mode == "w", 2, "\"r\" or \"w\" expected");
  bool writer = mode == "w";
  int fd = -1, err = 0;
  without_lock(get_host(L), [&] {
    timespec start{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      fd = ::open(path, (writer ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0 || errno != ENXIO) break;  // ENXIO: a FIFO without a reader
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      lua_Integer spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (spent >= ms) break;
      timespec pause{0, 20 * 1000000};
      ::nanosleep(&pause, nullptr);
    }
    err = fd < 0 ? errno : 0;
  });
  if (fd < 0) return err == ENXIO ? fail(L, "noreader") : errno_fail(L, err);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ::close(fd);
    return fail(L, "not a pipe");
  }
  push_object<pipe_obj>(L, pipe_t, fd, writer);
  return 1;
}

inline int pipe_mkfifo(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  mode_t mode = 0666;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char* s = lua_tostring(L, 2);
    char* end = nullptr;
    unsigned long v = std::strtoul(s, &end, 8);
    luaL_argcheck(L, *s && end && *end == '\0' && v <= 07777, 2, "octal permission bits expected");
    mode = mode_t(v);
  } else if (!lua_isnoneornil(L, 2)) {
    lua_Integer v = luaL_checkinteger(L, 2);
    luaL_argcheck(L, v >= 0 && v <= 07777, 2, "permission bits expected");
    mode = mode_t(v);
  }
  if (::mkfifo(path, mode) != 0) return errno_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

}  // namespace detail::pipe

REMORA_DECL void open_pipe_lib(lua_State* L) {
  namespace p = detail::pipe;
  static const luaL_Reg methods[] = {
      {"read", p::pipe_read}, {"write", p::pipe_write}, {"close", p::pipe_close}, {nullptr, nullptr}};
  define_class<p::pipe_obj>(L, p::pipe_t, methods);
  luaL_getmetatable(L, p::pipe_t);
  lua_pushcfunction(L, p::pipe_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, p::pipe_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  static const luaL_Reg lib[] = {{"open", p::pipe_open}, {"mkfifo", p::pipe_mkfifo}, {nullptr, nullptr}};
  luaL_newlib(L, lib);
  lua_setfield(L, -2, "pipe");
}

}  // namespace remora::lua
