// libFuzzer target: http::decode_target. Invariants for an `ok` result: the path is absolute,
// has no empty, "." or ".." segment and no NUL byte; the query is a piece of the target.
// A failure leaves no path behind.
#include <remora/http/util.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
void check_path(const std::string& p) {
  if (p.empty() || p.front() != '/') std::abort();
  if (p.find('\0') != std::string::npos) std::abort();
  if (p.find("//") != std::string::npos) std::abort();
  // every segment: not "." and not ".."
  std::size_t i = 1;
  while (i < p.size()) {
    auto s = p.find('/', i);
    auto seg = std::string_view(p).substr(i, s == std::string::npos ? std::string::npos : s - i);
    if (seg == "." || seg == "..") std::abort();
    if (s == std::string::npos) break;
    i = s + 1;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string path = "garbage";
  std::string_view query = "garbage";
  auto st = remora::http::decode_target(target, path, query);
  if (st == remora::http::target_status::ok) {
    check_path(path);
    if (!query.empty() && (query.data() < target.data() ||
                           query.data() + query.size() > target.data() + target.size()))
      std::abort();
    if (query.find('#') != std::string_view::npos) std::abort();  // the fragment is dropped
    if (path.size() > target.size() + 1) std::abort();           // decoding never grows it
  } else if (st == remora::http::target_status::bad_request) {
    if (!path.empty()) std::abort();
  }
  // percent_decode on its own: never longer than its input.
  std::string out;
  if (remora::http::percent_decode(target, out) && out.size() > target.size()) std::abort();
  return 0;
}
