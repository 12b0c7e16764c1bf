// ZIP archive reader: apps and the server's own resources are ZIP files, read in place.
// The index (central directory) is read and validated once at open; entry data is read on
// demand from a file descriptor (pread) or from memory, inflated (deflate, zstd) with the
// declared size as a hard limit and the CRC-32 checked. Supported: stored, deflate, zstd
// (method 93), ZIP64, data descriptors, archives with data prepended (self-extracting style).
// Not supported: encryption, multi-disk archives, other methods (kept in the index; reading
// them fails with a clear error). An open archive is immutable: its const members may be
// called from several threads at once (each read uses its own decompressor and pread).
//
// Uses zlib and libzstd: a header-only product that includes this header links -lz -lzstd.
#pragma once
#include <remora/config.hpp>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace remora::zip {

// Compression methods (APPNOTE 4.4.5) this reader decompresses.
enum : std::uint16_t { stored = 0, deflated = 8, zstd = 93 };

// Hard limits against a hostile central directory (the first defence is that the central
// directory must fit inside the file, and every record in it is at least 46 bytes).
inline constexpr std::size_t max_entries = 1'000'000;
inline constexpr std::size_t max_name_bytes = 128u << 20;             // sum over all entries
inline constexpr std::uint64_t max_central_directory = 512u << 20;    // bytes
inline constexpr std::size_t max_warnings = 100;                      // then one summary line

struct entry {
  std::string name;  // '/'-separated bytes as in the archive (no charset conversion); directories end with '/'
  std::uint16_t method = 0;
  std::uint16_t flags = 0;  // general-purpose bit flags
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0, size = 0;
  std::uint64_t data_offset = 0;  // where the compressed bytes begin (local header resolved at open)
  // Seconds since the epoch. From the Info-ZIP extended timestamp field (UTC) when present,
  // otherwise the DOS date/time, which has no zone: it is taken as UTC (2-second resolution).
  std::time_t mtime = 0;
  bool is_dir() const noexcept { return !name.empty() && name.back() == '/'; }
  bool encrypted() const noexcept { return (flags & 1u) != 0; }
};

// Random access to the archive's bytes: a file (fd kept open, pread) or memory (e.g. a zip
// linked into the executable). The size is fixed when the source is made.
class source {
 public:
  virtual ~source() = default;
  virtual std::uint64_t size() const noexcept = 0;
  // Exactly n bytes at offset into out; false when the range is outside the source or I/O fails.
  virtual bool read_at(std::uint64_t offset, void* out, std::size_t n) const noexcept = 0;
  virtual int fd() const noexcept { return -1; }                           // for sendfile of stored entries
  virtual const unsigned char* data() const noexcept { return nullptr; }  // memory sources
};

// A regular file opened read-only (close-on-exec); nullptr and `error` naming the path on failure.
std::shared_ptr<source> file_source(const std::string& path, std::string& error);
// `data` is not owned: it must outlive the source and every archive and reader using it.
std::shared_ptr<source> memory_source(const void* data, std::size_t size);

// Why `name` may not be served from an archive, or nullptr when it is acceptable: empty, a
// NUL byte, a backslash, a leading '/', a drive letter ("C:"), or an empty, "." or ".."
// segment (a single trailing '/' marks a directory and is allowed).
const char* name_problem(std::string_view name) noexcept;

class archive {
 public:
  // Reads the end record (and the ZIP64 end record/locator when present) and the central
  // directory, validates every offset and size against the source size, resolves each local
  // header. nullptr + a clear error (naming what is wrong) for a truncated or corrupt
  // archive. Entries whose names fail name_problem() are skipped with a warning, as are
  // duplicates of an earlier name (the first wins).
  static std::unique_ptr<archive> open(std::shared_ptr<source> src, std::string& error);

  archive(const archive&) = delete;  // the indexes hold views into entries_
  archive& operator=(const archive&) = delete;

  // Exact entry name (no leading '/'; an explicit directory entry is found as "a/").
  const entry* find(std::string_view name) const noexcept;
  // Explicit "a/" entries and directories implied by file paths ("a/b/c.txt" implies "a" and
  // "a/b"); "" is the root. One trailing '/' on `name` is ignored.
  bool is_dir(std::string_view name) const noexcept;
  // Immediate children of directory `dir` ("" for the root; one trailing '/' ignored), in
  // byte order of name: f(name, is_dir, entry) where entry is nullptr for an implied
  // directory. Does nothing when `dir` is not a directory. A hostile archive can hold both a
  // file "a" and a directory "a/": both are listed.
  void list(std::string_view dir,
            const std::function<void(std::string_view name, bool is_dir, const entry*)>& f) const;

  // Decompressed contents into `out` (cleared first, and left empty on failure). Checks the
  // CRC-32; never trusts sizes: inflating stops with an error as soon as output would exceed
  // entry.size (a zip bomb), or when the stream ends short of it. `e` must come from this
  // archive (its offsets are still checked against the source).
  bool read(const entry& e, std::string& out, std::string& error) const;

  // Incremental reading for large entries, with the same checks: the size is a hard limit,
  // and the CRC-32 is verified before the last bytes are handed out, so a reader that
  // returned 0 delivered exactly the archived data. A reader keeps the source alive and
  // may outlive the archive.
  class reader {
   public:
    virtual ~reader() = default;
    // Up to n (> 0) bytes into out: the count, 0 at the end, -1 with `error` set on failure
    // (every later call fails the same way).
    virtual std::ptrdiff_t read(void* out, std::size_t n, std::string& error) = 0;
  };
  // nullptr + error for an encrypted entry, an unsupported method, or a stored entry whose
  // sizes disagree.
  std::unique_ptr<reader> open_reader(const entry& e, std::string& error) const;

  const std::vector<std::string>& warnings() const noexcept { return warnings_; }  // entries skipped and why
  std::size_t entry_count() const noexcept { return entries_.size(); }
  const std::vector<entry>& entries() const noexcept { return entries_; }  // central-directory order
  const source& src() const noexcept { return *src_; }
  const std::shared_ptr<source>& shared_src() const noexcept { return src_; }

 private:
  struct child {
    std::string_view name;  // last path segment, a view into an entry name
    std::uint32_t index;    // into entries_ for a file, into dirs_ for a directory
    bool is_dir;
  };
  struct dir_node {
    const entry* self = nullptr;  // the explicit "a/" entry, if any
    std::vector<child> children;  // sorted by (name, is_dir)
  };

  archive() = default;
  bool load(std::string& error);
  void index();
  void warn(std::string msg);
  const dir_node* find_dir(std::string_view path) const noexcept;

  std::shared_ptr<source> src_;
  std::vector<entry> entries_;
  std::unordered_map<std::string_view, std::uint32_t> files_;  // views into entries_ names
  std::vector<dir_node> dirs_;                                // [0] is the root
  std::vector<std::string> warnings_;
  std::size_t suppressed_warnings_ = 0;
};

}  // namespace remora::zip

#if REMORA_HEADER_ONLY
#  include <remora/zip/impl/archive.ipp>
#endif
