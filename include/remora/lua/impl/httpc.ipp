#pragma once
#include <remora/http/form.hpp>
#include <remora/http/util.hpp>
#include <remora/lua/await.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/httpc.hpp>
#include <remora/lua/impl/ba_core.ipp>  // b64_encode, url_encode_to
#include <remora/lua/impl/net_lib.ipp>  // the SharkSSL objects
#include <remora/lua/impl/sock.ipp>  // ba.socket.http2sock makes socket objects
#include <remora/net/stream.hpp>
#include <remora/net/ws_codec.hpp>
#include <remora/tls/session.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <lauxlib.h>
#include <lua.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace remora::lua::detail {

namespace hc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

inline constexpr const char* tname = "remora.httpc";

using http::parse_url;
using http::url_parts;

struct proxy_opts {
  std::string host;
  std::uint16_t port = 0;
  bool socks = false, con = false;
  std::string user, pass;
};

using done_fn = std::function<void(std::string err)>;

struct state : std::enable_shared_from_this<state> {
  host* h = nullptr;
  std::shared_ptr<void> shark;  // tls::client_context (TLS editions)
  bool trusted = false, persistent = true;
  std::string intf;
  proxy_opts proxy;
  unsigned timeout_ms = 20000;

  std::unique_ptr<net::stream> s;
  net::owned_ref io{s};
  std::string ws_accept;   // a ws:// request: the Sec-WebSocket-Accept the server must send
  bool upgraded = false;   // ... and it did (101): the connection waits for http2sock
  std::string conn_key;
  beast::flat_buffer buf;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  std::unique_ptr<asio::steady_timer> timer;
  bool timed_out = false;

  enum class phase { none, body, response, done } ph = phase::none;
  bool chunked_out = false, head_req = false;
  std::uint64_t left_out = 0;
  std::string url;
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string out;  // what is being written
  std::string chunk;
  // The last connection's facts, kept after it closes (a response read to its end).
  net::endpoint_info local, remote;
  bool have_names = false;
  std::shared_ptr<tls::peer_info> peer;

  net::executor ex() { return s ? s->get_executor() : h->net->pick_executor(); }

  // A timeout around one operation: the stream is closed when it passes.
  void arm() {
    timed_out = false;
    if (!s || !timeout_ms) return;
    timer = std::make_unique<asio::steady_timer>(s->get_executor(), std::chrono::milliseconds(timeout_ms));
    timer->async_wait([w = std::weak_ptr<state>(shared_from_this())](net::error_code ec) {
      auto self = w.lock();
      if (ec || !self) return;
      self->timed_out = true;
      if (self->s) self->s->close();
    });
  }
  void disarm() {
    if (timer) timer->cancel();
  }
  std::string fail_name(net::error_code ec, const char* otherwise) {
    if (timed_out) return "timeout";
    if (ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset) return "socketclosed";
    return otherwise;
  }
  void drop() {
    if (s) s->close();
    s.reset();
    conn_key.clear();
    buf.clear();
    parser.reset();
  }

  void write_all(std::string data, done_fn done) {
    out = std::move(data);
    arm();
    asio::async_write(io, asio::buffer(out),
                      [self = shared_from_this(), done = std::move(done)](net::error_code ec, std::size_t) {
                        self->disarm();
                        if (ec) {
                          auto e = self->fail_name(ec, "socketwritefailed");
                          self->drop();
                          return done(e);
                        }
                        done("");
                      });
  }

