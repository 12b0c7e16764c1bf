// Lua calls that wait for I/O (socket reads, connects, accepts) without blocking a loop.
//
// Where the calling coroutine belongs to a task the host resumes (a cosocket, an LSP page, a
// timer), the call yields and the task goes on when the operation completes. Elsewhere (a
// ba.thread job on its OS thread) the thread blocks with the VM lock released; at start-up
// and in scripts, before the loops run, the calling thread runs them until it is done. On a
// loop thread outside any task (a non-yieldable spot) the call fails: blocking there would
// stop the loop that must complete it.
#pragma once
#include <remora/config.hpp>

#include <functional>
#include <memory>

struct lua_State;

namespace remora::lua {

// Pushes what the waiting Lua call returns (VM lock held); returns how many values.
using pusher = std::function<int(lua_State*)>;
// Called once, from any thread, when the operation has finished.
using completion = std::function<void(pusher)>;

// A coroutine the host resumes. `wake()` (any thread) must resume it soon on its own
// executor; the host then calls resume_io() first thing under the lock.
class task {
 public:
  virtual ~task() = default;
  virtual void wake() = 0;
  // What keeps the task alive while an operation is pending (captured by the completion);
  // nullptr where something else does (the host owns cosockets and pages).
  virtual std::shared_ptr<void> hold() { return nullptr; }

  lua_State* co = nullptr;
  bool waiting = false;  // yielded in await(): resumed only by wake()
  pusher results;        // what the suspended call returns

  // The task whose coroutine the calling thread runs now (set around lua_resume).
  static task*& current() noexcept;

  // Makes `t` current for its lifetime.
  struct scope {
    explicit scope(task* t) noexcept : saved(current()) { current() = t; }
    ~scope() { current() = saved; }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
    task* saved;
  };
};

// From a C function called by Lua: starts `start(done)` and returns what the function must
// return (a yield, or the results once `done` was called). Raises a Lua error where waiting
// is impossible.
int await(lua_State* L, const std::function<void(completion)>& start);

// Whether await() can suspend L rather than block (L is the current task's coroutine).
bool can_yield(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/await.ipp>
#endif
