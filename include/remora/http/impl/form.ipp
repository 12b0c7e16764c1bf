#pragma once
#include <remora/http/form.hpp>
#include <remora/http/util.hpp>

#include <cstring>

namespace remora::http {

namespace detail::form {
inline int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
inline bool is_ws(char c) noexcept { return c == ' ' || c == '\t'; }
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}
// Form-decodes `in` into the empty string `out`: runs of plain bytes are appended whole.
inline void decode(std::string_view in, std::string& out) {
  out.reserve(in.size());
  const std::size_t n = in.size();
  std::size_t run = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = in[i];
    if (c == '+') {
      out.append(in.data() + run, i - run);
      out.push_back(' ');
      run = i + 1;
    } else if (c == '%' && n - i >= 3) {
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) continue;  // malformed: the '%' stays in the run
      out.append(in.data() + run, i - run);
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
      run = i + 1;
    }
  }
  out.append(in.data() + run, n - run);
}
// Calls f(name, value, quoted) for each "name=value" parameter after the first ';' of a
// header value. A quoted value is the text between the quotes, backslash escapes still in
// (see unquote); text after the closing quote, up to the next ';', is ignored, and so is a
// parameter without '='. False on an unterminated quoted string.
template <class F>
bool each_param(std::string_view s, F&& f) {
  std::size_t i = s.find(';');
  if (i == std::string_view::npos) return true;
  ++i;
  while (i < s.size()) {
    std::size_t b = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';') ++i;
    std::string_view name = trim(s.substr(b, i - b));
    if (i == s.size() || s[i] == ';') {
      ++i;
      continue;
    }
    ++i;  // '='
    while (i < s.size() && is_ws(s[i])) ++i;
    if (i < s.size() && s[i] == '"') {
      b = ++i;
      while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
      if (i >= s.size()) return false;
      f(name, s.substr(b, i - b), true);
      while (i < s.size() && s[i] != ';') ++i;
    } else {
      b = i;
      while (i < s.size() && s[i] != ';') ++i;
      f(name, trim(s.substr(b, i - b)), false);
    }
    ++i;  // ';'
  }
  return true;
}
// A quoted string's text without its backslash escapes.
inline std::string unquote(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
    out.push_back(raw[i]);
  }
  return out;
}
inline bool is_tchar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}
}  // namespace detail::form

REMORA_DECL bool parse_form(std::string_view s, form_pairs& out, std::size_t max_pairs) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view pair = s.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) continue;
    if (out.size() >= max_pairs) return false;
    auto eq = pair.find('=');
    auto& [name, value] = out.emplace_back();
    detail::form::decode(pair.substr(0, eq), name);
    if (eq != std::string_view::npos) detail::form::decode(pair.substr(eq + 1), value);
  }
  return true;
}

REMORA_DECL std::string_view multipart_boundary(std::string_view ct) noexcept {
  using namespace detail::form;
  if (!iequals(trim(ct.substr(0, ct.find(';'))), "multipart/form-data")) return {};
  std::string_view b;
  bool found = false, escaped = false;
  bool ok = each_param(ct, [&](std::string_view name, std::string_view value, bool quoted) {
    if (found || !iequals(name, "boundary")) return;
    found = true;
    b = value;
    escaped = quoted && value.find('\\') != std::string_view::npos;
  });
  if (!ok || !found || escaped || b.empty() || b.size() > 70 || b.back() == ' ') return {};
  for (char c : b)
    if (c < 0x20 || c > 0x7e) return {};
  return b;
}

REMORA_DECL multipart_parser::multipart_parser(std::string_view boundary, multipart_handler& handler,
                                               multipart_limits limits)
    : handler_(&handler), limits_(limits) {
  delim_.reserve(boundary.size() + 5);
  delim_ = "\r\n--";
  delim_.append(boundary);
  delim_.push_back('-');
  dsize_ = delim_.size() - 1;
  if (boundary.empty() || boundary.size() > 70 || boundary.find_first_of("\r\n") != std::string_view::npos)
    state_ = st::bad_boundary;
}

REMORA_DECL bool multipart_parser::fail(std::string_view message) {
  if (state_ == st::failed) return false;
  state_ = st::failed;
  error_ = message;
  handler_->on_error(error_);
  return false;
}

REMORA_DECL bool multipart_parser::emit(std::string_view data) {
  if (data.empty() || handler_->on_part_data(data)) return true;
  return fail("stopped by the handler");
}