  // ---- connecting (directly, through an HTTP proxy's CONNECT, or SOCKS5) ------------------
  void connect(const url_parts& u, std::string key, done_fn done) {
    bool tunnel = !proxy.host.empty() && (proxy.socks || u.tls || proxy.con);
    std::string host = proxy.host.empty() ? u.host : proxy.host;
    std::uint16_t port = proxy.host.empty() ? u.port : proxy.port;
    auto self = shared_from_this();
    h->net->connect(host, port, intf, timeout_ms, [self, u, key, tunnel, done = std::move(done)](std::string err, std::unique_ptr<net::stream> st) {
      if (!err.empty()) return done(err);
      self->s = std::move(st);
      self->conn_key = key;
      self->buf.clear();
      self->peer.reset();
      self->have_names = self->s->endpoint(false, self->local) && self->s->endpoint(true, self->remote);
      auto secure = [self, u, done](std::string e) {
        if (!e.empty()) {
          self->drop();
          return done(e);
        }
        if (!u.tls) return done("");
        self->start_tls(u, done);
      };
      if (!tunnel) return secure("");
      if (self->proxy.socks) return self->socks5(u, secure);
      self->http_connect(u, secure);
    });
  }

  void start_tls(const url_parts& u, done_fn done) {
#if REMORA_TLS_BOTAN
    auto ctx = shark ? std::static_pointer_cast<tls::client_context>(shark) : tls::client_context::system();
    arm();
    bool ok = s->start_tls(ctx->connect(u.host, u.port, {"http/1.1"}), [self = shared_from_this(), done](net::error_code ec) {
      self->disarm();
      if (ec) {
        auto e = self->timed_out ? std::string("timeout") : std::string("sslhandshake");
        self->drop();
        return done(e);
      }
      if (self->s && self->s->tls()) self->peer = std::make_shared<tls::peer_info>(self->s->tls()->peer());
      done("");
    });
    if (!ok) {
      drop();
      done("sslhandshake");
    }
#else
    (void)u;
    drop();
    done("sslnotenabled");
#endif
  }

