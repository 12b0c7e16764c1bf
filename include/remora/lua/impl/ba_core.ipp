#pragma once
#include <remora/lua/host.hpp>
#include <remora/lua/timer_lib.hpp>
#include <remora/lua/socket_lib.hpp>
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>
#include <remora/lua/ba_core.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lsp/pages.hpp>

#include <arpa/inet.h>
#include <sys/random.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remora::lua {

namespace detail {

// ---- base64 ---------------------------------------------------------------------------------

inline std::string b64_encode(std::string_view in, bool url) {
  const char* abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return std::uint32_t(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    out += abc[v >> 6 & 63];
    out += abc[v & 63];
  }
  std::size_t rest = in.size() - i;
  if (rest) {
    std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    if (rest == 2) out += abc[v >> 6 & 63];
    if (!url) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

// Both alphabets, optional padding, whitespace ignored (see the header); false when invalid.
inline bool b64_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() / 4 * 3 + 3);
  std::uint32_t acc = 0;
  std::size_t n = 0, pads = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') continue;
    else if (c == '=') {
      ++pads;
      continue;
    } else return false;
    if (pads) return false;  // data after padding
    acc = acc << 6 | std::uint32_t(v);
    if (++n % 4 == 0) {
      out += char(acc >> 16 & 0xff);
      out += char(acc >> 8 & 0xff);
      out += char(acc & 0xff);
      acc = 0;
    }
  }
  std::size_t rest = n % 4;
  if (rest == 1 || pads > 2) return false;
  if (pads && (n + pads) % 4 != 0) return false;
  if (rest == 2) out += char(acc >> 4 & 0xff);
  else if (rest == 3) {
    out += char(acc >> 10 & 0xff);
    out += char(acc >> 2 & 0xff);
  }
  return true;
}

// ---- URL encoding ---------------------------------------------------------------------------

inline void url_encode_to(std::string_view in, std::string& out) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

// tostring() of a value at `idx` for ba.urlencode tables (strings, numbers, booleans only).
inline std::string url_value(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
    case LUA_TNUMBER: {
      std::size_t n;
      const char* s = luaL_tolstring(L, idx, &n);
      std::string r(s, n);
      lua_pop(L, 1);
      return r;
    }
    case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? "true" : "false";
    default: luaL_error(L, "ba.urlencode: cannot encode a %s", luaL_typename(L, idx));
  }
  return {};
}

// ---- randomness -----------------------------------------------------------------------------

inline void random_bytes(lua_State* L, void* buf, std::size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    ssize_t got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      luaL_error(L, "getrandom: %s", std::strerror(errno));
    }
    p += got;
    n -= std::size_t(got);
  }
}

inline std::uint64_t random_u64(lua_State* L) {
  std::uint64_t v;
  random_bytes(L, &v, sizeof v);
  return v;
}

// Uniform in [lo, hi] by rejection sampling (no modulo bias).
inline lua_Integer random_range(lua_State* L, lua_Integer lo, lua_Integer hi) {
  std::uint64_t span = std::uint64_t(hi) - std::uint64_t(lo);  // hi - lo, modulo 2^64
  if (span == UINT64_MAX) return lua_Integer(random_u64(L));
  std::uint64_t range = span + 1;
  std::uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;  // accept v <= limit
  std::uint64_t v;
  do v = random_u64(L);
  while (v > limit);
  return lua_Integer(std::uint64_t(lo) + v % range);
}

// A bound for ba.rnd: integers as they are, floats floored (BAS code passes 0xFFFFFFFF/2-1).
inline lua_Integer rnd_bound(lua_State* L, int idx) {
  if (lua_isinteger(L, idx)) return lua_tointeger(L, idx);
  lua_Number x = std::floor(luaL_checknumber(L, idx));
  if (!(x >= -9.2233720368547758e18 && x < 9.2233720368547758e18))
    luaL_argerror(L, idx, "number out of range");
  return lua_Integer(x);
}

// ---- time -----------------------------------------------------------------------------------

inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

