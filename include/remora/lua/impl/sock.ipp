// Socket objects of ba.socket: TCP (plain or TLS), WebSocket, UDP and listening sockets, and
// cosockets (socket:event / ba.socket.event). See socket_lib.hpp for the Lua interface.
//
// Each socket's I/O state lives on its stream's executor (one loop thread): Lua calls, made
// from any thread under the VM lock, run their work there (in place when they already are on
// it, else posted; resuming a coroutine is always posted). Until a socket is attached to its
// stream (req2sock hands the connection over once the page waits or ends) that work is
// queued; a WebSocket's 101 is the first thing it writes.
//
// A WebSocket reads with net::ws_codec: it waits for readability, reads what is there into a
// per-thread buffer (TLS: a buffer of its own for that read), feeds the codec, answers pings,
// and delivers one message per Lua read (the bytes after it wait in pending_in). Writes are
// whole frames built by the Lua call. Closing: our close frame after what is queued, then
// half-close and a short linger for the peer's, then the socket closes.
#pragma once
#include <remora/http/util.hpp>
#include <remora/lsp/pages.hpp>
#include <remora/lua/await.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/net/stream.hpp>
#include <remora/net/ws_codec.hpp>
#include <remora/tls/session.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <lauxlib.h>
#include <lua.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace remora::lua::detail {

namespace asio = boost::asio;

inline constexpr const char* sock_tname = "remora.socket";

inline pusher fail_with(std::string err) {
  return [err = std::move(err)](lua_State* L) { return fail(L, err.c_str()); };
}

// true, or `nil, err` when err is set.
inline pusher ok_or(std::string err) {
  if (!err.empty()) return fail_with(std::move(err));
  return [](lua_State* L) {
    lua_pushboolean(L, 1);
    return 1;
  };
}

struct cosocket;

struct sock_state : std::enable_shared_from_this<sock_state> {
  enum class kind { tcp, ws, listener, udp };
  sock_state(host* hh, kind kk) : h(hh), k(kk) {}

  host* h;
  kind k;

  // Attachment (between Lua threads and the executor).
  std::mutex m;
  bool attached = false;
  std::vector<std::function<void()>> pending;
  net::executor ex;

  std::unique_ptr<net::stream> s;       // tcp
  std::optional<net::ws_codec> ws;      // ws: the framing (the stream is `s`)
  std::string pending_in;               // ws: bytes received and not yet fed (rare)
  std::unique_ptr<net::acceptor> acc;   // listener
  std::unique_ptr<net::datagram> dg;    // udp

  // Executor side.
  struct slot {
    bool busy = false;
    std::vector<pusher> ready;  // results nobody waited for (a read that timed out); rare
    completion waiter;
    std::unique_ptr<asio::steady_timer> timer;
    unsigned seq = 0;
  } rd;
  std::string rbuf;  // udp: the datagram being received
  struct out_item {
    std::string data;
    bool text = false;
    std::string ip;  // udp: the receiver (empty: the connected peer)
    std::uint16_t port = 0;
  };
  // The write queue: `current` is being written; `wq` from `wq_head` on waits (a vector, not a
  // deque: an idle socket keeps no allocation).
  out_item current;
  std::vector<out_item> wq;
  std::size_t wq_head = 0;
  bool wq_empty() const noexcept { return wq_head == wq.size(); }
  bool writing = false, closing = false, close_sent = false;
  std::atomic<bool> ws_done{false};  // the WebSocket's closing handshake began (or it failed): reads end
  std::vector<completion> space_waiters;
  // Runs once the write queue is empty (sock2req, the closing handshake). It may use `this`
  // but must not own it: it is called from pump(), while the socket is alive, and a socket
  // that never drains (a peer that stopped reading) is then freed with its last operation.
  std::function<void()> on_drained;
  std::string error;                  // why it failed ("socketclosed", ...)

  // Read by Lua without the executor.
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> queue_limit{64 * 1024};
  std::atomic<bool> closed{false};    // closed by Lua
  std::atomic<bool> failed{false};    // by the peer or an error
  std::atomic<std::size_t> maxsize{1 << 20};
  cosocket* owner = nullptr;          // VM lock: the cosocket this socket belongs to
  bool disabled = false;              // VM lock: its cosocket waits in disable()

  net::stream* stream() noexcept { return s.get(); }

  // Runs `fn` on the executor (queued until attached).
  // Runs `fn` on the executor: right here when the caller is on it (a cosocket's Lua), else
  // posted; queued until attached. `fn` must not run Lua (resuming a coroutine is later()'s).
  void run(std::function<void()> fn) { submit(std::move(fn), false); }
  // Like run(), but always posted (never inside the caller).
  void later(std::function<void()> fn) { submit(std::move(fn), true); }
  void submit(std::function<void()> fn, bool post) {
    std::unique_lock lock(m);
    if (!attached) return pending.push_back(std::move(fn));
    auto e = ex;
    lock.unlock();
    if (post) asio::post(e, std::move(fn));
    else asio::dispatch(e, std::move(fn));
  }
  // On the executor: the stream is ready; queued work runs now.
  void ready() {
    std::vector<std::function<void()>> ops;
    {
      std::lock_guard lock(m);
      attached = true;
      ops.swap(pending);
    }
    for (auto& f : ops) asio::post(ex, std::move(f));
  }
  void attach_stream(std::unique_ptr<net::stream> st) {
    ex = st->get_executor();
    s = std::move(st);
    ready();
  }
  void attach_failed(net::executor e) {
    ex = std::move(e);
    fail("socketclosed");
    ready();
  }

  // ---- reads (and accepts) --------------------------------------------------------------
  void deliver(pusher p) {
    if (rd.waiter) {
      if (rd.timer) rd.timer->cancel();
      auto w = std::move(rd.waiter);
      rd.waiter = nullptr;
      return w(std::move(p));
    }
    rd.ready.push_back(std::move(p));
  }

