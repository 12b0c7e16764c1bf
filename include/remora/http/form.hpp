// Form data: query strings and application/x-www-form-urlencoded bodies, and a streaming
// multipart/form-data parser. No I/O; each is unit tested and fuzzed.
#pragma once
#include <remora/config.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remora::http {

using form_pairs = std::vector<std::pair<std::string, std::string>>;

// Appends the decoded (name, value) pairs of `s` ("a=1&b=2&a=3") to `out` in order: '+' is
// a space, %XX is decoded, a malformed escape ("%zz", a trailing "%") is kept as it is, a
// pair without '=' has an empty value, empty pairs ("&&") are skipped, repeated names are all
// kept. Bytes pass through unchecked (invalid UTF-8, and NUL from "%00", included); only '&'
// separates pairs. The cap counts `out` as a whole, so a query string and a body can share
// it: pairs are appended while out.size() < max_pairs; returns false when one was dropped.
bool parse_form(std::string_view s, form_pairs& out, std::size_t max_pairs = 1024);

// The boundary parameter of a "multipart/form-data; boundary=..." Content-Type, quoted or
// not (media type and parameter names are case-insensitive). Empty when the type is not
// multipart/form-data, the parameter is absent or malformed (an unterminated quote, a
// backslash escape), or the boundary is not 1..70 printable ASCII characters without a
// trailing space (RFC 2046). The view points into `content_type`.
std::string_view multipart_boundary(std::string_view content_type) noexcept;

// One part's header block, parsed. Values are trimmed; an absent header gives "" (no
// default content type is made up).
struct multipart_part {
  std::string name;                       // Content-Disposition name parameter
  std::string filename;                   // Content-Disposition filename parameter
  bool has_filename = false;              // filename="" (a file input left empty) is present
  std::string content_type;               // Content-Type, as sent
  std::string content_transfer_encoding;  // Content-Transfer-Encoding, as sent
  // Every header field in order, names as sent; folded lines joined with one space.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Events of a multipart_parser, in the order: (on_part_begin, on_part_data*, on_part_end)*,
// then at most one on_error, after which nothing more is reported (an open part is not
// ended). A part's data arrives in pieces whose sizes depend on how the body was cut; their
// concatenation does not. Pieces are never empty and point into the chunk being fed (or
// into the parser): copy what must outlive the call. Returning false from a callback stops
// the parser: it fails with "stopped by the handler" (reported through on_error). A
// callback must not call back into the parser that invoked it.
struct multipart_handler {
  virtual ~multipart_handler() = default;
  virtual bool on_part_begin(const multipart_part&) { return true; }
  virtual bool on_part_data(std::string_view) { return true; }
  virtual bool on_part_end() { return true; }
  virtual void on_error(std::string_view /*message*/) {}
};

struct multipart_limits {
  std::size_t max_header_size = 8192;  // bytes of one part's header block, blank line included
  std::size_t max_parts = 1000;
};

// Streaming multipart/form-data parser (RFC 7578, framing of RFC 2046). Feed the body in
// chunks cut anywhere; the events are the same as for one chunk holding the whole body. The
// preamble before the first delimiter and the epilogue after the closing one are ignored. A
// delimiter is CRLF "--" boundary at the start of the body or after a CRLF, followed by "--"
// (closing) or by optional spaces/tabs and CRLF; "\r\n--boundary" followed by anything else
// is data. Line ends must be CRLF: a delimiter followed by a bare LF, or a header block with
// a bare CR or LF, is an error (a bare LF is not tolerated, so data cannot be cut
// differently by lenient and strict peers). Only the header block is buffered (up to
// max_header_size); data is passed on as it arrives, holding back at most the bytes that may
// begin a delimiter. The boundary must be 1..70 bytes without CR or LF (else the first
// feed or finish fails); the parser keeps a copy, and a reference to `handler`.
class multipart_parser {
 public:
  multipart_parser(std::string_view boundary, multipart_handler& handler, multipart_limits limits = {});

  // Parses the next chunk of the body; false once the parser has failed.
  bool feed(std::string_view chunk);
  // Ends the body: true when the closing delimiter was seen and nothing failed; otherwise
  // fails with "body ends before the closing boundary" (unless it had already failed).
  bool finish();

  bool done() const noexcept { return state_ == st::epilogue; }   // closing delimiter seen
  bool failed() const noexcept { return state_ == st::failed || state_ == st::bad_boundary; }
  std::string_view error() const noexcept { return error_; }       // "" unless failed
  std::size_t parts() const noexcept { return parts_; }            // delimiters opening a part

 private:
  enum class st { preamble, data, padding, line_feed, headers, epilogue, failed, bad_boundary };
  bool fail(std::string_view message);  // reports once; returns false
  bool scan(std::string_view chunk, std::size_t& i);  // preamble/data: look for a delimiter
  bool headers_done();
  bool emit(std::string_view data);

  std::string delim_;  // "\r\n--" boundary "-"
  std::size_t dsize_;  // delim_.size() - 1: the delimiter without the trailing '-'
  multipart_handler* handler_;
  multipart_limits limits_;
  st state_ = st::preamble;
  std::size_t match_ = 2;  // bytes of the delimiter matched (the body starts as after a CRLF)
  bool dash_ = false;      // a whole delimiter and one '-' were matched
  bool in_part_ = false;
  std::size_t parts_ = 0;
  std::string head_;  // the header block being read
  std::string error_;
};

}  // namespace remora::http

#if REMORA_HEADER_ONLY
#  include <remora/http/impl/form.ipp>
#endif
