#pragma once
#include <remora/lua/impl/ba_core.ipp>  // b64_encode
#include <remora/lua/mime_lib.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail::mime_core {

inline constexpr char hex_digits[] = "0123456789ABCDEF";
inline constexpr std::string_view crlf = "\r\n";
inline constexpr std::string_view soft_break = "=\r\n";

// The 6-bit value of a Base64 digit, 64 for '=', -1 for anything else.
inline int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  if (c == '=') return 64;
  return -1;
}

inline int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Encodes the whole 3-byte groups of `in` (with `last`, the 1 or 2 bytes after them too,
// padded); returns how many bytes were used.
inline std::size_t b64_encode(std::string_view in, bool last, std::string& out) {
  std::size_t used = last ? in.size() : in.size() - in.size() % 3;
  out += lua::detail::b64_encode(in.substr(0, used), false);  // ba.b64encode's encoder
  return used;
}

// Decodes every complete group of four significant characters (Base64 digits and '='; the
// rest is skipped) into `out`; returns the characters of the incomplete group at the end.
inline std::string b64_decode(std::string_view in, std::string& out) {
  char group[4];
  int have = 0;
  out.reserve(out.size() + in.size() / 4 * 3);
  for (unsigned char c : in) {
    if (b64_value(c) < 0) continue;
    group[have++] = char(c);
    if (have < 4) continue;
    have = 0;
    // the digits before the first '=' carry the bits: 4 -> 3 bytes, 3 -> 2, 2 -> 1
    unsigned v = 0;
    int digits = 0;
    while (digits < 4 && group[digits] != '=') {
      v = v << 6 | unsigned(b64_value(static_cast<unsigned char>(group[digits])));
      ++digits;
    }
    v <<= 6 * (4 - digits);
    for (int k = 0; k < digits - 1; ++k) out += char((v >> (16 - 8 * k)) & 0xff);
  }
  return std::string(group, std::size_t(have));
}

inline void qp_quote(unsigned char c, std::string& out) {
  out += '=';
  out += hex_digits[c >> 4];
  out += hex_digits[c & 15];
}

// Bytes that stand for themselves in Quoted-Printable (RFC 2045 6.7 rule 2).
inline bool qp_plain(unsigned char c) { return (c >= 33 && c <= 60) || (c >= 62 && c <= 126); }

// Encodes `in` as far as what follows is known (all of it with `last`); returns how many
// bytes were used. A CR waits for the next byte (CRLF becomes `marker`), a space or tab for
// the next two (before CRLF it is quoted).
inline std::size_t qp_encode_part(std::string_view in, bool last, std::string_view marker, std::string& out) {
  std::size_t i = 0, n = in.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '\r') {
      if (i + 1 < n && in[i + 1] == '\n') {
        out += marker;
        i += 2;
        continue;
      }
      if (i + 1 == n && !last) break;
      qp_quote(c, out);
    } else if (c == ' ' || c == '\t') {
      bool before_break;
      if (i + 2 < n) before_break = in[i + 1] == '\r' && in[i + 2] == '\n';
      else if (i + 1 < n && in[i + 1] != '\r') before_break = false;
      else if (!last) break;
      else before_break = i + 1 == n;  // the last byte of the data: its line ends here
      if (before_break) qp_quote(c, out);
      else out += char(c);
    } else if (qp_plain(c)) {
      out += char(c);
    } else {
      qp_quote(c, out);
    }
    ++i;
  }
  return i;
}

// Encodes what can be encoded; with `last` the bytes that waited are encoded as the end of
// the data and a soft line break follows them.
inline std::size_t qp_encode(std::string_view in, bool last, std::string_view marker, std::string& out) {
  std::size_t used = qp_encode_part(in, false, marker, out);
  if (!last || used == in.size()) return used;
  qp_encode_part(in.substr(used), true, marker, out);
  out += soft_break;
  return in.size();
}

