// libFuzzer target: http::etag_matches, http::has_token and http::iequals. The input is split
// at its first NUL byte into a header value and an entity tag / token. Invariants: "*" always
// matches; a tag matches a list holding it; iequals is symmetric and case-blind; has_token
// finds a token that the list contains as a whole item.
#include <remora/http/util.hpp>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nul = in.find('\0');
  std::string_view list = in.substr(0, nul);
  std::string_view item = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  using namespace remora::http;

  bool m = etag_matches(list, item);
  (void)m;
  if (!etag_matches("*", item)) std::abort();
  bool plain = !item.empty() && item.find(',') == std::string_view::npos &&
               item.front() != ' ' && item.front() != '\t' && item.back() != ' ' && item.back() != '\t';
  if (plain) {
    std::string l = std::string(list) + ", " + std::string(item);
    if (!etag_matches(l, item)) std::abort();
    if (!has_token(l, item)) std::abort();
    std::string upper(item);
    for (auto& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (!has_token(std::string(item) + "," + std::string(list), upper)) std::abort();
  }
  if (iequals(list, item) != iequals(item, list)) std::abort();
  if (!iequals(list, list)) std::abort();
  bool t = has_token(list, item);
  (void)t;
  return 0;
}
