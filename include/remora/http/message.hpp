// The request and response as directories see them: plain data, no transport, no templates.
#pragma once
#include <remora/config.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

namespace remora {

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

  // First value of a header (case-insensitive name); empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  bool has_header(std::string_view name) const noexcept;
  bool is_head() const noexcept { return method == "HEAD"; }
  bool is_get_or_head() const noexcept { return method == "GET" || method == "HEAD"; }
};

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
  bool close = false;  // close the connection after this response

  void set_header(std::string_view name, std::string_view value);
  // A header's value from `headers` or `head_block`; empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  // The in-memory body: `body_view` when set, else `body`.
  std::string_view content() const noexcept { return body_view.empty() ? std::string_view(body) : body_view; }
  // The default page for a status: "<html><body><h1>404 Not Found</h1><p>server</p></body></html>".
  void error_page(unsigned status);
  void redirect(unsigned status, std::string_view location);
  void reset();
};

}  // namespace http
}  // namespace remora

#if REMORA_HEADER_ONLY
#  include <remora/http/impl/message.ipp>
#endif
