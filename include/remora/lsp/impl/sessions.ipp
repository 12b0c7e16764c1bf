#pragma once
// Sessions (BAS's HttpSession, cookie "z9ZAqJtI") and cookies for the request object.
// Included by pages.ipp; everything here runs under the VM lock.
#include <remora/lua/impl/ba_core.ipp>  // url_encode_to, random_bytes

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace remora::lsp {
namespace detail {

inline void push_sv(lua_State* L, std::string_view s) { lua_pushlstring(L, s.data(), s.size()); }

inline int push_true(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}

inline constexpr const char* session_cookie = "z9ZAqJtI";  // BAS's session cookie name

inline std::string url_encode(std::string_view in) {
  std::string out;
  lua::detail::url_encode_to(in, out);
  return out;
}

// `bytes` random bytes as lowercase hex.
inline std::string random_hex(lua_State* L, std::size_t bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  unsigned char buf[64];
  if (bytes > sizeof buf) bytes = sizeof buf;
  lua::detail::random_bytes(L, buf, bytes);
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    out.push_back(hex[buf[i] >> 4]);
    out.push_back(hex[buf[i] & 15]);
  }
  return out;
}

// ---- cookies --------------------------------------------------------------------------------

inline constexpr const char* cookie_tname = "remora.cookie";

// A cookie object: the request object (its uservalue) keeps the call alive.
struct cookie_ud {
  call* c;
  std::uint64_t gen;
  std::size_t index;
};

// The value of cookie `name` in the request's Cookie headers (still escaped); nullopt if absent.
inline std::optional<std::string_view> request_cookie(const http::request& req, std::string_view name) {
  for (auto& h : req.headers)
    if (http::iequals(h.name, "Cookie"))
      if (auto v = http::cookie_value(h.value, name)) return v;
  return std::nullopt;
}

inline std::string set_cookie_line(const cookie_data& k) {
  std::string v = k.name + "=" + url_encode(k.value);
  if (!k.domain.empty()) v += "; domain=" + k.domain;
  if (!k.path.empty()) v += "; path=" + k.path;
  if (k.deleted) v += "; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  else if (k.maxage > 0) v += "; expires=" + http::format_date(std::time(nullptr) + k.maxage);
  if (k.secure) v += "; secure";
  if (k.httponly) v += "; HttpOnly";
  if (!k.comment.empty()) v += "; comment=" + k.comment;
  return v;
}

// The activated cookies as Set-Cookie headers: called once, when the headers go out.
inline void emit_cookies(call& c) {
  for (auto& k : c.cookies)
    if (k.active) c.res->headers.emplace_back("Set-Cookie", set_cookie_line(k));
  c.cookies.clear();
}

inline void push_cookie(lua_State* L, int req, std::size_t index) {
  auto* u = static_cast<cookie_ud*>(lua_newuserdatauv(L, sizeof(cookie_ud), 1));
  u->c = &live_call(L, req);
  u->gen = u->c->gen;
  u->index = index;
  luaL_setmetatable(L, cookie_tname);
  lua_pushvalue(L, req);
  lua_setiuservalue(L, -2, 1);
}

inline cookie_data& check_cookie(lua_State* L) {
  auto* u = static_cast<cookie_ud*>(luaL_checkudata(L, 1, cookie_tname));
  if (u->gen != u->c->gen || !u->c->valid || u->c->dead || u->index >= u->c->cookies.size())
    luaL_error(L, "request/response expired");
  return u->c->cookies[u->index];
}

inline bool cookie_text_ok(std::string_view s) noexcept {
  for (char ch : s)
    if (ch == ';' || ch == '\r' || ch == '\n' || ch == '\0') return false;
  return true;
}

template<std::string cookie_data::*M>
int cookie_string(lua_State* L) {
  auto& k = check_cookie(L);
  if (lua_isnone(L, 2)) {
    if ((k.*M).empty()) return 0;
    push_sv(L, k.*M);
    return 1;
  }
  std::size_t n;
  const char* v = luaL_checklstring(L, 2, &n);
  if constexpr (M != &cookie_data::value)
    luaL_argcheck(L, cookie_text_ok(std::string_view(v, n)), 2, "invalid cookie attribute");
  (k.*M).assign(v, n);
  return 0;
}

template<bool cookie_data::*M>
int cookie_flag(lua_State* L) {
  auto& k = check_cookie(L);
  if (lua_isnone(L, 2)) {
    lua_pushboolean(L, k.*M);
    return 1;
  }
  k.*M = lua_toboolean(L, 2);
  return 0;
}

inline int cookie_name(lua_State* L) {
  push_sv(L, check_cookie(L).name);
  return 1;
}

inline int cookie_maxage(lua_State* L) {
  auto& k = check_cookie(L);
  if (lua_isnone(L, 2)) {
    lua_pushinteger(L, k.maxage);
    return 1;
  }
  lua_Integer v = luaL_checkinteger(L, 2);
  k.maxage = v > 0 ? long(std::min<lua_Integer>(v, 0x7fffffff)) : 0;
  if (v == 0) k.deleted = true;
  return 0;
}

inline int cookie_delete(lua_State* L) {
  check_cookie(L).deleted = true;
  return 0;
}

inline int cookie_activate(lua_State* L) {
  auto* u = static_cast<cookie_ud*>(luaL_checkudata(L, 1, cookie_tname));
  auto& k = check_cookie(L);
  if (u->c->committed) return luaL_error(L, "Error iscommitted");
  k.active = true;
  return 0;
}

// Finds or adds the response cookie `name`; returns its index.
inline std::size_t cookie_slot(call& c, std::string_view name) {
  for (std::size_t i = 0; i < c.cookies.size(); ++i)
    if (c.cookies[i].name == name) return i;
  c.cookies.push_back({});
  c.cookies.back().name = std::string(name);
  return c.cookies.size() - 1;
}

// response:createcookie(name) -> a cookie, sent once activated.
inline int r_createcookie(lua_State* L) {
  call& c = live_call(L);
  std::size_t n;
  const char* name = luaL_checklstring(L, 2, &n);
  std::string_view nm(name, n);
  luaL_argcheck(L, !nm.empty() && cookie_text_ok(nm) && nm.find('=') == std::string_view::npos &&
                       nm.find(' ') == std::string_view::npos, 2, "invalid cookie name");
  push_cookie(L, 1, cookie_slot(c, nm));
  return 1;
}

// request:cookie(name) -> the request's cookie (or the response cookie of that name), or nil.
inline int r_cookie(lua_State* L) {
  call& c = live_call(L);
  std::size_t n;
  const char* name = luaL_checklstring(L, 2, &n);
  std::string_view nm(name, n);
  for (std::size_t i = 0; i < c.cookies.size(); ++i)
    if (c.cookies[i].name == nm) {
      push_cookie(L, 1, i);
      return 1;
    }
  auto v = request_cookie(*c.req, nm);
  if (!v || !cookie_text_ok(nm)) return 0;
  std::string value;
  if (!http::percent_decode(*v, value)) value = std::string(*v);
  auto i = cookie_slot(c, nm);
  c.cookies[i].value = std::move(value);
  push_cookie(L, 1, i);
  return 1;
}

// ---- sessions -------------------------------------------------------------------------------

struct session {
  std::uint32_t id = 0;
  std::string sid;  // the cookie value: 8 hex digits of the id, 16 random
  std::time_t created = 0, last = 0;
  long maxinactive = 1200;
  std::string peer;
  int uses = 0, locks = 0;
  int attr_ref = LUA_NOREF;
  std::string user, authtype;  // an authenticated user (request:login)
};

struct session_store {
  std::map<std::uint32_t, session> all;
  std::uint32_t next = 0;
};

inline constexpr const char* store_tname = "remora.sessions";
inline constexpr const char* session_tname = "remora.session";
inline const char store_key = 0;

inline session_store& store(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &store_key) == LUA_TUSERDATA) {
    auto* s = static_cast<session_store*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return *s;
  }
  lua_pop(L, 1);
  auto* s = lua::push_object<session_store>(L, store_tname);
  std::uint32_t seed = 0;
  lua::detail::random_bytes(L, &seed, sizeof seed);
  s->next = seed & 0x7fffffff;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &store_key);
  return *s;
}