  void http_connect(const url_parts& u, done_fn done) {
    std::string hp = (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
    std::string req = "CONNECT " + hp + " HTTP/1.1\r\nHost: " + hp + "\r\n";
    if (!proxy.user.empty()) req += "Proxy-Authorization: Basic " + b64_encode(proxy.user + ":" + proxy.pass, false) + "\r\n";
    req += "\r\n";
    write_all(std::move(req), [self = shared_from_this(), done](std::string e) {
      if (!e.empty()) return done(e);
      auto p = std::make_shared<bhttp::response_parser<bhttp::empty_body>>();
      p->skip(true);  // a 2xx to CONNECT has no body
      self->arm();
      bhttp::async_read_header(self->io, self->buf, *p, [self, p, done](net::error_code ec, std::size_t) {
        self->disarm();
        if (ec) return done(self->fail_name(ec, "prxgeneral"));
        unsigned st = p->get().result_int();
        if (st == 407) return done("proxyauth");
        if (st / 100 != 2) return done("prxnotallowed");
        done("");
      });
    });
  }

  void socks5(const url_parts& u, done_fn done) {
    bool auth = !proxy.user.empty();
    std::string hello = auth ? std::string("\x05\x02\x00\x02", 4) : std::string("\x05\x01\x00", 3);
    auto self = shared_from_this();
    write_all(std::move(hello), [self, u, auth, done](std::string e) {
      if (!e.empty()) return done(e);
      self->read_exact(2, [self, u, auth, done](std::string e2, std::string r) {
        if (!e2.empty()) return done(e2);
        if (r[0] != 5) return done("prxnotcompat");
        if (r[1] == 2 && auth) {
          std::string a;
          a.push_back(1);
          a.push_back(char(self->proxy.user.size()));
          a += self->proxy.user;
          a.push_back(char(self->proxy.pass.size()));
          a += self->proxy.pass;
          return self->write_all(std::move(a), [self, u, done](std::string e3) {
            if (!e3.empty()) return done(e3);
            self->read_exact(2, [self, u, done](std::string e4, std::string r2) {
              if (!e4.empty()) return done(e4);
              if (r2[1] != 0) return done("proxyauth");
              self->socks_connect(u, done);
            });
          });
        }
        if (r[1] != 0) return done(static_cast<unsigned char>(r[1]) == 0xFF ? "proxyauth" : "prxnotcompat");
        self->socks_connect(u, done);
      });
    });
  }

  void socks_connect(const url_parts& u, done_fn done) {
    std::string req("\x05\x01\x00\x03", 4);
    req.push_back(char(u.host.size()));
    req += u.host;
    req.push_back(char(u.port >> 8));
    req.push_back(char(u.port & 0xFF));
    auto self = shared_from_this();
    write_all(std::move(req), [self, done](std::string e) {
      if (!e.empty()) return done(e);
      self->read_exact(5, [self, done](std::string e2, std::string r) {
        if (!e2.empty()) return done(e2);
        static const char* names[] = {"", "prxgeneral", "prxnotallowed", "prxnetwork", "prxhost",
                                      "prxrefused", "prxttl", "prxcommand", "prxaddress"};
        unsigned code = static_cast<unsigned char>(r[1]);
        if (r[0] != 5) return done("prxnotcompat");
        if (code) return done(code < 9 ? names[code] : "prxunknown");
        std::size_t more;
        switch (r[3]) {
          case 1: more = 4 + 2 - 1; break;
          case 4: more = 16 + 2 - 1; break;
          case 3: more = std::size_t(static_cast<unsigned char>(r[4])) + 2; break;
          default: return done("prxaddress");
        }
        self->read_exact(more, [done](std::string e3, std::string) { done(e3); });
      });
    });
  }

  void read_exact(std::size_t n, std::function<void(std::string, std::string)> done) {
    auto data = std::make_shared<std::string>(n, '\0');
    arm();
    asio::async_read(io, asio::buffer(*data),
                     [self = shared_from_this(), data, done = std::move(done)](net::error_code ec, std::size_t) {
                       self->disarm();
                       if (ec) return done(self->fail_name(ec, "prxgeneral"), "");
                       done("", *data);
                     });
  }

  // ---- the response ------------------------------------------------------------------------
  void read_head(done_fn done) {
    parser.emplace();
    parser->body_limit(boost::none);
    parser->header_limit(64 * 1024);
    if (head_req) parser->skip(true);
    arm();
    bhttp::async_read_header(io, buf, *parser, [self = shared_from_this(), done](net::error_code ec, std::size_t) {
      self->disarm();
      if (ec) {
        auto e = self->fail_name(ec, "invalidresponse");
        self->drop();
        return done(e);
      }
      auto& m = self->parser->get();
      self->status = m.result_int();
      self->headers.clear();
      for (auto& f : m) self->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      self->ph = phase::response;
      if (self->parser->is_done()) self->finished();
      done("");
    });
  }

  // The body has ended: the connection stays for the next request when both sides agree.
  void finished() {
    ph = phase::done;
    if (!ws_accept.empty()) {  // a WebSocket handshake: 101 with the right key, or nothing
      bool ok = status == 101;
      if (ok) {
        ok = false;
        for (auto& [k, v] : headers)
          if (http::iequals(k, "Sec-WebSocket-Accept")) ok = v == ws_accept;
        if (!ok) status = 0;  // a 101 without the key's answer: not a WebSocket
      }
      upgraded = ok;
      parser.reset();
      conn_key.clear();  // never reused for HTTP
      if (!ok && status == 101) drop();
      return;
    }
    bool keep = persistent && parser && parser->keep_alive();
    if (!keep) drop();
    else parser.reset();
  }

  // Up to `max` bytes of the body (empty: the end).
  void read_some(std::size_t max, std::function<void(std::string err, std::string data)> done) {
    if (ph != phase::response || !parser) return done("", "");
    if (parser->is_done()) {
      finished();
      return done("", "");
    }
    chunk.resize(max);
    parser->get().body().data = chunk.data();
    parser->get().body().size = chunk.size();
    arm();
    bhttp::async_read_some(io, buf, *parser, [self = shared_from_this(), done](net::error_code ec, std::size_t) {
      self->disarm();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        auto e = self->fail_name(ec, "invalidresponse");
        self->drop();
        self->ph = phase::done;
        return done(e, "");
      }
      std::size_t got = self->chunk.size() - self->parser->get().body().size;
      std::string data(self->chunk.data(), got);
      if (self->parser->is_done()) self->finished();
      if (got == 0 && self->ph == phase::response) return self->read_some(self->chunk.size(), done);
      done("", std::move(data));
    });
  }

