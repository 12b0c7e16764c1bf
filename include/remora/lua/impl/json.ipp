#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/json.hpp>

#include <lauxlib.h>
#include <lua.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace remora::lua {

namespace detail::json {

// ba.json.null is the address of this byte: one value for every state and translation unit.
inline char null_tag = 0;
inline constexpr const char* parser_tname = "remora.json.parser";

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
// `lo`/`hi` bound the next continuation byte, which is how E0/ED/F0/F4 are restricted.
struct utf8_check {
  int need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  bool step(unsigned char c) {
    if (need == 0) {
      if (c < 0x80) return true;
      lo = 0x80;
      hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) need = 1;
      else if (c == 0xE0) need = 2, lo = 0xA0;
      else if (c == 0xED) need = 2, hi = 0x9F;
      else if (c >= 0xE1 && c <= 0xEF) need = 2;
      else if (c == 0xF0) need = 3, lo = 0x90;
      else if (c >= 0xF1 && c <= 0xF3) need = 3;
      else if (c == 0xF4) need = 3, hi = 0x8F;
      else return false;
      return true;
    }
    if (c < lo || c > hi) return false;
    lo = 0x80;
    hi = 0xBF;
    --need;
    return true;
  }
};

inline bool valid_utf8(std::string_view s) {
  utf8_check u;
  for (unsigned char c : s)
    if (!u.step(c)) return false;
  return u.need == 0;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// ---- encoding ---------------------------------------------------------------------------------

// The JSON string literal for `s`, which the caller has checked is valid UTF-8.
inline void append_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

inline void append_integer(std::string& out, lua_Integer v) {
  char b[32];
  auto r = std::to_chars(b, b + sizeof b, static_cast<long long>(v));
  out.append(b, r.ptr);
}

// Shortest text that reads back as the same double. `mark_float` appends ".0" to a form that
// would read back as an integer, so encode/decode keeps math.type. False for NaN/inf.
inline bool append_double(std::string& out, double d, bool mark_float) {
  if (!std::isfinite(d)) return false;
  char b[40];
  auto r = std::to_chars(b, b + sizeof b, d);
  std::string_view s(b, std::size_t(r.ptr - b));
  out += s;
  if (mark_float && s.find_first_of(".e") == std::string_view::npos) out += ".0";
  return true;
}

class encoder {
 public:
  encoder(lua_State* L, std::string& out, std::string& err) : L_(L), out_(out), err_(err) {}

  // Appends the value at absolute index `idx`.
  bool value(int idx) {
    switch (lua_type(L_, idx)) {
      case LUA_TNONE:
      case LUA_TNIL: out_ += "null"; return true;
      case LUA_TBOOLEAN: out_ += lua_toboolean(L_, idx) ? "true" : "false"; return true;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx)) {
          append_integer(out_, lua_tointeger(L_, idx));
          return true;
        }
        if (!append_double(out_, lua_tonumber(L_, idx), true)) return fail("cannot encode NaN or infinity");
        return true;
      case LUA_TSTRING: return string(idx);
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L_, idx) == &null_tag) {
          out_ += "null";
          return true;
        }
        return fail("cannot encode a light userdata other than ba.json.null");
      case LUA_TTABLE: return table(idx);
      default: {
        std::string m = "cannot encode a ";
        m += luaL_typename(L_, idx);
        return fail(m.c_str());
      }
    }
  }

 private:
  bool fail(const char* m) {
    err_ = m;
    return false;
  }

  bool string(int idx) {
    std::size_t n = 0;
    const char* s = lua_tolstring(L_, idx, &n);
    if (!valid_utf8({s, n})) return fail("cannot encode a string that is not valid UTF-8");
    append_string(out_, {s, n});
    return true;
  }

  // An object key; numbers are written as their text (never via lua_tolstring, which would
  // turn the key into a string in place and confuse lua_next).
  bool key(int idx) {
    switch (lua_type(L_, idx)) {
      case LUA_TSTRING: return string(idx);
      case LUA_TNUMBER:
        out_ += '"';
        if (lua_isinteger(L_, idx)) append_integer(out_, lua_tointeger(L_, idx));
        else if (!append_double(out_, lua_tonumber(L_, idx), false)) return fail("cannot encode an infinite key");
        out_ += '"';
        return true;
      default: {
        std::string m = "cannot encode a table key of type ";
        m += luaL_typename(L_, idx);
        return fail(m.c_str());
      }
    }
  }

  bool marked_array(int idx) {
    if (!lua_getmetatable(L_, idx)) return false;
    lua_pushliteral(L_, "__jsontype");
    lua_rawget(L_, -2);
    std::size_t n = 0;
    const char* s = lua_type(L_, -1) == LUA_TSTRING ? lua_tolstring(L_, -1, &n) : nullptr;
    bool yes = s && std::string_view(s, n) == "array";
    lua_pop(L_, 2);
    return yes;
  }

  bool table(int idx) {
    const void* p = lua_topointer(L_, idx);
    if (std::find(open_.begin(), open_.end(), p) != open_.end()) return fail("cannot encode a cyclic table");
    if (int(open_.size()) >= max_json_depth) return fail("cannot encode: tables nested too deep");
    if (!lua_checkstack(L_, 4)) return fail("cannot encode: out of Lua stack");
    open_.push_back(p);
    // Array when the keys are exactly 1..n: every key a positive integer, as many as the largest.
    lua_Integer count = 0, max = 0;
    bool array = true;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      lua_pop(L_, 1);
      ++count;
      if (!lua_isinteger(L_, -1) || lua_tointeger(L_, -1) < 1) {
        array = false;
        lua_pop(L_, 1);
        break;
      }
      max = std::max(max, lua_tointeger(L_, -1));
    }
    if (count == 0) {
      out_ += marked_array(idx) ? "[]" : "{}";
    } else if (array && max == count) {
      out_ += '[';
      for (lua_Integer i = 1; i <= max; ++i) {
        if (i > 1) out_ += ',';
        lua_rawgeti(L_, idx, i);
        if (!value(lua_gettop(L_))) return false;
        lua_pop(L_, 1);
      }
      out_ += ']';
    } else {
      out_ += '{';
      bool first = true;
      lua_pushnil(L_);
      while (lua_next(L_, idx)) {
        if (!first) out_ += ',';
        first = false;
        int top = lua_gettop(L_);
        if (!key(top - 1)) return false;
        out_ += ':';
        if (!value(top)) return false;
        lua_pop(L_, 1);
      }
      out_ += '}';
    }
    open_.pop_back();
    return true;
  }

  lua_State* L_;
  std::string& out_;
  std::string& err_;
  std::vector<const void*> open_;  // the tables being written, outermost first
};

