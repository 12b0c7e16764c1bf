// libFuzzer target: the LSP compiler. Invariants: it never fails except for an unclosed tag,
// and the chunk always starts with the prologue.
#include <remora/lsp/compiler.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view page(reinterpret_cast<const char*>(data), size);
  std::string chunk, error;
  bool ok = remora::lsp::compile(page, chunk, error);
  if (ok && chunk.rfind("local _ENV,pathname,io,page,app=...;", 0) != 0) std::abort();
  if (!ok && (error.rfind("start tag without end tag at line# ", 0) != 0 ||
              page.find("<?lsp") == std::string_view::npos))
    std::abort();
  return 0;
}