struct civil {
  std::int64_t year;
  unsigned month, day;
};
inline civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {std::int64_t(yoe) + era * 400 + (m <= 2), m, d};
}

inline bool leap(std::int64_t y) noexcept { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }
inline unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : dm[m - 1];
}

inline constexpr std::int64_t dt_min_secs = -62135596800;  // 0001-01-01T00:00:00Z
inline constexpr std::int64_t dt_max_secs = 253402300799;  // 9999-12-31T23:59:59Z
inline constexpr std::int64_t ns_per_sec = 1000000000;

struct datetime_ud {
  std::int64_t secs = 0;  // seconds since the epoch (UTC)
  std::int32_t nsec = 0;  // 0..999999999
  std::int32_t offset = 0;  // display offset, minutes east of UTC
};

inline bool dt_in_range(std::int64_t s) noexcept { return s >= dt_min_secs && s <= dt_max_secs; }

inline datetime_ud* push_datetime(lua_State* L, std::int64_t secs, std::int64_t nsec, std::int32_t offset) {
  // Normalise the nanoseconds into 0..1e9-1 first.
  secs += nsec / ns_per_sec;
  nsec %= ns_per_sec;
  if (nsec < 0) {
    nsec += ns_per_sec;
    --secs;
  }
  if (!dt_in_range(secs)) luaL_error(L, "datetime out of range");
  return push_object<datetime_ud>(L, datetime_tname, datetime_ud{secs, std::int32_t(nsec), offset});
}

inline datetime_ud* test_datetime(lua_State* L, int idx) {
  return static_cast<datetime_ud*>(luaL_testudata(L, idx, datetime_tname));
}
inline datetime_ud& check_datetime(lua_State* L, int idx) {
  return *check_object<datetime_ud>(L, idx, datetime_tname);
}

// Seconds (an integer, or a float split into seconds and nanoseconds) at `idx`; the
// magnitude is bounded well beyond MIN..MAX so later sums cannot overflow.
inline void number_to_span(lua_State* L, int idx, std::int64_t& secs, std::int64_t& nsec) {
  constexpr std::int64_t bound = std::int64_t(1) << 40;  // ~34,800 years
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v > bound || v < -bound) luaL_error(L, "datetime out of range");
    secs = v;
    nsec = 0;
    return;
  }
  lua_Number x = luaL_checknumber(L, idx);
  if (!(std::fabs(x) < double(bound))) luaL_error(L, "datetime out of range");
  lua_Number f = std::floor(x);
  secs = std::int64_t(f);
  nsec = std::llround((x - f) * 1e9);
  if (nsec >= ns_per_sec) nsec = ns_per_sec - 1;
}

// A delta table {days=, hours=, mins=, secs=, nsecs=} at `idx` as seconds + nanoseconds.
inline void table_to_span(lua_State* L, int idx, std::int64_t& secs, std::int64_t& nsec) {
  static constexpr std::pair<const char*, std::int64_t> units[] = {
      {"days", 86400}, {"hours", 3600}, {"mins", 60}, {"secs", 1}};
  secs = 0;
  nsec = 0;
  idx = lua_absindex(L, idx);
  for (auto& [name, mult] : units) {
    if (lua_getfield(L, idx, name) != LUA_TNIL) {
      if (!lua_isnumber(L, -1)) luaL_error(L, "datetime: field '%s' must be a number", name);
      // Scale as a number of seconds first so fractional days/hours work.
      if (lua_isinteger(L, -1)) {
        lua_Integer v = lua_tointeger(L, -1);
        if (v > (std::int64_t(1) << 40) / mult || v < -(std::int64_t(1) << 40) / mult)
          luaL_error(L, "datetime out of range");
        secs += v * mult;
      } else {
        lua_pushnumber(L, lua_tonumber(L, -1) * lua_Number(mult));
        std::int64_t s, n;
        number_to_span(L, -1, s, n);
        lua_pop(L, 1);
        secs += s;
        nsec += n;
      }
    }
    lua_pop(L, 1);
  }
  if (lua_getfield(L, idx, "nsecs") != LUA_TNIL) {
    lua_Integer v = luaL_checkinteger(L, -1);
    if (v > (std::int64_t(1) << 40) || v < -(std::int64_t(1) << 40)) luaL_error(L, "datetime out of range");
    nsec += v;
  }
  lua_pop(L, 1);
}

