// libFuzzer target: the input opened as a ZIP archive from memory; every entry read (whole and
// streamed), every directory listed, every name looked up. Nothing may crash, hang or leak
// whatever the bytes claim.
#include <remora/zip/archive.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

// Entries may legitimately declare large sizes; reading them whole is capped so a single
// input cannot make the fuzzer allocate gigabytes, and streaming stops after as many bytes.
constexpr std::uint64_t max_read = 1u << 20;

void walk(const remora::zip::archive& a, const std::string& dir, int depth) {
  if (depth > 64) return;
  a.list(dir, [&](std::string_view name, bool is_dir, const remora::zip::entry* e) {
    if (name.empty() || name.find('/') != std::string_view::npos) std::abort();  // one segment each
    const std::string path = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
    if (is_dir) {
      if (!a.is_dir(path)) std::abort();
      if (e != nullptr && !e->is_dir()) std::abort();
      walk(a, path, depth + 1);
    } else if (e == nullptr || a.find(path) != e) {
      std::abort();
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string error;
  auto a = remora::zip::archive::open(remora::zip::memory_source(data, size), error);
  if (!a) {
    if (error.empty()) std::abort();  // a failure always says why
    return 0;
  }
  for (const remora::zip::entry& e : a->entries()) {
    if (a->find(e.name) != &e) std::abort();  // duplicates were dropped at open
    if (remora::zip::name_problem(e.name) != nullptr) std::abort();
    std::string out;
    if (e.size <= max_read) {
      const bool ok = a->read(e, out, error);
      if (ok && out.size() != e.size) std::abort();
    }
    if (auto r = a->open_reader(e, error)) {
      char buf[4096];
      std::uint64_t total = 0;
      for (std::ptrdiff_t k; total < max_read && (k = r->read(buf, sizeof buf, error)) > 0;)
        total += static_cast<std::uint64_t>(k);
      if (total > e.size) std::abort();
    }
  }
  walk(*a, "", 0);
  return 0;
}
