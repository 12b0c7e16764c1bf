#pragma once
#include <remora/zip/archive.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

namespace remora::zip {

namespace detail {

// Record signatures and fixed sizes (APPNOTE 4.3).
inline constexpr std::uint32_t sig_local = 0x04034b50, sig_central = 0x02014b50, sig_end = 0x06054b50,
                               sig_end64 = 0x06064b50, sig_locator64 = 0x07064b50;
inline constexpr std::size_t local_size = 30, central_size = 46, end_size = 22, end64_size = 56,
                             locator64_size = 20;

inline std::uint16_t le16(const unsigned char* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t le64(const unsigned char* p) noexcept {
  return static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
}

// [offset, offset + n) lies inside [0, limit), without overflow.
inline bool fits(std::uint64_t offset, std::uint64_t n, std::uint64_t limit) noexcept {
  return offset <= limit && n <= limit - offset;
}

// Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles of
// 146097 days, the year taken to start in March so the leap day is the last of it).
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// MS-DOS date and time fields, read as UTC; 0 for an impossible date.
inline std::time_t dos_to_time(std::uint16_t time, std::uint16_t date) noexcept {
  const unsigned day = date & 31u, month = (date >> 5) & 15u, year = 1980u + (date >> 9);
  const unsigned sec = (time & 31u) * 2, min = (time >> 5) & 63u, hour = time >> 11;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59) return 0;
  return static_cast<std::time_t>(days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec);
}

// The name as printable ASCII for messages (other bytes as \xNN), cut at 200 bytes.
inline std::string printable(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 200) out += "...";
  out += '"';
  return out;
}

class fd_source final : public source {
 public:
  fd_source(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  ~fd_source() override { ::close(fd_); }
  fd_source(const fd_source&) = delete;
  fd_source& operator=(const fd_source&) = delete;

  std::uint64_t size() const noexcept override { return size_; }
  int fd() const noexcept override { return fd_; }
  bool read_at(std::uint64_t offset, void* out, std::size_t n) const noexcept override {
    if (!fits(offset, n, size_)) return false;
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
      const ::ssize_t r = ::pread(fd_, p, n, static_cast<::off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;  // an error, or the file shrank under us
      p += r;
      n -= static_cast<std::size_t>(r);
      offset += static_cast<std::uint64_t>(r);
    }
    return true;
  }

 private:
  int fd_;
  std::uint64_t size_;
};

class mem_source final : public source {
 public:
  mem_source(const void* data, std::size_t size) noexcept
      : data_(static_cast<const unsigned char*>(data)), size_(size) {}
  std::uint64_t size() const noexcept override { return size_; }
  const unsigned char* data() const noexcept override { return data_; }
  bool read_at(std::uint64_t offset, void* out, std::size_t n) const noexcept override {
    if (!fits(offset, n, size_)) return false;
    if (n > 0) std::memcpy(out, data_ + offset, n);
    return true;
  }

 private:
  const unsigned char* data_;
  std::size_t size_;
};

// Decompresses one entry. Compressed input comes straight from memory sources, or through
// buf_ from files. The declared size bounds every output buffer handed to the decompressor;
// once it is reached, one more byte is asked for (into a scratch byte) to prove the stream
// really ends there.
class entry_reader final : public archive::reader {
 public:
  entry_reader(std::shared_ptr<source> src, const entry& e)
      : src_(std::move(src)), name_(e.name), method_(e.method), expected_crc_(e.crc32),
        size_(e.size), in_pos_(e.data_offset), in_left_(e.compressed_size) {}

  ~entry_reader() override {
    if (zs_live_) ::inflateEnd(&zs_);
    if (zd_ != nullptr) ::ZSTD_freeDCtx(zd_);
  }
  entry_reader(const entry_reader&) = delete;
  entry_reader& operator=(const entry_reader&) = delete;

  bool init(std::string& error) {
    if (method_ == deflated) {
      if (::inflateInit2(&zs_, -15) != Z_OK) return fail_init("cannot initialise zlib", error);
      zs_live_ = true;
    } else if (method_ == zstd) {
      zd_ = ::ZSTD_createDCtx();
      if (zd_ == nullptr) return fail_init("cannot initialise zstd", error);
    }
    if (src_->data() == nullptr && method_ != stored)
      buf_.reset(new unsigned char[chunk]);
    return true;
  }

