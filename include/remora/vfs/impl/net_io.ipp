#pragma once
#include <remora/detail/clock.hpp>
#include <remora/http/util.hpp>
#include <remora/vfs/net_io.hpp>
#if REMORA_TLS_BOTAN
#  include <remora/tls/session.hpp>
#  include <remora/tls/stream.hpp>
#endif

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

namespace remora::vfs {

namespace detail::nio {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

#if REMORA_TLS_BOTAN
using conn_stream = tls::stream<tcp::socket>;
inline tcp::socket& socket_of(conn_stream& s) { return s.next_layer(); }
#else
using conn_stream = tcp::socket;
inline tcp::socket& socket_of(conn_stream& s) { return s; }
#endif

// A GET's body, read from memory (shared with the IO's cache).
class memory_file final : public file {
 public:
  explicit memory_file(std::shared_ptr<const std::string> body) : body_(std::move(body)) {}
  std::ptrdiff_t read(void* out, std::size_t n, std::string&) override {
    std::size_t left = body_->size() - pos_;
    if (n > left) n = left;
    if (n) std::memcpy(out, body_->data() + pos_, n);
    pos_ += n;
    return std::ptrdiff_t(n);
  }
  bool write(const void*, std::size_t, std::string& err) override { return err = "readonly", false; }
  bool seek(std::uint64_t offset, std::string& err) override {
    if (offset > body_->size()) return err = "invalidname", false;
    pos_ = std::size_t(offset);
    return true;
  }
  bool flush(std::string&) override { return true; }
  std::uint64_t size() const override { return body_->size(); }

