#pragma once
#include <remora/detail/clock.hpp>
#include <remora/http/form.hpp>
#include <remora/http/util.hpp>
#include <remora/lsp/compiler.hpp>
#include <remora/lsp/pages.hpp>
#include <remora/lua/await.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/lua/impl/json.ipp>  // json::append_string

#include <lauxlib.h>
#include <lua.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace remora::lsp {
namespace detail {

struct app;
struct call;

// A page waiting for a socket (lua::await): woken from any thread; the connection resumes
// the page once both the wake and the page's yield have happened.
struct page_task final : lua::task {
  call* c = nullptr;
  std::mutex m;
  bool woke = false, parked = false;
  void wake() override;
  void park();
};

struct cookie_data {
  std::string name, value, path, domain, comment;
  long maxage = 0;  // > 0: persistent (sent as expires=)
  bool secure = false, httponly = false, deleted = false, active = false;
};

// One request through the LSP layer. It lives inside the request userdata; the coroutine
// and a registry ref keep it alive until the page has finished.
struct call {
  lua::host* h = nullptr;
  app* a = nullptr;                // the page's app: alive while the page runs synchronously,
  std::shared_ptr<app> a_keep;     // and kept alive by this once it goes asynchronous
  const http::request* req = nullptr;
  http::response* res = nullptr;
  std::shared_ptr<http::channel> ch;  // once the answer went asynchronous
  lua_State* co = nullptr;  // the coroutine (its stack keeps this object alive while it runs)
  int co_ref = LUA_NOREF;
  std::string page;  // the running page, app-relative (include paths resolve against it)
  enum class wait { none, flush, sleep, slice, io } pending = wait::none;
  std::unique_ptr<page_task> io;  // kept when the call is reused
  unsigned sleep_ms = 0;
  int include_depth = 0, forward_depth = 0;
  bool valid = true, committed = false;
  bool dead = false;  // after a noabort sendredirect/json: no more use, the page goes on
  std::uint64_t bytes = 0;  // body bytes written by the page
  std::optional<http::form_pairs> form;
  std::vector<cookie_data> cookies;  // response cookies (and request cookies looked at)
  std::uint32_t session_id = 0;             // the session this request holds
  std::uint64_t gen = 0;                    // which request of this (reused) object
  std::shared_ptr<struct deferred_state> deferred;  // response:deferred() was called
  bool declined = false;  // a directory function returned false
  int capture = 0;  // response:setresponse(): 0 none, 1 raw deflate, 2 zlib, 3 a filter function
  int capture_ref = LUA_NOREF;
};

// A response answered after its page has ended (response:deferred()). Lua calls queue
// operations, which run on the connection's thread once the channel is there; writes are
// chained so that one is in flight at a time.
struct deferred_state : std::enable_shared_from_this<deferred_state> {
  std::mutex m;                          // ch and queued, between Lua and the connection
  std::shared_ptr<http::channel> ch;
  http::response* res = nullptr;
  std::vector<std::function<void()>> queued;
  // Lua side (VM lock)
  enum class mode { fresh, headers, writing, fixed, closed } state = mode::fresh;
  std::atomic<bool> gone{false};
  // connection side
  bool in_flight = false, finish_pending = false;

