// libFuzzer target: http::parse_url and http::authority (the HTTP client's and the net IO's
// URLs) and vfs::parse_multistatus (PROPFIND answers). Invariants: a parsed URL has a host,
// a port and a target that begins with '/' and holds no fragment; its authority parses back
// to the same host and port; a failed multistatus parse leaves no entries.
#include <remora/http/util.hpp>
#include <remora/vfs/net_io.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  remora::http::url_parts u;
  if (remora::http::parse_url(in, u)) {
    if (u.host.empty() || u.port == 0 || u.target.empty() || u.target.front() != '/') std::abort();
    if (u.target.find('#') != std::string::npos) std::abort();
    bool plain_host = u.host.find_first_of("/?#@[]") == std::string::npos;
    if (plain_host) {
      remora::http::url_parts back;
      std::string again = std::string(u.tls ? "https://" : "http://") + remora::http::authority(u) + "/";
      if (!remora::http::parse_url(again, back) || back.host != u.host || back.port != u.port) std::abort();
    }
  }
  std::vector<remora::vfs::dav_entry> entries;
  if (!remora::vfs::parse_multistatus(in, entries) && !entries.empty()) std::abort();
  return 0;
}