  // Ends the request body (the last chunk) and reads the response header.
  void end_body(done_fn done) {
    if (ph != phase::body) return done("");
    if (!chunked_out && left_out) {
      drop();
      ph = phase::done;
      return done("invalidparam");  // fewer bytes written than `size` promised
    }
    auto self = shared_from_this();
    auto then = [self, done](std::string e) {
      if (!e.empty()) return done(e);
      self->read_head(done);
    };
    if (chunked_out) return write_all("0\r\n\r\n", then);
    then("");
  }
};

struct ud {
  std::shared_ptr<state> st;
  explicit ud(std::shared_ptr<state> s) : st(std::move(s)) {}
  ud(ud&& o) noexcept : st(std::move(o.st)) {}
  ud(const ud&) = delete;
  ~ud() {
    if (st && st->s) asio::post(st->s->get_executor(), [s = st] { s->drop(); });
  }
};

inline state& check(lua_State* L) { return *check_object<ud>(L, 1, tname)->st; }

inline proxy_opts& default_proxy() {
  static proxy_opts p;  // mako.conf's proxy (set at start-up, before any client)
  return p;
}

inline void read_proxy(lua_State* L, int t, proxy_opts& p) {
  if (lua_getfield(L, t, "proxy") == LUA_TSTRING) p.host = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "name") == LUA_TSTRING && p.host.empty()) p.host = lua_tostring(L, -1);  // mako.conf's form
  lua_pop(L, 1);
  if (lua_getfield(L, t, "proxyport") == LUA_TNUMBER) p.port = std::uint16_t(lua_tointeger(L, -1));
  lua_pop(L, 1);
  if (lua_getfield(L, t, "port") == LUA_TNUMBER && !p.port) p.port = std::uint16_t(lua_tointeger(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, t, "socks");
  p.socks = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, t, "proxycon");
  p.con = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "proxyuser") == LUA_TSTRING) p.user = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "proxypass") == LUA_TSTRING) p.pass = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (!p.port) p.port = p.socks ? 1080 : 8080;
}

inline int create(lua_State* L) {
  host* h = get_host(L);
  if (!h || !h->net) return luaL_error(L, "httpc: no event loop (the HTTP client needs the server)");
  auto st = std::make_shared<state>();
  st->h = h;
  st->proxy = default_proxy();
  if (lua_istable(L, 1)) {
    st->shark = shark_opt(L, 1, "httpc");
    lua_getfield(L, 1, "trusted");
    st->trusted = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "persistent") != LUA_TNIL) st->persistent = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "intf") == LUA_TSTRING) st->intf = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "proxy") == LUA_TSTRING) {
      st->proxy = proxy_opts();
      read_proxy(L, 1, st->proxy);
    }
    lua_pop(L, 1);
  }
  push_object<ud>(L, tname, std::move(st));
  return 1;
}

inline bool body_method(std::string_view m) { return m == "POST" || m == "PUT" || m == "PATCH"; }

