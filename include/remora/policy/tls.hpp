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
// tls::none is the null model: the stream is the socket itself, and the edition links no TLS
// code. tls::botan (REMORA_TLS_BOTAN builds) makes the stream a tls::stream: plain or TLS per
// listener, a Botan TLS::Server driven from memory (tls/session.hpp) behind it.
#pragma once
#include <remora/config.hpp>

#include <concepts>
#include <memory>
#if REMORA_TLS_BOTAN
#  include <remora/tls/stream.hpp>
#endif

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

#if REMORA_TLS_BOTAN
struct botan {
  static constexpr bool enabled = true;
  static constexpr bool zero_copy = false;  // TLS connections copy; plain ones still sendfile
  static constexpr const char* name = "botan";
  using context = tls::context;
  template<class Stream>
  using stream = tls::stream<Stream>;
};
#endif
}  // namespace tls
}  // namespace remora