  void run(std::function<void()> op) {
    std::unique_lock lock(m);
    if (!ch) return queued.push_back(std::move(op));
    auto c = ch;
    lock.unlock();
    c->post(std::move(op));
  }
  void attach(std::shared_ptr<http::channel> channel) {
    std::vector<std::function<void()>> ops;
    {
      std::lock_guard lock(m);
      ch = channel;
      ops.swap(queued);
    }
    for (auto& op : ops) channel->post(std::move(op));
  }
  // On the connection's thread: send what is buffered, then finish when asked.
  void pump() {
    if (in_flight) return;
    if (!res->body.empty()) {
      in_flight = true;
      ch->flush([self = shared_from_this()](bool ok) {
        self->in_flight = false;
        if (!ok) self->gone = true;
        self->pump();
      });
      return;
    }
    if (finish_pending) {
      finish_pending = false;
      ch->finish();
    }
  }
};

// The request object in Lua: a reference to a call that may since have been reused for
// another request (then `gen` differs and the object has expired). No __gc: calls belong to
// the host's pool for as long as the host lives.
struct req_ud {
  call* c;
  std::uint64_t gen;
};

struct call_pool {
  std::vector<std::unique_ptr<call>> all;
  std::vector<call*> idle;
};

// A call from the host's pool (VM lock held), reset for a new request.
inline call* acquire_call(lua::host& h) {
  if (!h.lsp_state) h.lsp_state = std::make_shared<call_pool>();
  auto& pool = *static_cast<call_pool*>(h.lsp_state.get());
  call* c;
  if (!pool.idle.empty()) {
    c = pool.idle.back();
    pool.idle.pop_back();
    auto gen = c->gen + 1;
    auto io = std::move(c->io);
    *c = call();
    c->gen = gen;
    c->io = std::move(io);
  } else {
    pool.all.push_back(std::make_unique<call>());
    c = pool.all.back().get();
  }
  return c;
}

inline void release_call(lua::host& h, call* c) {
  auto& pool = *static_cast<call_pool*>(h.lsp_state.get());
  c->a_keep.reset();
  c->ch.reset();
  ++c->gen;  // every request object of it has expired
  pool.idle.push_back(c);
}

inline call*& call_of(lua_State* co) noexcept { return *static_cast<call**>(lua_getextraspace(co)); }

// ---- the watchdog: a page that runs past its slice yields ------------------------------------

struct slice_state {
  std::atomic<lua_State*> co{nullptr};
  std::atomic<std::uint64_t> seq{0};
  std::atomic<std::int64_t> start_ms{0};
  std::atomic<pthread_t> thread{};
  std::atomic<unsigned> budget_ms{100};
};
inline slice_state slice;

using remora::detail::coarse_ms;  // the watchdog works in tens of ms

inline void slice_hook(lua_State* L, lua_Debug* ar) {
  if (ar->event != LUA_HOOKCOUNT) return;
  call* c = call_of(L);
  if (c && lua_isyieldable(L)) {
    lua_sethook(L, nullptr, 0, 0);
    c->pending = call::wait::slice;
    lua_yield(L, 0);
    return;
  }
  lua_sethook(L, slice_hook, LUA_MASKCOUNT, 1000);  // not here: try again a little later
}

inline int slice_signal() noexcept { return SIGRTMIN + 1; }

// Runs on the thread that runs the page (the watchdog signals it): arms the hook, as lua.c
// does for SIGINT; lua_sethook is safe to call from a signal handler.
inline void on_slice_signal(int) {
  lua_State* co = slice.co.load(std::memory_order_acquire);
  if (co && pthread_equal(slice.thread.load(std::memory_order_relaxed), ::pthread_self()))
    lua_sethook(co, slice_hook, LUA_MASKCOUNT, 1);
}

class watchdog {
 public:
  static watchdog& get() {
    static watchdog w;
    return w;
  }
  ~watchdog() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (t_.joinable()) t_.join();
  }