// Ends a session: its onterminate attribute (a function) runs first, errors only traced.
inline void terminate_session(lua_State* L, session_store& st, std::uint32_t id) {
  auto it = st.all.find(id);
  if (it == st.all.end()) return;
  int ref = it->second.attr_ref;
  st.all.erase(it);
  if (ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  if (lua_getfield(L, -1, "onterminate") == LUA_TFUNCTION) {
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      std::fprintf(stderr, "session onterminate: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

inline bool expired(const session& s, std::time_t now) { return s.locks == 0 && now - s.last > s.maxinactive; }

inline void sweep_sessions(lua_State* L, session_store& st, std::time_t now) {
  std::vector<std::uint32_t> gone;
  for (auto& [id, s] : st.all)
    if (expired(s, now)) gone.push_back(id);
  for (auto id : gone) terminate_session(L, st, id);
}

// The live session with cookie value `sid` for a client at `peer`, or nullptr.
inline session* find_session(lua_State* L, std::string_view sid, std::string_view peer) {
  if (sid.size() != 24) return nullptr;
  std::uint32_t id = 0;
  auto r = std::from_chars(sid.data(), sid.data() + 8, id, 16);
  if (r.ec != std::errc() || r.ptr != sid.data() + 8) return nullptr;
  auto& st = store(L);
  auto it = st.all.find(id);
  if (it == st.all.end() || it->second.sid != sid) return nullptr;
  if (expired(it->second, std::time(nullptr))) {
    terminate_session(L, st, id);
    return nullptr;
  }
  if (!peer.empty() && it->second.peer != peer) return nullptr;  // sessions are bound to the client's address
  return &it->second;
}

inline session* new_session(lua_State* L, unsigned limit, std::string_view peer) {
  auto& st = store(L);
  std::time_t now = std::time(nullptr);
  if (st.all.size() >= limit) sweep_sessions(L, st, now);
  if (st.all.size() >= limit) {  // still full: the least recently used idle session goes
    session* victim = nullptr;
    for (auto& [id, s] : st.all)
      if (s.uses == 0 && s.locks == 0 && (!victim || s.last < victim->last)) victim = &s;
    if (!victim) return nullptr;
    terminate_session(L, st, victim->id);
  }
  std::uint32_t id;
  do id = ++st.next;
  while (id == 0 || st.all.count(id));
  session& s = st.all[id];
  s.id = id;
  char head[9];
  std::snprintf(head, sizeof head, "%08x", id);
  s.sid = head + random_hex(L, 8);
  s.created = s.last = now;
  s.peer = std::string(peer);
  return &s;
}

struct session_ud {
  std::uint32_t id;
  bool locked = false;
};

inline void push_session(lua_State* L, std::uint32_t id) {
  lua::push_object<session_ud>(L, session_tname, session_ud{id});
}

// The session of a session object; raises "session expired" when it has gone.
inline session& check_session(lua_State* L, session_ud** ud = nullptr) {
  auto* u = static_cast<session_ud*>(luaL_checkudata(L, 1, session_tname));
  if (ud) *ud = u;
  auto& st = store(L);
  auto it = st.all.find(u->id);
  if (it == st.all.end() || expired(it->second, std::time(nullptr))) {
    if (it != st.all.end()) terminate_session(L, st, u->id);
    luaL_error(L, "session expired");
  }
  return it->second;
}

// The session cookie's value for the request (the one it came with or just got), or "".
inline std::string session_cookie_value(call& c);

// The request's session (from its cookie or a z9ZAqJtI parameter), created when `create`.
inline session* request_session(lua_State* L, call& c, bool create) {
  if (c.session_id) {
    auto& st = store(L);
    auto it = st.all.find(c.session_id);
    if (it != st.all.end()) return &it->second;
    c.session_id = 0;
  }
  session* s = nullptr;
  if (auto v = request_cookie(*c.req, session_cookie)) s = find_session(L, *v, c.req->peer_ip);
  if (!s) {
    auto q = c.req->query;
    auto pos = q.find(std::string(session_cookie) + "=");
    if (pos != std::string_view::npos && (pos == 0 || q[pos - 1] == '&'))
      s = find_session(L, q.substr(pos + 9, 24), c.req->peer_ip);
  }
  if (!s && create && !c.committed) {
    s = new_session(L, c.h->sessioncnt ? c.h->sessioncnt : 50, c.req->peer_ip);
    if (s) {
      cookie_data k;
      k.name = session_cookie;
      k.value = s->sid;
      k.path = "/";
      k.httponly = true;
      k.active = true;
      c.cookies.push_back(std::move(k));
    }
  }
  if (s) {
    s->last = std::time(nullptr);
    ++s->uses;
    c.session_id = s->id;
  }
  return s;
}

inline std::string session_cookie_value(call& c) {
  if (!c.session_id) return {};
  auto& st = store(c.h->L);
  auto it = st.all.find(c.session_id);
  return it == st.all.end() ? std::string() : it->second.sid;
}

// Called when the request ends: it no longer holds its session.
inline void leave_session(lua_State* L, call& c) {
  if (!c.session_id) return;
  auto& st = store(L);
  auto it = st.all.find(c.session_id);
  if (it != st.all.end() && it->second.uses > 0) --it->second.uses;
  c.session_id = 0;
}

// request:session([create]) -> session, or false
inline int r_session(lua_State* L) {
  call& c = live_call(L);
  session* s = request_session(L, c, lua_toboolean(L, 2));
  if (!s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_session(L, s->id);
  return 1;
}

inline int s_attributes(lua_State* L) {
  auto& s = check_session(L);
  if (s.attr_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.attr_ref);
  return 1;
}

inline int s_id(lua_State* L) {
  auto& s = check_session(L);
  if (lua_toboolean(L, 2)) push_sv(L, s.sid);
  else lua_pushinteger(L, s.id);
  return 1;
}

inline int s_creationtime(lua_State* L) {
  lua_pushinteger(L, check_session(L).created);
  return 1;
}

inline int s_lastaccessedtime(lua_State* L) {
  auto* u = static_cast<session_ud*>(luaL_checkudata(L, 1, session_tname));
  auto& st = store(L);
  auto it = st.all.find(u->id);
  if (it == st.all.end() || expired(it->second, std::time(nullptr))) {
    lua_pushinteger(L, -1);
    return 1;
  }
  if (lua_toboolean(L, 2)) it->second.last = std::time(nullptr);
  lua_pushinteger(L, it->second.last);
  return 1;
}

inline int s_maxinactiveinterval(lua_State* L) {
  auto& s = check_session(L);
  lua_pushinteger(L, s.maxinactive);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer v = luaL_checkinteger(L, 2);
    luaL_argcheck(L, v > 0, 2, "must be positive");
    s.maxinactive = long(std::min<lua_Integer>(v, 0x7fffffff));
  }
  return 1;
}

inline int s_peername(lua_State* L) {
  push_sv(L, check_session(L).peer);
  return 1;
}

inline int s_usecounter(lua_State* L) {
  lua_pushinteger(L, check_session(L).uses);
  return 1;
}

inline int push_user(lua_State* L, const session& s) {
  if (s.user.empty()) return 0;
  push_sv(L, s.user);
  lua_pushnil(L);  // the password: Remora keeps none
  push_sv(L, s.authtype);
  return 3;
}

inline int s_user(lua_State* L) { return push_user(L, check_session(L)); }

// request:user() -> name, password, authtype of the session's authenticated user, or nil
inline int r_user(lua_State* L) {
  call& c = live_call(L);
  session* s = request_session(L, c, false);
  if (!s || s->user.empty()) return 0;
  return push_user(L, *s);
}

// request:login([name]) -> true (or the name when already logged in): the session (created
// when needed) gets an authenticated user of type "lua".
inline int r_login(lua_State* L) {
  call& c = live_call(L);
  session* s = request_session(L, c, false);
  if (s && !s->user.empty()) {
    push_sv(L, s->user);
    return 1;
  }
  std::string name = luaL_optstring(L, 2, "anonymous");
  if (!s) s = request_session(L, c, true);
  if (!s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  s->user = std::move(name);
  s->authtype = "lua";
  return push_true(L);
}

// request:logout([all]) -> true when a user was logged in; the session ends either way.
inline int r_logout(lua_State* L) {
  call& c = live_call(L);
  session* s = request_session(L, c, false);
  if (!s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  bool had = !s->user.empty();
  std::string user = s->user;
  auto& st = store(L);
  if (had && lua_toboolean(L, 2)) {  // every session of that user
    std::vector<std::uint32_t> ids;
    for (auto& [id, other] : st.all)
      if (other.user == user) ids.push_back(id);
    for (auto id : ids) terminate_session(L, st, id);
  } else {
    terminate_session(L, st, s->id);
  }
  c.session_id = 0;
  lua_pushboolean(L, had);
  return 1;
}

// ba.seterrh(func | nil): func(trace) is called for every Lua error in a page.
inline int ba_seterrh(lua_State* L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &errh_key);
  return 0;
}

inline int s_terminate(lua_State* L) {
  auto* u = static_cast<session_ud*>(luaL_checkudata(L, 1, session_tname));
  auto& st = store(L);
  bool had = st.all.count(u->id) > 0;
  terminate_session(L, st, u->id);
  lua_pushboolean(L, had);
  return 1;
}

inline int s_lock(lua_State* L) {
  session_ud* u;
  auto& s = check_session(L, &u);
  if (u->locked) {
    lua_pushboolean(L, 0);
    return 1;
  }
  u->locked = true;
  ++s.locks;
  lua_pushboolean(L, 1);
  return 1;
}

inline int s_release(lua_State* L) {
  auto* u = static_cast<session_ud*>(luaL_checkudata(L, 1, session_tname));
  bool was = u->locked;
  if (was) {
    u->locked = false;
    auto& st = store(L);
    auto it = st.all.find(u->id);
    if (it != st.all.end() && it->second.locks > 0) --it->second.locks;
  }
  lua_pushboolean(L, was);
  return 1;
}

inline int s_gc(lua_State* L) {
  auto* u = static_cast<session_ud*>(lua_touserdata(L, 1));
  if (u && u->locked) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &store_key);
    if (auto* st = static_cast<session_store*>(lua_touserdata(L, -1))) {
      auto it = st->all.find(u->id);
      if (it != st->all.end() && it->second.locks > 0) --it->second.locks;
    }
    lua_pop(L, 1);
  }
  return 0;
}

// session.key: a method, else the attribute.
inline int s_index(lua_State* L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  auto& s = check_session(L);
  if (s.attr_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.attr_ref);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

inline int s_newindex(lua_State* L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) return luaL_error(L, "attempt to set an invalid session attribute");
  auto& s = check_session(L);
  if (s.attr_ref == LUA_NOREF) {
    lua_newtable(L);
    s.attr_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.attr_ref);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}

// ba.session(id) / ba.session(sid, request [, attach]) -> session or false
inline int ba_session(lua_State* L) {
  session* s = nullptr;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    auto& st = store(L);
    auto it = st.all.find(std::uint32_t(luaL_checkinteger(L, 1)));
    if (it != st.all.end() && !expired(it->second, std::time(nullptr))) s = &it->second;
  } else {
    std::size_t n;
    const char* sid = luaL_checklstring(L, 1, &n);
    call* c = lua_isnoneornil(L, 2) ? nullptr : &live_call(L, 2);
    s = find_session(L, std::string_view(sid, n), c ? c->req->peer_ip : std::string_view());
    if (s && c && lua_toboolean(L, 3) && c->session_id != s->id) {
      leave_session(L, *c);
      c->session_id = s->id;
      ++s->uses;
    }
  }
  if (!s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_session(L, s->id);
  return 1;
}

// ba.sessions() -> array of the session ids
inline int ba_sessions(lua_State* L) {
  auto& st = store(L);
  sweep_sessions(L, st, std::time(nullptr));
  lua_createtable(L, int(st.all.size()), 0);
  lua_Integer i = 0;
  for (auto& [id, s] : st.all) {
    lua_pushinteger(L, id);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

inline void open_session_lib(lua_State* L) {
  static const luaL_Reg none[] = {{nullptr, nullptr}};
  lua::define_class<session_store>(L, store_tname, none);
  static const luaL_Reg cookie_methods[] = {{"name", cookie_name},
                                            {"value", cookie_string<&cookie_data::value>},
                                            {"path", cookie_string<&cookie_data::path>},
                                            {"domain", cookie_string<&cookie_data::domain>},
                                            {"comment", cookie_string<&cookie_data::comment>},
                                            {"maxage", cookie_maxage},
                                            {"secure", cookie_flag<&cookie_data::secure>},
                                            {"httponly", cookie_flag<&cookie_data::httponly>},
                                            {"delete", cookie_delete},
                                            {"activate", cookie_activate},
                                            {nullptr, nullptr}};
  if (luaL_newmetatable(L, cookie_tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, cookie_methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg session_methods[] = {{"attributes", s_attributes},
                                             {"id", s_id},
                                             {"creationtime", s_creationtime},
                                             {"lastaccessedtime", s_lastaccessedtime},
                                             {"maxinactiveinterval", s_maxinactiveinterval},
                                             {"peername", s_peername},
                                             {"usecounter", s_usecounter},
                                             {"user", s_user},
                                             {"terminate", s_terminate},
                                             {"lock", s_lock},
                                             {"release", s_release},
                                             {nullptr, nullptr}};
  if (luaL_newmetatable(L, session_tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, session_methods, 0);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, s_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, s_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, s_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}

}  // namespace detail
}  // namespace remora::lsp
