#pragma once
#include <remora/detail/clock.hpp>
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>
#include <remora/vfs/resrdr.hpp>

#include <chrono>
#include <cstdio>

namespace remora::vfs {

REMORA_DECL void resrdr::add_header(std::string name, std::string value) {
  headers_block_.append(name).append(": ").append(value).append("\r\n");
  headers_.emplace_back(std::move(name), std::move(value));
  page_block_ = std::make_shared<const std::string>(headers_block_);
  headers_generation_.fetch_add(1, std::memory_order_relaxed);  // cached header blocks are stale
}

REMORA_DECL std::string gzip_header(std::time_t mtime) {
  std::uint32_t t = mtime > 0 && mtime < 0xffffffffLL ? std::uint32_t(mtime) : 0;
  std::string h = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};  // deflate, no flags, Unix
  for (int i = 0; i < 4; ++i) h[std::size_t(4 + i)] = char((t >> (8 * i)) & 0xff);
  return h;
}

REMORA_DECL std::string gzip_trailer(std::uint32_t crc32, std::uint64_t size) {
  std::string t(8, '\0');
  for (int i = 0; i < 4; ++i) {
    t[std::size_t(i)] = char((crc32 >> (8 * i)) & 0xff);
    t[std::size_t(4 + i)] = char((std::uint32_t(size) >> (8 * i)) & 0xff);
  }
  return t;
}

namespace detail {
using remora::detail::coarse_ms;  // good enough for once-a-second revalidation

inline bool hidden_segment(std::string_view rel) noexcept {
  for (std::size_t i = 0; i < rel.size();) {
    if (rel[i] == '.') return true;
    auto s = rel.find('/', i);
    if (s == std::string_view::npos) break;
    i = s + 1;
  }
  return false;
}
inline bool has_suffix(std::string_view s, std::string_view x) noexcept {
  return s.size() >= x.size() && s.substr(s.size() - x.size()) == x;
}

// The request's validators match: If-None-Match when present, else If-Modified-Since.
inline bool not_modified(const http::request& req, std::string_view etag, std::time_t mtime) {
  if (auto inm = req.header("If-None-Match"); !inm.empty()) return http::etag_matches(inm, etag);
  if (auto ims = req.header("If-Modified-Since"); !ims.empty()) {
    auto t = http::parse_date(ims);
    return t && mtime <= *t;
  }
  return false;
}

// Range (with If-Range) over a `size`-byte body: [first, first+length) to send. A usable
// range makes the answer a 206 with Content-Range; an unsatisfiable one writes the 416 and
// returns false.
inline bool select_range(const http::request& req, std::uint64_t size, std::string_view etag,
                         std::string_view last_modified, http::response& res, std::uint64_t& first,
                         std::uint64_t& length) {
  first = 0;
  length = size;
  auto range = req.header("Range");
  if (range.empty()) return true;
  auto if_range = req.header("If-Range");
  bool use = if_range.empty() || if_range == etag || if_range == last_modified;
  auto r = use ? http::parse_range(range, size) : http::byte_range{};
  if (r.kind == http::byte_range::unsatisfiable) {
    res.error_page(416);
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return false;
  }
  if (r.kind == http::byte_range::ok) {
    first = r.first;
    length = r.last - r.first + 1;
    res.status = 206;
    res.set_header("Content-Range", "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
                                        std::to_string(size));
  }
  return true;
}
}  // namespace detail

REMORA_DECL bool resrdr::page_find(std::string_view rel, std::int64_t now, std::string& name, file_info& info) {
  std::lock_guard lock(page_mutex_);
  auto it = page_locs_.find(rel);
  if (it == page_locs_.end()) return false;
  if (now - it->second.checked_ms >= 1000) {
    page_locs_.erase(it);
    return false;
  }
  name = it->second.name;
  info = it->second.info;
  return true;
}

REMORA_DECL void resrdr::page_put(std::string_view rel, const std::string& name, const file_info& info,
                                  std::int64_t now) {
  std::lock_guard lock(page_mutex_);
  if (page_locs_.size() >= 4096) page_locs_.clear();
  page_locs_.insert_or_assign(std::string(rel), page_loc{name, info, now});
}

REMORA_DECL bool resrdr::run_page(const http::request& req, const std::string& name, const file_info& info,
                                  http::response& res) {
  if (!pages_ || !pages_(req, name, info, res)) return false;
  if (headers_.empty()) return true;
  bool clash = !res.head_block.empty();  // the page set one of the dir's headers itself?
  for (auto& [k, v] : headers_) clash = clash || !res.header(k).empty();
  if (clash) {
    for (auto& [k, v] : headers_) res.set_header(k, v);
  } else {  // the usual case: the dir's lines as they are, no copies
    res.hold = page_block_;
    res.head_block = *page_block_;
  }
  return true;
}