 private:
  watchdog() {
    struct sigaction sa {};
    sa.sa_handler = on_slice_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(slice_signal(), &sa, nullptr);
    t_ = std::thread([this] { loop(); });
  }
  void loop() {
    std::uint64_t seen = 0;
    std::unique_lock lock(m_);
    while (!stop_) {
      auto budget = slice.budget_ms.load(std::memory_order_relaxed);
      cv_.wait_for(lock, std::chrono::milliseconds(budget / 2 + 1));
      if (stop_) break;
      std::uint64_t s = slice.seq.load(std::memory_order_acquire);
      if (!slice.co.load(std::memory_order_acquire)) continue;
      if (s != seen && coarse_ms() - slice.start_ms.load(std::memory_order_relaxed) >= budget) {
        seen = s;  // once per slice
        ::pthread_kill(slice.thread.load(std::memory_order_relaxed), slice_signal());
      }
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread t_;
};

// ---- the app: a directory's pages ------------------------------------------------------------

struct page_entry {
  int fn_ref = LUA_NOREF, page_ref = LUA_NOREF;
  std::time_t mtime = 0;
  std::uint64_t size = 0, stamp = 0;
};

struct app {
  lua::host* h = nullptr;
  std::shared_ptr<vfs::io> io;
  int app_ref = LUA_NOREF, io_ref = LUA_NOREF;
  std::string prefix;  // the dir's base URI ("/" or "/name/")
  std::unordered_map<std::string, page_entry> pages;  // under the VM lock
};

inline const char abort_key = 0;  // the error value of response:abort()


inline std::string read_all(vfs::io& io, const std::string& name, std::string& err) {
  std::string text;
  auto f = io.open(name, "r", err);
  if (!f) return text;
  char buf[16384];
  for (;;) {
    auto n = f->read(buf, sizeof buf, err);
    if (n < 0) return text;
    if (n == 0) break;
    text.append(buf, std::size_t(n));
  }
  err.clear();
  return text;
}

// Pushes the compiled page `name` (compiling it when new or changed) and returns its entry;
// nullptr with `err` (nothing pushed) when it cannot be read or compiled.
inline page_entry* load_page(lua_State* L, app& a, const std::string& name, const vfs::file_info& info,
                             std::string& err) {
  auto it = a.pages.find(name);
  if (it != a.pages.end() && it->second.fn_ref != LUA_NOREF && it->second.mtime == info.mtime &&
      it->second.size == info.size && it->second.stamp == info.stamp) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.fn_ref);
    return &it->second;
  }
  std::string text = read_all(*a.io, name, err);
  if (!err.empty()) {
    err = name + ": " + err;
    return nullptr;
  }
  std::string chunk;
  if (!lsp::compile(text, chunk, err)) {
    err = name + ": " + err;
    return nullptr;
  }
  std::string real = a.io->realpath(name);
  std::string chunkname = "@" + (real.empty() ? name : real);
  if (luaL_loadbuffer(L, chunk.data(), chunk.size(), chunkname.c_str()) != LUA_OK) {
    err = lua_tostring(L, -1);
    lua_pop(L, 1);
    return nullptr;
  }
  auto& e = a.pages[name];
  luaL_unref(L, LUA_REGISTRYINDEX, e.fn_ref);
  lua_pushvalue(L, -1);
  e.fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (e.page_ref == LUA_NOREF) {
    lua_newtable(L);
    e.page_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  e.mtime = info.mtime;
  e.size = info.size;
  e.stamp = info.stamp;
  return &e;
}

// ---- output ----------------------------------------------------------------------------------

// The call of the request object at idx; nullptr when the object has expired.
inline call* test_call(lua_State* L, int idx = 1) {
  auto* u = static_cast<req_ud*>(luaL_checkudata(L, idx, request_tname));
  return u->gen == u->c->gen ? u->c : nullptr;
}
inline call& live_call(lua_State* L, int idx = 1) {
  call* c = test_call(L, idx);
  if (!c || !c->valid || c->dead) luaL_error(L, "request/response expired");
  return *c;
}
// The page's own print and _emit: their upvalue is the request object, no check needed.
inline call& upvalue_call(lua_State* L) {
  auto* u = static_cast<req_ud*>(lua_touserdata(L, lua_upvalueindex(1)));
  if (u->gen != u->c->gen || !u->c->valid || u->c->dead) luaL_error(L, "request/response expired");
  return *u->c;
}

// After output was added: when the buffer is past rspsz and the page can yield, yield so the
// connection sends it (the caller returns lua_yield's result).
// The page asks for its output to go out now: true when it can wait for that (the caller
// then yields); false where it cannot (the output stays buffered).
inline bool yield_for_flush(lua_State* L, call& c) {
  if (!lua_isyieldable(L) || call_of(L) != &c) return false;
  c.pending = call::wait::flush;
  return true;
}

inline bool want_flush(lua_State* L, call& c) {
  return !c.capture && c.res->body.size() >= c.h->rspsz && yield_for_flush(L, c);
}

inline void append_values(lua_State* L, int first, std::string& out, bool tabs) {
  int n = lua_gettop(L);
  for (int i = first; i <= n; ++i) {
    if (tabs && i > first) out.push_back('\t');
    std::size_t len;
    const char* s = luaL_tolstring(L, i, &len);
    out.append(s, len);
    lua_pop(L, 1);
  }
}

// _emit(s): text blocks and <?lsp= ?> values (the upvalue is the request object).
// The values from `first` on, to the page's output (print: tab-separated, then a newline).
inline void output(lua_State* L, call& c, int first, bool print) {
  std::size_t n = c.res->body.size();
  append_values(L, first, c.res->body, print);
  if (print) c.res->body.push_back('\n');
  c.bytes += c.res->body.size() - n;
}

inline int page_emit(lua_State* L) {
  call& c = upvalue_call(L);
  output(L, c, 1, false);
  return want_flush(L, c) ? lua_yield(L, 0) : 0;
}

// The page's print: tab-separated values and a newline, to the response.
inline int page_print(lua_State* L) {
  call& c = upvalue_call(L);
  output(L, c, 1, true);
  return want_flush(L, c) ? lua_yield(L, 0) : 0;
}

// ---- running a page --------------------------------------------------------------------------

inline void emit_cookies(call& c);
inline void leave_session(lua_State* L, call& c);

inline const char cmdenv_meta_key = 0;
inline const char request_meta_key = 0;  // the request metatable, by a light key (no string lookup)

// Pushes a new cmdEnv for the request object at `req`.
inline void push_cmdenv(lua_State* L, int req) {
  lua_createtable(L, 0, 4);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &cmdenv_meta_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cmdenv_meta_key);
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, req);
  lua_setfield(L, -2, "request");
  lua_pushvalue(L, req);
  lua_setfield(L, -2, "response");
  lua_pushvalue(L, req);
  lua_pushcclosure(L, page_print, 1);
  lua_setfield(L, -2, "print");
  lua_pushvalue(L, req);
  lua_pushcclosure(L, page_emit, 1);
  lua_setfield(L, -2, "_emit");
}