// ---- decoding ---------------------------------------------------------------------------------

// A resumable JSON text reader: feed() takes bytes in any pieces and builds Lua values without
// recursion. Containers being filled live in the Lua table at `frames` ([d] = the container
// at depth d), so a partial value survives between calls of a streaming parser; `nullidx`
// holds the value for `null`. Both are absolute indexes on the lua_State given to each call.
class reader {
 public:
  enum class result { more, value, error };
  int frames = 0;
  int nullidx = 0;

  // Consumes bytes until one top-level value is complete (pushed on L; `used` counts the bytes
  // it took, a terminating byte after a number not included) or the data ends (`more`).
  result feed(lua_State* L, const char* p, std::size_t n, std::size_t& used) {
    used = 0;
    if (st_ == st::error) return result::error;
    std::size_t i = 0;
    while (i < n) {
      unsigned char c = static_cast<unsigned char>(p[i]);
      switch (st_) {
        case st::top:
        case st::value:
        case st::array_first:
          if (ws(c)) {
            ++i;
            continue;
          }
          if (st_ == st::array_first && c == ']') {
            ++i;
            close(L);
            break;
          }
          if (!start_value(L, c, i)) return result::error;
          ++i;
          break;
        case st::after_value:
          if (ws(c)) {
            ++i;
            continue;
          }
          if (c == ',') st_ = frames_.back().object ? st::obj_key : st::value;
          else if (c == (frames_.back().object ? '}' : ']')) close(L);
          else return fail(i, frames_.back().object ? "expected ',' or '}'" : "expected ',' or ']'", c);
          ++i;
          break;
        case st::obj_first:
        case st::obj_key:
          if (ws(c)) {
            ++i;
            continue;
          }
          if (c == '"') begin_string(true);
          else if (c == '}' && st_ == st::obj_first) close(L);
          else return fail(i, "expected a string key", c);
          ++i;
          break;
        case st::colon:
          if (ws(c)) {
            ++i;
            continue;
          }
          if (c != ':') return fail(i, "expected ':'", c);
          st_ = st::value;
          ++i;
          break;
        case st::string:
          if (!string_byte(L, p, n, i)) return result::error;
          break;
        case st::literal:
          if (c != static_cast<unsigned char>(lit_[lit_i_])) return fail(i, "invalid literal", c);
          ++i;
          if (lit_[++lit_i_] == 0) {
            if (lit_[0] == 'n') lua_pushvalue(L, nullidx);
            else lua_pushboolean(L, lit_[0] == 't');
            emit(L);
          }
          break;
        case st::number:
          if (num_byte(c)) {
            buf_ += char(c);
            ++i;
          } else if (st_ == st::error) {
            return fail(i, num_ == num::zero ? "leading zero in number" : "invalid number", c);
          } else if (!number_done(L, i)) {  // `c` ends the number; it is read next round
            return result::error;
          }
          break;
        case st::error: return result::error;
      }
      if (done_) {
        done_ = false;
        used = i;
        pos_ += i;
        return result::value;
      }
    }
    used = n;
    pos_ += n;
    return result::more;
  }

