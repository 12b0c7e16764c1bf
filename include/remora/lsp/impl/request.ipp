#pragma once
// The request/response object's methods (one object, as in Mako). Included by pages.ipp.
#include <remora/lua/json.hpp>
#include <remora/lua/net_lib.hpp>
#include <remora/tls/session.hpp>

#include <zlib.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace remora::lsp {
namespace detail {

// ---- request ---------------------------------------------------------------------------------

inline int r_method(lua_State* L) {
  push_sv(L, live_call(L).req->method);
  return 1;
}

inline int r_uri(lua_State* L) {
  push_sv(L, live_call(L).req->path);
  return 1;
}

inline std::string host_of(const call& c) {
  auto host = c.req->header("Host");
  if (!host.empty()) return std::string(host);
  std::string ip(c.req->local_ip);
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(c.req->local_port);
}

inline std::string origin_of(const call& c, bool https = false) {
  return (c.req->secure || https ? "https://" : "http://") + host_of(c);
}

// The absolute URL of `path`: as it is when it begins with '/', else relative to the
// request's directory; "" is the request's own URL.
inline std::string absolute_url(const call& c, std::string_view path) {
  std::string p;
  if (!path.empty() && path.front() == '/') {
    p = std::string(path);
  } else {
    std::string_view dir = c.req->path;
    dir = dir.substr(0, dir.rfind('/') + 1);
    p = http::encode_path(dir);
    if (path.empty()) p = http::encode_path(c.req->path);
    else p += path;
  }
  return origin_of(c) + p;
}

// url([forcehttps]): scheme, Host and path; no query.
inline int r_url(lua_State* L) {
  call& c = live_call(L);
  push_sv(L, origin_of(c, lua_toboolean(L, 2)) + http::encode_path(c.req->path));
  return 1;
}

inline int r_version(lua_State* L) {
  call& c = live_call(L);
  lua_pushstring(L, c.req->version == 10 ? "1.0" : "1.1");
  return 1;
}

inline int r_header(lua_State* L) {
  call& c = live_call(L);
  if (lua_isnoneornil(L, 2)) {
    lua_createtable(L, 0, int(c.req->headers.size()));
    for (auto& h : c.req->headers) {
      push_sv(L, h.name);
      push_sv(L, h.value);
      lua_rawset(L, -3);
    }
    return 1;
  }
  std::size_t n;
  const char* name = luaL_checklstring(L, 2, &n);
  for (auto& h : c.req->headers)
    if (http::iequals(h.name, std::string_view(name, n))) {
      push_sv(L, h.value);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

inline http::form_pairs& form_of(call& c) {
  if (!c.form) {
    c.form.emplace();
    http::parse_form(c.req->query, *c.form);
    auto ct = c.req->header("Content-Type");
    if (!c.req->body.empty() && ct.size() >= 33 &&
        http::iequals(ct.substr(0, 33), "application/x-www-form-urlencoded"))
      http::parse_form(c.req->body, *c.form);
  }
  return *c.form;
}

// request:data() -> table of every parameter (the last value of a repeated name);
// request:data(n1, n2, ...) -> the values of those names.
inline int r_data(lua_State* L) {
  call& c = live_call(L);
  auto& f = form_of(c);
  int n = lua_gettop(L);
  if (n >= 2) {
    for (int i = 2; i <= n; ++i) {
      std::size_t len;
      const char* k = luaL_checklstring(L, i, &len);
      bool found = false;
      for (auto& [name, value] : f)
        if (name == std::string_view(k, len)) {
          push_sv(L, value);
          found = true;
          break;
        }
      if (!found) lua_pushnil(L);
    }
    return n - 1;
  }
  lua_createtable(L, 0, int(f.size()));
  for (auto& [name, value] : f) {  // a repeated name keeps its last value, as in BAS
    push_sv(L, name);
    push_sv(L, value);
    lua_rawset(L, -3);
  }
  return 1;
}

inline int datapairs_next(lua_State* L) {
  call& c = live_call(L, lua_upvalueindex(1));
  auto i = std::size_t(lua_tointeger(L, lua_upvalueindex(2)));
  auto& f = form_of(c);
  if (i >= f.size()) return 0;
  lua_pushinteger(L, lua_Integer(i + 1));
  lua_replace(L, lua_upvalueindex(2));
  push_sv(L, f[i].first);
  push_sv(L, f[i].second);
  return 2;
}

// for name, value in request:datapairs() do ... end  -- every pair, repeated names too
inline int r_datapairs(lua_State* L) {
  live_call(L);
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, datapairs_next, 2);
  return 1;
}

// peername() / sockname() -> ip, port, is-IPv6
// ---- the body: rawrdr and multipart ------------------------------------------------------------

inline bool content_type_is(const call& c, std::string_view type) {
  auto ct = c.req->header("Content-Type");
  return ct.size() >= type.size() && http::iequals(ct.substr(0, type.size()), type);
}

inline int rawrdr_next(lua_State* L) {
  call& c = live_call(L, lua_upvalueindex(1));
  auto pos = std::size_t(lua_tointeger(L, lua_upvalueindex(2)));
  auto size = std::size_t(lua_tointeger(L, lua_upvalueindex(3)));
  if (pos >= c.req->body.size()) return 0;
  auto piece = c.req->body.substr(pos, size);
  lua_pushinteger(L, lua_Integer(pos + piece.size()));
  lua_replace(L, lua_upvalueindex(2));
  push_sv(L, piece);
  return 1;
}

// for chunk in request:rawrdr([size]) do ... end -- the request body as it came.
inline int r_rawrdr(lua_State* L) {
  call& c = live_call(L);
  lua_Integer size = luaL_optinteger(L, 2, LUAL_BUFFERSIZE);
  luaL_argcheck(L, size > 0, 2, "size must be positive");
  if (content_type_is(c, "application/x-www-form-urlencoded")) return luaL_error(L, "URL encoded data");
  if (content_type_is(c, "multipart/form-data")) return luaL_error(L, "multipart/form-data");
  if (!c.req->has_header("Content-Length") && !c.req->has_header("Transfer-Encoding"))
    return luaL_error(L, "Missing content-length and not chunk encoding");
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  lua_pushinteger(L, size);
  lua_pushcclosure(L, rawrdr_next, 3);
  return 1;
}

// Calls the multipart callback `name` of the table at index 2 with the values pushed after
// it; false when it returned an explicit false or nil (stop), true when it returned nothing
// or something true.
inline bool mp_call(lua_State* L, int nargs) {
  int base = lua_gettop(L) - nargs - 1;
  lua_call(L, nargs, LUA_MULTRET);
  int nres = lua_gettop(L) - base;
  bool go = nres == 0 || lua_toboolean(L, base + 1);
  lua_settop(L, base);
  return go;
}

struct lua_multipart final : http::multipart_handler {
  lua_State* L;
  bool file = false;
  std::string field, value;
  std::string error;
  bool has(const char* f) {
    bool yes = lua_getfield(L, 2, f) == LUA_TFUNCTION;
    if (!yes) lua_pop(L, 1);
    return yes;
  }
  bool on_part_begin(const http::multipart_part& p) override {
    file = p.has_filename;
    field = p.name;
    value.clear();
    if (!file) return true;
    if (!has("beginfile")) return true;
    push_sv(L, p.name);
    push_sv(L, p.filename);
    if (p.content_type.empty()) lua_pushnil(L);
    else push_sv(L, p.content_type);
    if (p.content_transfer_encoding.empty()) lua_pushnil(L);
    else push_sv(L, p.content_transfer_encoding);
    return mp_call(L, 4);
  }
  bool on_part_data(std::string_view d) override {
    if (!file) {
      if (value.size() + d.size() > 1024 * 1024) return error = "form field too large", false;
      value.append(d);
      return true;
    }
    if (!has("filedata")) return true;
    push_sv(L, d);
    return mp_call(L, 1);
  }
  bool on_part_end() override {
    if (file || !has("formdata")) return true;
    push_sv(L, field);
    push_sv(L, value);
    return mp_call(L, 2);
  }
  void on_error(std::string_view m) override {
    if (error.empty()) error = std::string(m);
  }
};

// request:multipart{formdata=, beginfile=, filedata=, endmp=, error=} [, bufsize]
// -> true | nil, "Operation failed"
inline int r_multipart(lua_State* L) {
  call& c = live_call(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer bufsize = luaL_optinteger(L, 3, 8192);
  luaL_argcheck(L, bufsize > 0, 3, "bufsize must be positive");
  lua_settop(L, 2);
  if (c.committed) return luaL_error(L, "Response committed");
  auto boundary = http::multipart_boundary(c.req->header("Content-Type"));
  if (boundary.empty()) return luaL_error(L, "Not multipart");
  bool formdata = lua_getfield(L, 2, "formdata") == LUA_TFUNCTION;
  bool beginfile = lua_getfield(L, 2, "beginfile") == LUA_TFUNCTION;
  bool filedata = lua_getfield(L, 2, "filedata") == LUA_TFUNCTION;
  lua_settop(L, 2);
  if (!formdata && !beginfile && !filedata) return luaL_error(L, "No appropriate callback found");
  if (beginfile != filedata) return luaL_error(L, "beginfile and filedata mismatch");
  lua_multipart h;
  h.L = L;
  std::string b(boundary);  // the header may not outlive a callback's use of the request
  http::multipart_parser parser(b, h);
  std::string_view body = c.req->body;
  bool ok = true;
  for (std::size_t i = 0; ok && i < body.size(); i += std::size_t(bufsize)) ok = parser.feed(body.substr(i, std::size_t(bufsize)));
  if (ok) ok = parser.finish();
  if (!ok) {
    if (lua_getfield(L, 2, "error") == LUA_TFUNCTION) {
      lua_pushstring(L, "Multipart parse error");
      lua_call(L, 1, 0);
    }
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_pushstring(L, "Operation failed");
    push_sv(L, h.error.empty() ? std::string(parser.error()) : h.error);
    return 3;
  }
  if (lua_getfield(L, 2, "endmp") == LUA_TFUNCTION) lua_call(L, 0, 0);
  lua_settop(L, 2);
  return push_true(L);
}

inline int r_peername(lua_State* L) {
  call& c = live_call(L);
  push_sv(L, c.req->peer_ip);
  lua_pushinteger(L, c.req->peer_port);
  lua_pushboolean(L, c.req->peer_ip.find(':') != std::string_view::npos);
  return 3;
}

inline int r_sockname(lua_State* L) {
  call& c = live_call(L);
  push_sv(L, c.req->local_ip);
  lua_pushinteger(L, c.req->local_port);
  lua_pushboolean(L, c.req->local_ip.find(':') != std::string_view::npos);
  return 3;
}

inline int r_issecure(lua_State* L) {
  lua_pushboolean(L, live_call(L).req->secure);
  return 1;
}

inline int r_domain(lua_State* L) {
  call& c = live_call(L);
  std::string_view h = c.req->header("Host");
  if (h.empty()) return r_peername(L);
  if (h.front() == '[') {
    auto e = h.find(']');
    h = h.substr(1, e == std::string_view::npos ? h.size() - 1 : e - 1);
  } else if (auto colon = h.rfind(':'); colon != std::string_view::npos) {
    h = h.substr(0, colon);
  }
  std::string lower(h);
  for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  push_sv(L, lower);
  return 1;
}

inline int r_setnodelay(lua_State* L) {
  live_call(L);  // every connection already has TCP_NODELAY
  return 0;
}

// ---- response --------------------------------------------------------------------------------

inline bool header_text_ok(std::string_view s) noexcept {
  for (char ch : s)
    if (ch == '\r' || ch == '\n' || ch == '\0') return false;
  return true;
}

// BAS raises "Error iscommitted" from the setters once the headers are gone.
inline call& uncommitted(lua_State* L) {
  call& c = live_call(L);
  if (c.committed) luaL_error(L, "Error iscommitted");
  return c;
}

// setstatus(code): ignored inside an include.
inline int r_setstatus(lua_State* L) {
  call& c = uncommitted(L);
  lua_Integer s = luaL_checkinteger(L, 2);
  luaL_argcheck(L, s >= 100 && s <= 999, 2, "not an HTTP status code");
  if (c.include_depth == 0) c.res->status = unsigned(s);
  return push_true(L);
}

inline int r_getstatus(lua_State* L) {
  lua_pushinteger(L, live_call(L).res->status);
  return 1;
}

// setheader(name [, value]): replaces a header of that name; nil removes it. Ignored inside
// an include.
inline int r_setheader(lua_State* L) {
  call& c = uncommitted(L);
  std::size_t nn;
  const char* name = luaL_checklstring(L, 2, &nn);
  std::string_view n(name, nn);
  if (n.empty()) return lua::fail(L, "invalidparam");
  luaL_argcheck(L, header_text_ok(n) && n.find(':') == std::string_view::npos && n.find(' ') == std::string_view::npos,
                2, "invalid header name");
  if (c.include_depth > 0) return push_true(L);
  if (lua_isnoneornil(L, 3)) {
    c.res->remove_header(n);
    return push_true(L);
  }
  std::size_t nv;
  const char* value = luaL_tolstring(L, 3, &nv);
  std::string_view v(value, nv);
  luaL_argcheck(L, header_text_ok(v), 3, "invalid header value");
  if (http::iequals(n, "Content-Length")) {
    std::uint64_t len = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), len);
    luaL_argcheck(L, r.ec == std::errc() && r.ptr == v.data() + v.size(), 3, "invalid Content-Length");
  }
  c.res->set_header(n, v);
  return push_true(L);
}

// containsheader(name) -> the value of a response header set so far, or false.
inline int r_containsheader(lua_State* L) {
  call& c = live_call(L);
  auto v = c.res->header(luaL_checkstring(L, 2));
  if (v.empty()) lua_pushboolean(L, 0);
  else push_sv(L, v);
  return 1;
}

// setcontenttype(type [, overwrite=true]) -> false when one was set and overwrite is false.
inline int r_setcontenttype(lua_State* L) {
  call& c = uncommitted(L);
  std::size_t n;
  const char* t = luaL_checklstring(L, 2, &n);
  luaL_argcheck(L, header_text_ok(std::string_view(t, n)), 2, "invalid content type");
  bool overwrite = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
  if (c.include_depth > 0) return push_true(L);
  if (!overwrite && !c.res->header("Content-Type").empty()) {
    lua_pushboolean(L, 0);
    return 1;
  }
  c.res->set_header("Content-Type", std::string_view(t, n));
  return push_true(L);
}

inline int r_setcontentlength(lua_State* L) {
  call& c = uncommitted(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "negative length");
  if (c.include_depth == 0) c.res->set_header("Content-Length", std::to_string(n));
  return push_true(L);
}

inline int r_setmaxage(lua_State* L) {
  call& c = uncommitted(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  if (c.include_depth == 0) c.res->set_header("Cache-Control", "max-age=" + std::to_string(n < 0 ? 0 : n));
  return push_true(L);
}

inline int r_setdateheader(lua_State* L) {
  call& c = uncommitted(L);
  const char* name = luaL_checkstring(L, 2);
  auto t = std::time_t(luaL_checkinteger(L, 3));
  luaL_argcheck(L, *name && header_text_ok(name), 2, "invalid header name");
  if (c.include_depth == 0) c.res->set_header(name, http::format_date(t));
  return push_true(L);
}

// setdefaultheaders(): text/html (unless a type is set) and no caching.
inline int r_setdefaultheaders(lua_State* L) {
  call& c = uncommitted(L);
  if (c.include_depth == 0) {
    if (c.res->header("Content-Type").empty()) c.res->set_header("Content-Type", "text/html; charset=utf-8");
    c.res->set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0");
  }
  return push_true(L);
}

// write(...) -> the bytes written by the page so far.
inline int r_write_k(lua_State* L, int, lua_KContext) {
  lua_pushinteger(L, lua_Integer(live_call(L).bytes));
  return 1;
}
inline int r_write(lua_State* L) {
  call& c = live_call(L);
  output(L, c, 2, false);
  lua_settop(L, 1);
  if (want_flush(L, c)) return lua_yieldk(L, 0, 0, r_write_k);
  return r_write_k(L, 0, 0);
}

inline int r_flush_k(lua_State* L, int, lua_KContext) { return push_true(L); }
// flush(): sends what is buffered now (the response is then committed).
inline int r_flush(lua_State* L) {
  call& c = live_call(L);
  lua_settop(L, 1);
  if (yield_for_flush(L, c)) return lua_yieldk(L, 0, 0, r_flush_k);
  lua_pushboolean(L, 0);  // not at a point where the page can wait: the output stays buffered
  return 1;
}

// send(data): write and flush.
inline int r_send(lua_State* L) {
  call& c = live_call(L);
  output(L, c, 2, false);
  lua_settop(L, 1);
  if (yield_for_flush(L, c)) return lua_yieldk(L, 0, 0, r_flush_k);
  return push_true(L);
}

[[noreturn]] inline void abort_page(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<char*>(&abort_key));
  lua_error(L);
  std::abort();  // lua_error does not return
}

// The tail of the methods that end the page unless told not to (`noabort`): the object is
// dead either way.
inline int end_page(lua_State* L, call& c, bool noabort) {
  if (!noabort) abort_page(L);
  c.dead = true;
  return push_true(L);
}

inline int r_abort(lua_State* L) {
  live_call(L);
  abort_page(L);
}

inline int r_committed(lua_State* L) {
  lua_pushboolean(L, live_call(L).committed);
  return 1;
}

inline int r_valid(lua_State* L) {
  call* c = test_call(L);
  lua_pushboolean(L, c && c->valid && !c->dead);
  return 1;
}

inline int r_isinclude(lua_State* L) {
  call& c = live_call(L);
  lua_pushboolean(L, c.include_depth > 0);
  lua_pushinteger(L, c.include_depth);
  return 2;
}

inline int r_isforward(lua_State* L) {
  call& c = live_call(L);
  lua_pushboolean(L, c.forward_depth > 0);
  lua_pushinteger(L, c.forward_depth);
  return 2;
}

inline int r_initial(lua_State* L) {
  call& c = live_call(L);
  lua_pushboolean(L, c.include_depth == 0 && c.forward_depth == 0);
  return 1;
}

// reset([mode]): "buffer" drops the buffered output, "headers" the headers (and, as in BAS,
// the output), "all" (the default) both. The status stays.
inline int r_reset(lua_State* L) {
  call& c = uncommitted(L);
  static const char* const modes[] = {"all", "headers", "buffer", nullptr};
  int mode = luaL_checkoption(L, 2, "all", modes);
  c.res->body.clear();
  c.bytes = 0;
  if (mode != 2) c.res->clear_headers();
  return push_true(L);
}

// sendredirect(url [, permanent [, noabort]]): 302 (301) with Location, then the page ends.
inline int r_sendredirect(lua_State* L) {
  call& c = live_call(L);
  std::size_t n;
  const char* url = luaL_checklstring(L, 2, &n);
  if (c.committed) return luaL_error(L, "Error iscommitted: %s", url);
  std::string_view u(url, n);
  std::string loc(u);
  if (!(u.rfind("http:", 0) == 0 || u.rfind("https:", 0) == 0)) loc = absolute_url(c, u);
  c.res->redirect(lua_toboolean(L, 3) ? 301 : 302, loc);
  c.res->body.clear();
  c.bytes = 0;
  return end_page(L, c, lua_toboolean(L, 4));
}

// senderror(code [, msg]): the error page as the body, the connection closes after it. The
// page goes on (later writes are appended), as in BAS.
inline int r_senderror(lua_State* L) {
  call& c = uncommitted(L);
  lua_Integer s = luaL_checkinteger(L, 2);
  luaL_argcheck(L, s >= 100 && s <= 999, 2, "not an HTTP status code");
  std::size_t mn = 0;
  const char* msg = luaL_optlstring(L, 3, "", &mn);
  std::string body = "<html><body><h1>";
  body.append(std::to_string(s)).append(" ").append(http::status_text(unsigned(s))).append("</h1>");
  body.append(msg, mn).append("<p>").append(server_name).append("</p></body></html>");
  c.res->status = unsigned(s);
  c.res->body = std::move(body);
  c.bytes = c.res->body.size();
  if (c.res->header("Content-Type").empty()) c.res->set_header("Content-Type", "text/html");
  c.res->set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0");
  c.res->close = true;
  return push_true(L);
}

// json(t1 [, t2 ...] [, noabort]): one table as JSON, several as a JSON array; the response
// is reset to application/json, then the page ends unless the last argument is true.
inline int r_json(lua_State* L) {
  call& c = uncommitted(L);
  int n = lua_gettop(L);
  bool noabort = n >= 3 && lua_type(L, n) == LUA_TBOOLEAN;
  if (lua_type(L, n) == LUA_TBOOLEAN) --n;
  luaL_argcheck(L, n >= 2, 2, "table expected");
  std::string out, err;
  if (n == 2) {
    if (!lua::encode_value(L, 2, out, err)) return luaL_error(L, "JSON encoding failed: %s", err.c_str());
  } else {
    lua_createtable(L, n - 1, 0);
    for (int i = 2; i <= n; ++i) {
      lua_pushvalue(L, i);
      lua_rawseti(L, -2, i - 1);
    }
    if (!lua::encode_value(L, lua_gettop(L), out, err)) return luaL_error(L, "JSON encoding failed: %s", err.c_str());
  }
  c.res->clear_headers();
  c.res->set_header("Content-Type", "application/json");
  c.res->set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0");
  c.res->body = std::move(out);
  c.bytes = c.res->body.size();
  return end_page(L, c, noabort);
}

inline int r_clearkeepalive(lua_State* L) {
  live_call(L).res->close = true;
  return 0;
}

inline int r_downgrade(lua_State* L) {
  live_call(L).res->close = true;
  return 0;
}

inline int r_bytecount(lua_State* L) {
  lua_pushinteger(L, lua_Integer(live_call(L).bytes));
  return 1;
}

inline int r_writesize(lua_State* L) {
  lua_pushinteger(L, lua_Integer(live_call(L).h->rspsz));
  return 1;
}

// getdata() -> what is buffered and not yet sent; nil once committed.
inline int r_getdata(lua_State* L) {
  call& c = live_call(L);
  if (c.committed) return 0;
  push_sv(L, c.res->body);
  return 1;
}

inline int r_env(lua_State* L) {
  live_call(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

// encodeurl(path): escapes what may not appear in a URL path and drops "." and "..".
inline int r_encodeurl(lua_State* L) {
  live_call(L);
  std::size_t n;
  const char* p = luaL_checklstring(L, 2, &n);
  std::string_view in(p, n), query;
  if (auto q = in.find('?'); q != std::string_view::npos) {
    query = in.substr(q);
    in = in.substr(0, q);
  }
  std::string norm, out;
  bool absolute = !in.empty() && in.front() == '/';
  bool trailing = !in.empty() && in.back() == '/';
  if (!vfs::normalize(in, norm)) norm.clear();
  out = (absolute ? "/" : "") + http::encode_path(norm);
  if (trailing && !norm.empty()) out.push_back('/');
  out.append(query);
  push_sv(L, out);
  return 1;
}

// encoderedirecturl(path [, withparams [, withsession]]): an absolute URL for `path`
// (relative to the current request's directory), with the request's parameters and the
// session id appended when asked.
inline int r_encoderedirecturl(lua_State* L) {
  call& c = live_call(L);
  std::size_t n;
  const char* p = luaL_checklstring(L, 2, &n);
  std::string url = absolute_url(c, std::string_view(p, n));
  std::string query;
  if (lua_toboolean(L, 3)) {
    for (auto& [k, v] : form_of(c)) {
      if (!query.empty()) query.push_back('&');
      query += url_encode(k) + "=" + url_encode(v);
    }
  }
  if (lua_toboolean(L, 4)) {
    std::string sid = session_cookie_value(c);
    if (!sid.empty()) {
      if (!query.empty()) query.push_back('&');
      query += std::string(session_cookie) + "=" + sid;
    }
  }
  if (!query.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + query;
  push_sv(L, url);
  return 1;
}

inline int r_setauth(lua_State* L, const char* scheme) {
  call& c = uncommitted(L);
  const char* realm = luaL_optstring(L, 2, "Remora");
  luaL_argcheck(L, header_text_ok(realm) && !std::strchr(realm, '"'), 2, "invalid realm");
  c.res->status = 401;
  std::string v = std::string(scheme) + " realm=\"" + realm + "\"";
  if (std::string_view(scheme) == "Digest") {
    std::string nonce = random_hex(L, 16);
    v += ", qop=\"auth\", nonce=\"" + nonce + "\", opaque=\"" + random_hex(L, 8) + "\"";
  }
  c.res->set_header("WWW-Authenticate", v);
  return 0;
}
inline int r_setbasic(lua_State* L) { return r_setauth(L, "Basic"); }
inline int r_setdigest(lua_State* L) { return r_setauth(L, "Digest"); }

// checktime(t): when If-Modified-Since is at or after `t`, a 304 and the page ends.
inline int r_checktime(lua_State* L) {
  call& c = live_call(L);
  auto t = std::time_t(luaL_checkinteger(L, 2));
  auto ims = c.req->header("If-Modified-Since");
  if (!ims.empty() && !c.committed) {
    auto when = http::parse_date(ims);
    if (when && *when >= t) {
      c.res->status = 304;
      c.res->body.clear();
      c.res->remove_header("Content-Type");
      abort_page(L);
    }
  }
  return push_true(L);
}

// allow(methods [, usedefaults=true]): true when the request's method is listed (HEAD and
// OPTIONS are added by default); OPTIONS gets the Allow list; anything else a 405. Both end
// the page.
inline int r_allow(lua_State* L) {
  call& c = live_call(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  bool defaults = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
  if (c.include_depth > 0 || c.forward_depth > 0) return push_true(L);
  static const char* const known[] = {"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT",
                                      "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"};
  std::string list;
  bool allowed = false;
  auto add = [&](std::string_view m) {
    if (list.find(m) == std::string::npos || !http::has_token(list, m)) {
      if (!list.empty()) list += ", ";
      list += m;
    }
    if (m == c.req->method) allowed = true;
  };
  for (lua_Integer i = 1;; ++i) {
    if (lua_rawgeti(L, 2, i) == LUA_TNIL) {
      lua_pop(L, 1);
      break;
    }
    std::string_view m = luaL_checkstring(L, -1);
    bool ok = false;
    for (auto* k : known) ok = ok || m == k;
    if (!ok) return luaL_error(L, "invalid method type `%s'", std::string(m).c_str());
    add(m);
    lua_pop(L, 1);
  }
  if (defaults) {
    add("HEAD");
    add("OPTIONS");
  }
  if (allowed && !(defaults && c.req->method == "OPTIONS")) return push_true(L);
  if (c.committed) return luaL_error(L, "Error iscommitted");
  c.res->clear_headers();
  c.res->set_header("Allow", list);
  c.res->body.clear();
  if (allowed) {  // OPTIONS
    c.res->status = 200;
  } else {
    c.res->status = 405;
    c.res->set_header("Content-Type", "text/html");
    c.res->body = "<html><body><h1>405 Method Not Allowed</h1>" + list + "<p>" + server_name + "</p></body></html>";
  }
  abort_page(L);
}

// ---- redirect and setresponse ----------------------------------------------------------------

// response:redirect(path [, noabort]): the request goes to another path of the server (any
// directory, with its own checks), as if the client had asked for it; the page ends. Only
// before the page has yielded: after that the answer belongs to this page.
inline int r_redirect(lua_State* L) {
  call& c = live_call(L);
  std::size_t n;
  const char* p = luaL_checklstring(L, 2, &n);
  if (c.committed || c.ch) return luaL_error(L, "Error iscommitted: %s", p);
  std::string_view path(p, n);
  std::string target;
  if (!path.empty() && path.front() == '/') {
    target = std::string(path);
  } else {
    std::string_view dir = c.req->path;
    target = http::encode_path(dir.substr(0, dir.rfind('/') + 1));
    target += path;
  }
  c.res->internal_redirect = std::move(target);
  c.res->body.clear();
  c.bytes = 0;
  return end_page(L, c, lua_toboolean(L, 3));
}

inline constexpr const char* xrsp_tname = "remora.setresponse";

struct xrsp_ud {
  call* c;
  std::uint64_t gen;
  bool active;
};

inline xrsp_ud& check_xrsp(lua_State* L) { return *lua::check_object<xrsp_ud>(L, 1, xrsp_tname); }
inline call* xrsp_call(xrsp_ud& x) {
  return x.active && x.gen == x.c->gen && x.c->valid && !x.c->dead && x.c->capture ? x.c : nullptr;
}

// response:setresponse([true | filter]) -> xrsp | nil: later output is kept back, to be
// deflated (raw, or zlib-wrapped with true) or given to `filter` by xrsp:finalize().
inline int r_setresponse(lua_State* L) {
  call& c = uncommitted(L);
  if (!c.res->body.empty() || c.capture) return 0;
  int mode = lua_isnoneornil(L, 2) ? 1 : lua_isfunction(L, 2) ? 3 : lua_toboolean(L, 2) ? 2 : 1;
  if (mode == 3) {
    lua_pushvalue(L, 2);
    c.capture_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  c.capture = mode;
  c.res->clear_headers();
  lua::push_object<xrsp_ud>(L, xrsp_tname, xrsp_ud{&c, c.gen, true});
  return 1;
}

inline void end_capture(lua_State* L, call& c) {
  luaL_unref(L, LUA_REGISTRYINDEX, c.capture_ref);
  c.capture_ref = LUA_NOREF;
  c.capture = 0;
}

inline bool deflate_all(std::string_view in, bool zlib, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, zlib ? 15 : -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&z, uLong(in.size())) + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return r == Z_STREAM_END;
}

// xrsp:finalize([send]) -> true | the deflated bytes | nil
inline int x_finalize(lua_State* L) {
  auto& x = check_xrsp(L);
  call* c = xrsp_call(x);
  if (!c) return 0;
  bool send = lua_toboolean(L, 2);
  x.active = false;
  std::string data = std::move(c->res->body);
  c->res->body.clear();
  int mode = c->capture;
  if (mode == 3) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->capture_ref);
    end_capture(L, *c);
    lua_pushvalue(L, -1);
    push_sv(L, data);
    lua_call(L, 1, 0);
    lua_pushnil(L);
    lua_call(L, 1, 0);
    return push_true(L);
  }
  end_capture(L, *c);
  std::string out;
  if (!deflate_all(data, mode == 2, out)) return 0;
  if (!send) {
    push_sv(L, out);
    return 1;
  }
  c->res->set_header("Content-Encoding", "deflate");
  c->res->body = std::move(out);
  c->bytes = c->res->body.size();
  return push_true(L);
}

// xrsp:abort(): output goes to the response again (the kept-back output and the headers are
// dropped).
inline int x_abort(lua_State* L) {
  auto& x = check_xrsp(L);
  call* c = xrsp_call(x);
  if (!c || c->committed) {
    lua_pushboolean(L, 0);
    return 1;
  }
  x.active = false;
  end_capture(L, *c);
  c->res->body.clear();
  c->res->clear_headers();
  return push_true(L);
}

inline int x_close(lua_State* L) {  // __close and __gc: finalize and send
  auto* x = static_cast<xrsp_ud*>(lua_touserdata(L, 1));
  if (!x || !xrsp_call(*x)) return 0;
  lua_settop(L, 1);
  lua_pushboolean(L, 1);
  return x_finalize(L);
}

// ---- TLS ------------------------------------------------------------------------------------
// On a plain connection: no certificate or cipher, and redirect2tls sends the client to https.

// certificate() -> cert, trusted: the client's certificate (ba.parsecert's table where that
// exists, else its DER) and whether it verified against the certificate store; nothing on a
// plain connection or when the client sent none.
inline int r_certificate(lua_State* L) { return lua::push_peer_certificate(L, live_call(L).req->tls); }

// cipher() -> suite, version ("ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS v1.2")
inline int r_cipher(lua_State* L) { return lua::push_peer_cipher(L, live_call(L).req->tls); }

// clientcert(): Mako asks for a certificate by renegotiating; Remora never renegotiates and asks
// during the handshake instead (when a certstore is configured or servcon:clientcert(true)).
// True on a TLS connection.
inline int r_clientcert(lua_State* L) {
  lua_pushboolean(L, live_call(L).req->secure);
  return 1;
}

// redirect2tls([noabort]): false on TLS; else a 301 to the https URL (a 403 when the Host
// names a port, which would be the wrong one for https), and the page ends.
inline int r_redirect2tls(lua_State* L) {
  call& c = live_call(L);
  if (c.req->secure) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (c.committed) return luaL_error(L, "Error iscommitted");
  std::string host = host_of(c);
  std::size_t colon = host.find(':', host.find(']') == std::string::npos ? 0 : host.find(']'));
  lua_getglobal(L, "ba");
  lua_getfield(L, -1, "serversslport");
  lua_Integer sslport = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_pop(L, 2);
  if (colon != std::string::npos && sslport == 0) {  // no HTTPS port known: the Host's is wrong
    c.res->error_page(403);
    c.res->body = "<html><body><h1>403 Forbidden</h1>a secure connection is required<p>" + std::string(server_name) +
                  "</p></body></html>";
  } else {
    if (colon != std::string::npos) host.resize(colon);
    if (sslport != 0 && sslport != 443) host += ":" + std::to_string(sslport);
    std::string loc = "https://" + host + http::encode_path(c.req->path);
    if (!c.req->query.empty()) loc.append("?").append(c.req->query);
    c.res->redirect(301, loc);
  }
  return end_page(L, c, lua_toboolean(L, 2));
}

// ---- deferred responses --------------------------------------------------------------------

inline constexpr const char* deferred_tname = "remora.deferred";

struct deferred_ud {
  std::shared_ptr<deferred_state> d;
};

inline deferred_state& check_deferred(lua_State* L, bool live = true) {
  auto& d = *lua::check_object<deferred_ud>(L, 1, deferred_tname)->d;
  if (live && (d.state == deferred_state::mode::closed || d.gone)) luaL_error(L, "expired");
  return d;
}

inline int d_bad_state(lua_State* L) { return lua::fail(L, "Invalid call in selected response state"); }

// The call's deferred response as a Lua object, made (and the page's answer so far dropped)
// the first time.
inline int push_deferred(lua_State* L, call& c) {
  if (!c.deferred) {
    c.deferred = std::make_shared<deferred_state>();
    c.deferred->res = c.res;
    c.res->status = 200;
    c.res->clear_headers();
    c.res->body.clear();
  }
  lua::push_object<deferred_ud>(L, deferred_tname, deferred_ud{c.deferred});
  return 1;
}

// response:deferred() -> an object that answers the request after the page has ended.
inline int r_deferred(lua_State* L) {
  call& c = live_call(L);
  if (c.committed) return luaL_error(L, "Response committed");
  return push_deferred(L, c);
}

inline int d_valid(lua_State* L) {
  auto& d = check_deferred(L, false);
  lua_pushboolean(L, d.state != deferred_state::mode::closed && !d.gone);
  return 1;
}

inline int d_setstatus(lua_State* L) {
  auto& d = check_deferred(L);
  lua_Integer s = luaL_optinteger(L, 2, 200);
  luaL_argcheck(L, s >= 100 && s <= 999, 2, "not an HTTP status code");
  if (d.state != deferred_state::mode::fresh) return d_bad_state(L);
  d.state = deferred_state::mode::headers;
  d.run([p = d.shared_from_this(), s] { p->res->status = unsigned(s); });
  return push_true(L);
}

inline int d_setheader(lua_State* L) {
  auto& d = check_deferred(L);
  std::string name = luaL_checkstring(L, 2);
  std::string value = luaL_checkstring(L, 3);
  luaL_argcheck(L, !name.empty() && header_text_ok(name) && name.find(':') == std::string::npos, 2, "invalid header name");
  luaL_argcheck(L, header_text_ok(value), 3, "invalid header value");
  if (d.state != deferred_state::mode::fresh && d.state != deferred_state::mode::headers) return d_bad_state(L);
  d.state = deferred_state::mode::headers;
  d.run([p = d.shared_from_this(), name = std::move(name), value = std::move(value)] { p->res->set_header(name, value); });
  return push_true(L);
}

inline int d_output(lua_State* L, deferred_state& d) {
  std::string data;
  append_values(L, 2, data, false);
  d.run([p = d.shared_from_this(), data = std::move(data)] {
    p->res->body.append(data);
    p->pump();
  });
  return push_true(L);
}

// write(...): data of unknown length (chunked).
inline int d_write(lua_State* L) {
  auto& d = check_deferred(L);
  if (d.state == deferred_state::mode::fixed) return d_bad_state(L);
  d.state = deferred_state::mode::writing;
  return d_output(L, d);
}

// setcontentlength(n), then send(data...): a body of known length.
inline int d_setcontentlength(lua_State* L) {
  auto& d = check_deferred(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "negative length");
  if (d.state != deferred_state::mode::fresh && d.state != deferred_state::mode::headers) return d_bad_state(L);
  d.state = deferred_state::mode::fixed;
  d.run([p = d.shared_from_this(), n] { p->res->set_header("Content-Length", std::to_string(n)); });
  return 0;
}

inline int d_send(lua_State* L) {
  auto& d = check_deferred(L);
  if (d.state == deferred_state::mode::writing) return d_bad_state(L);
  if (d.state != deferred_state::mode::fixed) {  // send(data, total): the length comes first
    lua_Integer total = luaL_checkinteger(L, 3);
    std::size_t n = 0;
    luaL_optlstring(L, 2, "", &n);
    if (total < lua_Integer(n)) return luaL_error(L, "Packet size must be >= chunk size");
    d.state = deferred_state::mode::fixed;
    d.run([p = d.shared_from_this(), total] { p->res->set_header("Content-Length", std::to_string(total)); });
    lua_settop(L, 2);
  }
  if (lua_isnoneornil(L, 2)) return push_true(L);
  return d_output(L, d);
}

// close([conclose]): completes the response.
inline int d_close(lua_State* L) {
  auto& d = check_deferred(L);
  bool conclose = lua_toboolean(L, 2);
  d.state = deferred_state::mode::closed;
  d.run([p = d.shared_from_this(), conclose] {
    if (conclose) p->res->close = true;
    p->finish_pending = true;
    p->pump();
  });
  return 0;
}

inline int d_gc(lua_State* L) {
  auto* u = static_cast<deferred_ud*>(lua_touserdata(L, 1));
  if (u->d && u->d->state != deferred_state::mode::closed) {  // dropped unanswered: finish it
    u->d->state = deferred_state::mode::closed;
    u->d->run([p = u->d] {
      p->finish_pending = true;
      p->pump();
    });
  }
  u->~deferred_ud();
  return 0;
}

// ---- uploads (ba.create.upload) ----------------------------------------------------------------
// ba.create.upload(io [, maxuploads]) -> uploader
// uploader(request, name, start, complete, error [, env [, noabort]]): a PUT body is stored as
// `name`; the files of a multipart POST are stored in the directory `name`. start(env, up),
// complete(env, up) and error(env, up, ecode) run in turn; complete and error must answer
// with up:response() (a deferred response), else the client gets a 500. The page then ends,
// unless noabort.

inline constexpr const char* upload_tname = "remora.upload";

struct upload_ud {
  call* c;
  std::uint64_t gen;
  std::string name, url;
  bool multipart = false, live = true, answered = false;
};

inline upload_ud& check_upload(lua_State* L) {
  auto& u = *lua::check_object<upload_ud>(L, 1, upload_tname);
  if (!u.live || u.gen != u.c->gen || !u.c->valid) luaL_error(L, "expired");
  return u;
}

inline int up_url(lua_State* L) {
  push_sv(L, check_upload(L).url);
  return 1;
}
inline int up_name(lua_State* L) {
  push_sv(L, check_upload(L).name);
  return 1;
}
inline int up_multipart(lua_State* L) {
  lua_pushboolean(L, check_upload(L).multipart);
  return 1;
}
inline int up_session(lua_State* L) {
  auto& u = check_upload(L);
  session* s = request_session(L, *u.c, false);
  if (!s) lua_pushboolean(L, 0);
  else push_session(L, s->id);
  return 1;
}
inline int up_response(lua_State* L) {
  auto& u = check_upload(L);
  if (u.answered) return luaL_error(L, "Already in upload mode");
  u.answered = true;
  return push_deferred(L, *u.c);
}

// Calls uploader callback at `fn` with (env, up [, ecode]); a Lua error propagates.
inline void upload_callback(lua_State* L, int fn, int env, int up, const char* ecode) {
  lua_pushvalue(L, fn);
  lua_pushvalue(L, env);
  lua_pushvalue(L, up);
  if (ecode) lua_pushstring(L, ecode);
  lua_call(L, ecode ? 3 : 2, 0);
}

struct upload_writer final : http::multipart_handler {
  vfs::io* io;
  std::string dir, error;
  std::unique_ptr<vfs::file> f;
  std::vector<std::string> stored;
  bool on_part_begin(const http::multipart_part& p) override {
    if (!p.has_filename) return true;
    std::string base = p.filename.substr(p.filename.find_last_of("/\\") + 1);  // never a path
    if (base.empty() || base == "." || base == "..") return error = "invalidname", false;
    std::string name = dir.empty() ? base : dir + "/" + base;
    f = io->open(name, "w", error);
    if (!f) return false;
    stored.push_back(name);
    return true;
  }
  bool on_part_data(std::string_view d) override { return !f || f->write(d.data(), d.size(), error); }
  bool on_part_end() override {
    if (f && !f->flush(error)) return false;
    f.reset();
    return true;
  }
  void on_error(std::string_view m) override {
    if (error.empty()) error = std::string(m);
  }
};

inline int uploader(lua_State* L) {
  auto io = lua::check_io(L, lua_upvalueindex(1));
  call& c = live_call(L, 1);
  std::string name = luaL_checkstring(L, 2);
  for (int i = 3; i <= 5; ++i) luaL_checktype(L, i, LUA_TFUNCTION);
  bool noabort = lua_toboolean(L, 7);
  if (c.include_depth > 0) return luaL_error(L, "Upload within include");
  bool put = c.req->method == "PUT";
  auto boundary = http::multipart_boundary(c.req->header("Content-Type"));
  if (!put && !(c.req->method == "POST" && !boundary.empty())) return luaL_error(L, "Invalid PUT or multipart POST");
  // env: the given table (or a new one) with __index = _G
  if (lua_istable(L, 6)) lua_pushvalue(L, 6);
  else lua_newtable(L);
  int env = lua_gettop(L);
  if (!lua_getmetatable(L, env)) {
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, env);
  } else {
    lua_pop(L, 1);
  }
  auto* u = lua::push_object<upload_ud>(L, upload_tname);
  int up = lua_gettop(L);
  u->c = &c;
  u->gen = c.gen;
  u->name = name;
  u->url = origin_of(c) + http::encode_path(c.req->path);
  u->multipart = !put;
  upload_callback(L, 3, env, up, nullptr);
  std::string err;
  if (put) {
    auto f = io->open(name, "w", err);
    if (f && f->write(c.req->body.data(), c.req->body.size(), err) && f->flush(err)) err.clear();
    else if (err.empty()) err = "ioerror";
  } else {
    upload_writer w;
    w.io = io.get();
    w.dir = name;
    std::string b(boundary);
    http::multipart_parser parser(b, w);
    if (!parser.feed(c.req->body) || !parser.finish()) err = w.error.empty() ? "ioerror" : w.error;
  }
  upload_callback(L, err.empty() ? 4 : 5, env, up, err.empty() ? nullptr : err.c_str());
  bool answered = u->answered;
  u->live = false;
  if (!answered) {  // as BAS: the callbacks must answer
    c.res->status = 500;
    c.res->clear_headers();
    c.res->set_header("Content-Type", "text/plain");
    c.res->body = "No response in Lua callbacks";
  }
  return end_page(L, c, noabort);
}

inline int ba_create_upload(lua_State* L) {
  lua::check_io(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, uploader, 1);
  return 1;
}

// ---- include and forward ---------------------------------------------------------------------

// The app-relative name of `path` seen from page `from` ("a/b.lsp"); a leading '/' is the
// VFS root, which must lead into the app. False when the path leaves the app.
inline bool resolve(const app& a, std::string_view from, std::string_view path, std::string& out) {
  std::string joined;
  if (!path.empty() && path.front() == '/') {
    if (path.substr(0, a.prefix.size()) != a.prefix && std::string(path) + "/" != a.prefix) return false;
    joined = std::string(path.substr(std::min(path.size(), a.prefix.size())));
  } else {
    auto slash = from.rfind('/');
    joined = slash == std::string_view::npos ? std::string() : std::string(from.substr(0, slash + 1));
    joined += path;
  }
  return vfs::normalize(joined, out) && !out.empty();
}

// After an included or forwarded page returns: the outer page's name (at stack index 2) and
// depths come back; a forward then ends the outer page unless noabort. (An error in the
// included page skips this; it ends the page anyway unless the page catches it with pcall.)
inline int include_done(lua_State* L, int, lua_KContext ctx) {
  call& c = live_call(L, 1);
  std::size_t n;
  const char* saved = lua_tolstring(L, 2, &n);
  c.page.assign(saved, n);
  bool forward = ctx & 1, noabort = ctx & 2;
  if (forward) --c.forward_depth;
  else --c.include_depth;
  if (forward && !noabort) abort_page(L);
  return push_true(L);
}

inline int run_other(lua_State* L, bool forward) {
  call& c = live_call(L);
  std::size_t n;
  const char* path = luaL_checklstring(L, 2, &n);
  bool noabort = lua_toboolean(L, 3);
  std::string name;
  if (forward && c.committed) return luaL_error(L, "Error iscommitted: %s", path);
  if (!c.a) return luaL_error(L, "Error pagenotfound: %s", path);  // a directory function has no app
  if (!resolve(*c.a, c.page, std::string_view(path, n), name)) return luaL_error(L, "Error pagenotfound: %s", path);
  if (forward ? c.forward_depth >= 10 : c.include_depth >= 10)
    return luaL_error(L, forward ? "Error toomanyforwards: %s" : "Error toomanyincludes: %s", path);
  vfs::file_info info;
  std::string err;
  if (!c.a->io->stat(name, info, err) || info.is_dir) return luaL_error(L, "Error pagenotfound: %s", path);
  if (forward) {
    c.res->body.clear();
    c.bytes = 0;
  }
  if (name.size() < 4 || name.compare(name.size() - 4, 4, ".lsp") != 0) {  // a static file: its bytes
    std::string text = read_all(*c.a->io, name, err);
    if (!err.empty()) return luaL_error(L, "%s: %s", path, err.c_str());
    c.res->body.append(text);
    c.bytes += text.size();
    if (forward && !noabort) abort_page(L);
    return push_true(L);
  }
  lua_settop(L, 1);
  push_sv(L, c.page);  // index 2: restored by include_done
  page_entry* e = load_page(L, *c.a, name, info, err);
  if (!e) return luaL_error(L, "%s", err.c_str());
  push_page_args(L, *c.a, *e, name, 1);
  lua_KContext ctx = (forward ? 1 : 0) | (noabort ? 2 : 0);
  c.page = name;
  if (forward) ++c.forward_depth;
  else ++c.include_depth;
  lua_callk(L, 5, 0, ctx, include_done);
  return include_done(L, LUA_OK, ctx);
}

inline int r_include(lua_State* L) { return run_other(L, false); }
inline int r_forward(lua_State* L) { return run_other(L, true); }

inline int r_tostring(lua_State* L) {
  lua_pushfstring(L, "request: %p", lua_touserdata(L, 1));
  return 1;
}

}  // namespace detail

REMORA_DECL void open_request_lib(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"method", detail::r_method},
      {"uri", detail::r_uri},
      {"url", detail::r_url},
      {"version", detail::r_version},
      {"header", detail::r_header},
      {"data", detail::r_data},
      {"datapairs", detail::r_datapairs},
      {"rawrdr", detail::r_rawrdr},
      {"multipart", detail::r_multipart},
      {"peername", detail::r_peername},
      {"sockname", detail::r_sockname},
      {"issecure", detail::r_issecure},
      {"domain", detail::r_domain},
      {"setnodelay", detail::r_setnodelay},
      {"env", detail::r_env},
      {"checktime", detail::r_checktime},
      {"allow", detail::r_allow},
      {"setstatus", detail::r_setstatus},
      {"getstatus", detail::r_getstatus},
      {"setheader", detail::r_setheader},
      {"containsheader", detail::r_containsheader},
      {"setcontenttype", detail::r_setcontenttype},
      {"setcontentlength", detail::r_setcontentlength},
      {"setmaxage", detail::r_setmaxage},
      {"setdateheader", detail::r_setdateheader},
      {"setdefaultheaders", detail::r_setdefaultheaders},
      {"write", detail::r_write},
      {"send", detail::r_send},
      {"flush", detail::r_flush},
      {"abort", detail::r_abort},
      {"committed", detail::r_committed},
      {"valid", detail::r_valid},
      {"isinclude", detail::r_isinclude},
      {"isforward", detail::r_isforward},
      {"initial", detail::r_initial},
      {"reset", detail::r_reset},
      {"sendredirect", detail::r_sendredirect},
      {"senderror", detail::r_senderror},
      {"json", detail::r_json},
      {"clearkeepalive", detail::r_clearkeepalive},
      {"downgrade", detail::r_downgrade},
      {"bytecount", detail::r_bytecount},
      {"writesize", detail::r_writesize},
      {"getdata", detail::r_getdata},
      {"encodeurl", detail::r_encodeurl},
      {"encoderedirecturl", detail::r_encoderedirecturl},
      {"setbasic", detail::r_setbasic},
      {"setdigest", detail::r_setdigest},
      {"include", detail::r_include},
      {"forward", detail::r_forward},
      {"session", detail::r_session},
      {"cookie", detail::r_cookie},
      {"createcookie", detail::r_createcookie},
      {"deferred", detail::r_deferred},
      {"certificate", detail::r_certificate},
      {"cipher", detail::r_cipher},
      {"clientcert", detail::r_clientcert},
      {"redirect2tls", detail::r_redirect2tls},
      {"redirect", detail::r_redirect},
      {"setresponse", detail::r_setresponse},
      {"user", detail::r_user},
      {"login", detail::r_login},
      {"logout", detail::r_logout},
      {nullptr, nullptr}};
  if (luaL_newmetatable(L, request_tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, detail::r_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &detail::request_meta_key);
  *static_cast<void**>(lua_getextraspace(L)) = nullptr;  // no page runs on the main thread
  static const luaL_Reg deferred_methods[] = {
      {"valid", detail::d_valid},         {"setstatus", detail::d_setstatus}, {"setheader", detail::d_setheader},
      {"write", detail::d_write},         {"setcontentlength", detail::d_setcontentlength},
      {"send", detail::d_send},           {"close", detail::d_close},         {"abort", detail::d_close},
      {nullptr, nullptr}};
  lua::define_class<detail::deferred_ud>(L, detail::deferred_tname, deferred_methods);
  static const luaL_Reg upload_methods[] = {{"url", detail::up_url},         {"name", detail::up_name},
                                            {"multipart", detail::up_multipart}, {"session", detail::up_session},
                                            {"response", detail::up_response}, {nullptr, nullptr}};
  lua::define_class<detail::upload_ud>(L, detail::upload_tname, upload_methods);
  static const luaL_Reg xrsp_methods[] = {{"finalize", detail::x_finalize}, {"abort", detail::x_abort}, {nullptr, nullptr}};
  if (luaL_newmetatable(L, detail::xrsp_tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, xrsp_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, detail::x_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_getmetatable(L, detail::deferred_tname);
  lua_pushcfunction(L, detail::d_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  detail::open_session_lib(L);
  if (lua_istable(L, -1)) {  // the ba table
    lua_pushcfunction(L, detail::ba_session);
    lua_setfield(L, -2, "session");
    lua_pushcfunction(L, detail::ba_sessions);
    lua_setfield(L, -2, "sessions");
    lua_pushcfunction(L, detail::ba_seterrh);
    lua_setfield(L, -2, "seterrh");
    luaL_getsubtable(L, -1, "create");  // ba.create, made by whichever library comes first
    lua_pushcfunction(L, detail::ba_create_upload);
    lua_setfield(L, -2, "upload");
    lua_pop(L, 1);
  }
}

}  // namespace remora::lsp
