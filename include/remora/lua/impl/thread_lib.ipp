#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/thread_lib.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <lauxlib.h>
#include <lua.h>

namespace remora::lua {

namespace detail {

inline constexpr const char* thread_tname = "remora.thread";

struct thread_registry;

// A queue of jobs (registry refs of functions) and the OS threads that run them: the shared
// pool (up to `max` threads) or a thread object (exactly one, so its jobs run in order).
struct job_queue {
  thread_registry* reg = nullptr;
  std::mutex m;
  std::condition_variable cv;
  std::deque<int> jobs;
  std::vector<std::thread> threads;
  unsigned max = 1, idle = 0;
  bool stopping = false;

  void post(int ref);
  void worker();
};

struct thread_registry {
  host* h = nullptr;
  lua_State* L = nullptr;  // the main state
  bool parallel = false;   // OS threads (a real VM lock) or loop coroutines
  std::mutex m;            // guards queues and live
  std::condition_variable done;
  std::vector<std::shared_ptr<job_queue>> queues;
  unsigned live = 0;       // worker threads not yet finished
  std::shared_ptr<job_queue> pool;

  std::shared_ptr<job_queue> make_queue(unsigned max) {
    auto q = std::make_shared<job_queue>();
    q->reg = this;
    q->max = max;
    std::lock_guard lock(m);
    queues.push_back(q);
    return q;
  }

  // One job, with the VM lock held: the function runs in a coroutine of its own, so that
  // while it waits without the lock nothing else's stack is in the way.
  void run(int ref) {
    lua_State* co = lua_newthread(L);
    int co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(co, [](lua_State* S) -> int {
      luaL_traceback(S, S, lua_tostring(S, 1), 1);
      return 1;
    });
    lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    if (lua_pcall(co, 0, 0, 1) != LUA_OK) std::fprintf(stderr, "Thread error: %s\n", lua_tostring(co, -1));
    lua_settop(co, 0);
    luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
  }
};

inline void job_queue::post(int ref) {
  std::lock_guard lock(m);
  if (stopping) return;
  jobs.push_back(ref);
  if (idle == 0 && threads.size() < max) {
    {
      std::lock_guard rl(reg->m);
      ++reg->live;
    }
    threads.emplace_back([this] { worker(); });
  }
  cv.notify_one();
}

inline void job_queue::worker() {
  for (;;) {
    int ref;
    {
      std::unique_lock lock(m);
      ++idle;
      cv.wait(lock, [&] { return stopping || !jobs.empty(); });
      --idle;
      if (stopping) break;
      ref = jobs.front();
      jobs.pop_front();
    }
    reg->h->lock();
    reg->run(ref);
    reg->h->unlock();
  }
  std::lock_guard rl(reg->m);
  --reg->live;
  reg->done.notify_all();
}

inline thread_registry& threads_of(lua_State* L) {
  host* h = get_host(L);
  if (!h || !h->thread_state) luaL_error(L, "ba.thread: no server");
  return *std::static_pointer_cast<thread_registry>(h->thread_state);
}

// A job for `q`: a thread's work, or (single-thread editions) a one-shot timer's coroutine.
inline int post_job(lua_State* L, job_queue& q, int fn) {
  luaL_checktype(L, fn, LUA_TFUNCTION);
  auto& reg = *q.reg;
  if (!reg.parallel) {
    lua_getglobal(L, "ba");
    lua_getfield(L, -1, "timer");
    lua_pushvalue(L, fn);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "set");
    lua_insert(L, -2);
    lua_pushinteger(L, 0);
    lua_pushboolean(L, 1);
    lua_call(L, 3, 2);
    if (!lua_toboolean(L, -2)) return 2;  // nil, "no event loop"
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushvalue(L, fn);
  q.post(luaL_ref(L, LUA_REGISTRYINDEX));
  lua_pushboolean(L, 1);
  return 1;
}

struct thread_ud {
  std::shared_ptr<job_queue> q;
};

inline int thread_run(lua_State* L) { return post_job(L, *check_object<thread_ud>(L, 1, thread_tname)->q, 2); }

inline int ba_thread_run(lua_State* L) { return post_job(L, *threads_of(L).pool, 1); }

inline int ba_thread_create(lua_State* L) {
  auto q = threads_of(L).make_queue(1);
  push_object<thread_ud>(L, thread_tname, thread_ud{std::move(q)});
  return 1;
}

inline int ba_thread_configure(lua_State* L) {
  auto& pool = *threads_of(L).pool;
  std::lock_guard lock(pool.m);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "1 to 64 threads");
    pool.max = unsigned(n);
  }
  lua_pushinteger(L, pool.max);
  return 1;
}

inline int thread_dbg(lua_State* L) {
  lua_pushboolean(L, 0);
  return 1;
}

}  // namespace detail

REMORA_DECL void open_thread_lib(lua_State* L) {
  host* h = get_host(L);
  if (h && !h->thread_state) {
    auto reg = std::make_shared<detail::thread_registry>();
    reg->h = h;
    reg->L = main_thread(L);
    reg->parallel = h->parallel;
    reg->pool = reg->make_queue(16);
    h->thread_state = reg;
  }
  static const luaL_Reg methods[] = {{"run", detail::thread_run}, {"dbg", detail::thread_dbg}, {nullptr, nullptr}};
  define_class<detail::thread_ud>(L, detail::thread_tname, methods);
  static const luaL_Reg lib[] = {{"run", detail::ba_thread_run},
                                 {"create", detail::ba_thread_create},
                                 {"configure", detail::ba_thread_configure},
                                 {"dbg", detail::thread_dbg},
                                 {nullptr, nullptr}};
  luaL_newlib(L, lib);
  lua_setfield(L, -2, "thread");
}

REMORA_DECL bool stop_threads(lua_State* L, unsigned wait_ms) {
  host* h = get_host(L);
  if (!h || !h->thread_state) return true;
  auto reg = std::static_pointer_cast<detail::thread_registry>(h->thread_state);
  std::vector<std::shared_ptr<detail::job_queue>> queues;
  {
    std::lock_guard lock(reg->m);
    queues = reg->queues;
  }
  for (auto& q : queues) {
    std::lock_guard lock(q->m);
    q->stopping = true;
    q->jobs.clear();  // their refs go with the state
    q->cv.notify_all();
  }
  std::unique_lock lock(reg->m);
  bool all = reg->done.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return reg->live == 0; });
  lock.unlock();
  for (auto& q : queues) {
    std::lock_guard ql(q->m);
    for (auto& t : q->threads) {
      if (all) t.join();
      else t.detach();
    }
    q->threads.clear();
  }
  return all;
}

}  // namespace remora::lua