REMORA_DECL bool resrdr::service(const http::request& req, std::string_view rel, http::response& res) {
  if (detail::hidden_segment(rel)) return false;
  if (redirected_to_tls(req, res)) return true;
  std::int64_t now_ms = 0;
  if (pages_) {  // a page found within the last second
    now_ms = detail::coarse_ms();
    std::string name;
    file_info info;
    if (page_find(rel, now_ms, name, info)) return run_page(req, name, info, res);
  }
  if (!rel.empty() && rel.back() != '/' && req.is_get_or_head()) {  // the fast path: a cached file
    if (auto c = cache_find(std::string(rel))) {
      answer(req, c, res);
      if (res.head_block.empty())  // 304, 206: not from the pre-rendered block
        for (auto& [k, v] : headers_) res.set_header(k, v);
      return true;
    }
  }
  std::string name(rel), err;
  if (!name.empty() && name.back() == '/') name.pop_back();
  file_info info;
  if (!io_->stat(name, info, err)) return false;
  if (!info.is_dir && !rel.empty() && rel.back() == '/') return false;  // "file/" names nothing
  if (info.is_dir) {
    if (!rel.empty() && rel.back() != '/') {
      std::string loc = http::encode_path(req.path) + "/";
      if (!req.query.empty()) loc.append("?").append(req.query);
      res.redirect(302, loc);
      return true;
    }
    std::string base = name.empty() ? std::string() : name + "/";
    for (std::string_view index : {"index.html", "index.htm", "index.lsp"}) {
      file_info i;
      if (io_->stat(base + std::string(index), i, err) && !i.is_dir) {
        name = base + std::string(index);
        info = i;
        break;
      }
    }
    if (info.is_dir) return false;
  }
  if (detail::has_suffix(name, ".lsp")) {
    if (pages_) page_put(rel, name, info, now_ms);
    return run_page(req, name, info, res);
  }
  if (detail::has_suffix(name, ".shtml")) return false;
  if (!req.is_get_or_head()) {
    res.error_page(405);
    res.set_header("Allow", "GET, HEAD");
    return true;
  }
  if (!serve_file(req, name, res)) return false;
  if (res.head_block.empty())  // a cached answer carries the dir's headers in its block
    for (auto& [k, v] : headers_) res.set_header(k, v);
  return true;
}

REMORA_DECL std::shared_ptr<const resrdr::cached> resrdr::cache_find(const std::string& name) {
  std::shared_ptr<const cached> c;
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) return nullptr;
    c = it->second;
  }
  using namespace std::chrono;
  auto now = detail::coarse_ms();
  if (c->generation != headers_generation_.load(std::memory_order_relaxed)) return nullptr;
  if (now - c->checked_ms.load(std::memory_order_relaxed) < 1000) return c;
  file_info i;
  std::string err;
  if (io_->stat(name, i, err) && !i.is_dir && i.mtime == c->info.mtime && i.size == c->info.size && i.stamp == c->info.stamp) {
    c->checked_ms.store(now, std::memory_order_relaxed);
    return c;
  }
  std::lock_guard lock(cache_mutex_);
  auto it = cache_.find(name);
  if (it != cache_.end() && it->second == c) {
    cache_size_ -= c->body.size() + name.size();
    cache_.erase(it);
  }
  return nullptr;
}

REMORA_DECL void resrdr::cache_put(const std::string& name, std::shared_ptr<const cached> c) {
  std::lock_guard lock(cache_mutex_);
  std::size_t cost = c->body.size() + name.size();
  if (cache_size_ + cost > cache_bytes) {  // full: start over rather than track recency
    cache_.clear();
    cache_size_ = 0;
  }
  auto [it, fresh] = cache_.insert_or_assign(name, std::move(c));
  (void)it;
  if (fresh) cache_size_ += cost;
}

REMORA_DECL void resrdr::answer(const http::request& req, const std::shared_ptr<const cached>& cp,
                                http::response& res) const {
  const cached& c = *cp;
  auto validators = [&] {
    res.headers.emplace_back("ETag", c.etag);
    res.headers.emplace_back("Last-Modified", c.last_modified);
    if (maxage_ >= 0) res.headers.emplace_back("Cache-Control", "max-age=" + std::to_string(maxage_));
  };
  bool not_modified = detail::not_modified(req, c.etag, c.info.mtime);
  if (!not_modified && req.header("Range").empty()) {  // the common case: all from the cache entry
    res.status = 200;
    if (maxage_ >= 0) res.headers.emplace_back("Cache-Control", "max-age=" + std::to_string(maxage_));
    res.hold = cp;
    res.head_block = c.head_200;
    res.body_view = c.body;
    return;
  }
  res.status = not_modified ? 304 : 200;
  if (!not_modified) res.headers.emplace_back("Content-Type", c.content_type);
  validators();
  if (not_modified) return;
  res.headers.emplace_back("Accept-Ranges", "bytes");
  std::uint64_t first, length;
  if (!detail::select_range(req, c.body.size(), c.etag, c.last_modified, res, first, length)) return;
  if (res.status == 206) {
    res.body.assign(c.body, std::size_t(first), std::size_t(length));
    return;
  }
  res.body = c.body;
}

