// Run-time limits and knobs of a server. Defaults follow the Mako reference where it names
// one (conncnt 50, reqmaxsz 8192); the rest are Remora's own, settable from mako.conf.
#pragma once
#include <remora/config.hpp>

#include <cstdint>
#include <string>

namespace remora {

struct server_config {
  unsigned conncnt = 50;                           // open connections; more get 503 and close
  std::size_t reqmaxsz = 8192;                     // request line + header block (431 beyond)
  std::uint64_t reqbodymax = 16u * 1024 * 1024;    // request body (413 beyond)
  unsigned headertimeout = 20;                     // s to receive a whole request header
  unsigned keepalivetimeout = 60;                  // s an idle keep-alive connection is kept
  unsigned iotimeout = 60;                         // s without progress while sending or receiving a body
  std::size_t rspsz = 8192;                        // LSP output buffered before it goes out chunked
  unsigned sessioncnt = 50;                        // HTTP sessions at most
  unsigned timertick = 50;                         // ms: ba.timer's granularity
  unsigned threads = 0;                            // loop threads (0: one per core; pool policy only)
};

}  // namespace remora
