// Threading policy.
//
// A threading policy decides how many threads run the event loop and what guards state they
// share. It is fixed for the life of the binary.
//
//   using mutex;                     // Lockable; guards the Lua VM and shared tables
//   static constexpr bool multi;     // more than one thread runs the loop
//   static unsigned threads(unsigned configured) noexcept;   // how many loop threads to run
//   template<class Executor> static auto make_executor(Executor) -> per-connection executor
//   static constexpr const char* name;
//
// With several threads each thread runs its own event loop and a connection stays on one loop
// for life, so its handlers never overlap and need no strand; make_executor is the hook for a
// policy that wants to wrap the executor (one that shares a loop between threads would return
// a strand). The single-thread model has one loop and a mutex that does nothing.
#pragma once
#include <remora/config.hpp>

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <concepts>
#include <mutex>
#include <thread>

namespace remora {

template<class T>
concept thread_policy = requires(typename T::mutex& m, unsigned n) {
  { m.lock() };
  { m.unlock() };
  { m.try_lock() } -> std::convertible_to<bool>;
  { T::multi } -> std::convertible_to<bool>;
  { T::threads(n) } noexcept -> std::same_as<unsigned>;
  { T::name } -> std::convertible_to<const char*>;
};

// A mutex that does nothing: the null model's lock.
struct null_mutex {
  void lock() noexcept {}
  void unlock() noexcept {}
  bool try_lock() noexcept { return true; }
};

namespace thread {

// The null model: the event loop runs on the thread that calls run().
struct single {
  using mutex = null_mutex;
  static constexpr bool multi = false;
  static constexpr const char* name = "single";
  static unsigned threads(unsigned) noexcept { return 1; }
  template<class Executor>
  static Executor make_executor(Executor ex) { return ex; }
};

// The loop runs on N threads (N = the configured count, else one per core).
struct pool {
  using mutex = std::mutex;
  static constexpr bool multi = true;
  static constexpr const char* name = "pool";
  static unsigned threads(unsigned configured) noexcept {
    if (configured) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
  }
  template<class Executor>
  static Executor make_executor(Executor ex) { return ex; }
};

}  // namespace thread
}  // namespace remora
