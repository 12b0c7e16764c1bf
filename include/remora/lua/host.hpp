// What the Lua side needs of the server it runs in: the VM and its lock, the virtual file
// tree, and limits. basic_server<P> implements it over its thread policy's mutex; the LSP
// layer and the directory objects find it in the Lua registry.
#pragma once
#include <remora/config.hpp>
#include <remora/vfs/directory.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct lua_State;

namespace remora::tls {
class context;
}
namespace remora::net {
class factory;
}

namespace remora::lua {

// One bound address of a listener.
struct bound_address {
  std::string address;
  unsigned port = 0;
  bool v6 = false;
};

// A pending timer of the host's loop (host::after); cancel() makes sure it does not run.
class timer_handle {
 public:
  virtual ~timer_handle() = default;
  virtual void cancel() = 0;
};

class host {
 public:
  virtual ~host() = default;
  // The VM lock: held while Lua code runs after start-up.
  virtual void lock() = 0;
  virtual void unlock() = 0;
  // Whether the calling thread holds the lock (hosts without a lock: always).
  virtual bool held() const { return true; }
  virtual bool try_lock() { return true; }
  bool parallel = false;        // several OS threads may run Lua (the lock is a real one)
  std::shared_ptr<void> thread_state;  // ba.thread's pools (lua/thread_lib)
  std::shared_ptr<void> socket_state;  // ba.socket's live cosockets (lua/socket_lib)

  // Runs `fn` on the server's main loop after `ms` milliseconds, without the VM lock; nullptr
  // where there is no loop (scripts). Unset: likewise.
  std::function<std::shared_ptr<timer_handle>(unsigned ms, std::function<void()> fn)> after;
  unsigned timertick = 50;      // ms; ba.timer rounds intervals up to it

  lua_State* L = nullptr;       // the main state
  vfs::tree* tree = nullptr;    // where directories mount
  std::size_t rspsz = 8192;     // page output buffered before it goes out chunked
  unsigned slice_ms = 100;      // a page running longer than this yields to other work
  unsigned sessioncnt = 50;     // sessions at most

  // Listeners (ba.create.servcon): `listen` binds `port` on `host` ("" = every interface;
  // `family` 4 or 6 narrows that, 0 both), TLS when `tls` is set. It returns an id (> 0) and
  // fills `bound`, or 0 and `err`. Unset: the host cannot open listeners.
  std::function<int(const std::string& host, unsigned port, int family, std::shared_ptr<tls::context> tls,
                    std::vector<bound_address>& bound, std::string& err)>
      listen;
  std::function<void(int id)> close_listener;
  // Connections and listeners of Lua sockets (ba.socket); unset: the host has none.
  std::shared_ptr<net::factory> net;

  // Idle coroutines kept for pages (registry refs), and the LSP layer's own state (its pool
  // of request objects); used under the lock.
  std::vector<int> idle_threads;
  std::shared_ptr<void> lsp_state;
};

// Runs `wait` (which must not touch Lua) with the VM lock released when the calling thread
// holds it, and takes the lock again before returning: a blocking call made from Lua.
template<class F>
void without_lock(host* h, F&& wait) {
  bool release = h && h->held();
  if (release) h->unlock();
  try {
    wait();
  } catch (...) {
    if (release) h->lock();
    throw;
  }
  if (release) h->lock();
}

// Registers `h` in L's registry (nullptr: none); `h` must outlive L's use of it.
void set_host(lua_State* L, host* h);
// The host registered in L's registry, or nullptr.
host* get_host(lua_State* L);

// A host for a state used from one thread only (start-up, scripts, tests): no lock.
class single_host final : public host {
 public:
  void lock() override {}
  void unlock() override {}
};

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/host.ipp>
#endif
