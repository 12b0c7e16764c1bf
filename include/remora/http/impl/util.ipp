#pragma once
#include <remora/http/util.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace remora::http {

REMORA_DECL std::string_view status_text(unsigned s) noexcept {
  switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 423: return "Locked";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

namespace detail {
inline constexpr const char* wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
inline constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
inline int month_index(std::string_view m) noexcept {
  for (int i = 0; i < 12; ++i)
    if (m == months[i]) return i;
  return -1;
}
inline bool digits(std::string_view s, int& v) noexcept {
  if (s.empty() || s.size() > 4) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}
inline int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace detail

REMORA_DECL std::string format_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", detail::wdays[tm.tm_wday % 7],
                tm.tm_mday, detail::months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

REMORA_DECL std::optional<std::time_t> parse_date(std::string_view s) noexcept {
  // Split on spaces, commas and colons into at most 8 fields.
  std::string_view f[8];
  int n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < 8) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == ':' || s[i] == '-')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != ',' && s[i] != ':' && s[i] != '-') ++i;
    if (i > b) f[n++] = s.substr(b, i - b);
  }
  if (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size()) return std::nullopt;
  }
  int day, mon, year, hh, mm, ss;
  if (n == 8 && f[7] == "GMT") {  // IMF-fixdate or RFC 850: wday day mon year hh mm ss GMT
    mon = detail::month_index(f[2]);
    if (!detail::digits(f[1], day) || !detail::digits(f[3], year) || !detail::digits(f[4], hh) ||
        !detail::digits(f[5], mm) || !detail::digits(f[6], ss))
      return std::nullopt;
    if (f[3].size() == 2) year += year < 70 ? 2000 : 1900;
  } else if (n == 7) {  // asctime: wday mon day hh mm ss year
    mon = detail::month_index(f[1]);
    if (!detail::digits(f[2], day) || !detail::digits(f[3], hh) || !detail::digits(f[4], mm) ||
        !detail::digits(f[5], ss) || !detail::digits(f[6], year))
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970 || year > 9999)
    return std::nullopt;
  std::tm tm{};
  tm.tm_mday = day;
  tm.tm_mon = mon;
  tm.tm_year = year - 1900;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return timegm(&tm);
}

REMORA_DECL std::optional<std::string_view> cookie_value(std::string_view v, std::string_view name) noexcept {
  while (!v.empty()) {
    auto semi = v.find(';');
    auto part = v.substr(0, semi);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      auto val = part.substr(eq + 1);
      while (!val.empty() && (val.back() == ' ' || val.back() == '\t')) val.remove_suffix(1);
      if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
      return val;
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

REMORA_DECL std::string encode_path(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (char ch : path) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("-._~/!$&'()*+,;=:@").find(ch) != std::string_view::npos;
    if (keep) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

REMORA_DECL bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int h = detail::hexval(in[i + 1]), l = detail::hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

REMORA_DECL bool parse_url(std::string_view u, url_parts& out) {
  out = url_parts{};
  auto colon = u.find("://");
  if (colon == std::string_view::npos) return false;
  std::string scheme(u.substr(0, colon));
  for (auto& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "https" || scheme == "wss") out.tls = true;
  else if (scheme != "http" && scheme != "ws") return false;
  out.ws = scheme[0] == 'w';
  u.remove_prefix(colon + 3);
  auto end = u.find_first_of("/?#");
  std::string_view auth = u.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : u.substr(end);
  if (auto at = auth.rfind('@'); at != std::string_view::npos) {
    out.userinfo = std::string(auth.substr(0, at));
    auth.remove_prefix(at + 1);
  }
  std::string_view port;
  if (!auth.empty() && auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) return false;
    out.host = std::string(auth.substr(1, close - 1));
    if (close + 1 < auth.size()) {
      if (auth[close + 1] != ':') return false;
      port = auth.substr(close + 2);
    }
  } else {
    auto c = auth.find(':');
    out.host = std::string(auth.substr(0, c));
    if (c != std::string_view::npos) port = auth.substr(c + 1);
  }
  if (out.host.empty()) return false;
  out.port = out.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned p = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || p == 0 || p > 65535) return false;
    out.port = std::uint16_t(p);
  }
  if (auto h = rest.find('#'); h != std::string_view::npos) rest = rest.substr(0, h);
  out.target = rest.empty() || rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
  return true;
}