// A delta operand (number of seconds or delta table) at `idx`.
inline void delta_at(lua_State* L, int idx, std::int64_t& secs, std::int64_t& nsec) {
  if (lua_type(L, idx) == LUA_TTABLE) table_to_span(L, idx, secs, nsec);
  else if (lua_type(L, idx) == LUA_TNUMBER) number_to_span(L, idx, secs, nsec);
  else luaL_error(L, "datetime arithmetic needs a number of seconds or a {days,hours,mins,secs} table");
}

// Fixed-width decimal field; false unless exactly `width` digits.
inline bool fixed_digits(std::string_view s, std::size_t pos, std::size_t width, int& v) noexcept {
  if (pos + width > s.size()) return false;
  v = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

// ISO 8601 (see the header). False for anything else or an invalid calendar date.
inline bool parse_iso(std::string_view s, std::int64_t& secs, std::int64_t& nsec, std::int32_t& offset) noexcept {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!fixed_digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !fixed_digits(s, 5, 2, mo) ||
      s[7] != '-' || !fixed_digits(s, 8, 2, d))
    return false;
  std::size_t p = 10;
  nsec = 0;
  offset = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == 't' || s[p] == ' ')) {
    ++p;
    if (!fixed_digits(s, p, 2, h) || p + 2 >= s.size() || s[p + 2] != ':' || !fixed_digits(s, p + 3, 2, mi))
      return false;
    p += 5;
    if (p < s.size() && s[p] == ':') {
      if (!fixed_digits(s, p + 1, 2, se)) return false;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        std::size_t start = p;
        std::int64_t scale = ns_per_sec / 10;
        for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p) {  // digits past 9 are dropped
          nsec += (s[p] - '0') * scale;
          scale /= 10;
        }
        if (p == start) return false;
      }
    }
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        int sign = s[p] == '-' ? -1 : 1, oh, om = 0;
        if (!fixed_digits(s, p + 1, 2, oh)) return false;
        p += 3;
        if (p < s.size() && s[p] == ':') {
          if (!fixed_digits(s, p + 1, 2, om)) return false;
          p += 3;
        } else if (p < s.size()) {
          if (!fixed_digits(s, p, 2, om)) return false;
          p += 2;
        }
        if (oh > 23 || om > 59) return false;
        offset = sign * (oh * 60 + om);
      }
    }
  }
  if (p != s.size()) return false;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || unsigned(d) > days_in_month(y, unsigned(mo)) || h > 23 ||
      mi > 59 || se > 60)
    return false;
  std::int64_t wall_secs = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + se;
  if (wall_secs > dt_max_secs) return false;  // a leap second cannot roll into year 10000
  secs = wall_secs - offset * 60;
  return true;
}