  std::ptrdiff_t read(void* out, std::size_t n, std::string& error) override {
    if (failed_) return report(error);
    if (done_ || n == 0) return 0;
    std::size_t got = 0;
    if (produced_ < size_) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - produced_));
      const std::ptrdiff_t k = step(static_cast<unsigned char*>(out), want);
      if (k < 0) return report(error);
      if (k == 0) {
        fail("data of " + printable(name_) + " ends after " + std::to_string(produced_) +
             " of its declared " + std::to_string(size_) + " bytes");
        return report(error);
      }
      got = static_cast<std::size_t>(k);
      crc_ = ::crc32_z(crc_, static_cast<const unsigned char*>(out), got);
      produced_ += got;
    }
    if (produced_ == size_) {
      if (!finish()) return report(error);
      done_ = true;
    }
    return static_cast<std::ptrdiff_t>(got);
  }

 private:
  static constexpr std::size_t chunk = 64 * 1024;
  static constexpr std::size_t max_mem_chunk = 1u << 30;  // zlib counts input in 32 bits

  bool fail_init(const char* what, std::string& error) {
    error = std::string(what) + " for " + printable(name_);
    return false;
  }
  void fail(std::string msg) {
    failed_ = true;
    error_ = std::move(msg);
  }
  std::ptrdiff_t report(std::string& error) const {
    error = error_;
    return -1;
  }

  // The next piece of compressed input; false (with the reader failed) on an I/O error.
  bool next_input(const unsigned char*& p, std::size_t& n) {
    if (const unsigned char* base = src_->data()) {
      n = static_cast<std::size_t>(std::min<std::uint64_t>(in_left_, max_mem_chunk));
      p = base + in_pos_;
    } else {
      n = static_cast<std::size_t>(std::min<std::uint64_t>(in_left_, chunk));
      if (!src_->read_at(in_pos_, buf_.get(), n)) {
        fail("read error in the data of " + printable(name_));
        return false;
      }
      p = buf_.get();
    }
    in_pos_ += n;
    in_left_ -= n;
    return true;
  }

  // Up to `want` (> 0) bytes of output: the count, 0 when the compressed stream ended, -1 on
  // failure.
  std::ptrdiff_t step(unsigned char* out, std::size_t want) {
    switch (method_) {
      case stored: return step_stored(out, want);
      case deflated: return step_inflate(out, want);
      default: return step_zstd(out, want);
    }
  }

  std::ptrdiff_t step_stored(unsigned char* out, std::size_t want) {
    // open_reader checked compressed_size == size, so the input never runs out first.
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(want, in_left_));
    if (n == 0) return 0;
    if (!src_->read_at(in_pos_, out, n)) {
      fail("read error in the data of " + printable(name_));
      return -1;
    }
    in_pos_ += n;
    in_left_ -= n;
    return static_cast<std::ptrdiff_t>(n);
  }

  std::ptrdiff_t step_inflate(unsigned char* out, std::size_t want) {
    if (ended_) return 0;
    const auto limit = static_cast<uInt>(std::min<std::size_t>(want, max_mem_chunk));
    zs_.next_out = out;
    zs_.avail_out = limit;
    for (;;) {
      if (zs_.avail_in == 0 && in_left_ > 0) {
        const unsigned char* p = nullptr;
        std::size_t n = 0;
        if (!next_input(p, n)) return -1;
        zs_.next_in = const_cast<Bytef*>(p);  // zlib's API is not const-correct; it never writes input
        zs_.avail_in = static_cast<uInt>(n);
      }
      const uInt in_before = zs_.avail_in, out_before = zs_.avail_out;
      const int rc = ::inflate(&zs_, Z_NO_FLUSH);
      const std::size_t got = limit - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
        return static_cast<std::ptrdiff_t>(got);
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail("corrupt deflate data in " + printable(name_) + (zs_.msg ? std::string(": ") + zs_.msg : ""));
        return -1;
      }
      if (got > 0) return static_cast<std::ptrdiff_t>(got);
      // After a refill, input and output space are both available: no progress means the
      // input is exhausted (truncated data), or (defensively) a stall.
      if (zs_.avail_in == in_before && zs_.avail_out == out_before) {
        fail("deflate data of " + printable(name_) +
             (zs_.avail_in == 0 && in_left_ == 0 ? " is truncated" : " cannot be decoded"));
        return -1;
      }
    }
  }

  std::ptrdiff_t step_zstd(unsigned char* out, std::size_t want) {
    if (ended_) return 0;
    ZSTD_outBuffer ob{out, want, 0};
    for (;;) {
      if (zin_.pos == zin_.size && in_left_ > 0) {
        const unsigned char* p = nullptr;
        std::size_t n = 0;
        if (!next_input(p, n)) return -1;
        zin_ = ZSTD_inBuffer{p, n, 0};
      }
      // The stream ends where the input does, provided a frame has just been completed.
      const bool input_done = zin_.pos == zin_.size && in_left_ == 0;
      if (input_done && frame_complete_) {
        ended_ = true;
        return 0;
      }
      const std::size_t in_before = zin_.pos;
      const std::size_t r = ::ZSTD_decompressStream(zd_, &ob, &zin_);
      if (::ZSTD_isError(r)) {
        fail("corrupt zstd data in " + printable(name_) + ": " + ::ZSTD_getErrorName(r));
        return -1;
      }
      // r == 0: a frame is complete and everything it decoded has been flushed.
      frame_complete_ = r == 0;
      if (ob.pos > 0) return static_cast<std::ptrdiff_t>(ob.pos);
      if (frame_complete_ && zin_.pos == zin_.size && in_left_ == 0) {
        ended_ = true;
        return 0;
      }
      if (zin_.pos == in_before) {
        fail("zstd data of " + printable(name_) + (input_done ? " is truncated" : " cannot be decoded"));
        return -1;
      }
    }
  }

  // Called once the declared size has been produced: the stream must end here and the CRC
  // must match.
  bool finish() {
    if (method_ != stored) {
      unsigned char extra = 0;
      const std::ptrdiff_t k = step(&extra, 1);
      if (k < 0) return false;
      if (k > 0) {
        fail(printable(name_) + " inflates to more than its declared size of " + std::to_string(size_) +
             " bytes (corrupt, or a zip bomb)");
        return false;
      }
    }
    if (crc_ != expected_crc_) {
      fail("CRC-32 mismatch in " + printable(name_) + " (corrupt data)");
      return false;
    }
    return true;
  }

  std::shared_ptr<source> src_;
  std::string name_;
  std::uint16_t method_;
  std::uint32_t expected_crc_;
  std::uint64_t size_, in_pos_, in_left_;
  std::uint64_t produced_ = 0;
  unsigned long crc_ = 0;  // zlib's running CRC type (uLong)
  bool ended_ = false, done_ = false, failed_ = false;
  std::string error_;
  std::unique_ptr<unsigned char[]> buf_;
  z_stream zs_{};
  bool zs_live_ = false;
  ZSTD_DCtx* zd_ = nullptr;
  ZSTD_inBuffer zin_{nullptr, 0, 0};
  bool frame_complete_ = false;  // the last ZSTD_decompressStream call finished a frame
};