inline int request(lua_State* L) {
  auto& st = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "url");
  std::string url = luaL_optstring(L, -1, "");
  lua_pop(L, 1);
  url_parts u;
  if (!parse_url(url, u)) return fail(L, "invalidurl");
  lua_getfield(L, 2, "method");
  std::string method = luaL_optstring(L, -1, "GET");
  lua_pop(L, 1);
  for (auto& c : method) c = char(std::toupper(static_cast<unsigned char>(c)));
  // query={k=v}: appended to the URL's own
  if (lua_getfield(L, 2, "query") == LUA_TTABLE) {
    std::string q;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (!q.empty()) q.push_back('&');
      lua_pushvalue(L, -2);
      url_encode_to(luaL_tolstring(L, -1, nullptr), q);
      lua_pop(L, 2);
      q.push_back('=');
      url_encode_to(luaL_tolstring(L, -1, nullptr), q);
      lua_pop(L, 2);
    }
    if (!q.empty()) u.target += (u.target.find('?') == std::string::npos ? "?" : "&") + q;
  }
  lua_pop(L, 1);
  bool have_size = false;
  std::uint64_t size = 0;
  if (lua_getfield(L, 2, "size") == LUA_TNUMBER) {
    have_size = true;
    lua_Integer n = lua_tointeger(L, -1);
    size = n > 0 ? std::uint64_t(n) : 0;
  }
  lua_pop(L, 1);
  bool trusted = st.trusted;
  if (lua_getfield(L, 2, "trusted") != LUA_TNIL) trusted = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (auto sh = shark_opt(L, 2, "httpc")) st.shark = sh;

  // the request head
  std::string hosthdr = http::authority(u);
  bool absolute = !st.proxy.host.empty() && !st.proxy.socks && !u.tls && !st.proxy.con;
  std::string head = method + " " + (absolute ? (std::string("http://") + hosthdr + u.target) : u.target) + " HTTP/1.1\r\n";
  std::vector<std::pair<std::string, std::string>> given;
  if (lua_getfield(L, 2, "header") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      std::string k = luaL_tolstring(L, -2, nullptr);
      lua_pop(L, 1);
      if (lua_istable(L, -1)) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; ++i) {
          given.emplace_back(k, luaL_tolstring(L, -1, nullptr));
          lua_pop(L, 2);
        }
        lua_pop(L, 1);
      } else {
        given.emplace_back(k, luaL_tolstring(L, -1, nullptr));
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  auto has = [&](std::string_view name) {
    for (auto& [k, v] : given)
      if (http::iequals(k, name)) return true;
    return false;
  };
  for (auto& [k, v] : given) {
    for (char c : k + v)
      if (c == '\r' || c == '\n') return fail(L, "invalidparam");  // no header injection
    head += k + ": " + v + "\r\n";
  }
  if (!has("Host")) head += "Host: " + hosthdr + "\r\n";
  if (!has("User-Agent")) head += "User-Agent: Remora\r\n";
  if (!has("Accept")) head += "Accept: */*\r\n";
  std::string ws_accept;
  if (u.ws) {  // RFC 6455 4.1: the opening handshake
    if (method != "GET") return fail(L, "invalidparam");
    std::string key = net::ws_codec::new_key();
    ws_accept = net::ws_codec::accept_key(key);
    head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n";
  }
  if (!u.userinfo.empty() && !has("Authorization")) {
    std::string ui;
    http::percent_decode(u.userinfo, ui);
    head += "Authorization: Basic " + b64_encode(ui, false) + "\r\n";
  }
  if (absolute && !st.proxy.user.empty()) head += "Proxy-Authorization: Basic " + b64_encode(st.proxy.user + ":" + st.proxy.pass, false) + "\r\n";
  bool with_body = have_size ? size > 0 : body_method(method);
  bool chunked = with_body && !have_size;
  if (have_size && (size > 0 || body_method(method)) && !has("Content-Length")) head += "Content-Length: " + std::to_string(size) + "\r\n";
  if (chunked) head += "Transfer-Encoding: chunked\r\n";
  if (!st.persistent) head += "Connection: close\r\n";
  head += "\r\n";

  std::string key = std::string(u.tls ? "s:" : "p:") + u.host + ":" + std::to_string(u.port);
  auto self = st.shared_from_this();
  self->url = url;
  self->head_req = method == "HEAD";
  self->ws_accept = ws_accept;
  self->upgraded = false;
  return await(L, [self, u, key, head, with_body, chunked, size, trusted](completion done) {
    auto go = [self, u, key, head, with_body, chunked, size, trusted, done]() {
      auto sent = [self, with_body, chunked, size, done](std::string e) {
        if (!e.empty()) return done(ok_or(e));
        if (with_body) {
          self->ph = state::phase::body;
          self->chunked_out = chunked;
          self->left_out = size;
          return done(ok_or(""));
        }
        self->read_head([self, done](std::string e2) {
          if (e2.empty() && !self->ws_accept.empty() && self->status == 0) e2 = "invalidresponse";
          done(ok_or(e2));
        });
      };
      auto write_head = [self, head, sent, trusted, u](std::string e) {
        if (!e.empty()) return sent(e);
#if REMORA_TLS_BOTAN
        if (u.tls && trusted && self->peer && !self->peer->trusted) {
          self->drop();
          return sent("sslnottrusted");
        }
#else
        (void)trusted;
        (void)u;
#endif
        self->write_all(head, sent);
      };
      self->ph = state::phase::none;
      self->status = 0;
      self->headers.clear();
      // an earlier response not read to its end leaves the connection unusable
      bool reuse = self->s && self->s->is_open() && self->conn_key == key && !self->parser;
      if (reuse) return write_head("");
      self->drop();
      self->connect(u, key, write_head);
    };
    asio::post(self->ex(), go);
  });
}

