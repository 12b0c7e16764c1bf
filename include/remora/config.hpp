// The one configuration home. A Remora build generates remora/build_config.hpp from
// meson_options.txt; a product that only adds include/ to its path gets the defaults below
// (header-only mode, full feature set minus what needs a separately built library).
#pragma once

#if __has_include(<remora/build_config.hpp>) && !defined(REMORA_NO_BUILD_CONFIG)
#  include <remora/build_config.hpp>
#else
#  define REMORA_HAS_BUILD_CONFIG 0
#  define REMORA_VERSION "0.1.0"
#  define REMORA_EDITION "header-only"
#  define REMORA_TLS_NAME "none"
#  define REMORA_THREADS_NAME "single"
#  define REMORA_ALLOC_NAME "system"
#  define REMORA_TLS_BOTAN 0
#  define REMORA_THREAD_POOL 0
#  define REMORA_ALLOC_ARENA 0
#  define REMORA_ARENA_SIZE 33554432
#  define REMORA_SENDFILE 1
#  define REMORA_EMBEDDED_ZIP 0
#  define REMORA_CRYPTO 0
#  define REMORA_SQLITE 0
#  define REMORA_LPEG 0
#endif

// Header-only mode: every non-template definition (impl/*.ipp) is included inline. A Remora
// build defines REMORA_SEPARATE_COMPILATION and compiles them once, in src/remora.cpp.
#if defined(REMORA_SEPARATE_COMPILATION)
#  define REMORA_HEADER_ONLY 0
#  define REMORA_DECL
#else
#  define REMORA_HEADER_ONLY 1
#  define REMORA_DECL inline
#endif

namespace remora {
inline constexpr const char* version = REMORA_VERSION;
inline constexpr const char* edition = REMORA_EDITION;
// What the Server header and the default error pages name.
inline constexpr const char* server_name = "Remora (Posix)";
}  // namespace remora