// Key of the directory tree while it is built: (parent directory, last segment).
struct dir_key {
  std::uint32_t parent;
  std::string_view leaf;
  bool operator==(const dir_key&) const noexcept = default;
};
struct dir_key_hash {
  std::size_t operator()(const dir_key& k) const noexcept {
    return std::hash<std::string_view>()(k.leaf) ^ (static_cast<std::size_t>(k.parent) * 0x9e3779b97f4a7c15ull);
  }
};

}  // namespace detail

REMORA_DECL std::shared_ptr<source> file_source(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct ::stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = path + " is not a regular file";
    ::close(fd);
    return nullptr;
  }
  return std::make_shared<detail::fd_source>(fd, static_cast<std::uint64_t>(st.st_size));
}

REMORA_DECL std::shared_ptr<source> memory_source(const void* data, std::size_t size) {
  return std::make_shared<detail::mem_source>(data, size);
}

REMORA_DECL const char* name_problem(std::string_view name) noexcept {
  if (name.empty()) return "empty name";
  if (name.find('\0') != std::string_view::npos) return "NUL byte in the name";
  if (name.find('\\') != std::string_view::npos) return "backslash in the name";
  if (name.front() == '/') return "absolute path";
  const auto c0 = static_cast<unsigned char>(name[0]);
  if (name.size() >= 2 && name[1] == ':' && ((c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z'))
    return "drive letter";
  std::string_view rest = name;
  if (rest.back() == '/') rest.remove_suffix(1);  // a directory entry
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return "empty path segment";
    if (seg == ".") return "'.' path segment";
    if (seg == "..") return "'..' path segment";
    if (slash == std::string_view::npos) return nullptr;
    rest.remove_prefix(slash + 1);
  }
}

REMORA_DECL std::unique_ptr<archive> archive::open(std::shared_ptr<source> src, std::string& error) {
  if (!src) {
    error = "no source";
    return nullptr;
  }
  std::unique_ptr<archive> a(new archive());
  a->src_ = std::move(src);
  if (!a->load(error)) return nullptr;
  a->index();
  return a;
}

REMORA_DECL void archive::warn(std::string msg) {
  if (warnings_.size() < max_warnings) {
    warnings_.push_back(std::move(msg));
    return;
  }
  ++suppressed_warnings_;
  const std::string summary = "... and " + std::to_string(suppressed_warnings_) + " more entries skipped";
  if (warnings_.size() == max_warnings) warnings_.push_back(summary);
  else warnings_.back() = summary;
}

REMORA_DECL bool archive::load(std::string& error) {
  using namespace detail;
  const source& s = *src_;
  const std::uint64_t fsize = s.size();

  // ---- end of central directory record: the last signature that fits, preferring one whose
  // comment runs exactly to the end of the source -------------------------------------------
  if (fsize < end_size) {
    error = "not a ZIP archive: too short for an end-of-central-directory record";
    return false;
  }
  const std::size_t tail_len = static_cast<std::size_t>(std::min<std::uint64_t>(fsize, end_size + 0xffff));
  std::vector<unsigned char> tail(tail_len);
  const std::uint64_t tail_start = fsize - tail_len;
  if (!s.read_at(tail_start, tail.data(), tail_len)) {
    error = "read error at the end of the archive";
    return false;
  }
  std::size_t found = tail_len;  // none
  for (std::size_t i = tail_len - end_size + 1; i-- > 0;) {
    if (le32(&tail[i]) != sig_end) continue;
    const std::size_t comment = le16(&tail[i + 20]);
    if (i + end_size + comment == tail_len) {
      found = i;
      break;
    }
    if (found == tail_len && i + end_size + comment <= tail_len) found = i;  // remember the last that fits
  }
  if (found == tail_len) {
    error = "not a ZIP archive, or truncated: no end-of-central-directory record";
    return false;
  }
  const unsigned char* eocd = &tail[found];
  const std::uint64_t eocd_pos = tail_start + found;
  std::uint64_t disk = le16(eocd + 4), cd_disk = le16(eocd + 6), disk_entries = le16(eocd + 8),
                total = le16(eocd + 10), cd_size = le32(eocd + 12), cd_offset = le32(eocd + 16);
  std::uint64_t cd_end = eocd_pos;  // where the central directory is expected to stop

  // ---- ZIP64: a locator right before the end record points at the ZIP64 end record --------
  if (eocd_pos >= locator64_size) {
    unsigned char loc[locator64_size];
    if (s.read_at(eocd_pos - locator64_size, loc, sizeof loc) && le32(loc) == sig_locator64) {
      const std::uint64_t loc_pos = eocd_pos - locator64_size;
      if (le32(loc + 4) != 0 || le32(loc + 16) > 1) {
        error = "multi-disk (spanned) archives are not supported";
        return false;
      }
      unsigned char e64[end64_size];
      std::uint64_t e64_pos = le64(loc + 8);
      auto read_end64 = [&](std::uint64_t pos) {
        return fits(pos, end64_size, loc_pos) && s.read_at(pos, e64, sizeof e64) && le32(e64) == sig_end64;
      };
      // With data prepended to the archive, the stated offset is off by the prefix length;
      // the record then sits right before the locator (when it has no extensible data).
      if (!read_end64(e64_pos)) {
        if (loc_pos < end64_size || !read_end64(loc_pos - end64_size)) {
          error = "corrupt archive: the ZIP64 end-of-central-directory locator points at no ZIP64 end record";
          return false;
        }
        e64_pos = loc_pos - end64_size;
      }
      disk = le32(e64 + 16);
      cd_disk = le32(e64 + 20);
      disk_entries = le64(e64 + 24);
      total = le64(e64 + 32);
      cd_size = le64(e64 + 40);
      cd_offset = le64(e64 + 48);
      cd_end = e64_pos;
    }
  }
  if (disk != 0 || cd_disk != 0 || disk_entries != total) {
    error = "multi-disk (spanned) archives are not supported";
    return false;
  }
  if (total > max_entries) {
    error = "archive declares " + std::to_string(total) + " entries; the limit is " + std::to_string(max_entries);
    return false;
  }
  if (cd_size > max_central_directory) {
    error = "central directory of " + std::to_string(cd_size) + " bytes is larger than the limit of " +
            std::to_string(max_central_directory);
    return false;
  }
  if (total * central_size > cd_size) {
    error = "corrupt archive: " + std::to_string(total) + " entries cannot fit in a central directory of " +
            std::to_string(cd_size) + " bytes";
    return false;
  }
  if (cd_size > cd_end) {
    error = "corrupt archive: central directory size " + std::to_string(cd_size) + " exceeds its space";
    return false;
  }

  // ---- where the central directory really is: at cd_offset, or (with data prepended to the
  // archive) right before the end record, every stated offset then shifted by `base` --------
  std::uint64_t base = 0;
  auto central_sig_at = [&](std::uint64_t pos) {
    unsigned char b[4];
    return fits(pos, 4, cd_end) && s.read_at(pos, b, 4) && le32(b) == sig_central;
  };
  if (total > 0 && !central_sig_at(cd_offset)) {
    const std::uint64_t actual = cd_end - cd_size;
    if (actual > cd_offset && central_sig_at(actual)) {
      base = actual - cd_offset;
    } else {
      error = "corrupt archive: no central directory at offset " + std::to_string(cd_offset);
      return false;
    }
  }
  const std::uint64_t cd_start = cd_offset + base;
  if (!fits(cd_start, cd_size, cd_end)) {
    error = "corrupt archive: central directory (offset " + std::to_string(cd_offset) + ", " +
            std::to_string(cd_size) + " bytes) extends past its end record";
    return false;
  }

  std::vector<unsigned char> cd_buf;
  const unsigned char* cd = nullptr;
  if (s.data() != nullptr) {
    cd = s.data() + cd_start;
  } else {
    cd_buf.resize(static_cast<std::size_t>(cd_size));
    if (cd_size > 0 && !s.read_at(cd_start, cd_buf.data(), cd_buf.size())) {
      error = "read error in the central directory";
      return false;
    }
    cd = cd_buf.data();
  }

  // ---- central directory records ----------------------------------------------------------
  entries_.reserve(static_cast<std::size_t>(total));
  std::size_t name_bytes = 0;
  std::uint64_t pos = 0;
  std::vector<unsigned char> local(local_size + 0xffff);
  for (std::uint64_t i = 0; i < total; ++i) {
    if (!fits(pos, central_size, cd_size) || le32(cd + pos) != sig_central) {
      error = "corrupt archive: central directory entry " + std::to_string(i) + " is missing or truncated";
      return false;
    }
    const unsigned char* h = cd + pos;
    const std::size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    const std::uint64_t rec = central_size + name_len + extra_len + comment_len;
    if (!fits(pos, rec, cd_size)) {
      error = "corrupt archive: central directory entry " + std::to_string(i) +
              " runs past the end of the central directory";
      return false;
    }
    name_bytes += name_len;
    if (name_bytes > max_name_bytes) {
      error = "entry names exceed the limit of " + std::to_string(max_name_bytes) + " bytes in total";
      return false;
    }
    entry e;
    e.name.assign(reinterpret_cast<const char*>(h + central_size), name_len);
    e.flags = le16(h + 8);
    e.method = le16(h + 10);
    e.mtime = dos_to_time(le16(h + 12), le16(h + 14));
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.size = le32(h + 24);
    std::uint64_t local_off = le32(h + 42);
    const std::uint32_t start_disk = le16(h + 34);

    // Extra fields: ZIP64 sizes/offset (only those whose 32-bit field is all ones, in this
    // order) and the Info-ZIP extended timestamp (UTC mtime). A malformed list ends parsing.
    const unsigned char* x = h + central_size + name_len;
    for (std::size_t xp = 0; xp + 4 <= extra_len;) {
      const std::uint16_t id = le16(x + xp), len = le16(x + xp + 2);
      if (xp + 4 + len > extra_len) break;
      const unsigned char* d = x + xp + 4;
      if (id == 0x0001) {
        std::size_t dp = 0;
        bool ok = true;
        auto take = [&](std::uint64_t& v) {
          if (dp + 8 > len) return void(ok = false);
          v = le64(d + dp);
          dp += 8;
        };
        if (e.size == 0xffffffffu) take(e.size);
        if (e.compressed_size == 0xffffffffu) take(e.compressed_size);
        if (local_off == 0xffffffffu) take(local_off);
        if (!ok) {
          error = "corrupt archive: the ZIP64 extra field of " + printable(e.name) + " is too short";
          return false;
        }
      } else if (id == 0x5455 && len >= 5 && (d[0] & 1u)) {
        e.mtime = static_cast<std::time_t>(static_cast<std::int32_t>(le32(d + 1)));
      }
      xp += 4 + std::size_t{len};
    }
    // A value of all ones without a ZIP64 field is taken literally; the checks below reject
    // it unless it happens to be right.
    pos += rec;

    if (const char* why = name_problem(e.name)) {
      warn("skipped entry " + printable(e.name) + ": " + why);
      continue;
    }
    if (start_disk != 0 && start_disk != 0xffff) {
      error = "multi-disk (spanned) archives are not supported (" + printable(e.name) + ")";
      return false;
    }

    // Local header: only its name and extra lengths matter (sizes come from the central
    // directory, so data descriptors need no special handling), but it must be there and
    // carry the same name.
    const std::uint64_t lh = local_off + base;
    if (!fits(lh, local_size + name_len, cd_start) || !s.read_at(lh, local.data(), local_size + name_len) ||
        le32(local.data()) != sig_local) {
      error = "corrupt archive: the local header of " + printable(e.name) + " (offset " +
              std::to_string(local_off) + ") is missing or truncated";
      return false;
    }
    const std::size_t lname = le16(&local[26]), lextra = le16(&local[28]);
    if (lname != name_len || std::memcmp(&local[local_size], e.name.data(), name_len) != 0) {
      error = "corrupt archive: the local header of " + printable(e.name) + " names a different file";
      return false;
    }
    e.data_offset = lh + local_size + lname + lextra;
    if (!fits(e.data_offset, e.compressed_size, cd_start)) {
      error = "corrupt archive: the data of " + printable(e.name) + " (" + std::to_string(e.compressed_size) +
              " bytes) extends into the central directory or past the end of the file";
      return false;
    }
    entries_.push_back(std::move(e));
  }
  return true;
}

REMORA_DECL void archive::index() {
  using detail::dir_key;
  // Names: the first of duplicates wins. Views into entries_ are only taken once it is final.
  files_.reserve(entries_.size());
  std::vector<bool> dup(entries_.size(), false);
  std::size_t dups = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (!files_.try_emplace(std::string_view(entries_[i].name), static_cast<std::uint32_t>(i)).second) {
      dup[i] = true;
      ++dups;
      warn("skipped entry " + detail::printable(entries_[i].name) + ": duplicate name (the first one wins)");
    }
  }
  if (dups > 0) {
    std::vector<entry> kept;
    kept.reserve(entries_.size() - dups);
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (!dup[i]) kept.push_back(std::move(entries_[i]));
    entries_ = std::move(kept);
    files_.clear();
    for (std::size_t i = 0; i < entries_.size(); ++i)
      files_.emplace(std::string_view(entries_[i].name), static_cast<std::uint32_t>(i));
  }

  // Directory tree: one node per directory, keyed while building by (parent, segment), so
  // memory stays proportional to the names however deep they nest.
  dirs_.assign(1, dir_node{});
  std::unordered_map<dir_key, std::uint32_t, detail::dir_key_hash> lookup;
  auto subdir = [&](std::uint32_t parent, std::string_view leaf) -> std::uint32_t {
    auto [it, inserted] = lookup.try_emplace(dir_key{parent, leaf}, static_cast<std::uint32_t>(dirs_.size()));
    if (inserted) {
      dirs_.emplace_back();
      dirs_[parent].children.push_back(child{leaf, it->second, true});
    }
    return it->second;
  };
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    std::string_view path = entries_[i].name;
    const bool dir = entries_[i].is_dir();
    if (dir) path.remove_suffix(1);
    std::uint32_t node = 0;
    for (std::size_t slash; (slash = path.find('/')) != std::string_view::npos;) {
      node = subdir(node, path.substr(0, slash));
      path.remove_prefix(slash + 1);
    }
    if (dir) {
      dir_node& d = dirs_[subdir(node, path)];
      if (d.self == nullptr) d.self = &entries_[i];
    } else {
      dirs_[node].children.push_back(child{path, static_cast<std::uint32_t>(i), false});
    }
  }
  for (dir_node& d : dirs_)
    std::sort(d.children.begin(), d.children.end(), [](const child& a, const child& b) {
      return a.name != b.name ? a.name < b.name : a.is_dir < b.is_dir;
    });
}