// Pushes fn, cmdEnv, pathname, io, page, app for page `name` of `a` (fn already pushed).
inline void push_page_args(lua_State* L, app& a, page_entry& e, const std::string& name, int req) {
  push_cmdenv(L, req);
  lua_pushlstring(L, name.data(), name.size());
  lua_rawgeti(L, LUA_REGISTRYINDEX, a.io_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e.page_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, a.app_ref);
}

inline constexpr std::string_view page_defaults =
    "Content-Type: text/html; charset=utf-8\r\n"
    "Cache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n";

inline void default_headers(http::response& res) { res.head_static = page_defaults; }

// The answer for a Lua error: a 500 with the message and traceback (JSON for an XHR), or,
// once the headers are gone, the text in red at the end of the page. On the console too.
inline void lua_error_answer(call& c, std::string_view trace) {
  std::fprintf(stderr, "-------- Lua error in LSP: %.*s\n", int(trace.size()), trace.data());
  if (c.committed) {
    c.res->body.append("<div style='background:red;color:black'><h1>Lua Error</h1><pre>");
    for (char ch : trace) {
      if (ch == '<') c.res->body.append("&lt;");
      else if (ch == '&') c.res->body.append("&amp;");
      else c.res->body.push_back(ch);
    }
    c.res->body.append("</pre></div>");
    return;
  }
  c.res->status = 500;
  c.res->clear_headers();
  c.res->set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0");
  if (http::iequals(c.req->header("X-Requested-With"), "XMLHttpRequest")) {
    c.res->set_header("Content-Type", "application/json");
    c.res->body = "{\"error\":\"lua\",\"emsg\":";
    lua::detail::json::append_string(c.res->body, trace);
    c.res->body.push_back('}');
    return;
  }
  c.res->set_header("Content-Type", "text/plain");
  c.res->body = "\n\n-------- Lua error:\n";
  c.res->body.append(trace).append("\n\n");
}

inline const char errh_key = 0;  // ba.seterrh's function, in the registry

// Calls the ba.seterrh handler (if any) with the error text (VM lock held).
inline void call_error_handler(lua_State* L, std::string_view trace) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &errh_key) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_pushlstring(L, trace.data(), trace.size());
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "ba.seterrh handler: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

inline lua_State* acquire_thread(lua::host& h, int& ref) {
  lua_State* L = h.L;
  if (!h.idle_threads.empty()) {
    ref = h.idle_threads.back();
    h.idle_threads.pop_back();
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_State* co = lua_tothread(L, -1);
    lua_pop(L, 1);
    return co;
  }
  lua_State* co = lua_newthread(L);
  ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return co;
}

