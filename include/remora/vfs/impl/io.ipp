#pragma once
#include <remora/vfs/directory.hpp>
#include <remora/vfs/io.hpp>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <system_error>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remora::vfs {

REMORA_DECL const char* error_word(int e) noexcept {
  switch (e) {
    case ENOENT: case ENOTDIR: return "notfound";
    case EEXIST: return "exist";
    case EACCES: case EPERM: return "noaccess";
    case ENOTEMPTY: return "notempty";
    case ENOSPC: case EDQUOT: case EFBIG: return "nospace";
    case EROFS: return "readonly";
    case ENOMEM: return "mem";
    case ENAMETOOLONG: case EINVAL: case EXDEV: case ELOOP: return "invalidname";
    case EISDIR: return "isdir";
    default: return "ioerror";
  }
}

REMORA_DECL bool normalize(std::string_view name, std::string& out) {
  out.clear();
  std::vector<std::string_view> segs;
  std::size_t i = 0;
  while (i <= name.size()) {
    auto s = name.find('/', i);
    auto seg = name.substr(i, s == std::string_view::npos ? std::string_view::npos : s - i);
    if (seg.find('\0') != std::string_view::npos) return false;
    if (seg == "..") {
      if (segs.empty()) return false;
      segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    if (s == std::string_view::npos) break;
    i = s + 1;
  }
  for (std::size_t k = 0; k < segs.size(); ++k) {
    if (k) out.push_back('/');
    out.append(segs[k]);
  }
  return true;
}

namespace detail {
class disk_file final : public file {
 public:
  explicit disk_file(unique_fd fd) : fd_(std::move(fd)) {}
  std::ptrdiff_t read(void* out, std::size_t n, std::string& err) override {
    for (;;) {
      ssize_t r = ::read(fd_.get(), out, n);
      if (r >= 0) return r;
      if (errno == EINTR) continue;
      err = error_word(errno);
      return -1;
    }
  }
  bool write(const void* data, std::size_t n, std::string& err) override {
    auto* p = static_cast<const char*>(data);
    while (n) {
      ssize_t r = ::write(fd_.get(), p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        err = error_word(r < 0 ? errno : EIO);
        return false;
      }
      p += r;
      n -= std::size_t(r);
    }
    return true;
  }
  bool seek(std::uint64_t offset, std::string& err) override {
    if (::lseek(fd_.get(), off_t(offset), SEEK_SET) < 0) {
      err = error_word(errno);
      return false;
    }
    return true;
  }
  bool flush(std::string& err) override {
    if (::fsync(fd_.get()) != 0 && errno != EINVAL) {
      err = error_word(errno);
      return false;
    }
    return true;
  }
  std::uint64_t size() const override {
    struct stat st;
    return ::fstat(fd_.get(), &st) == 0 ? std::uint64_t(st.st_size) : 0;
  }

 private:
  unique_fd fd_;
};

inline file_info to_info(const struct stat& st) {
  file_info i;
  i.is_dir = S_ISDIR(st.st_mode);
  i.size = i.is_dir ? 0 : std::uint64_t(st.st_size);
  i.mtime = st.st_mtime;
  i.stamp = (std::uint64_t(st.st_ino) * 0x9E3779B97F4A7C15ull) ^
            (std::uint64_t(st.st_ctim.tv_sec) * 1000000000ull + std::uint64_t(st.st_ctim.tv_nsec));
  return i;
}
}  // namespace detail

REMORA_DECL disk_io::disk_io(const std::string& root) {
  char buf[PATH_MAX];
  if (!::realpath(root.c_str(), buf)) throw std::system_error(errno, std::generic_category(), root);
  root_ = buf;
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), root);
  root_fd_ = unique_fd(fd);
}

REMORA_DECL std::string disk_io::realpath(std::string_view name) const {
  std::string rel;
  if (!normalize(name, rel)) return {};
  if (rel.empty()) return root_ == "/" ? root_ : root_ + "/";
  return root_ == "/" ? "/" + rel : root_ + "/" + rel;
}

REMORA_DECL bool disk_io::stat(std::string_view name, file_info& info, std::string& err) const {
  std::string rel;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd fd = open_beneath(root_fd_.get(), rel, O_PATH);
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0) return err = error_word(errno), false;
  info = detail::to_info(st);
  return true;
}

REMORA_DECL std::unique_ptr<file> disk_io::open(std::string_view name, std::string_view mode, std::string& err) {
  std::string rel;
  if (!normalize(name, rel) || rel.empty()) return err = "invalidname", nullptr;
  int flags;
  bool plus = mode.find('+') != std::string_view::npos;
  switch (mode.empty() ? 'r' : mode.front()) {
    case 'r': flags = plus ? O_RDWR : O_RDONLY; break;
    case 'w': flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC; break;
    case 'a': flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND; break;
    default: return err = "invalidname", nullptr;
  }
  unique_fd fd;
  if (flags & O_CREAT) {
    std::string base;
    unique_fd dir = parent(rel, base, err);
    if (!dir) return nullptr;
    int f = ::openat(dir.get(), base.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0) return err = error_word(errno), nullptr;
    fd = unique_fd(f);
  } else {
    fd = open_beneath(root_fd_.get(), rel, flags);
    if (!fd) return err = error_word(errno), nullptr;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) return err = "isdir", nullptr;
  return std::make_unique<detail::disk_file>(std::move(fd));
}

