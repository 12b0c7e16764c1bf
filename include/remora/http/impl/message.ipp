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

REMORA_DECL void response::set_header(std::string_view name, std::string_view value) {
  for (auto& h : headers)
    if (iequals(h.first, name)) { h.second.assign(value); return; }
  headers.emplace_back(std::string(name), std::string(value));
}

REMORA_DECL std::string_view response::header(std::string_view name) const noexcept {
  for (auto& h : headers)
    if (iequals(h.first, name)) return h.second;
  for (std::string_view b = head_block; !b.empty();) {
    auto eol = b.find("\r\n");
    auto line = b.substr(0, eol);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      auto v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
    if (eol == std::string_view::npos) break;
    b.remove_prefix(eol + 2);
  }
  return {};
}

REMORA_DECL void response::error_page(unsigned s) {
  status = s;
  headers.clear();
  file.reset();
  file_offset = file_length = 0;
  tail.clear();
  hold.reset();
  head_block = body_view = {};
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
  head_block = body_view = {};
  close = false;
  later = nullptr;
  internal_redirect.clear();
}

}  // namespace remora::http
