#pragma once
#include <remora/lua/await.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/timer_lib.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail {

inline constexpr const char* timer_tname = "remora.timer";

// What a pending tick needs: the C++ side outlives the Lua object while a tick is queued.
struct timer_state : std::enable_shared_from_this<timer_state> {
  host* h = nullptr;
  lua_State* L = nullptr;        // the main state
  int fn_ref = LUA_NOREF;        // the function (or the coroutine given to ba.timer)
  int co_ref = LUA_NOREF;        // the coroutine of the run in progress (it yielded)
  int self_ref = LUA_NOREF;      // the userdata, anchored while armed
  bool fixed_co = false;         // ba.timer was given a coroutine: always resume that one
  bool armed = false, once = false;
  unsigned interval = 0;
  unsigned generation = 0;       // a tick of an older arming is ignored
  unsigned sleep_ms = 0;         // set by ba.sleep inside the function: resume after this
  std::shared_ptr<timer_handle> pending;

  // A run waiting for a socket (lua::await): wake() resumes it through the loop.
  struct io_task final : task {
    timer_state* owner = nullptr;
    unsigned gen = 0;
    std::shared_ptr<void> hold() override { return owner->shared_from_this(); }
    void wake() override {
      auto self = owner->shared_from_this();
      auto g = gen;
      if (owner->h && owner->h->after) owner->io_handle = owner->h->after(0, [self, g] { self->fire(g); });
    }
  } io;
  std::shared_ptr<timer_handle> io_handle;

  static timer_state*& running() {
    thread_local timer_state* t = nullptr;
    return t;
  }

  unsigned round(lua_Integer ms) const {
    unsigned tick = h && h->timertick ? h->timertick : 1;
    if (ms < 1) ms = 1;
    if (ms > 0x7fffffff) ms = 0x7fffffff;
    return unsigned((ms + tick - 1) / tick * tick);
  }

  bool arm(unsigned ms) {
    ++generation;
    if (pending) pending->cancel();
    pending = h && h->after ? h->after(ms, [self = shared_from_this(), gen = generation] { self->fire(gen); })
                            : nullptr;
    return pending != nullptr;
  }

  // With the lock held.
  void disarm() {
    ++generation;
    armed = false;
    if (pending) pending->cancel();
    pending.reset();
    if (!fixed_co) {
      luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
      co_ref = LUA_NOREF;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, self_ref);
    self_ref = LUA_NOREF;
  }

  void fire(unsigned gen) {
    h->lock();
    if (gen == generation && armed) {
      sleep_ms = 0;
      bool again = step();
      if (io.waiting) {
        // waits for a socket: wake() comes back here
      } else if (sleep_ms && gen == generation) arm(sleep_ms);          // ba.sleep: resume it then
      else if (again && armed && gen == generation) arm(interval);      // it may have re-armed or cancelled
      else if (!again && gen == generation) disarm();
    }
    h->unlock();
  }

  // One run of the function: true to run again.
  bool step() {
    int top = lua_gettop(L);
    lua_State* co;
    if (co_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, co_ref);
      co = lua_tothread(L, -1);
    } else {
      co = lua_newthread(L);
      lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
      lua_xmove(L, co, 1);
      lua_pushvalue(L, -1);
      co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    int status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD) {  // a coroutine given to ba.timer that died
      lua_settop(L, top);
      return false;
    }
    int nres = 0;
    running() = this;
    io.owner = this;
    io.co = co;
    io.gen = generation;
    io.waiting = false;
    {
      task::scope sc(&io);
      status = lua_resume(co, L, 0, &nres);
    }
    running() = nullptr;
    bool again;
    if (status == LUA_YIELD && (sleep_ms || io.waiting)) {  // ba.sleep or a socket: not a tick's answer
      lua_pop(co, nres);
      lua_settop(L, top);
      return true;
    }
    if (status == LUA_YIELD) {
      again = nres == 0 || lua_toboolean(co, -nres);  // resumed where it left off
      lua_pop(co, nres);
    } else {
      if (status == LUA_OK) {
        again = nres > 0 && lua_toboolean(co, -nres);
      } else {
        luaL_traceback(L, co, lua_tostring(co, -1), 0);
        std::fprintf(stderr, "Timer error: %s\n", lua_tostring(L, -1));
        again = false;
      }
      if (!fixed_co) {  // the next run starts afresh
        luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
        co_ref = LUA_NOREF;
      } else {
        again = again && status == LUA_YIELD;
      }
    }
    lua_settop(L, top);
    return again && !once;
  }
};