// ba.socket.http2sock(client): the WebSocket a ws:// request opened, or the client's plain
// connection (a tunnel through a proxy) as a TCP socket.
inline int http2sock(lua_State* L) {
  auto& st = *check_object<ud>(L, 1, tname)->st;
  using kind = sock_state::kind;
  bool ws = st.upgraded;
  if (!st.ws_accept.empty() && !ws) return fail(L, "invalidparam");  // the handshake failed
  if (st.s && st.s->is_open() && !st.parser && st.ph != state::phase::body) {
    auto sock = std::make_shared<sock_state>(st.h, ws ? kind::ws : kind::tcp);
    if (ws) sock->ws.emplace(false, sock->maxsize.load());
    st.upgraded = false;
    st.ws_accept.clear();
    auto d = st.buf.data();
    st.s->prefix.append(static_cast<const char*>(d.data()), d.size());
    st.buf.clear();
    st.conn_key.clear();
    sock->attach_stream(std::move(st.s));
    push_sock(L, std::move(sock));
    return 1;
  }
  return fail(L, "invalidparam");
}

inline int write(lua_State* L) {
  auto& st = check(L);
  std::size_t n;
  const char* p = luaL_checklstring(L, 2, &n);
  if (st.ph != state::phase::body || !st.s) return fail(L, "incorrectuse");
  std::string data;
  if (st.chunked_out) {
    if (n == 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
    char hex[20];
    auto r = std::to_chars(hex, hex + sizeof hex, n, 16);
    data.assign(hex, r.ptr).append("\r\n").append(p, n).append("\r\n");
  } else {
    if (n > st.left_out) return fail(L, "toomuchdata");
    st.left_out -= n;
    data.assign(p, n);
  }
  auto self = st.shared_from_this();
  return await(L, [self, data](completion done) {
    asio::post(self->ex(), [self, data, done] { self->write_all(data, [done](std::string e) { done(ok_or(e)); }); });
  });
}

// Runs `then` (on the executor) once the response header is in.
inline int with_response(lua_State* L, state& st, std::function<void(std::shared_ptr<state>, completion)> then) {
  auto self = st.shared_from_this();
  return await(L, [self, then](completion done) {
    asio::post(self->ex(), [self, then, done] {
      if (self->ph == state::phase::body)
        return self->end_body([self, then, done](std::string e) {
          if (!e.empty()) return done(ok_or(e));
          then(self, done);
        });
      then(self, done);
    });
  });
}

inline int status(lua_State* L) {
  auto& st = check(L);
  if (st.ph != state::phase::body) {
    if (!st.status) return fail(L, "incorrectuse");
    lua_pushinteger(L, st.status);
    return 1;
  }
  return with_response(L, st, [](std::shared_ptr<state> s, completion done) {
    done([s](lua_State* L2) {
      lua_pushinteger(L2, s->status);
      return 1;
    });
  });
}

inline int push_header(lua_State* L, state& st, int name_idx) {
  if (!lua_isnoneornil(L, name_idx)) {
    std::string_view name = luaL_checkstring(L, name_idx);
    for (auto& [k, v] : st.headers)
      if (http::iequals(k, name)) {
        lua_pushlstring(L, v.data(), v.size());
        return 1;
      }
    return 0;
  }
  lua_createtable(L, 0, int(st.headers.size()));
  for (auto& [k, v] : st.headers) {
    lua_pushlstring(L, k.data(), k.size());
    lua_pushlstring(L, v.data(), v.size());
    lua_rawset(L, -3);  // a repeated name: the last one (headerpairs has them all)
  }
  return 1;
}

inline int header(lua_State* L) {
  auto& st = check(L);
  if (st.ph != state::phase::body) {
    if (!st.status) return fail(L, "incorrectuse");
    return push_header(L, st, 2);
  }
  bool named = !lua_isnoneornil(L, 2);
  std::string name = named ? luaL_checkstring(L, 2) : "";
  return with_response(L, st, [named, name](std::shared_ptr<state> s, completion done) {
    done([s, named, name](lua_State* L2) {
      if (named) lua_pushlstring(L2, name.data(), name.size());
      else lua_pushnil(L2);
      int n = push_header(L2, *s, lua_gettop(L2));
      lua_remove(L2, -n - 1);
      return n;
    });
  });
}

inline int headerpairs_next(lua_State* L) {
  auto& st = *static_cast<ud*>(lua_touserdata(L, lua_upvalueindex(1)))->st;
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
  if (i >= lua_Integer(st.headers.size())) return 0;
  lua_pushinteger(L, i + 1);
  lua_replace(L, lua_upvalueindex(2));
  auto& [k, v] = st.headers[std::size_t(i)];
  lua_pushlstring(L, k.data(), k.size());
  lua_pushlstring(L, v.data(), v.size());
  return 2;
}

inline int headerpairs(lua_State* L) {
  check(L);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, headerpairs_next, 2);
  return 1;
}