  void read(unsigned ms, completion done) {
    if (!rd.ready.empty()) {
      auto p = std::move(rd.ready.front());
      rd.ready.erase(rd.ready.begin());
      return done(std::move(p));
    }
    if (closed) return done(fail_with("socketclosed"));
    if ((failed || ws_done) && !rd.busy) return done(fail_with(error));
    if (rd.waiter) return done(fail_with("incorrectuse"));  // one reader at a time
    rd.waiter = std::move(done);
    unsigned seq = ++rd.seq;
    if (ms) {
      if (!rd.timer) rd.timer = std::make_unique<asio::steady_timer>(ex);
      rd.timer->expires_after(std::chrono::milliseconds(ms));
      rd.timer->async_wait([self = shared_from_this(), seq](net::error_code ec) {
        if (ec || self->rd.seq != seq || !self->rd.waiter) return;
        auto w = std::move(self->rd.waiter);
        self->rd.waiter = nullptr;
        w(fail_with("timeout"));  // the read goes on: its data is the next read's
      });
    }
    if (!rd.busy) start_read();
  }

  void start_read();
  void ws_next();
  void ws_feed(std::string_view data);
  void read_available(std::function<void(std::string_view)> got);
  void read_failed(const char* why);
  void ws_closing(std::uint16_t code, const char* why);

  // ---- writes ----------------------------------------------------------------------------
  // Bytes to send as they are (WebSocket frames the socket makes itself: pongs, closes).
  void enqueue_raw(std::string frame) {
    queued += frame.size();
    if (failed) {
      queued -= frame.size();
      return;
    }
    wq.push_back(out_item{std::move(frame), false, {}, 0});
    pump();
  }
  void enqueue(std::string data, bool text, std::string ip = {}, std::uint16_t port = 0) {
    if (failed || closing || close_sent) {  // nothing after a WebSocket's close frame
      queued -= data.size();
      return;
    }
    wq.push_back(out_item{std::move(data), text, std::move(ip), port});
    pump();
  }
  void pump() {
    if (writing || failed) return;
    if (wq_empty()) {
      wq.clear();
      wq.shrink_to_fit();
      wq_head = 0;
      if (on_drained) std::exchange(on_drained, nullptr)();
      else if (closing) finish_close();
      return;
    }
    writing = true;
    current = std::move(wq[wq_head++]);
    auto& front = current;
    auto cb = [self = shared_from_this()](net::error_code ec) { self->wrote(ec); };
    if (dg) return dg->async_send(asio::buffer(front.data), front.ip, front.port, std::move(cb));
    asio::async_write(stream_ref_, asio::buffer(front.data), [cb = std::move(cb)](net::error_code ec, std::size_t) { cb(ec); });
  }
  void wrote(net::error_code ec) {
    writing = false;
    queued -= current.data.size();
    current = out_item();
    if (ec && dg) ec = {};  // a datagram that could not go (no receiver): UDP loses it
    if (ec) fail("socketwritefailed");
    wake_writers();
    pump();
  }
  void wake_writers() {
    if (!space_waiters.empty() && (failed || queued < queue_limit)) {
      auto ws_ = std::move(space_waiters);
      space_waiters.clear();
      for (auto& w : ws_) w(nullptr);
    }
  }

  // ---- closing ---------------------------------------------------------------------------
  void fail(const char* why) {
    if (!failed) error = why;
    failed = true;
    std::size_t dropped = 0;
    for (std::size_t i = wq_head; i < wq.size(); ++i) dropped += wq[i].data.size();
    wq.clear();
    wq_head = 0;
    queued -= dropped;
    on_drained = nullptr;  // it holds this socket: no cycle once nothing more can be sent
    if (rd.waiter && !rd.busy) deliver(fail_with(error));
    wake_writers();
  }
  // Lua's close(): queued writes go out first (for at most 5 s), then the close.
  void close() {
    if (closing) return;
    closing = true;
    if (rd.waiter) deliver(fail_with("socketclosed"));
    if (acc) {
      acc->close();
      return;
    }
    if (!writing && wq_empty()) return finish_close();
    auto t = std::make_shared<asio::steady_timer>(ex, std::chrono::seconds(5));
    t->async_wait([t, self = shared_from_this()](net::error_code) { self->hard_close(); });
  }
  void finish_close() {
    if (ws && !failed && !close_sent) {  // the closing handshake: our close frame, then theirs
      close_sent = true;
      enqueue_raw(ws->close_frame(1000));
      on_drained = [this] { linger(); };
      return;
    }
    hard_close();
  }
  // After our close frame: stop sending and wait (2 s at most) for the peer to close.
  void linger() {
    failed = true;
    if (error.empty()) error = "socketclosed";
    if (!s) return hard_close();
    s->shutdown_send();
    auto t = std::make_shared<asio::steady_timer>(ex, std::chrono::seconds(2));
    t->async_wait([t, self = shared_from_this()](net::error_code) { self->hard_close(); });
    drain(t);
  }
  void drain(std::shared_ptr<asio::steady_timer> t) {
    s->async_wait_readable([self = shared_from_this(), t](net::error_code ec) {
      char buf[512];
      net::error_code rec;
      std::size_t n = ec ? 0 : self->s->try_read(buf, sizeof buf, rec);
      if (ec || (rec && rec != asio::error::would_block) || (!rec && n == 0)) {
        t->cancel();  // the peer has closed: close now
        return;
      }
      self->drain(t);
    });
  }
  void hard_close() {
    if (!failed) error = "socketclosed";
    failed = true;
    if (auto* st = stream()) {
      if (!ws) st->shutdown_send();
      st->close();
    }
    if (acc) acc->close();
    if (dg) dg->close();
  }

  net::owned_ref stream_ref_{s};  // for asio::async_write on a TCP socket
};