 private:
  std::shared_ptr<const std::string> body_;
  std::size_t pos_ = 0;
};

struct reply {
  unsigned status = 0;
  std::string etag, last_modified, location, content_type;
  std::optional<std::uint64_t> length;
  std::string body;
};

// What the server last said about one URL.
struct entry {
  std::int64_t checked_ms = 0;  // when (0: never)
  std::string err;              // "notfound", "noaccess", ... (empty: it exists)
  file_info info;
  std::string etag, last_modified;
  std::shared_ptr<const std::string> body;  // the last GET's body, with its validators
  std::string body_etag, body_last_modified;
  std::int64_t body_ms = 0;                 // when the body was last confirmed
};

inline std::uint64_t stamp_of(std::string_view etag) noexcept {  // FNV-1a
  if (etag.empty()) return 0;
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : etag) h = (h ^ c) * 1099511628211ull;
  return h ? h : 1;
}

inline file_info info_of(const reply& r) {
  file_info i;
  i.size = r.length.value_or(r.body.size());
  if (auto t = http::parse_date(r.last_modified)) i.mtime = *t;
  i.stamp = stamp_of(r.etag);
  return i;
}

// The path of a URL or of an absolute path ("http://h/a/b?q" -> "/a/b"), percent-decoded.
inline std::string decoded_path(std::string_view ref) {
  if (auto s = ref.find("://"); s != std::string_view::npos) {
    ref.remove_prefix(s + 3);
    auto p = ref.find('/');
    ref = p == std::string_view::npos ? std::string_view("/") : ref.substr(p);
  }
  if (auto q = ref.find_first_of("?#"); q != std::string_view::npos) ref = ref.substr(0, q);
  std::string out;
  if (!http::percent_decode(ref, out)) out.assign(ref);
  return out;
}

// A redirect from `target` to `target/`: what servers answer for a directory asked for
// without its slash.
inline bool dir_redirect(const reply& r, std::string_view target) {
  return r.status / 100 == 3 && !r.location.empty() && decoded_path(r.location) == decoded_path(target) + "/";
}

inline std::string error_for_status(unsigned status) {
  if (status == 404 || status == 410) return "notfound";
  if (status == 401 || status == 403) return "noaccess";
  return "ioerror";
}

// ---- the multistatus parser: just enough XML for PROPFIND answers ------------------------

inline std::string xml_text(std::string_view s) {  // entities and CDATA of an element's text
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, 9, "<![CDATA[") == 0) {
      auto e = s.find("]]>", i + 9);
      if (e == std::string_view::npos) e = s.size();
      out.append(s.substr(i + 9, e - i - 9));
      i = e + 3;
      continue;
    }
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back(s[i++]);
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    static constexpr std::pair<std::string_view, char> named[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    bool done = false;
    for (auto& [n, c] : named)
      if (ent == n) out.push_back(c), done = true;
    if (!done && ent.size() > 1 && ent[0] == '#') {
      unsigned long v = ent[1] == 'x' || ent[1] == 'X' ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                                        : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
      if (v < 0x80) {
        out.push_back(char(v));
      } else if (v < 0x800) {
        out.push_back(char(0xC0 | (v >> 6)));
        out.push_back(char(0x80 | (v & 0x3F)));
      } else if (v < 0x10000) {
        out.push_back(char(0xE0 | (v >> 12)));
        out.push_back(char(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(char(0x80 | (v & 0x3F)));
      } else if (v < 0x110000) {
        out.push_back(char(0xF0 | (v >> 18)));
        out.push_back(char(0x80 | ((v >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(char(0x80 | (v & 0x3F)));
      }
      done = true;
    }
    if (!done) out.append(s.substr(i, semi - i + 1));
    i = semi + 1;
  }
  auto b = out.find_first_not_of(" \t\r\n");
  auto e = out.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

}  // namespace detail::nio

REMORA_DECL bool parse_multistatus(std::string_view x, std::vector<dav_entry>& out) {
  out.clear();
  bool multistatus = false;
  dav_entry* cur = nullptr;
  struct pending {  // the values of one propstat; one whose status is not 2xx is dropped
    std::string size, date;
    bool collection = false;
  } vals, kept;
  std::string_view text_of;  // the element whose text is being read, and where it starts
  std::size_t text_at = 0;
  for (std::size_t i = x.find('<'); i != std::string_view::npos; i = x.find('<', i)) {
    if (x.compare(i, 4, "<!--") == 0) {
      auto e = x.find("-->", i + 4);
      if (e == std::string_view::npos) break;
      i = e + 3;
      continue;
    }
    if (x.compare(i, 9, "<![CDATA[") == 0) {
      auto e = x.find("]]>", i + 9);
      if (e == std::string_view::npos) break;
      i = e + 3;
      continue;
    }
    auto close = x.find('>', i);
    if (close == std::string_view::npos) break;
    std::string_view tag = x.substr(i + 1, close - i - 1);
    std::size_t tag_start = i;
    i = close + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    bool end = tag[0] == '/';
    bool empty = !end && tag.back() == '/';
    if (end) tag.remove_prefix(1);
    std::string_view name = tag.substr(0, tag.find_first_of(" \t\r\n/"));
    if (auto c = name.find(':'); c != std::string_view::npos) name.remove_prefix(c + 1);  // the namespace prefix
    if (!end) {
      if (name == "multistatus") multistatus = true;
      if (name == "response") {
        out.emplace_back();
        cur = &out.back();
        kept = {};
      }
      if (name == "propstat") vals = {};
      if (name == "collection") vals.collection = true;
      if (!empty && (name == "href" || name == "getcontentlength" || name == "getlastmodified" || name == "status")) {
        text_of = name;
        text_at = i;
      }
      continue;
    }
    if (!text_of.empty() && name == text_of) {
      std::string t = detail::nio::xml_text(x.substr(text_at, tag_start - text_at));
      if (name == "href" && cur) cur->path = detail::nio::decoded_path(t);
      if (name == "getcontentlength") vals.size = t;
      if (name == "getlastmodified") vals.date = t;
      if (name == "status" && cur) {
        // "HTTP/1.1 200 OK" in a propstat: its values count; any other status drops them
        auto sp = t.find(' ');
        bool ok = sp != std::string::npos && t.compare(sp + 1, 1, "2") == 0;
        if (!ok) vals = {};
      }
      text_of = {};
    }
    if (name == "propstat" && cur) {
      if (!vals.size.empty()) kept.size = vals.size;
      if (!vals.date.empty()) kept.date = vals.date;
      kept.collection = kept.collection || vals.collection;
      vals = {};
    }
    if (name == "response" && cur) {
      // values given outside a propstat (some servers) count too
      if (kept.size.empty()) kept.size = vals.size;
      if (kept.date.empty()) kept.date = vals.date;
      kept.collection = kept.collection || vals.collection;
      cur->info.is_dir = kept.collection;
      if (!kept.collection && !kept.size.empty()) cur->info.size = std::strtoull(kept.size.c_str(), nullptr, 10);
      if (auto t = http::parse_date(kept.date)) cur->info.mtime = *t;
      cur = nullptr;
      vals = {};
    }
  }
  if (!multistatus) out.clear();
  return multistatus;
}

// ---- the client: one connection, its own io_context, exchanges run on the caller's thread --

struct net_io::client {
  explicit client(net_options o) : opts(std::move(o)) {}

  // One exchange at a time: it owns everything from here to `cm`.
  std::mutex xm;
  detail::nio::asio::io_context ioc;
  detail::nio::asio::steady_timer timer{ioc};
  detail::nio::tcp::resolver resolver{ioc};
  std::unique_ptr<detail::nio::conn_stream> conn;
  std::string conn_key;  // "scheme://host:port" of `conn`
  boost::beast::flat_buffer buf;
  bool timed_out = false, timer_pending = false;

  std::mutex cm;  // the options and the cache
  net_options opts;
  std::unordered_map<std::string, detail::nio::entry> cache;
  std::size_t cache_size = 0;
  static constexpr std::size_t cache_limit = 16u << 20, cache_entries = 4096;

  net_options options() {
    std::lock_guard lock(cm);
    return opts;
  }

  // Starts an operation with a completion handler and runs the context until it completes
  // (or the deadline closes the socket under it).
  template<class Start>
  detail::nio::error_code wait(Start&& start) {
    detail::nio::error_code result;
    bool done = false;
    start([&result, &done](detail::nio::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      if (!ioc.run_one()) break;
    }
    if (!done) result = detail::nio::asio::error::timed_out;
    return result;
  }

  void drop() {
    if (conn) {
      detail::nio::error_code ec;
      detail::nio::socket_of(*conn).close(ec);
    }
    conn.reset();
    conn_key.clear();
    buf.clear();
  }

  std::string failure(detail::nio::error_code ec, const char* otherwise) const {
    namespace asio = detail::nio::asio;
    if (timed_out) return "timeout";
    if (ec == asio::error::eof || ec == detail::nio::bhttp::error::end_of_stream ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
      return "socketclosed";
    return otherwise;
  }

  std::string connect(const http::url_parts& u, const net_options& o) {
    namespace asio = detail::nio::asio;
    using detail::nio::tcp;
#if !REMORA_TLS_BOTAN
    if (u.tls) return "sslnotenabled";
#endif
    drop();
    conn = std::make_unique<detail::nio::conn_stream>(tcp::socket(ioc));
    std::vector<tcp::endpoint> eps;
    detail::nio::error_code ec;
    auto ip = asio::ip::make_address(u.host, ec);
    if (!ec) {
      eps.emplace_back(ip, u.port);
    } else {
      tcp::resolver::results_type found;
      ec = wait([&](auto h) {
        resolver.async_resolve(u.host, std::to_string(u.port),
                               [&found, h = std::move(h)](detail::nio::error_code e, tcp::resolver::results_type r) mutable {
                                 found = std::move(r);
                                 h(e);
                               });
      });
      if (ec || found.empty()) return timed_out ? "timeout" : "cannotresolve";
      for (auto& r : found) eps.push_back(r.endpoint());
    }
    ec = wait([&](auto h) { asio::async_connect(detail::nio::socket_of(*conn), eps, std::move(h)); });
    if (ec) return timed_out ? "timeout" : "cannotconnect";
    detail::nio::socket_of(*conn).set_option(tcp::no_delay(true), ec);
#if REMORA_TLS_BOTAN
    if (u.tls) {
      auto ctx = o.tls ? std::static_pointer_cast<tls::client_context>(o.tls) : tls::client_context::system();
      conn->secure(ctx->connect(u.host, u.port, {"http/1.1"}));
      ec = wait([&](auto h) { conn->async_handshake(std::move(h)); });
      if (ec || !conn->tls() || !conn->tls()->established()) return timed_out ? "timeout" : "sslhandshake";
      if (o.require_trust && !conn->tls()->peer().trusted) return "sslnottrusted";
    }
#else
    (void)o;
#endif
    return "";
  }

  // One request and its response on the current connection.
  std::string roundtrip(const http::url_parts& u, std::string_view method, const std::string& head,
                        std::string_view body, const net_options& o, detail::nio::reply& r, bool& retry) {
    namespace asio = detail::nio::asio;
    namespace bhttp = detail::nio::bhttp;
    retry = false;
    std::string req;
    req.append(method).append(" ").append(u.target).append(" HTTP/1.1\r\nHost: ").append(http::authority(u));
    req.append("\r\nUser-Agent: Remora\r\n");
    if (!o.authorization.empty()) req.append("Authorization: ").append(o.authorization).append("\r\n");
    req.append(head);
    if (!body.empty()) req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    req.append("\r\n").append(body);
    auto ec = wait([&](auto h) { asio::async_write(*conn, asio::buffer(req), std::move(h)); });
    if (ec) {
      retry = !timed_out;
      return failure(ec, "socketclosed");
    }
    bhttp::response_parser<bhttp::string_body> p;
    p.header_limit(64 * 1024);
    p.body_limit(o.max_body);
    if (method == "HEAD") p.skip(true);
    ec = wait([&](auto h) { bhttp::async_read(*conn, buf, p, std::move(h)); });
    if (ec) {
      retry = !timed_out && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset);
      if (ec == bhttp::error::body_limit) return "mem";
      return failure(ec, "invalidresponse");
    }
    auto& m = p.get();
    r.status = m.result_int();
    auto field = [&](std::string_view n) { return std::string(m[n]); };
    r.etag = field("ETag");
    r.last_modified = field("Last-Modified");
    r.location = field("Location");
    r.content_type = field("Content-Type");
    if (auto n = p.content_length()) r.length = *n;
    if (method != "HEAD") r.body = std::move(m.body());
    // bytes beyond the response (a body sent with a HEAD answer) make the connection unusable
    if (!p.keep_alive() || buf.size()) drop();
    return "";
  }

  // Runs one exchange with the deadline; a kept-alive connection that the server has closed
  // meanwhile is replaced once.
  std::string exchange(const http::url_parts& u, const std::string& key, std::string_view method,
                       const std::string& head, std::string_view body, detail::nio::reply& r) {
    net_options o = options();
    std::lock_guard lock(xm);
    ioc.restart();
    timed_out = false;
    timer.expires_after(std::chrono::milliseconds(o.timeout_ms ? o.timeout_ms : 10000));
    timer_pending = true;
    timer.async_wait([this](detail::nio::error_code ec) {
      timer_pending = false;
      if (ec) return;
      timed_out = true;
      resolver.cancel();
      if (conn) {
        detail::nio::error_code e;
        detail::nio::socket_of(*conn).close(e);
      }
    });
    std::string err;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = conn && conn_key == key && detail::nio::socket_of(*conn).is_open();
      if (!reused) {
        err = connect(u, o);
        if (!err.empty()) {
          drop();
          break;
        }
        conn_key = key;
      }
      bool retry = false;
      r = {};
      err = roundtrip(u, method, head, body, o, r, retry);
      if (err.empty()) break;
      drop();
      if (!reused || !retry) break;
    }
    timer.cancel();
    while (timer_pending) {
      if (ioc.stopped()) ioc.restart();
      if (!ioc.run_one()) break;
    }
    return err;
  }

  // ---- the cache ----
  void trim_cache() {  // under cm: full, start over rather than track recency
    if (cache_size <= cache_limit && cache.size() <= cache_entries) return;
    cache.clear();
    cache_size = 0;
  }
  void set_body(detail::nio::entry& e, std::shared_ptr<const std::string> body) {  // under cm
    if (e.body) cache_size -= e.body->size();
    e.body = std::move(body);
    if (e.body) cache_size += e.body->size();
  }
};

// ---- net_io ------------------------------------------------------------------------------

REMORA_DECL net_io::net_io(std::string_view base, net_options opts) : c_(std::make_unique<client>(std::move(opts))) {
  if (base.empty()) return;
  if (!http::parse_url(base, root_) || root_.ws || !root_.userinfo.empty())
    throw std::invalid_argument("not an http(s) URL: " + std::string(base));
  auto q = root_.target.find('?');
  if (q != std::string::npos) root_.target.resize(q);
  if (root_.target.back() != '/') root_.target.push_back('/');
  base_ = (root_.tls ? "https://" : "http://") + http::authority(root_) + root_.target;
}

REMORA_DECL net_io::~net_io() = default;

REMORA_DECL void net_io::configure(net_options opts) {
  std::lock_guard lock(c_->cm);
  c_->opts = std::move(opts);
}

REMORA_DECL net_options net_io::options() const { return c_->options(); }

REMORA_DECL bool net_io::locate(std::string_view name, http::url_parts& u, std::string& key) const {
  if (base_.empty()) {  // the unrooted IO: the name is the URL
    while (!name.empty() && name.front() == '/') name.remove_prefix(1);
    if (!http::parse_url(name, u) || u.ws || !u.userinfo.empty()) return false;
    if (auto q = u.target.find('?'); q != std::string::npos) u.target.resize(q);
  } else {
    std::string rel;
    if (!normalize(name, rel)) return false;
    u = root_;
    u.target += http::encode_path(rel);
  }
  key = (u.tls ? "https://" : "http://") + u.host + ":" + std::to_string(u.port);
  return true;
}

REMORA_DECL bool net_io::stat(std::string_view name, file_info& info, std::string& err) const {
  http::url_parts u;
  std::string key;
  if (!locate(name, u, key)) return err = "invalidname", false;
  std::string url = key + u.target;
  auto now = remora::detail::coarse_ms();
  {
    std::lock_guard lock(c_->cm);
    auto it = c_->cache.find(url);
    if (it != c_->cache.end() && it->second.checked_ms && now - it->second.checked_ms < 1000) {
      if (!it->second.err.empty()) return err = it->second.err, false;
      info = it->second.info;
      return true;
    }
  }
  detail::nio::reply r;
  err = c_->exchange(u, key, "HEAD", "", "", r);
  if (!err.empty()) return false;
  bool root = u.target.back() == '/';  // the IO's root (or a URL naming a directory)
  file_info i = detail::nio::info_of(r);
  std::string e;
  if (root) {
    i.is_dir = true;  // whatever the server says of it (a 404 from a directory without index)
    i.size = 0;
  } else if (detail::nio::dir_redirect(r, u.target)) {
    i = file_info{};
    i.is_dir = true;
  } else if (r.status / 100 == 3) {
    e = "notfound";  // a redirect elsewhere: not a name of this tree
  } else if (r.status / 100 == 2) {
    i.is_dir = r.content_type.rfind("httpd/unix-directory", 0) == 0;  // WebDAV servers' collections
  } else {
    e = detail::nio::error_for_status(r.status);
  }
  std::lock_guard lock(c_->cm);
  auto& ent = c_->cache[url];
  ent.checked_ms = now;
  ent.err = e;
  if (e.empty()) {
    if (!r.length && ent.body && ent.body_etag == r.etag && ent.body_last_modified == r.last_modified)
      i.size = ent.body->size();  // HEAD without a length: the body's, when it is the same file
    ent.info = i;
    ent.etag = r.etag;
    ent.last_modified = r.last_modified;
  }
  c_->trim_cache();
  if (!e.empty()) return err = e, false;
  info = i;
  return true;
}

namespace detail::nio {
// The body of `url` (GET, revalidated at most once a second) and what it is.
inline std::shared_ptr<const std::string> fetch(net_io::client& c, const http::url_parts& u, const std::string& key,
                                                file_info& info, std::string& err) {
  std::string url = key + u.target;
  auto now = remora::detail::coarse_ms();
  std::string head;
  {
    std::lock_guard lock(c.cm);
    auto it = c.cache.find(url);
    if (it != c.cache.end() && it->second.body) {
      auto& e = it->second;
      if (now - e.body_ms < 1000) {
        info = e.info;
        return e.body;
      }
      if (!e.body_etag.empty()) head = "If-None-Match: " + e.body_etag + "\r\n";
      else if (!e.body_last_modified.empty()) head = "If-Modified-Since: " + e.body_last_modified + "\r\n";
    }
  }
  reply r;
  err = c.exchange(u, key, "GET", head, "", r);
  if (!err.empty()) return nullptr;
  std::lock_guard lock(c.cm);
  auto& e = c.cache[url];
  if (r.status == 304 && e.body) {
    e.body_ms = e.checked_ms = now;
    e.err.clear();
    info = e.info;
    return e.body;
  }
  if (r.status != 200) {
    e.checked_ms = now;
    c.set_body(e, nullptr);
    if (dir_redirect(r, u.target)) {  // a directory: stat says so for the next second
      e.err.clear();
      e.info = file_info{};
      e.info.is_dir = true;
      return err = "isdir", nullptr;
    }
    e.err = r.status / 100 == 3 ? "notfound" : error_for_status(r.status);
    err = e.err;
    return nullptr;
  }
  r.length.reset();
  file_info i = info_of(r);
  auto body = std::make_shared<const std::string>(std::move(r.body));
  c.set_body(e, body);
  e.body_etag = e.etag = r.etag;
  e.body_last_modified = e.last_modified = r.last_modified;
  e.body_ms = e.checked_ms = now;
  e.err.clear();
  e.info = i;
  info = i;
  c.trim_cache();
  return body;
}
}  // namespace detail::nio

REMORA_DECL std::unique_ptr<file> net_io::open(std::string_view name, std::string_view mode, std::string& err) {
  if (!mode.empty() && mode != "r" && mode != "rb") return err = "readonly", nullptr;
  http::url_parts u;
  std::string key;
  if (!locate(name, u, key) || u.target.back() == '/') return err = "invalidname", nullptr;
  file_info info;
  auto body = detail::nio::fetch(*c_, u, key, info, err);
  if (!body) return nullptr;
  return std::make_unique<detail::nio::memory_file>(std::move(body));
}

REMORA_DECL bool net_io::source(std::string_view name, send_source& out, std::string& err) const {
  http::url_parts u;
  std::string key;
  if (!locate(name, u, key) || u.target.back() == '/') return err = "invalidname", false;
  auto body = detail::nio::fetch(*c_, u, key, out.info, err);
  if (!body) return false;
  out.text = *body;
  out.offset = 0;
  out.length = out.text.size();
  out.info.size = out.text.size();
  return true;
}

REMORA_DECL bool net_io::files(std::string_view name, const std::function<void(std::string_view, const file_info&)>& f,
                               std::string& err) const {
  http::url_parts u;
  std::string key;
  if (!locate(name, u, key)) return err = "invalidname", false;
  if (u.target.back() != '/') u.target.push_back('/');
  static constexpr std::string_view query =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
      "</D:prop></D:propfind>\n";
  detail::nio::reply r;
  err = c_->exchange(u, key, "PROPFIND", "Depth: 1\r\nContent-Type: application/xml; charset=utf-8\r\n", query, r);
  if (!err.empty()) return false;
  if (r.status == 404 || r.status == 410 || r.status == 401 || r.status == 403)
    return err = detail::nio::error_for_status(r.status), false;
  std::vector<dav_entry> entries;
  if (r.status != 207 || !parse_multistatus(r.body, entries)) return err = "notsupported", false;
  std::string self = detail::nio::decoded_path(u.target);
  while (self.size() > 1 && self.back() == '/') self.pop_back();
  for (auto& e : entries) {
    std::string p = e.path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p == self) {
      if (!e.info.is_dir) return err = "notfound", false;  // a file, not a directory
      continue;
    }
    std::string prefix = self == "/" ? self : self + "/";
    if (p.size() <= prefix.size() || p.compare(0, prefix.size(), prefix) != 0) continue;
    std::string_view child = std::string_view(p).substr(prefix.size());
    if (child.find('/') != std::string_view::npos) continue;  // not an immediate child
    f(child, e.info);
  }
  return true;
}

REMORA_DECL std::shared_ptr<net_io> net_io::sub(std::string_view path, std::string& err) const {
  auto opts = options();
  std::string url;
  if (path.find("://") != std::string_view::npos) {
    url = std::string(path);
  } else {
    if (base_.empty()) return err = "invalidname", nullptr;
    file_info i;
    if (!stat(path, i, err)) return nullptr;
    if (!i.is_dir) return err = "notsupported", nullptr;  // a ZIP file over the network
    std::string rel;
    normalize(path, rel);
    url = base_ + http::encode_path(rel);
  }
  try {
    return std::make_shared<net_io>(url, std::move(opts));
  } catch (const std::invalid_argument&) {
    return err = "invalidname", nullptr;
  }
}

}  // namespace remora::vfs