// The wall-clock fields of `dt` shifted by `offset` minutes.
struct wall {
  std::int64_t year;
  int month, day, hour, min, sec, wday /* 0 = Sunday */, yday /* 1-based */;
};
inline wall wall_time(std::int64_t secs, std::int32_t offset) noexcept {
  std::int64_t t = secs + std::int64_t(offset) * 60;
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t rem = t - days * 86400;
  civil c = civil_from_days(days);
  wall w{};
  w.year = c.year;
  w.month = int(c.month);
  w.day = int(c.day);
  w.hour = int(rem / 3600);
  w.min = int(rem / 60 % 60);
  w.sec = int(rem % 60);
  w.wday = int(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  w.yday = int(days - days_from_civil(c.year, 1, 1)) + 1;
  return w;
}

inline std::string iso_string(const datetime_ud& dt) {
  wall w = wall_time(dt.secs, dt.offset);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d", static_cast<long long>(w.year),
                        w.month, w.day, w.hour, w.min, w.sec);
  std::string out(buf, std::size_t(n));
  if (dt.nsec) {
    std::snprintf(buf, sizeof buf, ".%09d", int(dt.nsec));
    std::string frac(buf);
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  if (dt.offset == 0) {
    out += 'Z';
  } else {
    int o = dt.offset < 0 ? -dt.offset : dt.offset;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", dt.offset < 0 ? '-' : '+', o / 60, o % 60);
    out += buf;
  }
  return out;
}

// ---- Lua functions --------------------------------------------------------------------------

inline int ba_b64encode(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string r = b64_encode({s, n}, false);
  lua_pushlstring(L, r.data(), r.size());
  return 1;
}
inline int ba_b64urlencode(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string r = b64_encode({s, n}, true);
  lua_pushlstring(L, r.data(), r.size());
  return 1;
}
inline int ba_b64decode(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string r;
  if (!b64_decode({s, n}, r)) lua_pushnil(L);
  else lua_pushlstring(L, r.data(), r.size());
  return 1;
}

inline int ba_urlencode(lua_State* L) {
  std::string out;
  if (lua_type(L, 1) == LUA_TTABLE) {
    lua_settop(L, 1);
    std::vector<std::string> parts;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      std::string k = url_value(L, -2);
      std::string kenc, venc;
      url_encode_to(k, kenc);
      if (lua_type(L, -1) == LUA_TTABLE) {
        lua_Integer len = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= len; ++i) {
          lua_rawgeti(L, -1, i);
          std::string v = url_value(L, -1);
          lua_pop(L, 1);
          venc.clear();
          url_encode_to(v, venc);
          parts.push_back(kenc + '=' + venc);
        }
      } else {
        url_encode_to(url_value(L, -1), venc);
        parts.push_back(kenc + '=' + venc);
      }
      lua_pop(L, 1);
    }
    std::stable_sort(parts.begin(), parts.end(), [](const std::string& a, const std::string& b) {
      return a.substr(0, a.find('=')) < b.substr(0, b.find('='));
    });
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i) out += '&';
      out += parts[i];
    }
  } else {
    std::size_t n;
    const char* s = luaL_checklstring(L, 1, &n);
    url_encode_to({s, n}, out);
  }
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

inline int ba_urldecode(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string in(s, n), out;
  std::replace(in.begin(), in.end(), '+', ' ');  // before decoding: "%2B" stays a '+'
  if (!http::percent_decode(in, out)) lua_pushnil(L);
  else lua_pushlstring(L, out.data(), out.size());
  return 1;
}

inline int ba_clock(lua_State* L) {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, lua_Integer(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000);
  return 1;
}

