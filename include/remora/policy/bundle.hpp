// The policy bundle: one template parameter that fixes every axis of a server at compile time.
//
// A bundle P names P::io, P::tls, P::alloc and P::thread, each modelling its concept, plus
// P::name. Everything decided at run time (mounts, listeners, limits, certificates) is data.
#pragma once
#include <remora/config.hpp>
#include <remora/policy/alloc.hpp>
#include <remora/policy/io.hpp>
#include <remora/policy/thread.hpp>
#include <remora/policy/tls.hpp>

namespace remora {

template<class P>
concept policy_bundle = io_policy<typename P::io> && tls_policy<typename P::tls> &&
                        alloc_policy<typename P::alloc> && thread_policy<typename P::thread> &&
                        requires { { P::name } -> std::convertible_to<const char*>; };

template<class Io, class Tls, class Alloc, class Thread>
struct bundle {
  using io = Io;
  using tls = Tls;
  using alloc = Alloc;
  using thread = Thread;
  static constexpr const char* name = "custom";
};

// The three editions.
struct full_policies : bundle<io::asio_tcp, tls::none, alloc::system, thread::pool> {
  static constexpr const char* name = "full";
};
struct embedded_policies
    : bundle<io::asio_tcp, tls::none, alloc::arena<REMORA_ARENA_SIZE>, thread::single> {
  static constexpr const char* name = "embedded";
};
struct minimal_policies : bundle<io::asio_tcp, tls::none, alloc::system, thread::single> {
  static constexpr const char* name = "minimal";
};

// The bundle this build's options describe.
struct default_policies
    : bundle<io::asio_tcp,
#if REMORA_TLS_BOTAN
             tls::botan,
#else
             tls::none,
#endif
#if REMORA_ALLOC_ARENA
             alloc::arena<REMORA_ARENA_SIZE>,
#else
             alloc::system,
#endif
#if REMORA_THREAD_POOL
             thread::pool
#else
             thread::single
#endif
             > {
  static constexpr const char* name = REMORA_EDITION;
};

static_assert(policy_bundle<full_policies>);
static_assert(policy_bundle<embedded_policies>);
static_assert(policy_bundle<minimal_policies>);
static_assert(policy_bundle<default_policies>);

}  // namespace remora
