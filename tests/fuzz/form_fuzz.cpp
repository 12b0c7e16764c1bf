// libFuzzer target: http::parse_form. The first byte picks the cap (small, or the default);
// the rest is the form. Invariants: never more than the cap; false exactly when there were
// more non-empty pairs than the cap; each pair equals a plain byte-at-a-time decoding of the
// matching '&'-separated piece (split at its first '='), never longer than it; encoding every
// decoded byte as %XX (or a space as '+') and parsing again gives the same pairs.
#include <remora/http/form.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string reference_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void encode(std::string_view s, std::string& out) {
  static constexpr char digits[] = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t cap = 1024;
  if (size > 0) {
    if (!(data[0] & 0x80)) cap = data[0] % 8;
    ++data;
    --size;
  }
  std::string_view s(reinterpret_cast<const char*>(data), size);

  // The non-empty pieces, by hand.
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i <= s.size();) {
    std::size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) amp = s.size();
    if (amp > i) pieces.push_back(s.substr(i, amp - i));
    i = amp + 1;
  }

  remora::http::form_pairs out;
  bool ok = remora::http::parse_form(s, out, cap);
  if (out.size() > cap) std::abort();
  if (ok != (pieces.size() <= cap)) std::abort();
  if (out.size() != (pieces.size() < cap ? pieces.size() : cap)) std::abort();
  for (std::size_t k = 0; k < out.size(); ++k) {
    std::string_view p = pieces[k];
    auto eq = p.find('=');
    std::string_view name = p.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
    if (out[k].first != reference_decode(name) || out[k].second != reference_decode(value)) std::abort();
    if (out[k].first.size() > name.size() || out[k].second.size() > value.size()) std::abort();
  }

  // Round trip through a full encoding.
  std::string again;
  for (auto& [n, v] : out) {
    if (!again.empty()) again += '&';
    encode(n, again);
    again += '=';
    encode(v, again);
  }
  remora::http::form_pairs back;
  if (!remora::http::parse_form(again, back, out.size())) std::abort();
  // An empty name and value encode to "=", which is not an empty pair: nothing is lost.
  if (back != out) std::abort();
  return 0;
}