  // The input has ended: completes a top-level number, or reports a value left unfinished.
  // `more` when nothing at all was pending.
  result finish(lua_State* L) {
    if (st_ == st::error) return result::error;
    if (st_ == st::top) return result::more;
    if (st_ == st::number && frames_.empty()) {
      if (!number_done(L, 0)) return result::error;
      done_ = false;
      return result::value;
    }
    return fail(0, "unexpected end of input");
  }

  // Reports an error at `offset` bytes past the data consumed so far (for callers' own checks).
  result fail(std::size_t offset, const char* what, int c = -1) {
    err_ = "json decode error at position " + std::to_string(pos_ + offset + 1) + ": " + what;
    if (c >= 0) {
      char b[32];
      if (c > 0x20 && c < 0x7F) std::snprintf(b, sizeof b, " (got '%c')", c);
      else std::snprintf(b, sizeof b, " (got byte 0x%02X)", c);
      err_ += b;
    }
    st_ = st::error;
    return result::error;
  }

  const std::string& error() const { return err_; }

 private:
  enum class st { top, value, array_first, after_value, obj_first, obj_key, colon, string, literal, number, error };
  enum class sub { normal, escape, hex, after_high, after_high_bs };
  enum class num { sign, zero, integer, dot, fraction, e, esign, exponent };
  struct frame {
    bool object;
    lua_Integer n;    // array: elements so far
    std::string key;  // object: the key waiting for its value
  };