// Decodes `in` as far as what follows is known (all of it with `last`); returns how many
// bytes were used. An '=' waits for the two bytes after it.
inline std::size_t qp_decode(std::string_view in, bool last, std::string& out) {
  std::size_t i = 0, n = in.size();
  while (i < n) {
    char c = in[i];
    if (c != '=') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < n && in[i + 1] == '\n') {  // soft line break with a bare LF
      i += 2;
      continue;
    }
    if (i + 2 >= n) {
      if (!last) break;
      // the end of the data: "=" and "=\r" are a soft line break cut short, "=X" stays
      if (i + 1 < n && in[i + 1] != '\r') out.append(in.substr(i, 2));
      return n;
    }
    if (in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 3;
      continue;
    }
    int hi = hex_value(static_cast<unsigned char>(in[i + 1]));
    int lo = hex_value(static_cast<unsigned char>(in[i + 2]));
    if (hi >= 0 && lo >= 0) {
      out += char(hi << 4 | lo);
      i += 3;
    } else {
      out += '=';  // not an escape: kept, and what follows is read as usual
      ++i;
    }
  }
  return i;
}

// ---- the Lua functions ------------------------------------------------------------------------

// The string argument at `idx`, false when it is nil or absent.
inline bool opt_chunk(lua_State* L, int idx, std::string_view& out) {
  if (lua_isnoneornil(L, idx)) return false;
  std::size_t n;
  const char* s = luaL_checklstring(L, idx, &n);
  out = std::string_view(s, n);
  return true;
}

inline void push(lua_State* L, std::string_view s) { lua_pushlstring(L, s.data(), s.size()); }

// The output of the last call of a stream: nil when there is nothing.
inline void push_last(lua_State* L, std::string_view s) {
  if (s.empty()) lua_pushnil(L);
  else push(L, s);
}

inline int end_of_input(lua_State* L) {
  lua_pushnil(L);
  lua_pushnil(L);
  return 2;
}

// C..D as one string.
inline std::string joined(std::string_view c, std::string_view d) {
  std::string in;
  in.reserve(c.size() + d.size());
  in.append(c);
  in.append(d);
  return in;
}

inline int l_b64(lua_State* L) {
  std::string_view c, d;
  if (!opt_chunk(L, 1, c)) return end_of_input(L);
  bool more = opt_chunk(L, 2, d);
  std::string in = joined(c, d), out;
  std::size_t used = b64_encode(in, !more, out);
  if (!more) {
    push_last(L, out);
    lua_pushnil(L);
    return 2;
  }
  push(L, out);
  push(L, std::string_view(in).substr(used));
  return 2;
}

inline int l_unb64(lua_State* L) {
  std::string_view c, d;
  if (!opt_chunk(L, 1, c)) return end_of_input(L);
  bool more = opt_chunk(L, 2, d);
  std::string out;
  std::string rest = b64_decode(joined(c, d), out);
  if (!more) {
    push_last(L, out);
    push_last(L, rest);
    return 2;
  }
  push(L, out);
  push(L, rest);
  return 2;
}

inline int l_qp(lua_State* L) {
  std::string_view c, d;
  if (!opt_chunk(L, 1, c)) return end_of_input(L);
  bool more = opt_chunk(L, 2, d);
  std::size_t mlen;
  const char* m = luaL_optlstring(L, 3, "\r\n", &mlen);
  std::string in = joined(c, d), out;
  std::size_t used = qp_encode(in, !more, std::string_view(m, mlen), out);
  if (!more) {
    push_last(L, out);
    lua_pushnil(L);
    return 2;
  }
  push(L, out);
  push(L, std::string_view(in).substr(used));
  return 2;
}

inline int l_unqp(lua_State* L) {
  std::string_view c, d;
  if (!opt_chunk(L, 1, c)) return end_of_input(L);
  bool more = opt_chunk(L, 2, d);
  std::string in = joined(c, d), out;
  std::size_t used = qp_decode(in, !more, out);
  if (!more) {
    push_last(L, out);
    lua_pushnil(L);
    return 2;
  }
  push(L, out);
  push(L, std::string_view(in).substr(used));
  return 2;
}

