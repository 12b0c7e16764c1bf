// libFuzzer target: http::parse_range. The first 8 bytes (when present) are the
// representation's size; the rest is the Range header. Invariants: an `ok` range lies inside
// the representation (first <= last < size); nothing is satisfiable in an empty one; a value
// that does not start with "bytes=" is ignored.
#include <remora/http/util.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t rep = 1000;
  if (size >= 8) {
    std::memcpy(&rep, data, 8);
    // Mostly small sizes, so that ranges land both inside and outside.
    if (!(data[7] & 0x80)) rep %= 100000;
    data += 8;
    size -= 8;
  }
  std::string_view h(reinterpret_cast<const char*>(data), size);
  using remora::http::byte_range;
  auto r = remora::http::parse_range(h, rep);
  if (r.kind == byte_range::ok) {
    if (!(r.first <= r.last && r.last < rep)) std::abort();
    if (rep == 0) std::abort();
  }
  std::string_view t = h;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  if (r.kind != byte_range::none && !(t.size() >= 6 && remora::http::iequals(t.substr(0, 6), "bytes=")))
    std::abort();
  if (r.kind != byte_range::none && h.find(',') != std::string_view::npos) std::abort();
  return 0;
}
