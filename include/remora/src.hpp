// Every non-template definition, for exactly one translation unit of a separately compiled
// build (src/remora.cpp). Header-only products need not include this: with
// REMORA_SEPARATE_COMPILATION undefined, each header pulls its own definitions in inline.
#pragma once
#if !defined(REMORA_SEPARATE_COMPILATION)
#  error "remora/src.hpp is for separately compiled builds: define REMORA_SEPARATE_COMPILATION"
#endif
#include <remora/policy/impl/alloc.ipp>
#include <remora/http/impl/util.ipp>
#include <remora/http/impl/message.ipp>
#include <remora/http/impl/mime.ipp>
#include <remora/http/impl/form.ipp>
#include <remora/vfs/impl/directory.ipp>
#include <remora/vfs/impl/io.ipp>
#include <remora/vfs/impl/zip_io.ipp>
#include <remora/vfs/impl/net_io.ipp>
#include <remora/vfs/impl/resrdr.ipp>
#include <remora/impl/server.ipp>
#include <remora/cli/impl/options.ipp>
#include <remora/zip/impl/archive.ipp>
#include <remora/lsp/impl/compiler.ipp>
#include <remora/lua/impl/io_lib.ipp>
#include <remora/lua/impl/json.ipp>
#include <remora/lua/impl/ba_core.ipp>
#include <remora/lua/impl/dir_lib.ipp>
#include <remora/lua/impl/aes.ipp>
#include <remora/lua/impl/net_lib.ipp>
#include <remora/lua/impl/timer_lib.ipp>
#include <remora/lua/impl/thread_lib.ipp>
#include <remora/net/impl/ws_codec.ipp>
#include <remora/lua/impl/await.ipp>
#include <remora/lua/impl/socket_lib.ipp>
#include <remora/lua/impl/pipe_lib.ipp>
#include <remora/lua/impl/mime_lib.ipp>
#include <remora/lua/impl/sockcompat.ipp>
#include <remora/lua/impl/httpc.ipp>
#include <remora/lua/impl/lpeg.ipp>
#include <remora/lua/impl/sqlite.ipp>
#include <remora/lua/impl/host.ipp>
#include <remora/lsp/impl/pages.ipp>
#include <remora/lua/impl/runtime.ipp>
