// IO interfaces: the run-time (non-template) file systems that apps, the resource reader and
// Lua's IO objects see. Names are '/'-separated and relative to the IO's root; a leading '/'
// is ignored, "." and ".." are resolved and can never climb above the root.
//
// Errors are the short words BAS uses and Lua apps compare against: "notfound", "exist",
// "noaccess", "notempty", "nospace", "ioerror", "invalidname", "readonly", "mem", "notsupported".
#pragma once
#include <remora/config.hpp>
#include <remora/http/message.hpp>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace remora::vfs {

struct file_info {
  bool is_dir = false;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
  // Changes whenever the file does, at finer grain than mtime (disk: inode and ctime in ns);
  // 0 where the IO cannot change (ZIP).
  std::uint64_t stamp = 0;
};

// An open file. read() returns the bytes read (0 at the end) or -1 with `err`.
class file {
 public:
  virtual ~file() = default;
  virtual std::ptrdiff_t read(void* out, std::size_t n, std::string& err) = 0;
  virtual bool write(const void* data, std::size_t n, std::string& err) = 0;
  virtual bool seek(std::uint64_t offset, std::string& err) = 0;
  virtual bool flush(std::string& err) = 0;
  virtual std::uint64_t size() const = 0;
};

// What the resource reader needs to send a file without reading it into memory. Exactly one
// of `fd` (bytes [offset, offset+length) of a file), `memory` (a span that lives as long as
// the IO) or `text` (already read) is set. `deflated` means the bytes are a raw deflate stream
// of a `size`-byte file whose CRC-32 is `crc32` (a ZIP entry): a gzip client gets them as is.
struct send_source {
  unique_fd fd;
  const unsigned char* memory = nullptr;
  std::string text;
  std::uint64_t offset = 0, length = 0;
  bool deflated = false;
  std::uint32_t crc32 = 0;
  file_info info;
};

class io {
 public:
  virtual ~io() = default;
  // ("disk", "POSIX"), ("zip", "zip"), ("net", "")
  virtual std::pair<std::string, std::string> resourcetype() const = 0;
  // The absolute path on disk of `name`, or empty when the IO has none (zip, net).
  virtual std::string realpath(std::string_view name) const = 0;
  virtual bool stat(std::string_view name, file_info& info, std::string& err) const = 0;
  // mode: "r" (default), "w" (create/truncate), "a" (append), "r+" (read/write)
  virtual std::unique_ptr<file> open(std::string_view name, std::string_view mode, std::string& err) = 0;
  // Immediate children of directory `name`; false with `err` when it is not a directory.
  virtual bool files(std::string_view name,
                     const std::function<void(std::string_view child, const file_info&)>& f,
                     std::string& err) const = 0;
  virtual bool mkdir(std::string_view name, std::string& err) = 0;
  virtual bool rmdir(std::string_view name, std::string& err) = 0;
  virtual bool remove(std::string_view name, std::string& err) = 0;
  virtual bool rename(std::string_view from, std::string_view to, std::string& err) = 0;
  // The fast path for serving `name` (a regular file): see send_source.
  virtual bool source(std::string_view name, send_source& out, std::string& err) const = 0;
};

// Resolves `name` against a root: strips leading '/', drops "." and empty segments, applies
// ".."; false when ".." would climb above the root or the name holds a NUL byte.
bool normalize(std::string_view name, std::string& out);

// A directory tree on disk. Every lookup stays beneath the root (openat2 RESOLVE_BENEATH),
// symlinks included. Throws std::system_error when the root cannot be opened.
class disk_io final : public io {
 public:
  explicit disk_io(const std::string& root);
  std::pair<std::string, std::string> resourcetype() const override { return {"disk", "POSIX"}; }
  std::string realpath(std::string_view name) const override;
  bool stat(std::string_view name, file_info& info, std::string& err) const override;
  std::unique_ptr<file> open(std::string_view name, std::string_view mode, std::string& err) override;
  bool files(std::string_view name, const std::function<void(std::string_view, const file_info&)>& f,
             std::string& err) const override;
  bool mkdir(std::string_view name, std::string& err) override;
  bool rmdir(std::string_view name, std::string& err) override;
  bool remove(std::string_view name, std::string& err) override;
  bool rename(std::string_view from, std::string_view to, std::string& err) override;
  bool source(std::string_view name, send_source& out, std::string& err) const override;
  const std::string& root() const noexcept { return root_; }
  int root_fd() const noexcept { return root_fd_.get(); }

 private:
  // Opens the parent directory of `rel` beneath the root; `base` gets the last segment.
  unique_fd parent(const std::string& rel, std::string& base, std::string& err) const;
  std::string root_;  // absolute, ends without '/' (except "/")
  unique_fd root_fd_;
};

// An IO for the subtree `prefix` of another IO (an app inside the resource zip).
class prefix_io final : public io {
 public:
  prefix_io(std::shared_ptr<io> base, std::string prefix);
  std::pair<std::string, std::string> resourcetype() const override { return base_->resourcetype(); }
  std::string realpath(std::string_view name) const override;
  bool stat(std::string_view name, file_info& info, std::string& err) const override;
  std::unique_ptr<file> open(std::string_view name, std::string_view mode, std::string& err) override;
  bool files(std::string_view name, const std::function<void(std::string_view, const file_info&)>& f,
             std::string& err) const override;
  bool mkdir(std::string_view name, std::string& err) override;
  bool rmdir(std::string_view name, std::string& err) override;
  bool remove(std::string_view name, std::string& err) override;
  bool rename(std::string_view from, std::string_view to, std::string& err) override;
  bool source(std::string_view name, send_source& out, std::string& err) const override;

 private:
  bool map(std::string_view name, std::string& out) const;
  std::shared_ptr<io> base_;
  std::string prefix_;  // normalized, no trailing '/'
};

// The BAS error word for an errno value.
const char* error_word(int errnum) noexcept;

}  // namespace remora::vfs

#if REMORA_HEADER_ONLY
#  include <remora/vfs/impl/io.ipp>
#endif
