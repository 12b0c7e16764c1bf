// libFuzzer target: http::multipart_parser. The first three bytes pick the boundary (one of a
// few, an invalid one included), the limits, and whether a few control bytes of the rest
// stand for header names and delimiters; the rest is the body. Invariants: feeding it
// whole, one byte at a time, and in pieces of random sizes (empty ones included, the sizes
// derived from the input) gives the same events (data pieces joined), the same finish()
// result, error, done() and parts(); events come in order (begin, data*, end), at most one
// error and nothing after it, never more parts than the limit, no empty data piece; finish()
// is true exactly when done() and nothing failed; each part's data lies in the body, after
// the previous part's, and never holds a delimiter ("\r\n--" boundary followed by "--",
// a space, a tab, CR or LF).
#include <remora/http/form.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct recorder : remora::http::multipart_handler {
  std::vector<std::string> ev;
  std::vector<std::string> datas;  // each part's data, joined
  bool open = false, errored = false;
  std::size_t begins = 0;
  bool on_part_begin(const remora::http::multipart_part& p) override {
    if (errored || open) std::abort();
    open = true;
    ++begins;
    std::string s = "B";
    for (auto* f : {&p.name, &p.filename, &p.content_type, &p.content_transfer_encoding}) {
      s += std::to_string(f->size()) + ':' + *f;
    }
    s += p.has_filename ? '1' : '0';
    for (auto& [n, v] : p.headers) s += std::to_string(n.size()) + ':' + n + std::to_string(v.size()) + ':' + v;
    ev.push_back(std::move(s));
    datas.emplace_back();
    return true;
  }
  bool on_part_data(std::string_view d) override {
    if (errored || !open || d.empty()) std::abort();
    if (ev.empty() || ev.back()[0] != 'D') ev.emplace_back("D");
    ev.back().append(d);
    datas.back().append(d);
    return true;
  }
  bool on_part_end() override {
    if (errored || !open) std::abort();
    open = false;
    ev.emplace_back("E");
    return true;
  }
  void on_error(std::string_view m) override {
    if (errored || m.empty()) std::abort();
    errored = true;
    ev.push_back("X" + std::string(m));
  }
};

struct result {
  std::vector<std::string> ev;
  bool finished, done, failed;
  std::string error;
  std::size_t parts;
  bool operator==(const result&) const = default;
};

struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

template <class Cut>
result run(std::string_view boundary, std::string_view body, remora::http::multipart_limits limits, Cut cut) {
  recorder r;
  remora::http::multipart_parser p(boundary, r, limits);
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t n = cut(body.size() - at);
    bool ok = p.feed(body.substr(at, n));
    if (ok == p.failed()) std::abort();
    at += n;
  }
  result out;
  out.finished = p.finish();
  out.done = p.done();
  out.failed = p.failed();
  out.error = std::string(p.error());
  out.parts = p.parts();
  if (out.finished != (out.done && !out.failed)) std::abort();
  if (out.failed != r.errored || out.failed == out.error.empty()) std::abort();
  if (out.failed && r.ev.back() != "X" + out.error) std::abort();
  if (r.begins > limits.max_parts || r.begins > out.parts) std::abort();
  if (out.finished && r.open) std::abort();

  // Part data: in the body, in order, no delimiter inside.
  std::string delim = "\r\n--" + std::string(boundary);
  std::size_t from = 0;
  for (auto& d : r.datas) {
    if (d.empty()) continue;
    auto pos = body.find(d, from);
    if (pos == std::string_view::npos) std::abort();
    from = pos + d.size();
    for (auto q = d.find(delim); q != std::string::npos; q = d.find(delim, q + 1)) {
      std::size_t e = q + delim.size();
      if (e >= d.size()) std::abort();
      char c = d[e];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') std::abort();
      if (c == '-' && e + 1 < d.size() && d[e + 1] == '-') std::abort();
    }
  }
  out.ev = std::move(r.ev);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static constexpr std::string_view boundaries[] = {"b", "AaB03x", "--", "-b-", "a\r\nb", " x", "bb", ""};
  std::string_view boundary = boundaries[data[0] % 8];
  remora::http::multipart_limits limits;
  limits.max_header_size = data[1] & 0x80 ? 8192 : 2 + std::size_t(data[1]) * 2;
  limits.max_parts = data[2] & 0x80 ? 1000 : data[2] % 6;
  std::string_view raw(reinterpret_cast<const char*>(data + 3), size - 3);
  // With bit 6 of the first byte set, a few control bytes stand for header text and
  // delimiters, which the fuzzer would hardly find on its own (no dictionary).
  std::string expanded;
  if (data[0] & 0x40) {
    for (char c : raw) {
      switch (c) {
        case '\x01': expanded += "Content-Disposition: form-data; name="; break;
        case '\x02': expanded += "; filename="; break;
        case '\x03': expanded += "Content-Type: "; break;
        case '\x04': expanded += "Content-Transfer-Encoding: "; break;
        case '\x05': expanded += "\r\n--"; expanded += boundary; break;
        case '\x06': expanded += "\r\n"; break;
        default: expanded += c;
      }
    }
    raw = expanded;
  }
  std::string_view body = raw;

  auto whole = run(boundary, body, limits, [](std::size_t left) { return left; });
  auto bytes = run(boundary, body, limits, [](std::size_t) { return std::size_t(1); });
  if (!(whole == bytes)) std::abort();

  std::uint64_t seed = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 0x100000001b3ull;
  rng g{seed | 1};
  auto pieces = run(boundary, body, limits, [&](std::size_t left) {
    std::uint64_t r = g.next();
    std::size_t n = static_cast<std::size_t>((r >> 8) % ((std::uint64_t(1) << (r % 8)) + 1));  // 0..128
    return n < left ? n : left;
  });
  if (!(whole == pieces)) std::abort();
  return 0;
}