REMORA_DECL bool disk_io::files(std::string_view name,
                                const std::function<void(std::string_view, const file_info&)>& f,
                                std::string& err) const {
  std::string rel;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd fd = open_beneath(root_fd_.get(), rel, O_RDONLY | O_DIRECTORY);
  if (!fd) return err = error_word(errno), false;
  int dfd = ::dup(fd.get());
  DIR* d = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
  if (!d) {
    if (dfd >= 0) ::close(dfd);
    return err = error_word(errno), false;
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(fd.get(), e->d_name, &st, 0) != 0) continue;  // vanished, or a dangling link
    f(n, detail::to_info(st));
  }
  ::closedir(d);
  return true;
}

REMORA_DECL unique_fd disk_io::parent(const std::string& rel, std::string& base, std::string& err) const {
  auto slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (base.empty()) return err = "invalidname", unique_fd();
  unique_fd fd = open_beneath(root_fd_.get(), dir, O_PATH | O_DIRECTORY);
  if (!fd) err = error_word(errno);
  return fd;
}

REMORA_DECL bool disk_io::mkdir(std::string_view name, std::string& err) {
  std::string rel, base;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd dir = parent(rel, base, err);
  if (!dir) return false;
  if (::mkdirat(dir.get(), base.c_str(), 0755) != 0) return err = error_word(errno), false;
  return true;
}

REMORA_DECL bool disk_io::rmdir(std::string_view name, std::string& err) {
  std::string rel, base;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd dir = parent(rel, base, err);
  if (!dir) return false;
  if (::unlinkat(dir.get(), base.c_str(), AT_REMOVEDIR) != 0) return err = error_word(errno), false;
  return true;
}

REMORA_DECL bool disk_io::remove(std::string_view name, std::string& err) {
  std::string rel, base;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd dir = parent(rel, base, err);
  if (!dir) return false;
  if (::unlinkat(dir.get(), base.c_str(), 0) != 0) return err = error_word(errno), false;
  return true;
}

REMORA_DECL bool disk_io::rename(std::string_view from, std::string_view to, std::string& err) {
  std::string a, b, base_a, base_b;
  if (!normalize(from, a) || !normalize(to, b)) return err = "invalidname", false;
  unique_fd da = parent(a, base_a, err);
  if (!da) return false;
  unique_fd db = parent(b, base_b, err);
  if (!db) return false;
  if (::renameat(da.get(), base_a.c_str(), db.get(), base_b.c_str()) != 0) return err = error_word(errno), false;
  return true;
}

REMORA_DECL bool disk_io::source(std::string_view name, send_source& out, std::string& err) const {
  std::string rel;
  if (!normalize(name, rel)) return err = "invalidname", false;
  unique_fd fd = open_beneath(root_fd_.get(), rel, O_RDONLY | O_NONBLOCK);
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0) return err = error_word(errno), false;
  if (!S_ISREG(st.st_mode)) return err = S_ISDIR(st.st_mode) ? "isdir" : "notfound", false;
  out.info = detail::to_info(st);
  out.fd = std::move(fd);
  out.offset = 0;
  out.length = out.info.size;
  return true;
}

REMORA_DECL prefix_io::prefix_io(std::shared_ptr<io> base, std::string prefix) : base_(std::move(base)) {
  normalize(prefix, prefix_);
}

REMORA_DECL bool prefix_io::map(std::string_view name, std::string& out) const {
  std::string rel;
  if (!normalize(name, rel)) return false;
  out = prefix_.empty() ? rel : rel.empty() ? prefix_ : prefix_ + "/" + rel;
  return true;
}

REMORA_DECL std::string prefix_io::realpath(std::string_view name) const {
  std::string p;
  return map(name, p) ? base_->realpath(p) : std::string();
}
REMORA_DECL bool prefix_io::stat(std::string_view name, file_info& info, std::string& err) const {
  std::string p;
  return map(name, p) ? base_->stat(p, info, err) : (err = "invalidname", false);
}
REMORA_DECL std::unique_ptr<file> prefix_io::open(std::string_view name, std::string_view mode, std::string& err) {
  std::string p;
  return map(name, p) ? base_->open(p, mode, err) : (err = "invalidname", nullptr);
}
REMORA_DECL bool prefix_io::files(std::string_view name,
                                  const std::function<void(std::string_view, const file_info&)>& f,
                                  std::string& err) const {
  std::string p;
  return map(name, p) ? base_->files(p, f, err) : (err = "invalidname", false);
}
REMORA_DECL bool prefix_io::mkdir(std::string_view name, std::string& err) {
  std::string p;
  return map(name, p) ? base_->mkdir(p, err) : (err = "invalidname", false);
}
REMORA_DECL bool prefix_io::rmdir(std::string_view name, std::string& err) {
  std::string p;
  return map(name, p) ? base_->rmdir(p, err) : (err = "invalidname", false);
}
REMORA_DECL bool prefix_io::remove(std::string_view name, std::string& err) {
  std::string p;
  return map(name, p) ? base_->remove(p, err) : (err = "invalidname", false);
}
REMORA_DECL bool prefix_io::rename(std::string_view from, std::string_view to, std::string& err) {
  std::string a, b;
  return map(from, a) && map(to, b) ? base_->rename(a, b, err) : (err = "invalidname", false);
}
REMORA_DECL bool prefix_io::source(std::string_view name, send_source& out, std::string& err) const {
  std::string p;
  return map(name, p) ? base_->source(p, out, err) : (err = "invalidname", false);
}

}  // namespace remora::vfs
