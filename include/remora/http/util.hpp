// Small HTTP parsers and formatters with no I/O: target decoding, dates, ranges, ETags.
// Each is fuzzed (tests/fuzz) and unit tested.
#pragma once
#include <remora/config.hpp>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace remora::http {

// Reason phrase for a status code ("Unknown" for codes we do not name).
std::string_view status_text(unsigned status) noexcept;

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_date(std::time_t t);
// Accepts IMF-fixdate, RFC 850 and asctime forms; nullopt for anything else.
std::optional<std::time_t> parse_date(std::string_view s) noexcept;

// The value of cookie `name` in one Cookie header value ("a=1; b=2"), still escaped and
// without surrounding quotes; nullopt when the header does not name it.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) noexcept;

enum class target_status { ok, bad_request, not_found };

// Turns a request target (origin-form or absolute-form) into a decoded absolute path with
// the query split off. Percent-escapes are decoded; "." segments and repeated slashes are
// dropped; a ".." segment (literal or encoded), a NUL byte or a malformed escape never
// reaches a directory: they give not_found (or bad_request for a target that is not a path).
// A trailing slash is kept.
target_status decode_target(std::string_view target, std::string& path, std::string_view& query);

// Percent-encodes a decoded path for a Location header: unreserved characters, '/', and
// the sub-delimiters stay; everything else (including '%') becomes %XX.
std::string encode_path(std::string_view path);

// Percent-decodes `in` ('+' is kept as is); false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

// An absolute http(s):// or ws(s):// URL, as the HTTP client and the net IO use it.
struct url_parts {
  bool tls = false;      // https:// or wss://
  bool ws = false;       // ws:// or wss://
  std::string host;      // without brackets
  std::uint16_t port = 0;
  std::string target;    // "/path?query" as written (never empty; the fragment dropped)
  std::string userinfo;  // "user:pass" (basic authentication)
};
// scheme://[user[:pass]@]host[:port][/path][?query][#fragment]; the default port follows
// the scheme. False for another scheme, an empty host or a bad port.
bool parse_url(std::string_view url, url_parts& out);
// "host[:port]" for a Host header: an IPv6 address in brackets, the port when not the default.
std::string authority(const url_parts& u);

struct byte_range {
  enum kind_t { none, ok, unsatisfiable } kind = none;
  std::uint64_t first = 0, last = 0;  // inclusive, valid when kind == ok
};
// One "bytes=" range against a representation of `size` bytes. Several ranges, another unit
// or a malformed value give `none` (the whole representation is sent, as RFC 9110 allows).
byte_range parse_range(std::string_view header, std::uint64_t size) noexcept;

// True when an If-None-Match value ("*", or a list of entity tags) matches `etag` under the
// weak comparison.
bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

// Case-insensitive ASCII comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

// True when the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) noexcept;

}  // namespace remora::http

#if REMORA_HEADER_ONLY
#  include <remora/http/impl/util.ipp>
#endif