struct sock_ud {
  std::shared_ptr<sock_state> st;
  explicit sock_ud(std::shared_ptr<sock_state> s) : st(std::move(s)) {}
  sock_ud(sock_ud&& o) noexcept : st(std::move(o.st)) {}
  sock_ud(const sock_ud&) = delete;
  ~sock_ud() {
    if (st && !st->closed.exchange(true)) st->run([s = st] { s->close(); });
  }
};

inline void push_sock(lua_State* L, std::shared_ptr<sock_state> st) {
  push_object<sock_ud>(L, sock_tname, std::move(st));
}

inline sock_state& check_sock(lua_State* L, int i = 1) {
  auto* u = check_object<sock_ud>(L, i, sock_tname);
  if (!u->st) luaL_argerror(L, i, "socket expected");
  return *u->st;
}

// A pusher that makes a Lua socket of a new stream (accepted or connected).
inline pusher socket_of(host* h, std::unique_ptr<net::stream> s);
// A socket connected inside a socket-less cosocket (ba.socket.event) becomes its socket.
inline void adopt(lua_State* L, const std::shared_ptr<sock_state>& st);

inline void sock_state::start_read() {
  rd.busy = true;
  auto self = shared_from_this();
  if (k == kind::listener) {
    acc->async_accept([self](net::error_code ec, std::unique_ptr<net::stream> s) {
      if (ec) return self->read_failed("socketclosed");
      self->rd.busy = false;
      self->deliver(socket_of(self->h, std::move(s)));
    });
    return;
  }
  if (ws) return ws_next();
  if (dg) {  // UDP: a datagram and its sender
    rbuf.resize(65536);
    dg->async_receive(asio::buffer(rbuf), [self](net::error_code ec, std::size_t n, net::endpoint_info from) {
      auto data = std::make_shared<std::string>(self->rbuf.data(), ec ? 0 : n);
      self->rbuf = std::string();
      if (ec) return self->read_failed("socketclosed");
      self->rd.busy = false;
      auto who = std::make_shared<net::endpoint_info>(std::move(from));
      self->deliver([data, who](lua_State* L) {
        lua_pushlstring(L, data->data(), data->size());
        lua_pushstring(L, who->ip.c_str());
        lua_pushinteger(L, who->port);
        return 3;
      });
    });
    return;
  }
  read_available([self](std::string_view got) {
    self->rd.busy = false;
    auto data = std::make_shared<std::string>(got);
    self->deliver([data](lua_State* L) {
      lua_pushlstring(L, data->data(), data->size());
      return 1;
    });
  });
}

// Waits until the stream has data, then reads what is there: a plain stream into a per-thread
// buffer, a TLS one into a buffer of its own for that read. An idle socket holds no buffer.
// A failure ends the read (read_failed).
inline void sock_state::read_available(std::function<void(std::string_view)> got) {
  auto self = shared_from_this();
  s->async_wait_readable([self, got = std::move(got)](net::error_code ec) mutable {
    if (ec) return self->read_failed("socketclosed");
    thread_local std::string scratch(64 * 1024, '\0');
    net::error_code rec;
    std::size_t n = self->s->try_read(scratch.data(), scratch.size(), rec);
    if (rec == asio::error::operation_not_supported) {
      auto buf = std::make_shared<std::string>(16 * 1024, '\0');
      return self->s->async_read_some(asio::buffer(*buf), [self, buf, got = std::move(got)](net::error_code ec2, std::size_t len) {
        if (ec2 || len == 0) return self->read_failed(ec2 == asio::error::eof || !ec2 ? "socketclosed" : "socketreadfailed");
        got(std::string_view(buf->data(), len));
      });
    }
    if (rec == asio::error::would_block) return self->read_available(std::move(got));
    if (rec || n == 0) return self->read_failed("socketclosed");
    got(std::string_view(scratch.data(), n));
  });
}

inline void sock_state::read_failed(const char* why) {
  rd.busy = false;
  fail(why);
  deliver(fail_with(error));
}

// ---- WebSocket reads ----------------------------------------------------------------------
// rd.busy is set. Bytes left from an earlier read are fed first, then what the socket has.
inline void sock_state::ws_next() {
  if (!pending_in.empty()) {
    std::string data = std::move(pending_in);
    pending_in.clear();
    return ws_feed(data);
  }
  read_available([self = shared_from_this()](std::string_view data) { self->ws_feed(data); });
}

// The closing handshake: our close frame goes after what is queued, then the connection ends;
// the reader (now and later) gets `why`.
inline void sock_state::ws_closing(std::uint16_t code, const char* why) {
  ws_done = true;
  if (error.empty()) error = why;
  rd.busy = false;
  if (!close_sent) {
    close_sent = true;
    enqueue_raw(ws->close_frame(code));
  }
  on_drained = [this] { linger(); };
  pump();
  deliver(fail_with(error));
}

// Feeds received bytes; answers control frames; delivers one message (what follows it waits
// in pending_in for the next read).
inline void sock_state::ws_feed(std::string_view data) {
  ws->max_message(maxsize);
  for (;;) {
    auto ev = ws->feed(data);
    using E = net::ws_codec::event;
    switch (ev.what) {
      case E::none:
        return ws_next();  // everything fed: read more
      case E::ping:
        enqueue_raw(ws->frame(net::ws_codec::pong, ev.data));
        continue;
      case E::pong:
        continue;
      case E::message: {
        pending_in.assign(data.data(), data.size());
        rd.busy = false;
        auto msg = std::make_shared<std::string>(std::move(ev.data));
        bool text = ev.text;
        return deliver([msg, text](lua_State* L) {
          lua_pushlstring(L, msg->data(), msg->size());
          lua_pushboolean(L, text);
          return 2;
        });
      }
      case E::close:  // answer with the same code, then close
        return ws_closing(ev.code == 1005 ? 1000 : ev.code, "socketclosed");
      case E::error:
        return ws_closing(ev.code, ev.code == 1009 ? "toomuchdata" : "socketclosed");
    }
  }
}

