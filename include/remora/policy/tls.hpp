// TLS policy.
//
// A TLS policy wraps a connected stream before HTTP sees it. It is fixed for the life of the
// binary; certificates and listeners are run-time data behind it.
//
//   static constexpr bool enabled;         // false: the edition links no TLS code
//   struct context;                        // certificates, session cache (run-time data)
//   template<class Stream> using stream;   // the stream HTTP reads and writes
//   static constexpr bool zero_copy;       // may file bodies bypass the stream (sendfile)?
//   static constexpr const char* name;
//
// tls::none is the null model: the stream is the socket itself. The Botan policy
// (TLS::Server driven over the socket through its callbacks) slots in beside it.
#pragma once
#include <remora/config.hpp>

#include <concepts>

namespace remora {

template<class T>
concept tls_policy = requires {
  { T::enabled } -> std::convertible_to<bool>;
  { T::zero_copy } -> std::convertible_to<bool>;
  { T::name } -> std::convertible_to<const char*>;
  typename T::context;
};

namespace tls {
struct none {
  static constexpr bool enabled = false;
  static constexpr bool zero_copy = true;
  static constexpr const char* name = "none";
  struct context {};
  template<class Stream>
  using stream = Stream;
};
}  // namespace tls
}  // namespace remora
