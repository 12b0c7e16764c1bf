// libFuzzer target: http::parse_date. Invariant: whatever parses formats back (IMF-fixdate)
// to a string that parses to the same instant, 29 characters long.
#include <remora/http/util.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto t = remora::http::parse_date(s);
  if (!t) return 0;
  if (*t < 0) std::abort();  // years before 1970 are refused
  std::string f = remora::http::format_date(*t);
  if (f.size() != 29 || f.compare(25, 4, " GMT") != 0) std::abort();
  auto back = remora::http::parse_date(f);
  if (!back || *back != *t) std::abort();
  return 0;
}