inline pusher socket_of(host* h, std::unique_ptr<net::stream> s) {
  auto holder = std::make_shared<std::unique_ptr<net::stream>>(std::move(s));
  return [h, holder](lua_State* L) {
    auto st = std::make_shared<sock_state>(h, sock_state::kind::tcp);
    st->attach_stream(std::move(*holder));
    push_sock(L, st);
    adopt(L, st);
    return 1;
  };
}

// ---- cosockets -----------------------------------------------------------------------------

struct cosocket final : task, std::enable_shared_from_this<cosocket> {
  host* h = nullptr;
  int co_ref = LUA_NOREF;
  int sock_ref = LUA_NOREF;          // the socket's Lua object (ba.socket.getsock)
  std::shared_ptr<sock_state> sock;  // nullptr until one is connected (ba.socket.event)
  net::executor ex;                  // where a socket-less cosocket runs
  bool started = false, finished = false;

  void wake() override {
    auto self = shared_from_this();
    if (sock) sock->later([self] { self->resume(); });
    else asio::post(ex, [self] { self->resume(); });
  }

  void resume() {
    h->lock();
    step();
    h->unlock();
  }

  void step() {
    if (finished) return;
    lua_State* L = h->L;
    waiting = false;
    int nargs = 0;
    if (!started) {
      started = true;
      nargs = lua_gettop(co) - 1;
    }
    int nres = 0, status;
    {
      task::scope sc(this);
      status = lua_resume(co, L, nargs, &nres);
    }
    if (status == LUA_YIELD) {
      lua_pop(co, nres);
      if (!waiting) wake();  // a plain coroutine.yield: go on soon
      return;
    }
    if (status != LUA_OK) {
      const char* msg = lua_tostring(co, -1);
      luaL_traceback(L, co, msg ? msg : "(error object is not a string)", 0);
      std::fprintf(stderr, "Cosocket error: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    end();
  }

  // The function has returned: its socket closes, as in BAS.
  void end() {
    finished = true;
    if (sock) {
      if (sock->owner == this) sock->owner = nullptr;
      if (!sock->closed.exchange(true)) sock->run([s = sock] { s->close(); });
    }
    luaL_unref(h->L, LUA_REGISTRYINDEX, co_ref);
    luaL_unref(h->L, LUA_REGISTRYINDEX, sock_ref);
    co_ref = sock_ref = LUA_NOREF;
    co = nullptr;
    release(h, this);  // may destroy this: the last thing done
  }
  static void release(host* h, cosocket* cs);
};

// The cosockets whose coroutine is alive, owned by the host (VM lock): a waiting cosocket is
// referred to by its pending operation only through a plain pointer (lua/await.hpp). What is
// left when the host goes is freed with it.
struct socket_registry {
  std::unordered_map<cosocket*, std::shared_ptr<cosocket>> live;
};
inline socket_registry& registry_of(host* h) {
  if (!h->socket_state) h->socket_state = std::make_shared<socket_registry>();
  return *std::static_pointer_cast<socket_registry>(h->socket_state);
}
inline void cosocket::release(host* h, cosocket* cs) {
  auto& live = registry_of(h).live;
  auto it = live.find(cs);
  if (it == live.end()) return;
  auto keep = std::move(it->second);
  live.erase(it);
}

inline cosocket* current_cosocket() { return dynamic_cast<cosocket*>(task::current()); }

inline void adopt(lua_State* L, const std::shared_ptr<sock_state>& st) {
  cosocket* cs = current_cosocket();
  if (!cs || cs->co != L || cs->sock) return;
  cs->sock = st;
  st->owner = cs;
  lua_pushvalue(L, -1);
  cs->sock_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// Starts func(args...) (at `first`..top) as a cosocket of `sock` (may be null).
inline std::shared_ptr<cosocket> start_cosocket(lua_State* L, host* h, std::shared_ptr<sock_state> sock, int first) {
  auto cs = std::make_shared<cosocket>();
  cs->h = h;
  cs->sock = sock;
  cs->ex = sock ? net::executor() : h->net->pick_executor();
  lua_State* co = lua_newthread(L);
  cs->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  cs->co = co;
  int n = lua_gettop(L) - first + 1;
  for (int i = 0; i < n; ++i) lua_pushvalue(L, first + i);
  lua_xmove(L, co, n);
  registry_of(h).live.emplace(cs.get(), cs);
  if (sock) sock->owner = cs.get();
  cs->wake();
  return cs;
}

// ---- Lua functions -------------------------------------------------------------------------

inline host& net_host(lua_State* L) {
  host* h = get_host(L);
  if (!h || !h->net) luaL_error(L, "ba.socket: no event loop (sockets need the server)");
  return *h;
}

inline lua_Integer opt_ms(lua_State* L, int i) {
  if (lua_isnoneornil(L, i)) return 0;
  lua_Integer ms = luaL_checkinteger(L, i);
  return ms < 0 ? 0 : (ms > 0x7fffffff ? 0x7fffffff : ms);
}

// read([ms]) and accept([ms]): the socket's next arrival (data, or a connection).
inline int next_arrival(lua_State* L, bool accept) {
  auto& st = check_sock(L);
  if ((st.k == sock_state::kind::listener) != accept)
    return luaL_error(L, accept ? "accept: not a listening socket" : "read: a listening socket (use accept)");
  unsigned ms = unsigned(opt_ms(L, 2));
  auto self = st.shared_from_this();
  return await(L, [self, ms](completion done) { self->run([self, ms, done] { self->read(ms, done); }); });
}
inline int sock_read(lua_State* L) { return next_arrival(L, false); }
inline int sock_accept(lua_State* L) { return next_arrival(L, true); }

inline int sock_write(lua_State* L) {
  auto& st = check_sock(L);
  if (st.k == sock_state::kind::listener) return luaL_error(L, "write: a listening socket");
  std::size_t len;
  const char* p = luaL_checklstring(L, 2, &len);
  bool text = false;
  std::string data;
  if (st.k == sock_state::kind::ws) {
    text = lua_toboolean(L, 3);
    data = st.ws->frame(text ? net::ws_codec::text : net::ws_codec::binary, std::string_view(p, len));
  } else {  // write(data [, i [, j]]) as string.sub
    lua_Integer i = luaL_optinteger(L, 3, 1), j = luaL_optinteger(L, 4, lua_Integer(len));
    if (i < 0) i = std::max<lua_Integer>(lua_Integer(len) + i + 1, 1);
    if (i == 0) i = 1;
    if (j < 0) j = lua_Integer(len) + j + 1;
    if (j > lua_Integer(len)) j = lua_Integer(len);
    if (i <= j) data.assign(p + i - 1, std::size_t(j - i + 1));
  }
  if (st.closed) return fail(L, "socketclosed");
  if (st.failed) return fail(L, "socketclosed");  // (st.error belongs to the loop thread)
  auto self = st.shared_from_this();
  std::size_t n = data.size();
  if (st.queued > 0 && st.queued + n > st.queue_limit) {
    // Full: the socket's own cosocket (or a thread, which may block) waits for room; anyone
    // else is told how much is queued, as BAS does.
    cosocket* cs = current_cosocket();
    bool mine = cs && cs->co == L && st.owner == cs && lua_isyieldable(L);
    bool may_block = !task::current() && !(st.h->net && st.h->net->on_loop_thread());
    if (!mine && !may_block) {
      lua_pushboolean(L, 0);
      lua_pushinteger(L, lua_Integer(st.queued.load()));
      return 2;
    }
    auto shared = std::make_shared<std::string>(std::move(data));
    return await(L, [self, shared, text](completion done) {
      self->run([self, shared, text, done] {
        auto go = [self, shared, text, done](pusher) {
          if (self->failed || self->closing) return done(fail_with(self->failed ? self->error : "socketclosed"));
          self->queued += shared->size();
          self->enqueue(std::move(*shared), text);
          done(ok_or(""));
        };
        if (self->failed || self->queued < self->queue_limit) return go(nullptr);
        self->space_waiters.push_back(go);
      });
    });
  }
  st.queued += n;
  self->run([self, d = std::move(data), text]() mutable { self->enqueue(std::move(d), text); });
  lua_pushboolean(L, 1);
  return 1;
}

inline int sock_close(lua_State* L) {
  auto* u = check_object<sock_ud>(L, 1, sock_tname);
  if (u->st && !u->st->closed.exchange(true)) u->st->run([s = u->st] { s->close(); });
  lua_pushboolean(L, 1);
  return 1;
}

inline int sock_event(lua_State* L) {
  auto& st = check_sock(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  host& h = net_host(L);
  if (st.owner) return fail(L, "incorrectuse");
  // event(func [, "s"|"r"] [, args...]) runs func(sock, args...)
  int args_from = 3;
  if (lua_type(L, 3) == LUA_TSTRING) {
    const char* mode = lua_tostring(L, 3);
    if ((mode[0] == 's' || mode[0] == 'r') && mode[1] == 0) args_from = 4;
  }
  int top = lua_gettop(L);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  for (int i = args_from; i <= top; ++i) lua_pushvalue(L, i);
  auto cs = start_cosocket(L, &h, st.shared_from_this(), top + 1);
  lua_pushvalue(L, 1);
  cs->sock_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 1);
  return 1;
}

inline int sock_disable(lua_State* L) {
  auto& st = check_sock(L);
  cosocket* cs = current_cosocket();
  if (!cs || cs->co != L || st.owner != cs || !lua_isyieldable(L)) return luaL_error(L, "disable: only the socket's own cosocket may call it");
  st.disabled = true;
  return await(L, [](completion) {});  // enable() wakes it with its values
}

inline int sock_enable(lua_State* L) {
  auto& st = check_sock(L);
  cosocket* cs = st.owner;
  if (!cs || !st.disabled || !cs->waiting || cs->results) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int n = lua_gettop(L) - 1;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; ++i) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  st.disabled = false;
  cs->results = [ref, n](lua_State* L2) {
    lua_rawgeti(L2, LUA_REGISTRYINDEX, ref);
    for (int i = 1; i <= n; ++i) lua_rawgeti(L2, -i, i);
    lua_remove(L2, -n - 1);
    luaL_unref(L2, LUA_REGISTRYINDEX, ref);
    return n;
  };
  cs->wake();
  lua_pushboolean(L, 1);
  return 1;
}

inline int push_endpoint(lua_State* L, const net::endpoint_info& e) {
  lua_pushlstring(L, e.ip.data(), e.ip.size());
  lua_pushinteger(L, e.port);
  lua_pushboolean(L, e.v6);
  return 3;
}

inline bool endpoint_of(sock_state& st, bool peer, net::endpoint_info& e) {
  std::lock_guard lock(st.m);
  if (!st.attached) return false;
  if (st.acc) return !peer && st.acc->endpoint(e);
  if (st.dg) return st.dg->endpoint(peer, e);
  auto* s = st.stream();
  return s && s->endpoint(peer, e);
}

inline int sock_peername(lua_State* L) {
  net::endpoint_info e;
  if (!endpoint_of(check_sock(L), true, e)) return fail(L, "notcon");
  return push_endpoint(L, e);
}
inline int sock_sockname(lua_State* L) {
  net::endpoint_info e;
  if (!endpoint_of(check_sock(L), false, e)) return fail(L, "notcon");
  return push_endpoint(L, e);
}

inline int sock_state_fn(lua_State* L) {
  auto& st = check_sock(L);
  const char* s = "connected";
  bool con = true;
  if (st.closed || st.failed || st.ws_done) s = "terminated", con = false;
  else if (st.disabled) s = "disabled";
  lua_pushstring(L, s);
  lua_pushboolean(L, con);
  return 2;
}

inline int sock_websocket(lua_State* L) {
  lua_pushboolean(L, check_sock(L).k == sock_state::kind::ws);
  return 1;
}

inline int sock_owner(lua_State* L) {
  lua_pushboolean(L, check_sock(L).owner != nullptr);
  return 1;
}

inline int sock_queuelen(lua_State* L) {
  auto& st = check_sock(L);
  lua_Integer old = lua_Integer(st.queue_limit.load());
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0, 2, "positive size expected");
    st.queue_limit = std::size_t(n);
  }
  lua_pushinteger(L, old);
  lua_pushinteger(L, lua_Integer(st.queued.load()));
  return 2;
}