// In a page, ba.sleep lets the server go on while the page waits; elsewhere it blocks.
inline int ba_sleep(lua_State* L) {
  lua_Integer ms = rnd_bound(L, 1);
  if (ms <= 0) return 0;
  if (ms < 0x7fffffff && lsp::page_sleep(L, unsigned(ms))) return lua_yield(L, 0);
  if (ms < 0x7fffffff && timer_sleep(L, unsigned(ms))) return lua_yield(L, 0);
  if (ms < 0x7fffffff) {  // a cosocket
    int r = sleep_in_task(L, unsigned(ms));
    if (r >= 0) return r;
  }
  timespec req{std::time_t(ms / 1000), long(ms % 1000) * 1000000L}, rem{};
  // A thread or timer that sleeps lets the rest of the server use the VM meanwhile.
  without_lock(get_host(L), [&] {
    while (::nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
  });
  return 0;
}

inline int ba_encdate(lua_State* L) {
  std::time_t t = lua_isnoneornil(L, 1) ? std::time(nullptr) : std::time_t(rnd_bound(L, 1));
  std::string s = http::format_date(t);
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

// "[Wkd,] D Mon YYYY [hh:mm[:ss]] [GMT|UTC|Z]" (see the header).
inline std::optional<std::time_t> parse_loose_date(std::string_view s) noexcept {
  std::string_view f[8];
  int n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == ':')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != ',' && s[i] != ':') ++i;
    if (i > b) {
      if (n == 8) return std::nullopt;
      f[n++] = s.substr(b, i - b);
    }
  }
  static constexpr const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  auto alpha = [](std::string_view t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; });
  };
  auto num = [](std::string_view t, int maxlen, int& v) {
    if (t.empty() || t.size() > std::size_t(maxlen)) return false;
    v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    return true;
  };
  int k = 0;
  if (n > 0 && alpha(f[0]) && f[0].size() >= 3) ++k;  // weekday, unchecked
  if (n > k && n - 1 > k && (f[n - 1] == "GMT" || f[n - 1] == "UTC" || f[n - 1] == "Z")) --n;
  int rest = n - k;
  if (rest != 3 && rest != 5 && rest != 6) return std::nullopt;
  int day, year, mon = -1, hh = 0, mm = 0, ss = 0;
  if (!num(f[k], 2, day) || !num(f[k + 2], 4, year) || f[k + 2].size() != 4 || f[k + 1].size() != 3)
    return std::nullopt;
  for (int m = 0; m < 12; ++m) {
    if ((f[k + 1][0] | 0x20) == months[m][0] && (f[k + 1][1] | 0x20) == months[m][1] &&
        (f[k + 1][2] | 0x20) == months[m][2])
      mon = m + 1;
  }
  if (mon < 0) return std::nullopt;
  if (rest >= 5 && (!num(f[k + 3], 2, hh) || !num(f[k + 4], 2, mm))) return std::nullopt;
  if (rest == 6 && !num(f[k + 5], 2, ss)) return std::nullopt;
  if (year < 1970 || day < 1 || unsigned(day) > days_in_month(year, unsigned(mon)) || hh > 23 || mm > 59 ||
      ss > 60)
    return std::nullopt;
  return std::time_t(days_from_civil(year, unsigned(mon), unsigned(day)) * 86400 + hh * 3600 + mm * 60 + ss);
}

inline int ba_parsedate(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  auto t = http::parse_date({s, n});
  if (!t) t = parse_loose_date({s, n});
  if (!t) lua_pushnil(L);
  else lua_pushinteger(L, lua_Integer(*t));
  return 1;
}

inline int ba_rnd(lua_State* L) {
  lua_Integer lo, hi;
  switch (lua_gettop(L)) {
    case 0: lo = 0, hi = 0x7fffffff; break;
    case 1: lo = 1, hi = rnd_bound(L, 1); break;
    default: lo = rnd_bound(L, 1), hi = rnd_bound(L, 2); break;
  }
  luaL_argcheck(L, lo <= hi, lua_gettop(L) >= 2 ? 2 : 1, "interval is empty");
  lua_pushinteger(L, random_range(L, lo, hi));
  return 1;
}

inline int ba_rndbs(lua_State* L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= (lua_Integer(1) << 24), 1, "size out of range");
  luaL_Buffer b;
  char* p = luaL_buffinitsize(L, &b, std::size_t(n));
  random_bytes(L, p, std::size_t(n));
  luaL_pushresultsize(&b, std::size_t(n));
  return 1;
}

inline int ba_rnds(lua_State* L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 8, 1, "size must be 1..8");
  unsigned char buf[8];
  random_bytes(L, buf, std::size_t(n));
  std::uint64_t v = 0;
  for (lua_Integer i = 0; i < n; ++i) v = v << 8 | buf[i];
  lua_pushinteger(L, lua_Integer(v));
  return 1;
}

inline int ba_rndseed(lua_State*) { return 0; }  // getrandom(2) needs no seeding

