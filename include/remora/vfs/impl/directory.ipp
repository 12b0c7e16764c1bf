#pragma once
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>
#include <remora/vfs/directory.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <system_error>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

namespace remora::vfs {

REMORA_DECL bool directory::redirected_to_tls(const http::request& req, http::response& res) const {
  if (!tls_only.load(std::memory_order_relaxed) || req.secure) return false;
  std::string host(req.header("Host"));
  if (host.empty()) host = std::string(req.local_ip);
  if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']', colon) == std::string::npos)
    host.resize(colon);  // the http port is not the https one
  std::string loc = "https://" + host + http::encode_path(req.path);
  if (!req.query.empty()) loc.append("?").append(req.query);
  res.redirect(301, loc);
  return true;
}

REMORA_DECL void tree::insert(std::shared_ptr<directory> dir, std::string prefix, int priority) {
  if (prefix.empty() || prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  if (prefix.back() != '/') prefix.push_back('/');
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<std::vector<mount>>(*mounts_);
  next->push_back(mount{std::move(prefix), priority, seq_++, std::move(dir)});
  std::stable_sort(next->begin(), next->end(), [](const mount& a, const mount& b) {
    if (a.prefix.size() != b.prefix.size()) return a.prefix.size() > b.prefix.size();
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.seq < b.seq;
  });
  mounts_ = std::move(next);
}

REMORA_DECL bool tree::remove(const directory* dir) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<std::vector<mount>>(*mounts_);
  auto n = next->size();
  std::erase_if(*next, [dir](const mount& m) { return m.dir.get() == dir; });
  if (n == next->size()) return false;
  mounts_ = std::move(next);
  return true;
}

REMORA_DECL std::size_t tree::size() const {
  std::lock_guard lock(mutex_);
  return mounts_->size();
}

REMORA_DECL bool tree::dispatch(const http::request& req, http::response& res) const {
  std::shared_ptr<const std::vector<mount>> mounts;
  {
    std::lock_guard lock(mutex_);
    mounts = mounts_;
  }
  const std::string& path = req.path;
  for (auto& m : *mounts) {
    if (path.size() + 1 == m.prefix.size() && m.prefix.compare(0, path.size(), path) == 0) {
      std::string loc = http::encode_path(m.prefix);
      if (!req.query.empty()) loc.append("?").append(req.query);
      res.redirect(302, loc);
      return true;
    }
    if (path.compare(0, m.prefix.size(), m.prefix) != 0) continue;
    std::string_view rel = std::string_view(path).substr(m.prefix.size());
    if (m.dir->service(req, rel, res)) return true;
    res.reset();
  }
  return false;
}

namespace detail {
inline std::string fd_path(int fd) {
  char link[64], buf[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, buf, sizeof buf);
  return n > 0 ? std::string(buf, std::size_t(n)) : std::string();
}
}  // namespace detail

REMORA_DECL unique_fd open_beneath(int dirfd, std::string_view rel, int flags) {
  std::string p(rel.empty() ? std::string_view(".") : rel);
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = std::uint64_t(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
      long fd = ::syscall(SYS_openat2, dirfd, p.c_str(), &how, sizeof how);
      if (fd >= 0) return unique_fd(int(fd));
      if (errno == EINTR || errno == EAGAIN) continue;
      // EXDEV: the path crossed an absolute symlink (or tried to leave). The check below
      // keeps an absolute link that lands inside the directory and refuses the rest.
      if (errno == EXDEV) break;
      if (errno != ENOSYS) return unique_fd();
      no_openat2.store(true, std::memory_order_relaxed);
      break;
    }
  }
  if (p.front() == '/') return errno = EXDEV, unique_fd();
  unique_fd fd(::openat(dirfd, p.c_str(), flags | O_CLOEXEC));
  if (!fd) return fd;
  std::string base = detail::fd_path(dirfd), got = detail::fd_path(fd.get());
  if (base.empty() || got.empty()) return errno = EXDEV, unique_fd();
  if (base != "/" && got != base && got.compare(0, base.size() + 1, base + "/") != 0) return errno = EXDEV, unique_fd();
  return fd;
}


}  // namespace remora::vfs