inline int sock_maxsize(lua_State* L) {
  auto& st = check_sock(L);
  lua_Integer old = lua_Integer(st.maxsize.load());
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0, 2, "positive size expected");
    st.maxsize = std::size_t(n);
  }
  lua_pushinteger(L, old);
  return 1;
}

inline int sock_ping(lua_State* L) {
  auto& st = check_sock(L);
  if (st.k != sock_state::kind::ws) return fail(L, "incorrectuse");
  if (st.closed || st.failed) return fail(L, "socketclosed");
  std::string payload = luaL_optstring(L, 2, "");
  auto self = st.shared_from_this();
  self->run([self, payload] {
    if (self->ws && !self->failed && !self->close_sent) self->enqueue_raw(self->ws->frame(net::ws_codec::ping, payload.substr(0, 125)));
  });
  lua_pushboolean(L, 1);
  return 1;
}

inline int sock_setoption(lua_State* L) {
  auto& st = check_sock(L);
  std::string opt = luaL_checkstring(L, 2);
  if (opt == "keepalive") {
    bool on = lua_toboolean(L, 3);
    int idle = int(luaL_optinteger(L, 4, 0)), interval = int(luaL_optinteger(L, 5, 0));
    auto self = st.shared_from_this();
    self->run([self, on, idle, interval] {
      if (auto* s = self->stream()) s->set_keepalive(on, idle, interval);
    });
    lua_pushboolean(L, 1);
    return 1;
  }
  if (opt == "broadcast") {
    bool on = lua_toboolean(L, 3);
    auto self = st.shared_from_this();
    self->run([self, on] {
      if (self->dg) self->dg->set_broadcast(on);
    });
    lua_pushboolean(L, 1);
    return 1;
  }
  return fail(L, "invalidparam");
}