inline void release_thread(lua::host& h, lua_State* co, int ref, bool clean) {
  call_of(co) = nullptr;
  lua_sethook(co, nullptr, 0, 0);
  if (!clean || h.idle_threads.size() >= 32) {
    luaL_unref(h.L, LUA_REGISTRYINDEX, ref);  // an errored coroutine is simply dropped
    return;
  }
  lua_settop(co, 0);
  h.idle_threads.push_back(ref);
}

// Resumes the page (VM lock held). True when it has ended (normally, by abort or by error).
inline bool step(call& c, int nargs) {
  lua::host& h = *c.h;
  c.pending = call::wait::none;
  slice.thread.store(::pthread_self(), std::memory_order_relaxed);
  slice.start_ms.store(coarse_ms(), std::memory_order_relaxed);
  slice.seq.fetch_add(1, std::memory_order_relaxed);
  slice.co.store(c.co, std::memory_order_release);
  int nres = 0;
  if (!c.io) {
    c.io = std::make_unique<page_task>();
    c.io->c = &c;
  }
  c.io->co = c.co;
  c.io->waiting = false;
  {
    std::lock_guard lock(c.io->m);
    c.io->woke = c.io->parked = false;
  }
  int st;
  {
    lua::task::scope running(c.io.get());
    st = lua_resume(c.co, h.L, nargs, &nres);
  }
  slice.co.store(nullptr, std::memory_order_release);
  // Finished, the coroutine holds the request object (index 1) and the function's results.
  if (st == LUA_OK) c.declined = lua_gettop(c.co) >= 2 && lua_isboolean(c.co, 2) && !lua_toboolean(c.co, 2);
  if (st == LUA_YIELD) {
    lua_pop(c.co, nres);
    if (c.io->waiting) c.pending = call::wait::io;
    if (c.pending == call::wait::none) c.pending = call::wait::slice;  // a stray coroutine.yield
    return false;
  }
  bool clean = st == LUA_OK;
  if (st != LUA_OK) {
    if (lua_touserdata(c.co, -1) == &abort_key) {
      clean = true;
    } else {
      const char* msg = lua_tostring(c.co, -1);
      if (!msg) msg = luaL_tolstring(c.co, -1, nullptr);
      luaL_traceback(c.co, c.co, msg, 0);
      std::size_t n;
      const char* tb = lua_tolstring(c.co, -1, &n);
      lua_error_answer(c, std::string_view(tb, n));
      call_error_handler(h.L, std::string_view(tb, n));
      if (c.deferred) {  // the page failed: its error answer goes out, not the deferred one
        c.deferred->state = deferred_state::mode::closed;
        c.deferred.reset();
      }
    }
    if (clean) lua_resetthread(c.co);
  }
  if (!c.committed) emit_cookies(c);
  leave_session(h.L, c);
  luaL_unref(h.L, LUA_REGISTRYINDEX, c.capture_ref);  // a setresponse never finalized
  c.valid = false;
  release_thread(h, c.co, c.co_ref, clean);
  c.co = nullptr;
  return true;
}

void wait_for(call* c);

// Ends a page that was preempted and whose client has gone (a runaway page nobody waits for).
inline void kill(call& c) {
  lua::host& h = *c.h;
  std::fprintf(stderr, "LSP page %s stopped: it was still running and the client has gone\n", c.page.c_str());
  lua_resetthread(c.co);
  leave_session(h.L, c);
  c.valid = false;
  release_thread(h, c.co, c.co_ref, false);
  c.co = nullptr;
}

// Resumes a page that was waiting, on its connection's thread.
inline void drive(call* c) {
  lua::host& h = *c->h;
  h.lock();
  auto ch = c->ch;
  if (c->pending == call::wait::slice && ch->gone()) {
    kill(*c);
    release_call(h, c);
    h.unlock();
    return ch->abort();
  }
  bool done = step(*c, 0);
  auto deferred = done ? c->deferred : nullptr;
  if (done) release_call(h, c);
  h.unlock();
  if (deferred) return deferred->attach(ch);  // the deferred object answers from here on
  if (done) return ch->finish();
  wait_for(c);
}