inline int ba_version(lua_State* L) {
  lua_pushstring(L, "Remora " REMORA_VERSION);
  lua_Integer parts[3] = {0, 0, 0};
  int k = 0;
  for (const char* p = REMORA_VERSION; *p && k < 3; ++p) {
    if (*p >= '0' && *p <= '9') parts[k] = parts[k] * 10 + (*p - '0');
    else if (*p == '.') ++k;
    else break;
  }
  lua_pushinteger(L, parts[0] * 10000 + parts[1] * 100 + parts[2]);
  lua_pushstring(L, __DATE__);
  return 3;
}

inline int ba_deflate(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  int level = int(luaL_optinteger(L, 2, Z_DEFAULT_COMPRESSION));
  luaL_argcheck(L, level >= -1 && level <= 9, 2, "level must be -1..9");
  static const char* const fmts[] = {"raw", "zlib", "gzip", nullptr};
  int fmt = luaL_checkoption(L, 3, "raw", fmts);
  int bits = fmt == 0 ? -15 : fmt == 1 ? 15 : 31;
  luaL_argcheck(L, n < (std::size_t(1) << 31), 1, "data too large");
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return luaL_error(L, "deflate: initialisation failed");
  struct guard {
    z_stream* z;
    ~guard() { deflateEnd(z); }
  } g{&z};
  std::string out(deflateBound(&z, uLong(n)), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s));
  z.avail_in = uInt(n);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return luaL_error(L, "deflate failed");
  lua_pushlstring(L, out.data(), z.total_out);
  return 1;
}

inline int ba_mime(lua_State* L) {
  std::string name = "x.";
  name += luaL_checkstring(L, 1);
  auto t = http::mime_type(name);
  lua_pushlstring(L, t.data(), t.size());
  return 1;
}

// An address string as 16 bytes (IPv4 as IPv4-mapped IPv6); false when it does not parse.
inline bool addr16(std::string_view s, unsigned char out[16]) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (auto pct = s.find('%'); pct != std::string_view::npos) s = s.substr(0, pct);
  if (s.size() > 64) return false;
  std::string z(s);
  in_addr a4{};
  if (::inet_pton(AF_INET, z.c_str(), &a4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &a4, 4);
    return true;
  }
  return ::inet_pton(AF_INET6, z.c_str(), out) == 1;
}

inline int ba_cmpaddr(lua_State* L) {
  std::size_t na, nb;
  const char* a = luaL_checklstring(L, 1, &na);
  const char* b = luaL_checklstring(L, 2, &nb);
  unsigned char x[16], y[16];
  lua_pushboolean(L, addr16({a, na}, x) && addr16({b, nb}, y) && std::memcmp(x, y, 16) == 0);
  return 1;
}

// ---- ba.datetime ----------------------------------------------------------------------------

inline int ba_datetime(lua_State* L) {
  std::int64_t secs = 0, nsec = 0;
  std::int32_t offset = 0;
  bool delta_arg = true;  // whether argument 2 may be a delta table
  switch (lua_type(L, 1)) {
    case LUA_TSTRING: {
      std::size_t n;
      const char* p = lua_tolstring(L, 1, &n);
      std::string_view s(p, n);
      if (s == "NOW") {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        secs = ts.tv_sec;
        nsec = ts.tv_nsec;
      } else if (s == "MIN") {
        secs = dt_min_secs;
      } else if (s == "MAX") {
        secs = dt_max_secs;
        nsec = ns_per_sec - 1;
      } else if (!parse_iso(s, secs, nsec, offset) || !dt_in_range(secs)) {
        return fail(L, "invalid datetime");
      }
      break;
    }
    case LUA_TNUMBER:
      number_to_span(L, 1, secs, nsec);
      if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer ns = luaL_checkinteger(L, 2);
        luaL_argcheck(L, ns >= 0 && ns < ns_per_sec, 2, "nanoseconds out of range");
        nsec += ns;
        delta_arg = false;
      }
      break;
    case LUA_TTABLE: {
      auto field = [&](const char* name, bool required, lua_Integer def) -> lua_Integer {
        int t = lua_getfield(L, 1, name);
        lua_Integer v = def;
        if (t == LUA_TNIL) {
          if (required) luaL_error(L, "ba.datetime: field '%s' missing", name);
        } else {
          int ok = 0;
          v = lua_tointegerx(L, -1, &ok);
          if (!ok) luaL_error(L, "ba.datetime: field '%s' must be an integer", name);
        }
        lua_pop(L, 1);
        return v;
      };
      lua_Integer y = field("year", true, 0), mo = field("month", true, 0), d = field("day", true, 0);
      lua_Integer h = field("hour", false, 0), mi = field("min", false, 0), se = field("sec", false, 0);
      lua_Integer ns = field("nsec", false, 0);
      if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > lua_Integer(days_in_month(y, unsigned(mo))) ||
          h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60 || ns < 0 || ns >= ns_per_sec)
        return fail(L, "invalid datetime");
      secs = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + se;
      nsec = ns;
      break;
    }
    case LUA_TUSERDATA: {
      auto& o = check_datetime(L, 1);
      secs = o.secs;
      nsec = o.nsec;
      offset = o.offset;
      break;
    }
    default: return luaL_argerror(L, 1, "expected \"NOW\", an ISO 8601 string, seconds, a table or a datetime");
  }
  if (delta_arg && !lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    std::int64_t ds, dn;
    table_to_span(L, 2, ds, dn);
    secs += ds;
    nsec += dn;
  }
  push_datetime(L, secs, nsec, offset);
  return 1;
}