// sendto(data, ip, port): a datagram to anyone (UDP).
inline int sock_sendto(lua_State* L) {
  auto& st = check_sock(L);
  if (st.k != sock_state::kind::udp) return luaL_error(L, "sendto: not a UDP socket");
  std::size_t n;
  const char* p = luaL_checklstring(L, 2, &n);
  std::string ip = luaL_checkstring(L, 3);
  lua_Integer port = luaL_checkinteger(L, 4);
  luaL_argcheck(L, port > 0 && port < 65536, 4, "port out of range");
  if (st.closed || st.failed) return fail(L, "socketclosed");
  if (st.queued > st.queue_limit) {
    lua_pushboolean(L, 0);
    lua_pushinteger(L, lua_Integer(st.queued.load()));
    return 2;
  }
  st.queued += n;
  auto self = st.shared_from_this();
  self->run([self, d = std::string(p, n), ip, port]() mutable { self->enqueue(std::move(d), false, ip, std::uint16_t(port)); });
  lua_pushboolean(L, 1);
  return 1;
}

inline const tls::peer_info* tls_of([[maybe_unused]] sock_state& st) {
#if !REMORA_TLS_BOTAN
  return nullptr;  // no TLS code in this edition
#else
  std::lock_guard lock(st.m);
  if (!st.attached) return nullptr;
  auto* s = st.stream();
  auto* t = s ? s->tls() : nullptr;
  return t ? &t->peer() : nullptr;
#endif
}

inline int sock_cipher(lua_State* L) { return push_peer_cipher(L, tls_of(check_sock(L))); }
inline int sock_trusted(lua_State* L) { return push_peer_trusted(L, tls_of(check_sock(L))); }
inline int sock_certificate(lua_State* L) { return push_peer_certificate(L, tls_of(check_sock(L))); }

inline int sock_isresumed(lua_State* L) {
  auto* p = tls_of(check_sock(L));
  lua_pushboolean(L, p && p->resumed);
  return 1;
}

inline int sock_tostring(lua_State* L) {
  auto& st = check_sock(L);
  static const char* names[] = {"TCP", "WebSocket", "TCP server", "UDP"};
  lua_pushfstring(L, "%s: %p", names[int(st.k)],
                  static_cast<void*>(&st));
  return 1;
}

// ---- ba.socket functions -------------------------------------------------------------------

