// ba.thread: Lua functions run apart from the request that started them.
//
//   ba.thread.run(func) -> true              runs func on the shared pool (3 threads, growing
//                                            to the configured maximum while all are busy)
//   ba.thread.configure(max) -> max          the pool's maximum (1-64; default 16)
//   ba.thread.create() -> thread             a thread of its own: thread:run(func) queues func,
//                                            the queue runs in order, one at a time
//   ba.thread.dbg(), thread:dbg() -> false   no debugger monitor in Remora
//
// In editions with a thread pool each job is an OS thread's work: it waits for a job without
// the VM lock, takes the lock to run the function, and gives it back whenever the function
// blocks (ba.sleep, and the blocking calls of later modules), so other pages and jobs go on.
// In single-thread editions a job is a coroutine on the loop; ba.sleep suspends it. An error
// is printed with its traceback ("Thread error: ..."); the thread goes on with its queue.
//
// At exit stop_threads() waits (bounded) for the jobs to end; it returns false when some did
// not, and the caller must not close the VM then.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

class host;

// Installs ba.thread into the `ba` table at the top of the stack.
void open_thread_lib(lua_State* L);

// Stops every thread of L's ba.thread: queued jobs are dropped, running ones get until
// `wait_ms` to finish. Call with the VM lock not held. True when all threads have ended.
bool stop_threads(lua_State* L, unsigned wait_ms);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/thread_lib.ipp>
#endif