// Preamble or part data from c[i]: passes data on (in the data state) and stops after a
// delimiter's boundary, in the padding, line_feed or epilogue state. The bytes matched so far
// are always delim_[0, match_ + dash_): a match is held back without copying, and since the
// delimiter has no CR past its first byte, a mismatch releases all of it as data.
REMORA_DECL bool multipart_parser::scan(std::string_view c, std::size_t& i) {
  constexpr std::size_t npos = std::string_view::npos;
  const bool data = state_ == st::data;
  std::size_t run = i;      // start of the data not yet passed on
  std::size_t mstart = npos;  // where the current match began, when in this chunk
  while (i < c.size()) {
    if (match_ == 0) {
      const void* cr = std::memchr(c.data() + i, '\r', c.size() - i);
      if (!cr) {
        i = c.size();
        break;
      }
      i = static_cast<std::size_t>(static_cast<const char*>(cr) - c.data());
      mstart = i++;
      match_ = 1;
      continue;
    }
    char ch = c[i];
    if (match_ < dsize_) {
      if (ch == delim_[match_]) {
        ++match_;
        ++i;
        continue;
      }
    } else {
      bool closing = dash_ && ch == '-';
      bool line = !dash_ && (detail::form::is_ws(ch) || ch == '\r' || ch == '\n');
      if (!dash_ && ch == '-') {
        dash_ = true;
        ++i;
        continue;
      }
      if (closing || line) {  // a delimiter: the data before it is complete
        if (data && mstart != npos && !emit(c.substr(run, mstart - run))) return false;
        match_ = 0;
        dash_ = false;
        ++i;
        if (closing) {
          state_ = st::epilogue;
          if (in_part_) {
            in_part_ = false;
            if (!handler_->on_part_end()) return fail("stopped by the handler");
          }
          return true;
        }
        if (ch == '\n') return fail("malformed boundary line: bare LF after the boundary");
        state_ = ch == '\r' ? st::line_feed : st::padding;
        return true;
      }
    }
    // Not a delimiter: what was held is data; ch is looked at again.
    if (data && mstart == npos) {
      if (!emit(std::string_view(delim_).substr(0, match_ + dash_))) return false;
      run = i;
    }
    match_ = 0;
    dash_ = false;
    mstart = npos;
  }
  if (data) {
    std::size_t end = match_ == 0 ? c.size() : mstart == npos ? run : mstart;
    if (!emit(c.substr(run, end - run))) return false;
  }
  return true;
}

REMORA_DECL bool multipart_parser::headers_done() {
  using namespace detail::form;
  multipart_part part;
  std::string_view block(head_);
  block.remove_suffix(2);  // the blank line
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t eol = block.find("\r\n", pos);  // every line ends with one
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) continue;
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return fail("malformed part header: bare CR or LF, or NUL");
    if (is_ws(line.front())) {  // a folded line continues the previous field
      if (part.headers.empty()) return fail("malformed part header: continuation line first");
      std::string_view more = trim(line);
      std::string& v = part.headers.back().second;
      if (!more.empty() && !v.empty()) v.push_back(' ');
      v.append(more);
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed part header: no field name");
    std::string_view name = line.substr(0, colon);
    for (char ch : name)
      if (!is_tchar(ch)) return fail("malformed part header: bad field name");
    part.headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  bool disposition = false, type = false, cte = false;
  for (auto& [name, value] : part.headers) {
    if (!disposition && iequals(name, "Content-Disposition")) {
      disposition = true;
      bool got_name = false;
      bool ok = each_param(value, [&](std::string_view pn, std::string_view pv, bool quoted) {
        if (!got_name && iequals(pn, "name")) {
          got_name = true;
          part.name = quoted ? unquote(pv) : std::string(pv);
        } else if (!part.has_filename && iequals(pn, "filename")) {
          part.has_filename = true;
          part.filename = quoted ? unquote(pv) : std::string(pv);
        }
      });
      if (!ok) return fail("malformed Content-Disposition: unterminated quoted string");
    } else if (!type && iequals(name, "Content-Type")) {
      type = true;
      part.content_type = value;
    } else if (!cte && iequals(name, "Content-Transfer-Encoding")) {
      cte = true;
      part.content_transfer_encoding = value;
    }
  }
  state_ = st::data;
  in_part_ = true;
  if (!handler_->on_part_begin(part)) return fail("stopped by the handler");
  return true;
}

REMORA_DECL bool multipart_parser::feed(std::string_view c) {
  if (state_ == st::bad_boundary) return fail("invalid multipart boundary");
  std::size_t i = 0;
  while (i < c.size()) {
    switch (state_) {
      case st::preamble:
      case st::data:
        if (!scan(c, i)) return false;
        break;
      case st::padding: {
        char ch = c[i++];
        if (ch == '\r') state_ = st::line_feed;
        else if (!detail::form::is_ws(ch)) return fail("malformed boundary line: text after the boundary");
        break;
      }
      case st::line_feed:
        if (c[i++] != '\n') return fail("malformed boundary line: CR without LF");
        if (in_part_) {
          in_part_ = false;
          if (!handler_->on_part_end()) return fail("stopped by the handler");
        }
        if (parts_ >= limits_.max_parts) return fail("too many parts");
        ++parts_;
        head_.clear();
        state_ = st::headers;
        break;
      case st::headers: {
        const void* lf = std::memchr(c.data() + i, '\n', c.size() - i);
        std::size_t end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - c.data()) + 1 : c.size();
        if (end - i > limits_.max_header_size - head_.size()) return fail("part header block too large");
        head_.append(c.data() + i, end - i);
        i = end;
        if (lf && (head_ == "\r\n" || head_.ends_with("\r\n\r\n")) && !headers_done()) return false;
        break;
      }
      case st::epilogue:
        return true;
      case st::failed:
      case st::bad_boundary:
        return false;
    }
  }
  return state_ != st::failed;
}

REMORA_DECL bool multipart_parser::finish() {
  if (state_ == st::bad_boundary) return fail("invalid multipart boundary");
  if (state_ == st::epilogue) return true;
  return fail("body ends before the closing boundary");
}

}  // namespace remora::http