// req2sock(request [, op]): op a string: the WebSocket subprotocol to answer with; true: the
// raw connection even for a WebSocket request.
inline int ba_req2sock(lua_State* L) {
  host& h = net_host(L);
  const http::request* req = lsp::live_request(L, 1);
  if (!req) return fail(L, "invalidparam");
  bool raw = lua_isboolean(L, 2) && lua_toboolean(L, 2);
  std::string subprotocol = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  bool is_ws = !raw && http::has_token(req->header("Upgrade"), "websocket") && req->has_header("Sec-WebSocket-Key");
  auto st = std::make_shared<sock_state>(&h, is_ws ? sock_state::kind::ws : sock_state::kind::tcp);
  std::function<void(std::unique_ptr<net::stream>)> attach;
  if (is_ws) {
    // RFC 6455 4.2.1: a GET with version 13 and a key of 16 bytes in base64
    std::string_view key = req->header("Sec-WebSocket-Key");
    if (req->method != "GET" || req->header("Sec-WebSocket-Version") != "13" || key.size() != 24 || key.substr(22) != "==")
      return fail(L, "invalidparam");
    std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: " + net::ws_codec::accept_key(key) + "\r\n";
    if (!subprotocol.empty()) {
      for (char c : subprotocol)
        if (c == '\r' || c == '\n') return luaL_argerror(L, 2, "a subprotocol name without line breaks expected");
      answer += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n";
    }
    answer += "\r\n";
    st->ws.emplace(true, st->maxsize.load());
    attach = [st, answer = std::move(answer)](std::unique_ptr<net::stream> s) {
      if (!s) return st->attach_failed(st->h->net->pick_executor());
      st->ex = s->get_executor();
      st->s = std::move(s);
      st->enqueue_raw(answer);  // the 101 goes first
      st->ready();
    };
  } else {
    attach = [st](std::unique_ptr<net::stream> s) {
      if (!s) return st->attach_failed(st->h->net->pick_executor());
      st->attach_stream(std::move(s));
    };
  }
  // The queued work of a socket whose connection never comes (the server stops first) holds
  // the socket: it goes with the hand-over function.
  struct never_attached {
    std::weak_ptr<sock_state> st;
    ~never_attached() {
      if (auto s = st.lock()) {
        std::lock_guard lock(s->m);
        if (!s->attached) s->pending.clear();
      }
    }
  };
  attach = [attach, guard = std::make_shared<never_attached>(never_attached{st})](std::unique_ptr<net::stream> s) {
    attach(std::move(s));
  };
  if (!lsp::take_over(L, 1, std::move(attach))) return fail(L, "incorrectuse");  // already answered
  push_sock(L, std::move(st));
  return 1;
}

inline int ba_event(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  host& h = net_host(L);
  start_cosocket(L, &h, nullptr, 1);
  lua_pushboolean(L, 1);
  return 1;
}

inline int ba_getsock(lua_State* L) {
  cosocket* cs = current_cosocket();
  if (!cs || cs->co != L || cs->sock_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cs->sock_ref);
  return 1;
}

#if REMORA_TLS_BOTAN
inline std::shared_ptr<tls::client_context> client_shark(lua_State* L, int opt) {
  if (lua_getfield(L, opt, "shark") == LUA_TNIL) {
    lua_pop(L, 1);
    return nullptr;
  }
  auto* u = check_object<sharkssl_ud>(L, -1, sharkssl_tname);
  if (!u->client) luaL_error(L, "connect: shark must be a client SharkSSL object (ba.sharkclient() or ba.create.sharkssl(store, {server=false}))");
  auto c = u->client;
  lua_pop(L, 1);
  return c;
}
#endif

// connect(host, port [, {shark=, timeout=, intf=}])
inline int ba_connect(lua_State* L) {
  host& h = net_host(L);
  std::string name = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  luaL_argcheck(L, port > 0 && port < 65536, 2, "port out of range");
  std::string intf;
  unsigned timeout = 0;
  std::shared_ptr<void> shark;
  if (lua_istable(L, 3)) {
    if (lua_getfield(L, 3, "intf") == LUA_TSTRING) intf = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 3, "timeout") == LUA_TNUMBER) timeout = unsigned(std::max<lua_Integer>(0, lua_tointeger(L, -1)));
    lua_pop(L, 1);
#if REMORA_TLS_BOTAN
    shark = client_shark(L, 3);
#else
    if (lua_getfield(L, 3, "shark") != LUA_TNIL) return fail(L, "sslnotenabled");
    lua_pop(L, 1);
#endif
  }
  auto* hp = &h;
  return await(L, [hp, name, port, intf, timeout, shark](completion done) {
    auto start = std::chrono::steady_clock::now();
    hp->net->connect(name, std::uint16_t(port), intf, timeout,
                     [hp, name, port, shark, timeout, start, done](std::string err, std::unique_ptr<net::stream> s) {
                       if (!err.empty()) return done(fail_with(err));
#if REMORA_TLS_BOTAN
                       if (shark) {  // the handshake within what is left of the timeout
                         auto holder = std::make_shared<std::unique_ptr<net::stream>>(std::move(s));
                         auto* raw = holder->get();
                         auto timed_out = std::make_shared<bool>(false);
                         std::shared_ptr<asio::steady_timer> timer;
                         if (timeout) {
                           auto left = std::chrono::milliseconds(timeout) -
                                       std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
                           timer = std::make_shared<asio::steady_timer>(raw->get_executor(), std::max(left, std::chrono::milliseconds(1)));
                           timer->async_wait([holder, timed_out](net::error_code ec) {
                             if (ec || !*holder) return;  // cancelled, or the socket already went to Lua
                             *timed_out = true;
                             (*holder)->close();
                           });
                         }
                         auto client = std::static_pointer_cast<tls::client_context>(shark);
                         bool ok = raw->start_tls(client->connect(name, std::uint16_t(port)),
                                                  [hp, holder, timer, timed_out, done](net::error_code ec) {
                                                    if (timer) timer->cancel();
                                                    if (ec) return done(fail_with(*timed_out ? "timeout" : "sslhandshake"));
                                                    done(socket_of(hp, std::move(*holder)));
                                                  });
                         if (!ok) done(fail_with("sslhandshake"));
                         return;
                       }
#else
                       (void)name, (void)port, (void)shark, (void)timeout, (void)start;
#endif
                       done(socket_of(hp, std::move(s)));
                     });
  });
}

// bind(port [, {intf=, ipv6=, shark=}])
inline int ba_bind(lua_State* L) {
  host& h = net_host(L);
  lua_Integer port = luaL_checkinteger(L, 1);
  luaL_argcheck(L, port >= 0 && port < 65536, 1, "port out of range");
  std::string intf;
  bool v6 = false;
  std::shared_ptr<tls::context> tls;
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "intf") == LUA_TSTRING) intf = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "ipv6");
    v6 = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "shark") != LUA_TNIL) {
#if REMORA_TLS_BOTAN
      tls = check_server_shark(L, lua_gettop(L)).ctx;
#else
      return fail(L, "sslnotenabled");
#endif
    }
    lua_pop(L, 1);
  }
  std::string err;
  auto acc = h.net->bind(intf, std::uint16_t(port), v6, tls, err);
  if (!acc) return fail(L, err.c_str());
  auto st = std::make_shared<sock_state>(&h, sock_state::kind::listener);
  st->ex = acc->get_executor();
  st->acc = std::move(acc);
  st->ready();
  push_sock(L, std::move(st));
  return 1;
}

