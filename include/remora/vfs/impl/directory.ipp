#pragma once
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>
#include <remora/vfs/directory.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <system_error>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

namespace remora::vfs {

REMORA_DECL void tree::insert(std::shared_ptr<directory> dir, std::string prefix, int priority) {
  if (prefix.empty() || prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  if (prefix.back() != '/') prefix.push_back('/');
  std::unique_lock lock(mutex_);
  mounts_.push_back(mount{std::move(prefix), priority, seq_++, std::move(dir)});
  std::stable_sort(mounts_.begin(), mounts_.end(), [](const mount& a, const mount& b) {
    if (a.prefix.size() != b.prefix.size()) return a.prefix.size() > b.prefix.size();
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.seq < b.seq;
  });
}

REMORA_DECL bool tree::remove(const directory* dir) {
  std::unique_lock lock(mutex_);
  auto n = mounts_.size();
  std::erase_if(mounts_, [dir](const mount& m) { return m.dir.get() == dir; });
  return n != mounts_.size();
}

REMORA_DECL std::size_t tree::size() const {
  std::shared_lock lock(mutex_);
  return mounts_.size();
}

REMORA_DECL bool tree::dispatch(const http::request& req, http::response& res) const {
  std::shared_lock lock(mutex_);
  const std::string& path = req.path;
  for (auto& m : mounts_) {
    if (path.size() + 1 == m.prefix.size() && m.prefix.compare(0, path.size(), path) == 0) {
      std::string loc = m.prefix;
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

REMORA_DECL unique_fd open_beneath(int dirfd, std::string_view rel, int flags) {
  std::string p(rel.empty() ? std::string_view(".") : rel);
  open_how how{};
  how.flags = std::uint64_t(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, p.c_str(), &how, sizeof how);
    if (fd >= 0) return unique_fd(int(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    return unique_fd();
  }
}

REMORA_DECL disk_reader::disk_reader(const std::string& root) : root_(root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), root);
  root_fd_ = unique_fd(fd);
}

namespace detail {
inline bool hidden(std::string_view rel) noexcept {
  // any segment that begins with '.'
  std::size_t i = 0;
  while (i < rel.size()) {
    if (rel[i] == '.') return true;
    auto s = rel.find('/', i);
    if (s == std::string_view::npos) break;
    i = s + 1;
  }
  return false;
}
inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace detail

REMORA_DECL bool disk_reader::service(const http::request& req, std::string_view rel, http::response& res) {
  if (detail::hidden(rel)) return false;
  unique_fd fd = open_beneath(root_fd_.get(), rel, O_RDONLY | O_NONBLOCK);
  if (!fd) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  std::string name(rel);
  if (S_ISDIR(st.st_mode)) {
    if (!rel.empty() && rel.back() != '/') {
      std::string loc = req.path + "/";
      if (!req.query.empty()) loc.append("?").append(req.query);
      res.redirect(302, loc);
      return true;
    }
    static constexpr std::string_view index_files[] = {"index.html", "index.htm", "index.lsp"};
    unique_fd idx;
    std::string_view found;
    for (auto f : index_files) {
      idx = open_beneath(fd.get(), f, O_RDONLY | O_NONBLOCK);
      if (idx) { found = f; break; }
    }
    if (!idx || found == "index.lsp") return false;  // LSP pages: the LSP layer's job
    if (::fstat(idx.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    fd = std::move(idx);
    name.append(found);
  } else if (!S_ISREG(st.st_mode)) {
    return false;
  }
  if (detail::ends_with(name, ".lsp") || detail::ends_with(name, ".shtml")) return false;
  if (!req.is_get_or_head()) {
    res.error_page(405);
    res.set_header("Allow", "GET, HEAD");
    return true;
  }

  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
                (unsigned long long)st.st_size);
  std::string last_modified = http::format_date(st.st_mtime);
  auto validators = [&] {
    res.set_header("ETag", etag);
    res.set_header("Last-Modified", last_modified);
  };

  auto inm = req.header("If-None-Match");
  bool not_modified = false;
  if (!inm.empty()) {
    not_modified = http::etag_matches(inm, etag);
  } else if (auto ims = req.header("If-Modified-Since"); !ims.empty()) {
    auto t = http::parse_date(ims);
    not_modified = t && st.st_mtime <= *t;
  }
  if (not_modified) {
    res.status = 304;
    validators();
    return true;
  }

  std::uint64_t size = std::uint64_t(st.st_size), first = 0, length = size;
  res.status = 200;
  res.set_header("Content-Type", http::mime_type(name));
  validators();
  res.set_header("Accept-Ranges", "bytes");
  if (auto range = req.header("Range"); !range.empty()) {
    auto if_range = req.header("If-Range");
    bool use = if_range.empty() || if_range == etag || if_range == last_modified;
    auto r = use ? http::parse_range(range, size) : http::byte_range{};
    if (r.kind == http::byte_range::unsatisfiable) {
      res.error_page(416);
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return true;
    }
    if (r.kind == http::byte_range::ok) {
      first = r.first;
      length = r.last - r.first + 1;
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(r.first) + "-" +
                                          std::to_string(r.last) + "/" + std::to_string(size));
    }
  }
  if (length <= inline_limit) {
    res.body.resize(length);
    std::uint64_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(fd.get(), res.body.data() + got, length - got, off_t(first + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += std::uint64_t(n);
    }
    if (got != length) {  // the file shrank under us
      res.error_page(500);
      return true;
    }
  } else {
    res.file = std::move(fd);
    res.file_offset = first;
    res.file_length = length;
  }
  return true;
}

}  // namespace remora::vfs
