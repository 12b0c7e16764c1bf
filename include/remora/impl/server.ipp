// Non-template parts of the server: the connection registry, the Lua VM factory.
#pragma once
#include <remora/detail/clock.hpp>
#include <remora/server.hpp>
#include <remora/policy/alloc.hpp>

#include <chrono>
#include <ctime>
#include <vector>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

namespace remora::detail {

// Deadlines need no better than a few milliseconds: the coarse clock is the cheapest read.
REMORA_DECL std::int64_t now_ms() noexcept { return coarse_ms(); }

REMORA_DECL bool registry::add(const std::shared_ptr<conn_base>& c, std::size_t limit) {
  std::lock_guard lock(mutex_);
  bool admitted = size_ < limit;
  list_.push_front(c);
  c->slot = list_.begin();
  ++size_;
  return admitted;
}

REMORA_DECL void registry::remove(conn_base& c) {
  std::lock_guard lock(mutex_);
  list_.erase(c.slot);
  --size_;
}

REMORA_DECL std::size_t registry::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

// Both below take references under the lock and act on them after it: dropping the last
// reference to a connection runs its destructor, which takes the lock to leave the list.
REMORA_DECL void registry::sweep(std::int64_t now) {
  std::vector<std::shared_ptr<conn_base>> due;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : list_) {
      auto c = w.lock();
      if (!c) continue;
      auto d = c->deadline.load(std::memory_order_relaxed);
      if (d && d <= now) {
        c->deadline.store(0, std::memory_order_relaxed);
        due.push_back(std::move(c));
      }
    }
  }
  for (auto& c : due) c->expire();
}

REMORA_DECL void registry::expire_idle() {
  std::vector<std::shared_ptr<conn_base>> idle;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : list_)
      if (auto c = w.lock(); c && !c->busy.load(std::memory_order_relaxed)) idle.push_back(std::move(c));
  }
  for (auto& c : idle) c->expire();
}

REMORA_DECL void registry::expire_all() {
  std::vector<std::shared_ptr<conn_base>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : list_)
      if (auto c = w.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->expire();
}

// A Lua VM whose every allocation comes from `r`.
// nullptr when the resource cannot hold even the standard libraries (a small arena).
REMORA_DECL lua_State* new_lua_state(std::pmr::memory_resource& r) {
  lua_State* L = lua_newstate(&lua_alloc, &r);
  if (!L) return nullptr;
  lua_pushcfunction(L, [](lua_State* S) -> int {
    luaL_openlibs(S);
    return 0;
  });
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    return nullptr;
  }
  // Requests leave short-lived garbage (the request object, cmdEnv, closures): the
  // generational collector handles that with less work than the incremental one.
  lua_gc(L, LUA_GCGEN, 0, 0);
  return L;
}

REMORA_DECL void close_lua_state(lua_State* L) noexcept {
  if (L) lua_close(L);
}

}  // namespace remora::detail