// cookie([name]): the Set-Cookie values of this response, by name.
inline int cookie(lua_State* L) {
  auto& st = check(L);
  bool named = !lua_isnoneornil(L, 2);
  std::string want = named ? luaL_checkstring(L, 2) : "";
  if (!named) lua_newtable(L);
  for (auto& [k, v] : st.headers) {
    if (!http::iequals(k, "Set-Cookie")) continue;
    std::string_view c = v;
    c = c.substr(0, c.find(';'));
    auto eq = c.find('=');
    if (eq == std::string_view::npos) continue;
    auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      return s;
    };
    auto name = trim(c.substr(0, eq)), value = trim(c.substr(eq + 1));
    if (named) {
      if (name == want) {
        lua_pushlstring(L, value.data(), value.size());
        return 1;
      }
      continue;
    }
    lua_pushlstring(L, name.data(), name.size());
    lua_pushlstring(L, value.data(), value.size());
    lua_rawset(L, -3);
  }
  return named ? 0 : 1;
}

inline int read(lua_State* L) {
  auto& st = check(L);
  bool all = false;
  std::size_t max = 16 * 1024;
  if (lua_type(L, 2) == LUA_TSTRING) {
    std::string_view f = lua_tostring(L, 2);
    if (f == "*a" || f == "a") all = true;
    else return luaL_argerror(L, 2, "\"*a\" or a size expected");
  } else if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0, 2, "size must not be negative");
    max = n == 0 ? 16 * 1024 : std::size_t(std::min<lua_Integer>(n, 1 << 24));
  }
  if (st.ph == state::phase::none) return fail(L, "incorrectuse");
  return with_response(L, st, [all, max](std::shared_ptr<state> s, completion done) {
    if (!all) {
      return s->read_some(max, [done](std::string e, std::string data) {
        if (!e.empty()) return done(ok_or(e));
        if (data.empty())
          return done([](lua_State* L2) {
            lua_pushnil(L2);
            return 1;
          });
        auto d = std::make_shared<std::string>(std::move(data));
        done([d](lua_State* L2) {
          lua_pushlstring(L2, d->data(), d->size());
          return 1;
        });
      });
    }
    auto acc = std::make_shared<std::string>();
    auto step = std::make_shared<std::function<void()>>();
    *step = [s, acc, step, done]() {
      s->read_some(64 * 1024, [s, acc, step, done](std::string e, std::string data) {
        if (!e.empty()) {
          *step = nullptr;
          return done(ok_or(e));
        }
        if (data.empty()) {
          *step = nullptr;
          return done([acc](lua_State* L2) {
            lua_pushlstring(L2, acc->data(), acc->size());
            return 1;
          });
        }
        acc->append(data);
        (*step)();
      });
    };
    (*step)();
  });
}