inline void wait_for(call* c) {
  switch (c->pending) {
    case call::wait::flush:
      if (!c->committed) emit_cookies(*c);
      c->committed = true;
      return c->ch->flush([c](bool) { drive(c); });
    case call::wait::sleep: return c->ch->after(c->sleep_ms, [c] { drive(c); });
    case call::wait::io: return c->io->park();
    default: return c->ch->post([c] { drive(c); });
  }
}

inline void page_task::wake() {
  std::unique_lock lock(m);
  if (!parked) {
    woke = true;
    return;
  }
  parked = false;
  lock.unlock();
  c->ch->post([c = c] { drive(c); });
}

inline void page_task::park() {
  std::unique_lock lock(m);
  if (!woke) {
    parked = true;
    return;
  }
  woke = false;
  lock.unlock();
  c->ch->post([c = c] { drive(c); });
}

// A call for a request (VM lock held): the request object is pushed on L, and a pooled
// coroutine made ready for it.
inline call* begin_call(lua::host& h, app* a, const http::request& req, http::response& res, std::string_view page) {
  lua_State* L = h.L;
  call* c = acquire_call(h);
  auto* u = static_cast<req_ud*>(lua_newuserdatauv(L, sizeof(req_ud), 1));
  *u = req_ud{c, c->gen};
  lua_rawgetp(L, LUA_REGISTRYINDEX, &request_meta_key);
  lua_setmetatable(L, -2);
  c->h = &h;
  c->a = a;
  c->req = &req;
  c->res = &res;
  c->page = page;
  default_headers(res);
  c->co = acquire_thread(h, c->co_ref);
  call_of(c->co) = c;
  return c;
}

// Runs the call whose request object, function and `nargs` arguments are the top of L (the
// cmdEnv first among the arguments), until it ends or waits; unlocks the VM. False when the
// function ended by returning false with nothing sent (the directory falls through).
inline bool run_call(lua::host& h, call* c, int nargs, std::shared_ptr<app> keep, http::response& res, bool may_decline) {
  lua_State* L = h.L;
  int req_idx = lua_gettop(L) - nargs - 1;
  lua_pushvalue(L, req_idx + 2);  // cmdEnv: request:env()
  lua_setiuservalue(L, req_idx, 1);
  lua_xmove(L, c->co, nargs + 2);  // the request object stays under the function: kept alive
  bool done = step(*c, nargs);
  bool declined = done && may_decline && c->declined && !c->committed && !c->deferred;
  auto deferred = done ? c->deferred : nullptr;
  if (done) release_call(h, c);
  h.unlock();
  if (declined) {
    res.reset();
    return false;
  }
  if (deferred) res.later = [deferred](std::shared_ptr<http::channel> ch) { deferred->attach(std::move(ch)); };
  if (!done) {
    c->a_keep = std::move(keep);
    res.later = [c](std::shared_ptr<http::channel> ch) {
      c->ch = std::move(ch);
      wait_for(c);
    };
  }
  return true;
}

// dir:service(request, rel) from a running page or dir function: the directory it delegates
// to runs its page or function right there, in the caller's coroutine (the VM is held), with
// the caller's request object, which is at index `req` of L.
struct inline_service {
  lua_State* L = nullptr;
  int req = 0;
};
inline thread_local inline_service delegating;

inline bool serve_inline(app& a, std::string_view page, const vfs::file_info& info) {
  lua_State* L = delegating.L;
  std::string name(page), err;
  page_entry* e = load_page(L, a, name, info, err);
  if (!e) luaL_error(L, "%s", err.c_str());
  call& c = live_call(L, delegating.req);
  std::string saved = c.page;
  app* saved_app = c.a;
  c.page = name;
  c.a = &a;
  push_page_args(L, a, *e, name, delegating.req);
  lua_call(L, 5, 0);  // an error goes to the page that delegated
  c.page = std::move(saved);
  c.a = saved_app;
  return true;
}

