#pragma once
#include <remora/http/message.hpp>
#include <remora/http/util.hpp>

namespace remora::http {

REMORA_DECL std::string_view request::header(std::string_view name) const noexcept {
  for (auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

REMORA_DECL bool request::has_header(std::string_view name) const noexcept {
  for (auto& h : headers)
    if (iequals(h.name, name)) return true;
  return false;
}

namespace detail {
// Calls f(name, value) for each "Name: value\r\n" line of a header block; stops when f
// returns true, and then returns true.
template<class F>
bool each_header_line(std::string_view b, F&& f) {
  while (!b.empty()) {
    auto eol = b.find("\r\n");
    auto line = b.substr(0, eol);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      auto v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (f(line.substr(0, colon), v)) return true;
    }
    if (eol == std::string_view::npos) break;
    b.remove_prefix(eol + 2);
  }
  return false;
}

// Takes `name` out of head_static: its first or last line is simply cut off (the block is
// static storage); a line in the middle moves the whole block into headers.
inline void materialize(response& r, std::string_view name) {
  if (r.head_static.empty()) return;
  std::size_t start = 0, end = 0, at = 0;
  bool found = each_header_line(r.head_static, [&](std::string_view n, std::string_view v) {
    std::size_t line_end = std::size_t(v.data() + v.size() - r.head_static.data()) + 2;
    if (iequals(n, name)) {
      start = at;
      end = line_end;
      return true;
    }
    at = line_end;
    return false;
  });
  if (!found) return;
  if (start == 0) return r.head_static.remove_prefix(end);
  if (end == r.head_static.size()) return r.head_static.remove_suffix(end - start);
  each_header_line(r.head_static, [&](std::string_view n, std::string_view v) {
    r.headers.emplace_back(std::string(n), std::string(v));
    return false;
  });
  r.head_static = {};
}
}  // namespace detail

REMORA_DECL void response::remove_header(std::string_view name) {
  detail::materialize(*this, name);
  std::erase_if(headers, [&](auto& h) { return iequals(h.first, name); });
}

REMORA_DECL void response::clear_headers() {
  headers.clear();
  head_block = head_static = {};
}

REMORA_DECL void response::set_header(std::string_view name, std::string_view value) {
  detail::materialize(*this, name);
  for (auto& h : headers)
    if (iequals(h.first, name)) { h.second.assign(value); return; }
  headers.emplace_back(std::string(name), std::string(value));
}

REMORA_DECL std::string_view response::header(std::string_view name) const noexcept {
  for (auto& h : headers)
    if (iequals(h.first, name)) return h.second;
  std::string_view found;
  auto match = [&](std::string_view n, std::string_view v) {
    if (!iequals(n, name)) return false;
    found = v;
    return true;
  };
  if (detail::each_header_line(head_block, match) || detail::each_header_line(head_static, match)) return found;
  return {};
}

REMORA_DECL void response::error_page(unsigned s) {
  status = s;
  headers.clear();
  file.reset();
  file_offset = file_length = 0;
  tail.clear();
  hold.reset();
  head_block = body_view = head_static = {};
  set_header("Content-Type", "text/html");
  body.assign("<html><body><h1>");
  body.append(std::to_string(s)).append(" ").append(status_text(s));
  body.append("</h1><p>").append(server_name).append("</p></body></html>");
}

REMORA_DECL void response::redirect(unsigned s, std::string_view location) {
  error_page(s);
  // The location is often built from a decoded path: escape what may never appear in a URI
  // (controls, space, DEL, non-ASCII), so a name holding CR LF cannot inject a header.
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string loc;
  loc.reserve(location.size());
  for (char ch : location) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      loc.push_back('%');
      loc.push_back(hex[c >> 4]);
      loc.push_back(hex[c & 15]);
    } else {
      loc.push_back(ch);
    }
  }
  set_header("Location", loc);
}

REMORA_DECL void response::reset() {
  status = 200;
  headers.clear();
  body.clear();
  file.reset();
  file_offset = file_length = 0;
  tail.clear();
  hold.reset();
  head_block = body_view = head_static = {};
  close = false;
  later = nullptr;
  internal_redirect.clear();
  takeover = nullptr;
}

}  // namespace remora::http