// upgrade(shark [, host]): TLS on a connected TCP client socket (STARTTLS); `host` is the
// name the certificate must carry (default: the peer's address).
inline int sock_upgrade(lua_State* L) {
  auto& st = check_sock(L);
#if REMORA_TLS_BOTAN
  auto* u = check_object<sharkssl_ud>(L, 2, sharkssl_tname);
  if (!u->client) return luaL_argerror(L, 2, "a client SharkSSL object expected");
  if (st.k != sock_state::kind::tcp || st.closed || st.failed) return fail(L, "incorrectuse");
  net::endpoint_info peer;
  if (!endpoint_of(st, true, peer)) return fail(L, "notcon");
  std::string name = luaL_optstring(L, 3, peer.ip.c_str());
  auto client = u->client;
  auto self = st.shared_from_this();
  lua_settop(L, 1);
  return await(L, [self, client, name, port = std::uint16_t(peer.port)](completion done) {
    self->run([self, client, name, port, done] {
      auto* s = self->s.get();
      if (!s || self->rd.busy || self->writing || self->failed) return done(fail_with("incorrectuse"));
      bool ok = s->start_tls(client->connect(name, port), [self, done](net::error_code ec) {
        if (ec) {
          self->fail("sslhandshake");
          return done(fail_with("sslhandshake"));
        }
        done([](lua_State* L2) {
          lua_pushvalue(L2, 1);
          return 1;
        });
      });
      if (!ok) done(fail_with("incorrectuse"));
    });
  });
#else
  (void)st;
  return fail(L, "sslnotenabled");
#endif
}

// sock2req(sock [, data]): gives a TCP socket back to the HTTP server, which reads a request
// from it (`data`: bytes of it the Lua code already read).
inline int ba_sock2req(lua_State* L) {
  auto& st = check_sock(L);
  host& h = net_host(L);
  std::string data = luaL_optstring(L, 2, "");
  if (st.k != sock_state::kind::tcp || st.closed || st.failed || st.owner) return fail(L, "incorrectuse");
  st.closed = true;  // the Lua object lets go of it
  auto self = st.shared_from_this();
  auto* f = h.net.get();
  self->run([self, f, data] {
    auto* me = self.get();
    self->on_drained = [me, f, data] {  // what Lua wrote goes out first
      if (!me->s || me->rd.busy) return me->hard_close();
      me->s->prefix.insert(0, data);
      std::unique_ptr<net::stream> stream;
      {
        std::lock_guard lock(me->m);  // peername() and friends look at `s` under it
        stream = std::move(me->s);
      }
      if (!f->serve(std::move(stream))) me->fail("socketclosed");
    };
    self->pump();
  });
  lua_pushboolean(L, 1);
  return 1;
}

// udpcon([localport] [, op]) or udpcon(host, port [, op]): op {intf=, ipv6=, port=}.
inline int ba_udpcon(lua_State* L) {
  host& h = net_host(L);
  std::string peer, intf;
  lua_Integer peer_port = 0, local_port = 0;
  int opt = 0;
  if (lua_type(L, 1) == LUA_TSTRING) {
    peer = lua_tostring(L, 1);
    peer_port = luaL_checkinteger(L, 2);
    luaL_argcheck(L, peer_port > 0 && peer_port < 65536, 2, "port out of range");
    opt = 3;
  } else if (lua_isinteger(L, 1)) {
    local_port = lua_tointeger(L, 1);
    opt = 2;
  } else {
    opt = 1;
  }
  bool v6 = false;
  if (lua_istable(L, opt)) {
    if (lua_getfield(L, opt, "intf") == LUA_TSTRING) intf = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, opt, "port") == LUA_TNUMBER) local_port = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, opt, "ipv6");
    v6 = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  luaL_argcheck(L, local_port >= 0 && local_port < 65536, 1, "port out of range");
  std::string err;
  std::unique_ptr<net::datagram> d;
  without_lock(&h, [&] { d = h.net->udp(intf, std::uint16_t(local_port), peer, std::uint16_t(peer_port), v6, err); });
  if (!d) return fail(L, err.c_str());
  auto st = std::make_shared<sock_state>(&h, sock_state::kind::udp);
  st->ex = d->get_executor();
  st->dg = std::move(d);
  st->ready();
  push_sock(L, std::move(st));
  return 1;
}

inline void open_sockets(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"read", sock_read},           {"write", sock_write},         {"close", sock_close},
      {"accept", sock_accept},       {"event", sock_event},         {"disable", sock_disable},
      {"enable", sock_enable},       {"peername", sock_peername},   {"sockname", sock_sockname},
      {"state", sock_state_fn},      {"websocket", sock_websocket}, {"owner", sock_owner},
      {"queuelen", sock_queuelen},   {"maxsize", sock_maxsize},     {"ping", sock_ping},
      {"setoption", sock_setoption}, {"cipher", sock_cipher},       {"isresumed", sock_isresumed},
      {"trusted", sock_trusted},     {"certificate", sock_certificate}, {"sendto", sock_sendto},
      {"upgrade", sock_upgrade},     {nullptr, nullptr}};
  if (luaL_newmetatable(L, sock_tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, &gc_object<sock_ud>);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, sock_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, sock_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"req2sock", ba_req2sock}, {"event", ba_event},   {"getsock", ba_getsock},
                                 {"connect", ba_connect},   {"bind", ba_bind},     {"udpcon", ba_udpcon},
                                 {"sock2req", ba_sock2req}, {nullptr, nullptr}};
  luaL_setfuncs(L, fns, 0);  // into the ba.socket table at the top
}

}  // namespace remora::lua::detail