  static bool ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  bool start_value(lua_State* L, unsigned char c, std::size_t i) {
    switch (c) {
      case '{': return open(L, true, i);
      case '[': return open(L, false, i);
      case '"': begin_string(false); return true;
      case 't': lit_ = "true"; break;
      case 'f': lit_ = "false"; break;
      case 'n': lit_ = "null"; break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          buf_.assign(1, char(c));
          num_ = c == '-' ? num::sign : c == '0' ? num::zero : num::integer;
          st_ = st::number;
          return true;
        }
        fail(i, "unexpected character", c);
        return false;
    }
    lit_i_ = 1;
    st_ = st::literal;
    return true;
  }

  // The value on top of L is complete: it is the result, or goes into the open container.
  void emit(lua_State* L) {
    if (frames_.empty()) {
      done_ = true;
      st_ = st::top;
      return;
    }
    attach(L);
    st_ = st::after_value;
  }

  void attach(lua_State* L) {
    frame& f = frames_.back();
    lua_rawgeti(L, frames, lua_Integer(frames_.size()));
    lua_rotate(L, -2, 1);  // container below the value
    if (f.object) {
      lua_pushlstring(L, f.key.data(), f.key.size());
      lua_rotate(L, -2, 1);
      lua_rawset(L, -3);
    } else {
      lua_rawseti(L, -2, ++f.n);
    }
    lua_pop(L, 1);
  }

  bool open(lua_State* L, bool object, std::size_t i) {
    if (int(frames_.size()) >= max_json_depth) {
      fail(i, "nesting too deep");
      return false;
    }
    lua_createtable(L, 0, 0);
    if (!frames_.empty()) {
      lua_pushvalue(L, -1);
      attach(L);
    }
    lua_rawseti(L, frames, lua_Integer(frames_.size() + 1));
    frames_.push_back(frame{object, 0, {}});
    st_ = object ? st::obj_first : st::array_first;
    return true;
  }

  void close(lua_State* L) {
    auto d = lua_Integer(frames_.size());
    lua_rawgeti(L, frames, d);
    lua_pushnil(L);
    lua_rawseti(L, frames, d);
    frames_.pop_back();
    if (frames_.empty()) {
      done_ = true;
      st_ = st::top;
    } else {
      lua_pop(L, 1);  // already in its parent
      st_ = st::after_value;
    }
  }

  void begin_string(bool key) {
    buf_.clear();
    key_ = key;
    sub_ = sub::normal;
    utf8_ = {};
    high_ = 0;
    st_ = st::string;
  }

  // One step inside a string at p[i]: a run of plain bytes or one special byte.
  bool string_byte(lua_State* L, const char* p, std::size_t n, std::size_t& i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    switch (sub_) {
      case sub::normal: {
        if (utf8_.need == 0) {
          std::size_t j = i;
          while (j < n) {
            unsigned char d = static_cast<unsigned char>(p[j]);
            if (d < 0x20 || d == '"' || d == '\\' || d >= 0x80) break;
            ++j;
          }
          if (j > i) {
            buf_.append(p + i, j - i);
            i = j;
            return true;
          }
        }
        if (c >= 0x80 || utf8_.need) {
          if (!utf8_.step(c)) return fail(i, "invalid UTF-8 in string", c), false;
          buf_ += char(c);
        } else if (c == '"') {
          ++i;
          string_done(L);
          return true;
        } else if (c == '\\') {
          sub_ = sub::escape;
        } else {
          return fail(i, "control character in string", c), false;
        }
        ++i;
        return true;
      }
      case sub::escape:
        switch (c) {
          case '"': buf_ += '"'; break;
          case '\\': buf_ += '\\'; break;
          case '/': buf_ += '/'; break;
          case 'b': buf_ += '\b'; break;
          case 'f': buf_ += '\f'; break;
          case 'n': buf_ += '\n'; break;
          case 'r': buf_ += '\r'; break;
          case 't': buf_ += '\t'; break;
          case 'u':
            sub_ = sub::hex;
            hexn_ = 0;
            u_ = 0;
            ++i;
            return true;
          default: return fail(i, "invalid escape in string", c), false;
        }
        sub_ = sub::normal;
        ++i;
        return true;
      case sub::hex: {
        std::uint32_t v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return fail(i, "invalid \\u escape", c), false;
        u_ = u_ * 16 + v;
        ++i;
        if (++hexn_ < 4) return true;
        if (high_) {  // second half of a pair
          if (u_ < 0xDC00 || u_ > 0xDFFF) return fail(i - 1, "lone surrogate in \\u escape"), false;
          append_utf8(buf_, 0x10000 + ((high_ - 0xD800) << 10) + (u_ - 0xDC00));
          high_ = 0;
          sub_ = sub::normal;
        } else if (u_ >= 0xD800 && u_ <= 0xDBFF) {
          high_ = u_;
          sub_ = sub::after_high;
        } else if (u_ >= 0xDC00 && u_ <= 0xDFFF) {
          return fail(i - 1, "lone surrogate in \\u escape"), false;
        } else {
          append_utf8(buf_, u_);
          sub_ = sub::normal;
        }
        return true;
      }
      case sub::after_high:
      case sub::after_high_bs:
        if (c != (sub_ == sub::after_high ? '\\' : 'u')) return fail(i, "lone surrogate in \\u escape", c), false;
        if (sub_ == sub::after_high) {
          sub_ = sub::after_high_bs;
        } else {
          sub_ = sub::hex;
          hexn_ = 0;
          u_ = 0;
        }
        ++i;
        return true;
    }
    return true;
  }

  void string_done(lua_State* L) {
    if (key_) {
      frames_.back().key.swap(buf_);
      st_ = st::colon;
      return;
    }
    lua_pushlstring(L, buf_.data(), buf_.size());
    emit(L);
  }

  // Whether `c` continues the number; sets st_ to error when it must but cannot.
  bool num_byte(unsigned char c) {
    bool digit = c >= '0' && c <= '9';
    switch (num_) {
      case num::sign:
        if (!digit) break;
        num_ = c == '0' ? num::zero : num::integer;
        return true;
      case num::zero:
        if (digit) {
          st_ = st::error;
          return false;
        }
        [[fallthrough]];
      case num::integer:
        if (digit) return true;
        if (c == '.') return num_ = num::dot, true;
        if (c == 'e' || c == 'E') return num_ = num::e, true;
        return false;
      case num::dot:
        if (!digit) break;
        num_ = num::fraction;
        return true;
      case num::fraction:
        if (digit) return true;
        if (c == 'e' || c == 'E') return num_ = num::e, true;
        return false;
      case num::e:
        if (c == '+' || c == '-') return num_ = num::esign, true;
        if (!digit) break;
        num_ = num::exponent;
        return true;
      case num::esign:
        if (!digit) break;
        num_ = num::exponent;
        return true;
      case num::exponent: return digit;
    }
    st_ = st::error;  // a sign, dot or exponent marker not followed by a digit
    return false;
  }

  // buf_ holds a complete number; `i` is where the byte after it is (for the error position).
  bool number_done(lua_State* L, std::size_t i) {
    if (num_ != num::zero && num_ != num::integer && num_ != num::fraction && num_ != num::exponent) {
      fail(i, "invalid number");
      return false;
    }
    const char* b = buf_.data();
    const char* e = b + buf_.size();
    if (num_ == num::zero || num_ == num::integer) {
      long long v = 0;
      auto r = std::from_chars(b, e, v);
      if (r.ec == std::errc{} && r.ptr == e) {
        lua_pushinteger(L, lua_Integer(v));
        emit(L);
        return true;
      }
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (!underflows()) {
        fail(i, "number out of range");
        return false;
      }
      d = buf_[0] == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc{} || r.ptr != e) {
      fail(i, "invalid number");
      return false;
    }
    lua_pushnumber(L, lua_Number(d));
    emit(L);
    return true;
  }

  // For a number out of the double range: whether it is too small rather than too large,
  // from the decimal exponent of its first significant digit.
  bool underflows() const {
    std::string_view s(buf_);
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    auto epos = s.find_first_of("eE");
    std::string_view mant = s.substr(0, epos);
    auto dot = mant.find('.');
    std::string_view ip = mant.substr(0, dot);
    std::string_view fp = dot == std::string_view::npos ? std::string_view{} : mant.substr(dot + 1);
    long long mag = 0;
    if (auto nz = ip.find_first_not_of('0'); nz != std::string_view::npos) mag = (long long)(ip.size() - nz) - 1;
    else if (auto fz = fp.find_first_not_of('0'); fz != std::string_view::npos) mag = -(long long)fz - 1;
    long long x = 0;
    if (epos != std::string_view::npos) {
      std::string_view es = s.substr(epos + 1);
      bool neg = !es.empty() && es[0] == '-';
      if (!es.empty() && (es[0] == '-' || es[0] == '+')) es.remove_prefix(1);
      for (char c : es) x = std::min(x * 10 + (c - '0'), 1'000'000'000'000LL);
      if (neg) x = -x;
    }
    return mag + x < 0;
  }

  st st_ = st::top;
  sub sub_ = sub::normal;
  num num_ = num::integer;
  utf8_check utf8_;
  std::uint32_t u_ = 0, high_ = 0;
  int hexn_ = 0;
  bool key_ = false;
  bool done_ = false;
  const char* lit_ = "";
  int lit_i_ = 0;
  std::string buf_;
  std::vector<frame> frames_;
  std::string err_;
  std::uint64_t pos_ = 0;  // bytes consumed before the current feed()
};