inline bool serve(const std::shared_ptr<app>& ap, const http::request& req, std::string_view page,
                  const vfs::file_info& info, http::response& res) {
  app& a = *ap;
  lua::host& h = *a.h;
  if (delegating.L) return serve_inline(a, page, info);
  h.lock();
  lua_State* L = h.L;
  std::string name(page), err;
  page_entry* e = load_page(L, a, name, info, err);
  if (!e) {
    h.unlock();
    std::fprintf(stderr, "-------- Lua error in LSP: %s\n", err.c_str());
    res.status = 500;
    res.set_header("Content-Type", "text/plain");
    res.body = "\n\n-------- Lua error:\n" + err;
    return true;
  }
  lua_pop(L, 1);
  call* c = begin_call(h, &a, req, res, name);
  int req_idx = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->fn_ref);
  push_page_args(L, a, *e, name, req_idx);
  return run_call(h, c, 5, ap, res, false);  // unlocks; L's stack is back at `top`
}

}  // namespace detail

REMORA_DECL bool run_function(lua::host& h, int fn_ref, const http::request& req, std::string_view rel,
                              http::response& res) {
  if (lua_State* L = detail::delegating.L) {  // from dir:service: right here
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
    detail::push_cmdenv(L, detail::delegating.req);
    lua_pushlstring(L, rel.data(), rel.size());
    lua_call(L, 2, 1);
    bool declined = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return !declined;
  }
  h.lock();
  lua_State* L = h.L;
  detail::call* c = detail::begin_call(h, nullptr, req, res, rel);
  int req_idx = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  detail::push_cmdenv(L, req_idx);
  lua_pushlstring(L, rel.data(), rel.size());
  return detail::run_call(h, c, 2, nullptr, res, true);  // unlocks; L's stack is back at `top`
}

REMORA_DECL bool delegate(lua_State* L, int req, vfs::directory& dir, std::string_view rel) {
  detail::call& c = detail::live_call(L, req);
  if (c.committed) luaL_error(L, "Error iscommitted");
  auto saved = detail::delegating;
  detail::delegating = {L, lua_absindex(L, req)};
  struct restore {
    detail::inline_service s;
    ~restore() { detail::delegating = s; }  // also when a Lua error unwinds (Lua is C++ here)
  } r{saved};
  std::string path(rel);
  bool answered = dir.service(*c.req, path, *c.res);
  if (!c.res->body_view.empty()) {  // a cached file: the page may go on writing after it
    c.res->body.assign(c.res->body_view);
    c.res->body_view = {};
  }
  return answered;
}

REMORA_DECL void enable(lua::host& h, vfs::resrdr& dir, std::string prefix, int app_ref, int io_ref) {
  auto a = std::make_shared<detail::app>();
  a->prefix = std::move(prefix);
  a->h = &h;
  a->io = dir.get_io();
  a->app_ref = app_ref;
  a->io_ref = io_ref;
  detail::slice.budget_ms.store(h.slice_ms ? h.slice_ms : 100, std::memory_order_relaxed);
  detail::watchdog::get();
  dir.set_page_handler([a](const http::request& req, std::string_view page, const vfs::file_info& info,
                           http::response& res) { return detail::serve(a, req, page, info, res); });
}

REMORA_DECL void disable(vfs::resrdr& dir) { dir.set_page_handler(nullptr); }

REMORA_DECL const http::request* live_request(lua_State* L, int idx) {
  if (!luaL_testudata(L, idx, request_tname)) return nullptr;
  detail::call* c = detail::test_call(L, idx);
  return c && c->valid && !c->dead ? c->req : nullptr;
}

REMORA_DECL bool take_over(lua_State* L, int idx, std::function<void(std::unique_ptr<net::stream>)> f) {
  detail::call& c = detail::live_call(L, idx);
  if (c.committed || c.deferred || c.res->takeover) return false;
  c.committed = true;  // nothing of this response goes out any more
  if (c.ch) c.ch->takeover(std::move(f));
  else c.res->takeover = std::move(f);
  return true;
}

REMORA_DECL bool page_sleep(lua_State* L, unsigned ms) {
  detail::call* c = detail::call_of(L);
  if (!c || !lua_isyieldable(L) || c->co != L) return false;
  c->pending = detail::call::wait::sleep;
  c->sleep_ms = ms;
  return true;
}

}  // namespace remora::lsp

#include <remora/lsp/impl/sessions.ipp>
#include <remora/lsp/impl/request.ipp>
