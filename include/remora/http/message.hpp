// The request and response as directories see them: plain data, no transport, no templates.
#pragma once
#include <remora/config.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

namespace remora {
namespace tls {
struct peer_info;
}
namespace net {
class stream;
}

// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) { reset(); fd_ = std::exchange(o.fd_, -1); }
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

namespace http {

struct header_field {
  std::string_view name, value;
};

struct request {
  std::string_view method;
  std::string_view target;   // as sent
  std::string path;          // decoded and normalized, begins with '/'
  std::string_view query;    // after '?', still encoded
  unsigned version = 11;     // 10 or 11
  std::vector<header_field> headers;
  std::string_view body;
  // The connection's addresses (numeric) and ports, and whether it is TLS.
  std::string_view peer_ip, local_ip;
  std::uint16_t peer_port = 0, local_port = 0;
  bool secure = false;
  const tls::peer_info* tls = nullptr;  // the TLS session's facts (secure connections)

  // First value of a header (case-insensitive name); empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  bool has_header(std::string_view name) const noexcept;
  bool is_head() const noexcept { return method == "HEAD"; }
  bool is_get_or_head() const noexcept { return method == "GET" || method == "HEAD"; }
};

class channel;

struct response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A file body: sent after `body` is empty, from `file_offset`, `file_length` bytes.
  unique_fd file;
  std::uint64_t file_offset = 0, file_length = 0;
  std::string tail;  // sent after the file part (a gzip trailer)
  // A body and header lines owned by someone else (a cached file), kept alive by `hold`:
  // `head_block` is complete "Name: value\r\n" lines sent after `headers`; `body_view`, when
  // set, is sent instead of `body`.
  std::shared_ptr<const void> hold;
  std::string_view head_block, body_view;
  // More complete header lines, in storage that lives for the whole program (defaults such
  // as an LSP page's). set_header/remove_header of a name found here take that line out of
  // it first, so a header is never sent twice.
  std::string_view head_static;
  bool close = false;  // close the connection after this response
  // Set by a directory that finishes the answer later (an LSP page that streams its output,
  // sleeps or is preempted): the connection calls it once with a channel and sends nothing
  // itself until the channel says so. The request and response stay valid until then.
  std::function<void(std::shared_ptr<channel>)> later;
  // Set by a directory that hands the request to another path of the tree (an internal
  // redirect): the server dispatches it again with this target ("/path[?query]").
  std::string internal_redirect;
  // Set by a page that takes the connection over (ba.socket.req2sock): once the page has run
  // or waits, the server hands it the connection's stream (and what was read past this
  // request) instead of sending an answer. Whatever the page writes afterwards is dropped.
  std::function<void(std::unique_ptr<net::stream>)> takeover;

  void set_header(std::string_view name, std::string_view value);
  void remove_header(std::string_view name);
  // Drops every header: `headers`, `head_block` and `head_static`.
  void clear_headers();
  // A header's value from `headers` or `head_block`; empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  // The in-memory body: `body_view` when set, else `body`.
  std::string_view content() const noexcept { return body_view.empty() ? std::string_view(body) : body_view; }
  // The default page for a status: "<html><body><h1>404 Not Found</h1><p>server</p></body></html>".
  void error_page(unsigned status);
  void redirect(unsigned status, std::string_view location);
  void reset();
};

// How an answer that went asynchronous reaches its connection. Every member may be called
// from any thread; the callbacks run on the connection's thread.
class channel {
 public:
  virtual ~channel() = default;
  // Runs `f` on the connection's thread (soon, or after `ms` milliseconds).
  virtual void post(std::function<void()> f) = 0;
  virtual void after(unsigned ms, std::function<void()> f) = 0;
  // Sends what the response holds so far and empties its body: the first time the status
  // line and headers, the body chunked on HTTP/1.1 (close-delimited on 1.0) unless a
  // Content-Length header was set. `done(ok)` runs when it is written; false: the peer went.
  virtual void flush(std::function<void(bool ok)> done) = 0;
  // Completes the response (whole when nothing was flushed) and goes on with the next
  // request on the connection. The request and response must not be touched afterwards.
  virtual void finish() = 0;
  // Closes the connection without completing the response.
  virtual void abort() = 0;
  // Hands the connection's stream to `f` (on the connection's thread): response::takeover
  // for a page that already waits. Flushes and finish() are then ignored.
  virtual void takeover(std::function<void(std::unique_ptr<net::stream>)> f) = 0;
  // True once the peer has closed its side (or the connection is closed): nobody waits for
  // the answer any more. Call on the connection's thread.
  virtual bool gone() const = 0;
};

}  // namespace http
}  // namespace remora

#if REMORA_HEADER_ONLY
#  include <remora/http/impl/message.ipp>
#endif