struct timer_ud {
  std::shared_ptr<timer_state> st;
  explicit timer_ud(std::shared_ptr<timer_state> s) : st(std::move(s)) {}
  timer_ud(const timer_ud&) = delete;
  timer_ud& operator=(const timer_ud&) = delete;
  ~timer_ud() {
    if (!st) return;
    if (st->pending) st->pending->cancel();
    st->armed = false;
    if (st->L) {
      luaL_unref(st->L, LUA_REGISTRYINDEX, st->fn_ref);
      if (!st->fixed_co) luaL_unref(st->L, LUA_REGISTRYINDEX, st->co_ref);
    }
  }
};

// Keeps the timer object at index 1 alive while it is armed (released by disarm()).
inline void anchor(lua_State* L, timer_state& st) {
  if (st.self_ref != LUA_NOREF) return;
  lua_pushvalue(L, 1);
  st.self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

inline timer_state& check_timer(lua_State* L) { return *check_object<timer_ud>(L, 1, timer_tname)->st; }

inline int ba_timer(lua_State* L) {
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TFUNCTION || t == LUA_TTHREAD, 1, "function or coroutine");
  auto st = std::make_shared<timer_state>();
  st->h = get_host(L);
  st->L = main_thread(L);
  st->fixed_co = t == LUA_TTHREAD;
  lua_pushvalue(L, 1);
  st->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (st->fixed_co) st->co_ref = st->fn_ref;
  push_object<timer_ud>(L, timer_tname, std::move(st));
  return 1;
}

inline int timer_set(lua_State* L) {
  auto& st = check_timer(L);
  lua_Integer ms = luaL_checkinteger(L, 2);
  st.once = lua_toboolean(L, 3);
  bool now = lua_toboolean(L, 4);
  st.interval = st.round(ms);
  if (!st.arm(now ? 0 : st.interval)) {
    st.armed = false;
    return fail(L, "no event loop");
  }
  st.armed = true;
  anchor(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

// reset([ms]): restarts the wait; a timer that ended (a one-shot that ran, or one cancelled)
// is armed again, as BAS code expects of reset.
inline int timer_reset(lua_State* L) {
  auto& st = check_timer(L);
  if (!lua_isnoneornil(L, 2)) st.interval = st.round(luaL_checkinteger(L, 2));
  if (st.interval == 0) {  // never set: nothing to restart
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!st.arm(st.interval)) return fail(L, "no event loop");
  st.armed = true;
  anchor(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

inline int timer_cancel(lua_State* L) {
  auto& st = check_timer(L);
  bool was = st.armed;
  if (was) st.disarm();
  lua_pushboolean(L, was);
  return 1;
}

}  // namespace detail

REMORA_DECL bool timer_sleep(lua_State* L, unsigned ms) {
  auto* t = detail::timer_state::running();
  if (!t || !lua_isyieldable(L) || t->co_ref == LUA_NOREF) return false;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->co_ref);
  bool mine = lua_tothread(L, -1) == L;
  lua_pop(L, 1);
  if (!mine) return false;
  t->sleep_ms = ms ? ms : 1;
  return true;
}

REMORA_DECL void open_timer_lib(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"set", detail::timer_set}, {"reset", detail::timer_reset}, {"cancel", detail::timer_cancel}, {nullptr, nullptr}};
  define_class<detail::timer_ud>(L, detail::timer_tname, methods);
  lua_pushcfunction(L, detail::ba_timer);
  lua_setfield(L, -2, "timer");
}

}  // namespace remora::lua
