// The resource reader: a directory that serves the files of an IO (disk, ZIP, prefix) —
// BAS's HttpResRdr, which every Mako app is built on.
//
// Static files get MIME types, index files (index.html, index.htm, then index.lsp for the LSP
// layer), `GET /dir` -> 302 `/dir/`, ETag/Last-Modified with 304, Range (206/416), and
// bodies that do not pass through user space where the IO allows it. Names that begin with
// '.' are never served; `.lsp` pages go to the page handler when one is set (the LSP layer),
// else 404; `.shtml` is never served. A deflated ZIP entry goes to a client that accepts gzip
// as it is stored, wrapped in a gzip header and trailer; other clients get it inflated.
#pragma once
#include <remora/config.hpp>
#include <remora/vfs/directory.hpp>
#include <remora/vfs/io.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

namespace remora::vfs {

class resrdr : public directory {
 public:
  explicit resrdr(std::shared_ptr<io> io) : io_(std::move(io)) {}
  bool service(const http::request& req, std::string_view rel, http::response& res) override;

  const std::shared_ptr<io>& get_io() const noexcept { return io_; }
  // Extra headers on every answer (Mako adds its security headers this way). Called while
  // the app loads; changing them while requests are being served is not yet synchronised.
  void add_header(std::string name, std::string value);
  // Cache-Control: max-age for static files; negative: no header.
  void maxage(long seconds) noexcept { maxage_ = seconds; }
  // Called for `.lsp` pages (rel path of the page, and what stat said of it); unset: pages
  // are not served.
  using page_handler =
      std::function<bool(const http::request&, std::string_view page, const file_info&, http::response&)>;
  void set_page_handler(page_handler h) { pages_ = std::move(h); }

  // Bodies up to this size are read into the response (and kept in a cache, revalidated
  // against the IO at most once a second); larger ones go out as a file part.
  static constexpr std::uint64_t inline_limit = 16 * 1024;
  static constexpr std::size_t cache_bytes = 8u << 20;

 private:
  struct cached {
    std::string body, etag, last_modified;
    std::string_view content_type;
    std::string head_200;  // Content-Type, ETag, Last-Modified, Accept-Ranges and the dir's lines
    unsigned generation = 0;  // of the dir's headers when head_200 was made
    file_info info;
    mutable std::atomic<std::int64_t> checked_ms{0};
  };
  bool serve_file(const http::request& req, const std::string& name, http::response& res);
  // Where a request path led to a page (rel -> page name and its stat), kept for a second so
  // a page costs no lookups on the IO while it is busy.
  struct page_loc {
    std::string name;
    file_info info;
    std::int64_t checked_ms;
  };
  bool page_find(std::string_view rel, std::int64_t now, std::string& name, file_info& info);
  void page_put(std::string_view rel, const std::string& name, const file_info& info, std::int64_t now);
  bool run_page(const http::request& req, const std::string& name, const file_info& info, http::response& res);
  std::shared_ptr<const cached> cache_find(const std::string& name);
  void cache_put(const std::string& name, std::shared_ptr<const cached> c);
  // Headers, validators, conditionals and ranges for a body held in memory.
  void answer(const http::request& req, const std::shared_ptr<const cached>& c, http::response& res) const;
  std::shared_ptr<io> io_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string headers_block_;               // headers_ as "Name: value\r\n" lines
  std::shared_ptr<const std::string> page_block_;  // the same, for pages (outlives the dir)
  std::atomic<unsigned> headers_generation_{0};
  long maxage_ = -1;
  page_handler pages_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const cached>> cache_;
  std::size_t cache_size_ = 0;
  std::mutex page_mutex_;
  struct string_hash {  // lookups by string_view, without making a string
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, page_loc, string_hash, std::equal_to<>> page_locs_;
};

// A resource reader over a directory on disk (a resrdr over a disk_io). Throws
// std::system_error when `root` cannot be opened as a directory.
class disk_reader : public resrdr {
 public:
  explicit disk_reader(const std::string& root) : resrdr(std::make_shared<disk_io>(root)) {}
};

// The 10-byte gzip header and the 8-byte trailer around a raw deflate stream.
std::string gzip_header(std::time_t mtime);
std::string gzip_trailer(std::uint32_t crc32, std::uint64_t size);

}  // namespace remora::vfs

#if REMORA_HEADER_ONLY
#  include <remora/vfs/impl/resrdr.ipp>
#endif