// Decodes `text` as one JSON value with the reader's tables at `frames`/`nullidx`; pushes it.
inline bool decode_into(lua_State* L, std::string_view text, int frames, int nullidx, std::string& err) {
  reader r;
  r.frames = frames;
  r.nullidx = nullidx;
  std::size_t used = 0;
  auto res = r.feed(L, text.data(), text.size(), used);
  if (res == reader::result::more) {
    res = r.finish(L);
    if (res == reader::result::more) res = r.fail(0, "unexpected end of input");
  } else if (res == reader::result::value) {
    for (std::size_t i = used; i < text.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        lua_pop(L, 1);
        r.fail(i - used, "trailing characters after the value", c);
        err = r.error();
        return false;
      }
    }
  }
  if (res != reader::result::value) {
    err = r.error();
    return false;
  }
  return true;
}

// ---- Lua functions ----------------------------------------------------------------------------

inline int l_encode(lua_State* L) {
  thread_local std::string out;  // reused: encoding a small value allocates nothing
  std::string err;
  out.clear();
  if (out.capacity() > 65536) out.shrink_to_fit();
  if (!encode_value(L, 1, out, err)) return fail(L, err.c_str());
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

inline int l_encodestr(lua_State* L) {
  std::size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  if (!valid_utf8({s, n})) return fail(L, "cannot encode a string that is not valid UTF-8");
  std::string out;
  append_string(out, {s, n});
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

// decode(text [,nullvalue]): a second argument, even nil, replaces ba.json.null.
inline int l_decode(lua_State* L) {
  std::size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  bool custom_null = lua_gettop(L) >= 2;
  lua_settop(L, 2);
  if (!custom_null) {
    push_json_null(L);
    lua_replace(L, 2);
  }
  lua_newtable(L);  // 3: frames
  std::string err;
  if (!decode_into(L, {s, n}, 3, 2, err)) return fail(L, err.c_str());
  return 1;
}

struct parser_ud {
  reader r;
  std::string pending;  // bytes after a value returned alone, parsed by the next call,
  std::size_t pending_off = 0;  // from this offset
  bool broken = false;      // an error was reported, or a Lua error unwound a call
  std::string err;
};

// ba.json.parser([nullvalue]); user value 1: the frames table, with the null value at [0].
inline int l_parser(lua_State* L) {
  bool custom_null = lua_gettop(L) >= 1;
  lua_settop(L, 1);
  push_object<parser_ud>(L, parser_tname);
  lua_createtable(L, 4, 1);
  if (custom_null) lua_pushvalue(L, 1);
  else push_json_null(L);
  lua_rawseti(L, -2, 0);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

inline int l_parse(lua_State* L) {
  auto* u = check_object<parser_ud>(L, 1, parser_tname);
  std::size_t n = 0;
  const char* s = luaL_checklstring(L, 2, &n);
  bool all = lua_toboolean(L, 3);
  if (u->broken) return fail(L, u->err.empty() ? "json parser unusable after an error" : u->err.c_str());
  lua_settop(L, 3);
  lua_getiuservalue(L, 1, 1);  // 4: frames
  lua_rawgeti(L, 4, 0);        // 5: null value
  if (all) lua_newtable(L);    // 6: results
  u->r.frames = 4;
  u->r.nullidx = 5;
  u->broken = true;  // until this call ends normally
  // Bytes left by an earlier single-value call come first. Taking values one by one out of
  // the kept bytes (parse("")) only moves an offset, so draining a chunk stays linear.
  if (n > 0 && u->pending_off < u->pending.size()) {
    u->pending.erase(0, u->pending_off);
    u->pending.append(s, n);
    u->pending_off = 0;
  }
  bool from_pending = u->pending_off < u->pending.size();
  std::string_view data = from_pending ? std::string_view(u->pending).substr(u->pending_off) : std::string_view(s, n);
  lua_Integer k = 0;
  for (;;) {
    std::size_t used = 0;
    auto res = u->r.feed(L, data.data(), data.size(), used);
    if (res == reader::result::error) {
      u->err = u->r.error();
      return fail(L, u->err.c_str());
    }
    if (res == reader::result::more) break;
    data.remove_prefix(used);
    if (!all) {
      if (from_pending) {
        u->pending_off = u->pending.size() - data.size();
      } else {
        u->pending.assign(data);
        u->pending_off = 0;
      }
      u->broken = false;
      lua_pushboolean(L, 1);
      lua_rotate(L, -2, 1);
      return 2;
    }
    lua_rawseti(L, 6, ++k);
  }
  u->pending.clear();
  u->pending_off = 0;
  u->broken = false;
  lua_pushboolean(L, 1);
  if (k == 0) return 1;
  lua_pushvalue(L, 6);
  return 2;
}

}  // namespace detail::json

REMORA_DECL void push_json_null(lua_State* L) { lua_pushlightuserdata(L, &detail::json::null_tag); }

REMORA_DECL bool encode_value(lua_State* L, int idx, std::string& out, std::string& err) {
  idx = lua_absindex(L, idx);
  int top = lua_gettop(L);
  out.clear();
  detail::json::encoder e(L, out, err);
  bool ok = e.value(idx);
  lua_settop(L, top);
  if (!ok) out.clear();
  return ok;
}

REMORA_DECL bool decode_value(lua_State* L, std::string_view text, std::string& err) {
  if (!lua_checkstack(L, 8)) {
    err = "json decode error: out of Lua stack";
    return false;
  }
  int base = lua_gettop(L);
  lua_newtable(L);     // base+1: frames
  push_json_null(L);   // base+2
  if (!detail::json::decode_into(L, text, base + 1, base + 2, err)) {
    lua_settop(L, base);
    return false;
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return true;
}

REMORA_DECL void open_json_lib(lua_State* L) {
  static const luaL_Reg parser_methods[] = {{"parse", detail::json::l_parse}, {nullptr, nullptr}};
  define_class<detail::json::parser_ud>(L, detail::json::parser_tname, parser_methods);
  static const luaL_Reg funcs[] = {{"encode", detail::json::l_encode},
                                   {"encodestr", detail::json::l_encodestr},
                                   {"decode", detail::json::l_decode},
                                   {"parser", detail::json::l_parser},
                                   {nullptr, nullptr}};
  lua_createtable(L, 0, 5);
  luaL_setfuncs(L, funcs, 0);
  push_json_null(L);
  lua_setfield(L, -2, "null");
  lua_setfield(L, -2, "json");
}

}  // namespace remora::lua