inline int timeout(lua_State* L) {
  auto& st = check(L);
  lua_Integer old = st.timeout_ms;
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer ms = luaL_checkinteger(L, 2);
    st.timeout_ms = unsigned(std::clamp<lua_Integer>(ms, 0, 0x7fffffff));
  }
  lua_pushinteger(L, old);
  return 1;
}

inline int close(lua_State* L) {
  auto& st = check(L);
  auto self = st.shared_from_this();
  asio::post(self->ex(), [self] {
    self->drop();
    self->ph = state::phase::none;
  });
  lua_pushboolean(L, 1);
  return 1;
}

inline int names(lua_State* L, bool peer) {
  auto& st = check(L);
  if (!st.have_names) return fail(L, "notcon");
  return push_endpoint(L, peer ? st.remote : st.local);
}
inline int peername(lua_State* L) { return names(L, true); }
inline int sockname(lua_State* L) { return names(L, false); }

inline int cipher(lua_State* L) { return push_peer_cipher(L, check(L).peer.get()); }
inline int trusted(lua_State* L) { return push_peer_trusted(L, check(L).peer.get()); }
inline int certificate(lua_State* L) { return push_peer_certificate(L, check(L).peer.get()); }

inline int url(lua_State* L) {
  auto& st = check(L);
  lua_pushstring(L, st.url.c_str());
  return 1;
}

inline int parsequery(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  std::string_view q(s, n);
  if (!q.empty() && q.front() == '?') q.remove_prefix(1);
  http::form_pairs pairs;
  http::parse_form(q, pairs);
  lua_createtable(L, 0, int(pairs.size()));
  for (auto& [k, v] : pairs) {
    lua_pushlstring(L, k.data(), k.size());
    lua_pushlstring(L, v.data(), v.size());
    lua_rawset(L, -3);
  }
  return 1;
}

// setproxy(t | nil): the proxy every new client uses unless told otherwise (mako.conf's
// proxy = {name=, port=, socks=, proxyuser=, proxypass=}).
inline int setproxy(lua_State* L) {
  proxy_opts p;
  if (lua_istable(L, 1)) read_proxy(L, 1, p);
  default_proxy() = p;
  return 0;
}

inline int open(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"request", request}, {"status", status},       {"header", header},   {"headerpairs", headerpairs},
      {"cookie", cookie},   {"read", read},           {"write", write},     {"timeout", timeout},
      {"close", close},     {"peername", peername},   {"sockname", sockname}, {"cipher", cipher},
      {"trusted", trusted}, {"certificate", certificate}, {"url", url},     {nullptr, nullptr}};
  define_class<ud>(L, tname, methods);
  static const luaL_Reg fns[] = {{"create", create}, {"parsequery", parsequery}, {"setproxy", setproxy}, {nullptr, nullptr}};
  luaL_newlib(L, fns);
  return 1;
}

}  // namespace hc
}  // namespace remora::lua::detail

namespace remora::lua {
REMORA_DECL void open_httpc(lua_State* L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, detail::hc::open);
  lua_setfield(L, -2, "httpc");
  lua_pop(L, 1);
  if (lua_getfield(L, -1, "socket") == LUA_TTABLE) {
    lua_pushcfunction(L, detail::hc::http2sock);
    lua_setfield(L, -2, "http2sock");
  }
  lua_pop(L, 1);
}
}  // namespace remora::lua