REMORA_DECL std::string authority(const url_parts& u) {
  std::string a = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (u.port != (u.tls ? 443 : 80)) a += ":" + std::to_string(u.port);
  return a;
}

REMORA_DECL target_status decode_target(std::string_view target, std::string& path,
                                        std::string_view& query) {
  path.clear();
  query = {};
  if (target.empty()) return target_status::bad_request;
  if (target.front() != '/') {
    // absolute-form: scheme "://" authority path; the authority plays no part in lookup
    auto scheme = target.find("://");
    if (scheme == std::string_view::npos || scheme == 0) return target_status::bad_request;
    for (std::size_t i = 0; i < scheme; ++i) {
      char c = target[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
        return target_status::bad_request;
    }
    auto rest = target.substr(scheme + 3);
    auto slash = rest.find_first_of("/?#");
    // An empty path ("http://host", "http://host?q") is "/".
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  auto hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  auto q = target.find('?');
  if (q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  std::string decoded;
  if (!percent_decode(target, decoded)) return target_status::bad_request;
  if (decoded.find('\0') != std::string::npos) return target_status::not_found;
  // Rebuild segment by segment.
  path.reserve(decoded.size());
  std::string_view d = decoded;
  std::size_t i = 0;
  while (i < d.size()) {
    while (i < d.size() && d[i] == '/') ++i;
    std::size_t b = i;
    while (i < d.size() && d[i] != '/') ++i;
    std::string_view seg = d.substr(b, i - b);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return target_status::not_found;
    path.push_back('/');
    path.append(seg);
  }
  if (path.empty() || d.back() == '/') path.push_back('/');
  return target_status::ok;
}

REMORA_DECL byte_range parse_range(std::string_view h, std::uint64_t size) noexcept {
  byte_range r;
  h = detail::trim(h);
  if (h.size() < 6 || !iequals(h.substr(0, 6), "bytes=")) return r;
  h = detail::trim(h.substr(6));
  if (h.find(',') != std::string_view::npos) return r;  // multiple ranges: send it whole
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return r;
  auto num = [](std::string_view s, std::uint64_t& v) {
    s = detail::trim(s);
    if (s.empty() || s.size() > 19) return false;
    v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + std::uint64_t(c - '0');
    }
    return true;
  };
  std::string_view a = detail::trim(h.substr(0, dash)), b = detail::trim(h.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last N bytes
    if (!num(b, last)) return r;
    if (last == 0 || size == 0) { r.kind = byte_range::unsatisfiable; return r; }
    r.kind = byte_range::ok;
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
    return r;
  }
  if (!num(a, first)) return r;
  if (b.empty()) {
    last = size ? size - 1 : 0;
  } else {
    if (!num(b, last) || last < first) return r;
  }
  if (first >= size) { r.kind = byte_range::unsatisfiable; return r; }
  r.kind = byte_range::ok;
  r.first = first;
  r.last = last >= size ? size - 1 : last;
  return r;
}

REMORA_DECL bool etag_matches(std::string_view inm, std::string_view etag) noexcept {
  auto strip = [](std::string_view t) {
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
  };
  etag = strip(etag);
  std::size_t i = 0;
  while (i < inm.size()) {
    auto comma = inm.find(',', i);
    auto item = detail::trim(inm.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i));
    if (item == "*") return true;
    if (!item.empty() && strip(item) == etag) return true;
    if (comma == std::string_view::npos) break;
    i = comma + 1;
  }
  return false;
}

REMORA_DECL bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

REMORA_DECL bool has_token(std::string_view list, std::string_view token) noexcept {
  std::size_t i = 0;
  while (i <= list.size()) {
    auto comma = list.find(',', i);
    auto item = detail::trim(list.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    i = comma + 1;
  }
  return false;
}

}  // namespace remora::http
