#pragma once
#include <remora/lua/await.hpp>
#include <remora/lua/host.hpp>
#include <remora/net/stream.hpp>

#include <lauxlib.h>
#include <lua.h>

#include <condition_variable>
#include <memory>
#include <mutex>

namespace remora::lua {

REMORA_DECL task*& task::current() noexcept {
  thread_local task* t = nullptr;
  return t;
}

REMORA_DECL bool can_yield(lua_State* L) {
  task* t = task::current();
  return t && t->co == L && lua_isyieldable(L);
}

namespace detail {
inline int await_continue(lua_State* L, int, lua_KContext ctx) {
  auto* t = reinterpret_cast<task*>(ctx);
  pusher p = std::move(t->results);
  t->results = nullptr;
  return p ? p(L) : 0;
}
}  // namespace detail

REMORA_DECL int await(lua_State* L, const std::function<void(completion)>& start) {
  if (can_yield(L)) {
    task* t = task::current();
    t->waiting = true;
    t->results = nullptr;
    start([t, keep = t->hold()](pusher p) {
      t->results = std::move(p);
      t->wake();
    });
    return lua_yieldk(L, 0, reinterpret_cast<lua_KContext>(t), detail::await_continue);
  }
  host* h = get_host(L);
  net::factory* f = h ? h->net.get() : nullptr;
  if (!f) return luaL_error(L, "no event loop: sockets need the server");
  if (f->on_loop_thread())
    return luaL_error(L, "cannot wait for a socket here: call it from a page, a cosocket, a timer or a ba.thread "
                         "job, outside functions that cannot yield (metamethods, iterators, require)");
  struct shared {
    std::mutex m;
    std::condition_variable cv;
    pusher p;
    bool done = false;
  };
  auto sh = std::make_shared<shared>();
  start([sh](pusher p) {
    std::lock_guard lock(sh->m);
    sh->p = std::move(p);
    sh->done = true;
    sh->cv.notify_all();
  });
  without_lock(h, [&] {
    if (!f->running()) {
      f->run_until([&] {
        std::lock_guard lock(sh->m);
        return sh->done;
      });
      return;
    }
    std::unique_lock lock(sh->m);
    sh->cv.wait(lock, [&] { return sh->done; });
  });
  return sh->p ? sh->p(L) : 0;
}

}  // namespace remora::lua
