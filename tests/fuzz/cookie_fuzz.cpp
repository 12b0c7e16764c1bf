// libFuzzer target: http::cookie_value, the Cookie header parser behind request:cookie() and
// the session lookup.
// Invariants: a value found lies inside the header that was searched, holds no ';', and the
// lookup of a name that does not occur finds nothing.
#include <remora/http/util.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first line is the cookie name to look for, the rest the header value.
  auto nl = in.find('\n');
  std::string_view name = nl == std::string_view::npos ? std::string_view("z9ZAqJtI") : in.substr(0, nl);
  std::string_view value = nl == std::string_view::npos ? in : in.substr(nl + 1);
  auto found = remora::http::cookie_value(value, name);
  if (found) {
    if (found->data() < value.data() || found->data() + found->size() > value.data() + value.size()) std::abort();
    if (found->find(';') != std::string_view::npos) std::abort();
    if (value.find(name) == std::string_view::npos) std::abort();
  }
  return 0;
}