REMORA_DECL const archive::dir_node* archive::find_dir(std::string_view path) const noexcept {
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (dirs_.empty()) return nullptr;
  const dir_node* node = &dirs_[0];
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    auto it = std::lower_bound(node->children.begin(), node->children.end(), seg, [](const child& c, std::string_view s) {
      return c.name != s ? c.name < s : !c.is_dir;  // (s, dir) sorts after (s, file)
    });
    if (it == node->children.end() || it->name != seg || !it->is_dir) return nullptr;
    node = &dirs_[it->index];
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return nullptr;  // "a//" or a second trailing '/'
  }
  return node;
}

REMORA_DECL const entry* archive::find(std::string_view name) const noexcept {
  const auto it = files_.find(name);
  return it == files_.end() ? nullptr : &entries_[it->second];
}

REMORA_DECL bool archive::is_dir(std::string_view name) const noexcept { return find_dir(name) != nullptr; }

REMORA_DECL void archive::list(std::string_view dir,
                               const std::function<void(std::string_view, bool, const entry*)>& f) const {
  const dir_node* node = find_dir(dir);
  if (node == nullptr) return;
  for (const child& c : node->children)
    f(c.name, c.is_dir, c.is_dir ? dirs_[c.index].self : &entries_[c.index]);
}

REMORA_DECL std::unique_ptr<archive::reader> archive::open_reader(const entry& e, std::string& error) const {
  const std::string who = detail::printable(e.name);
  if (e.encrypted() || (e.flags & 0x40u)) {
    error = "encrypted entry " + who + " (not supported)";
    return nullptr;
  }
  if (e.method != stored && e.method != deflated && e.method != zstd) {
    error = "unsupported compression method " + std::to_string(e.method) + " for " + who;
    return nullptr;
  }
  if (e.method == stored && e.compressed_size != e.size) {
    error = "corrupt archive: stored entry " + who + " has different compressed and uncompressed sizes";
    return nullptr;
  }
  if (!detail::fits(e.data_offset, e.compressed_size, src_->size())) {
    error = "the data of " + who + " lies outside the archive";
    return nullptr;
  }
  auto r = std::make_unique<detail::entry_reader>(src_, e);
  if (!r->init(error)) return nullptr;
  return r;
}

REMORA_DECL bool archive::read(const entry& e, std::string& out, std::string& error) const {
  out.clear();
  auto r = open_reader(e, error);
  if (!r) return false;
  // Reserve what the entry declares, but not unboundedly on the word of a hostile header.
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(e.size, 64u << 20)));
  // The reader never yields more than e.size bytes, and verifies the end (size, CRC) in the
  // call that yields the last of them; the final call, into a scratch byte, returns 0.
  for (;;) {
    const std::size_t have = out.size();
    const std::uint64_t left = e.size - have;
    if (left == 0) {
      char end = 0;
      if (r->read(&end, 1, error) == 0) return true;
      out.clear();
      return false;
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, 16u << 20));
    out.resize(have + want);
    const std::ptrdiff_t k = r->read(out.data() + have, want, error);
    if (k <= 0) {
      if (k == 0) error = "internal error: reader ended early for " + detail::printable(e.name);
      out.clear();
      return false;
    }
    out.resize(have + static_cast<std::size_t>(k));
  }
}

}  // namespace remora::zip