// wrp and qpwrp: `soft` breaks with "=\r\n" and keeps =XX escapes whole.
inline int wrap(lua_State* L, bool soft) {
  lua_Integer left = luaL_checkinteger(L, 1);
  std::string_view in;
  bool more = opt_chunk(L, 2, in);
  lua_Integer length = luaL_optinteger(L, 3, 76);
  std::string_view brk = soft ? soft_break : crlf;
  if (!more) {
    if (left < length) push(L, brk);
    else lua_pushnil(L);
    lua_pushinteger(L, length);
    return 2;
  }
  std::string out;
  out.reserve(in.size() + in.size() / 32 + 8);
  for (char c : in) {
    if (c == '\r') continue;
    if (c == '\n') {
      out += crlf;
      left = length;
      continue;
    }
    // an escape needs its 3 columns plus one for a soft break; other bytes one plus one
    lua_Integer need = soft ? (c == '=' ? 3 : 1) : 0;
    if (left <= need) {
      out += brk;
      left = length;
    }
    out += c;
    --left;
  }
  push(L, out);
  lua_pushinteger(L, left);
  return 2;
}

inline int l_wrp(lua_State* L) { return wrap(L, false); }
inline int l_qpwrp(lua_State* L) { return wrap(L, true); }

inline int l_eol(lua_State* L) {
  lua_Integer prev = luaL_checkinteger(L, 1);
  std::string_view in;
  if (!opt_chunk(L, 2, in)) {
    lua_pushnil(L);
    lua_pushinteger(L, 0);
    return 2;
  }
  std::size_t mlen;
  const char* m = luaL_optlstring(L, 3, "\r\n", &mlen);
  std::string_view marker(m, mlen);
  std::string out;
  out.reserve(in.size() + 8);
  for (char c : in) {
    if (c == '\r' || c == '\n') {
      // the second half of a CRLF or LFCR pair was translated with the first
      if ((prev == '\r' || prev == '\n') && prev != c) {
        prev = 0;
      } else {
        out += marker;
        prev = c;
      }
    } else {
      out += c;
      prev = 0;
    }
  }
  push(L, out);
  lua_pushinteger(L, prev);
  return 2;
}

inline int l_dot(lua_State* L) {
  lua_Integer seen = luaL_checkinteger(L, 1);
  std::string_view in;
  if (!opt_chunk(L, 2, in)) {
    lua_pushnil(L);
    lua_pushinteger(L, 2);
    return 2;
  }
  std::string out;
  out.reserve(in.size() + 8);
  for (char c : in) {
    out += c;
    if (c == '\r') {
      seen = 1;
    } else if (c == '\n') {
      seen = seen == 1 ? 2 : 0;
    } else {
      if (c == '.' && seen == 2) out += '.';
      seen = 0;
    }
  }
  push(L, out);
  lua_pushinteger(L, seen);
  return 2;
}

}  // namespace detail::mime_core

namespace mime {

REMORA_DECL std::string b64(std::string_view in) {
  std::string out;
  detail::mime_core::b64_encode(in, true, out);
  return out;
}

REMORA_DECL std::string unb64(std::string_view in) {
  std::string out;
  detail::mime_core::b64_decode(in, out);
  return out;
}

REMORA_DECL std::string qp(std::string_view in, std::string_view marker) {
  std::string out;
  detail::mime_core::qp_encode(in, true, marker, out);
  return out;
}

REMORA_DECL std::string unqp(std::string_view in) {
  std::string out;
  detail::mime_core::qp_decode(in, true, out);
  return out;
}

}  // namespace mime

REMORA_DECL void open_mime(lua_State* L) {
  namespace m = detail::mime_core;
  static const luaL_Reg lib[] = {{"b64", m::l_b64},     {"unb64", m::l_unb64}, {"qp", m::l_qp},
                                 {"unqp", m::l_unqp},   {"wrp", m::l_wrp},     {"qpwrp", m::l_qpwrp},
                                 {"eol", m::l_eol},     {"dot", m::l_dot},     {nullptr, nullptr}};
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  luaL_newlib(L, lib);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "mime.core");
  lua_setglobal(L, "mime");
  lua_pop(L, 1);
}

}  // namespace remora::lua