inline int dt_ticks(lua_State* L) {
  auto& dt = check_datetime(L, 1);
  lua_pushinteger(L, lua_Integer(dt.secs));
  lua_pushinteger(L, lua_Integer(dt.nsec));
  return 2;
}

inline int dt_date(lua_State* L) {
  auto& dt = check_datetime(L, 1);
  wall w{};
  if (lua_toboolean(L, 2)) {
    std::time_t t = std::time_t(dt.secs);
    std::tm tm{};
    if (!localtime_r(&t, &tm)) return luaL_error(L, "datetime: no local time");
    w = {std::int64_t(tm.tm_year) + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
         tm.tm_wday, tm.tm_yday + 1};
  } else {
    w = wall_time(dt.secs, dt.offset);
  }
  lua_createtable(L, 0, 9);
  auto set = [&](const char* k, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
  };
  set("year", lua_Integer(w.year));
  set("month", w.month);
  set("day", w.day);
  set("hour", w.hour);
  set("min", w.min);
  set("sec", w.sec);
  set("nsec", dt.nsec);
  set("wday", w.wday + 1);
  set("yday", w.yday);
  return 1;
}

inline int dt_tostring(lua_State* L) {
  auto& dt = check_datetime(L, 1);
  if (lua_isnoneornil(L, 2)) {
    std::string s = iso_string(dt);
    lua_pushlstring(L, s.data(), s.size());
    return 1;
  }
  const char* fmt = luaL_checkstring(L, 2);
  wall w = wall_time(dt.secs, dt.offset);
  std::tm tm{};
  tm.tm_year = int(w.year - 1900);
  tm.tm_mon = w.month - 1;
  tm.tm_mday = w.day;
  tm.tm_hour = w.hour;
  tm.tm_min = w.min;
  tm.tm_sec = w.sec;
  tm.tm_wday = w.wday;
  tm.tm_yday = w.yday - 1;
  tm.tm_gmtoff = long(dt.offset) * 60;
  tm.tm_zone = dt.offset == 0 ? "UTC" : "";
  char buf[512];
  std::size_t n = *fmt ? std::strftime(buf, sizeof buf, fmt, &tm) : 0;
  lua_pushlstring(L, buf, n);
  return 1;
}

inline int dt_offset(lua_State* L) {
  auto& dt = check_datetime(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, dt.offset);
    return 1;
  }
  lua_Integer m = luaL_checkinteger(L, 2);
  luaL_argcheck(L, m > -1440 && m < 1440, 2, "offset must be within a day (minutes)");
  push_datetime(L, dt.secs, dt.nsec, std::int32_t(m));
  return 1;
}