REMORA_DECL bool resrdr::serve_file(const http::request& req, const std::string& name, http::response& res) {
  if (auto c = cache_find(name)) {  // an index file, or one reached through a directory
    answer(req, c, res);
    return true;
  }
  send_source src;
  std::string err;
  if (!io_->source(name, src, err)) {
    if (err == "notfound" || err == "isdir" || err == "invalidname") return false;
    res.error_page(500);
    return true;
  }
  const auto& info = src.info;
  bool gzip = src.deflated && req.header("Range").empty() &&
              http::has_token(req.header("Accept-Encoding"), "gzip");
  char etag[80];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx%s\"", (unsigned long long)info.mtime,
                (unsigned long long)info.size, gzip ? "-gz" : "");
  std::string last_modified = http::format_date(info.mtime);
  auto validators = [&] {
    res.set_header("ETag", etag);
    res.set_header("Last-Modified", last_modified);
    if (maxage_ >= 0) res.set_header("Cache-Control", "max-age=" + std::to_string(maxage_));
    if (src.deflated) res.set_header("Vary", "Accept-Encoding");
  };
  if (detail::not_modified(req, etag, info.mtime)) {
    res.status = 304;
    validators();
    return true;
  }
  res.status = 200;
  res.set_header("Content-Type", http::mime_type(name));
  validators();

  if (gzip) {  // the stored deflate stream, as a gzip member
    res.set_header("Content-Encoding", "gzip");
    res.body = gzip_header(info.mtime);
    res.tail = gzip_trailer(src.crc32, info.size);
    if (src.memory) {
      res.body.append(reinterpret_cast<const char*>(src.memory + src.offset), std::size_t(src.length));
      res.body.append(res.tail);
      res.tail.clear();
    } else {
      res.file = std::move(src.fd);
      res.file_offset = src.offset;
      res.file_length = src.length;
    }
    return true;
  }
  if (!src.deflated && info.size <= inline_limit) {  // small: read once, keep, answer from memory
    auto c = std::make_shared<cached>();
    c->info = info;
    c->etag = etag;
    c->last_modified = last_modified;
    c->content_type = http::mime_type(name);
    c->head_200 = "Content-Type: " + std::string(c->content_type) + "\r\nETag: " + c->etag +
                  "\r\nLast-Modified: " + c->last_modified + "\r\nAccept-Ranges: bytes\r\n" +
                  headers_block_;
    c->generation = headers_generation_.load(std::memory_order_relaxed);
    if (!src.text.empty() || info.size == 0) {
      c->body = std::move(src.text);
    } else if (src.memory) {
      c->body.assign(reinterpret_cast<const char*>(src.memory + src.offset), std::size_t(src.length));
    } else {
      c->body.resize(std::size_t(info.size));
      std::uint64_t got = 0;
      while (got < info.size) {
        ssize_t n = ::pread(src.fd.get(), c->body.data() + got, std::size_t(info.size - got), off_t(src.offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += std::uint64_t(n);
      }
      if (got != info.size) {
        res.error_page(500);
        return true;
      }
    }
    using namespace std::chrono;
    c->checked_ms = detail::coarse_ms();
    res.headers.clear();
    answer(req, c, res);
    cache_put(name, std::move(c));
    return true;
  }
  if (src.deflated) {  // a client without gzip: inflate (bounded by the entry's size)
    auto f = io_->open(name, "r", err);
    if (!f) {
      res.error_page(500);
      return true;
    }
    src.text.clear();
    src.text.reserve(std::size_t(info.size));
    char buf[16384];
    for (std::ptrdiff_t n; (n = f->read(buf, sizeof buf, err)) > 0;) src.text.append(buf, std::size_t(n));
    if (!err.empty() || src.text.size() != info.size) {
      res.error_page(500);
      return true;
    }
    src.length = src.text.size();
    src.offset = 0;
    src.fd.reset();
    src.memory = nullptr;
  }

  std::uint64_t size = info.size, first, length;
  res.set_header("Accept-Ranges", "bytes");
  if (!detail::select_range(req, size, etag, last_modified, res, first, length)) return true;
  if (!src.text.empty() || size == 0) {
    res.body = src.text.substr(std::size_t(first), std::size_t(length));
  } else if (src.memory) {
    res.body.assign(reinterpret_cast<const char*>(src.memory + src.offset + first), std::size_t(length));
  } else if (length <= inline_limit) {
    res.body.resize(std::size_t(length));
    std::uint64_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(src.fd.get(), res.body.data() + got, std::size_t(length - got),
                          off_t(src.offset + first + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += std::uint64_t(n);
    }
    if (got != length) res.error_page(500);
  } else {
    res.file = std::move(src.fd);
    res.file_offset = src.offset + first;
    res.file_length = length;
  }
  return true;
}

}  // namespace remora::vfs
