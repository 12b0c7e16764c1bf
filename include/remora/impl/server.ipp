// Non-template parts of the server: the connection registry, the Lua VM factory.
#pragma once
#include <remora/server.hpp>
#include <remora/policy/alloc.hpp>

#include <chrono>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

namespace remora::detail {

REMORA_DECL std::int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

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

REMORA_DECL void registry::sweep(std::int64_t now) {
  std::lock_guard lock(mutex_);
  for (auto& w : list_) {
    auto c = w.lock();
    if (!c) continue;
    auto d = c->deadline.load(std::memory_order_relaxed);
    if (d && d <= now) {
      c->deadline.store(0, std::memory_order_relaxed);
      c->expire();
    }
  }
}

REMORA_DECL void registry::expire_all() {
  std::lock_guard lock(mutex_);
  for (auto& w : list_)
    if (auto c = w.lock()) c->expire();
}

// A Lua VM whose every allocation comes from `r`.
REMORA_DECL lua_State* new_lua_state(std::pmr::memory_resource& r) {
  lua_State* L = lua_newstate(&lua_alloc, &r);
  if (L) luaL_openlibs(L);
  return L;
}

REMORA_DECL void close_lua_state(lua_State* L) noexcept {
  if (L) lua_close(L);
}

}  // namespace remora::detail