inline int dt_add(lua_State* L) {
  int self = test_datetime(L, 1) ? 1 : 2, other = 3 - self;
  auto& dt = check_datetime(L, self);
  if (test_datetime(L, other)) return luaL_error(L, "cannot add two datetimes");
  std::int64_t s = 0, n = 0;
  delta_at(L, other, s, n);
  push_datetime(L, dt.secs + s, dt.nsec + n, dt.offset);
  return 1;
}

inline int dt_sub(lua_State* L) {
  auto* a = test_datetime(L, 1);
  if (!a) return luaL_error(L, "cannot subtract a datetime from a non-datetime");
  if (auto* b = test_datetime(L, 2)) {
    std::int64_t ds = a->secs - b->secs, dn = std::int64_t(a->nsec) - b->nsec;
    if (dn == 0) lua_pushinteger(L, lua_Integer(ds));
    else lua_pushnumber(L, lua_Number(ds) + lua_Number(dn) / 1e9);
    return 1;
  }
  std::int64_t s = 0, n = 0;
  delta_at(L, 2, s, n);
  push_datetime(L, a->secs - s, a->nsec - n, a->offset);
  return 1;
}

inline int dt_cmp(lua_State* L, int op) {
  auto* a = test_datetime(L, 1);
  auto* b = test_datetime(L, 2);
  if (!a || !b) {
    if (op == 0) {
      lua_pushboolean(L, 0);
      return 1;
    }
    return luaL_error(L, "attempt to compare a datetime with a %s", luaL_typename(L, a ? 2 : 1));
  }
  auto ka = std::pair(a->secs, a->nsec), kb = std::pair(b->secs, b->nsec);
  lua_pushboolean(L, op == 0 ? ka == kb : op == 1 ? ka < kb : ka <= kb);
  return 1;
}
inline int dt_eq(lua_State* L) { return dt_cmp(L, 0); }
inline int dt_lt(lua_State* L) { return dt_cmp(L, 1); }
inline int dt_le(lua_State* L) { return dt_cmp(L, 2); }

}  // namespace detail

REMORA_DECL void open_ba_core(lua_State* L) {
  static const luaL_Reg dt_methods[] = {
      {"ticks", &detail::dt_ticks},
      {"date", &detail::dt_date},
      {"tostring", &detail::dt_tostring},
      {"offset", &detail::dt_offset},
      {nullptr, nullptr},
  };
  static const luaL_Reg dt_meta[] = {
      {"__add", &detail::dt_add}, {"__sub", &detail::dt_sub}, {"__eq", &detail::dt_eq},
      {"__lt", &detail::dt_lt},   {"__le", &detail::dt_le},   {"__tostring", &detail::dt_tostring},
      {nullptr, nullptr},
  };
  define_class<detail::datetime_ud>(L, datetime_tname, dt_methods);
  luaL_getmetatable(L, datetime_tname);
  luaL_setfuncs(L, dt_meta, 0);
  lua_pop(L, 1);

  static const luaL_Reg funcs[] = {
      {"b64encode", &detail::ba_b64encode},
      {"b64urlencode", &detail::ba_b64urlencode},
      {"b64decode", &detail::ba_b64decode},
      {"urlencode", &detail::ba_urlencode},
      {"urldecode", &detail::ba_urldecode},
      {"clock", &detail::ba_clock},
      {"sleep", &detail::ba_sleep},
      {"datetime", &detail::ba_datetime},
      {"encdate", &detail::ba_encdate},
      {"parsedate", &detail::ba_parsedate},
      {"rnd", &detail::ba_rnd},
      {"rndbs", &detail::ba_rndbs},
      {"rnds", &detail::ba_rnds},
      {"rndseed", &detail::ba_rndseed},
      {"version", &detail::ba_version},
      {"deflate", &detail::ba_deflate},
      {"mime", &detail::ba_mime},
      {"cmpaddr", &detail::ba_cmpaddr},
      {nullptr, nullptr},
  };
  luaL_setfuncs(L, funcs, 0);
}

}  // namespace remora::lua
