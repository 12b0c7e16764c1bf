// libFuzzer target: the certificate and key parsers on arbitrary bytes (DER, PEM, garbage),
// through Lua as applications call them. Invariants: ba.parsecert gives nil, message or a
// table whose times ba.parsecerttime reads back from tzfrom/tzto; ba.crypto.keysize,
// keyparams and ba.crypto.sigparams give nil or well-formed values; ba.parsecerttime gives
// an integer. Any Lua error is a finding (abort). The input is tried raw and inside a PEM
// armour (so the DER parsers behind the PEM labels are reached too).
#include <remora/config.hpp>

#include <cstddef>
#include <cstdint>

#if REMORA_CRYPTO
#  include <remora/lua/ba_core.hpp>
#  include <remora/lua/crypto_lib.hpp>

#  include "lua_checks.hpp"

namespace {
constexpr const char* checks = R"lua(
local raw = ...
local function pem(label) return "-----BEGIN " .. label .. "-----\n" .. ba.b64encode(raw) .. "\n-----END " .. label .. "-----\n" end
for _, s in ipairs{raw, pem"CERTIFICATE", pem"EC PRIVATE KEY", pem"RSA PRIVATE KEY", pem"PRIVATE KEY", pem"PUBLIC KEY"} do
  local t, err = ba.parsecert(s)
  if t then
    assert(type(t.subject) == "table" and type(t.issuer) == "table")
    assert(ba.parsecerttime(t.tzto) == t.timeto or t.timeto < 0 or t.timeto > 253402300799)
    assert(math.type(t.keysize) == "integer")
  else
    assert(type(err) == "string")
  end
  local n, kind = ba.crypto.keysize(s)
  if n then
    assert(math.type(n) == "integer" and (kind == "ECC" or kind == "RSA"))
    local a, b = ba.crypto.keyparams(s)
    assert(type(a) == "string" and type(b) == "string")
  end
end
local r, s = ba.crypto.sigparams(raw)
if r then assert(#r == #s and ba.crypto.sigparams(ba.crypto.sigparams(r, s)) == r) end
assert(math.type(ba.parsecerttime(raw)) == "integer")
)lua";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static lua_State* L = make_checks_state(checks, {remora::lua::open_ba_core, remora::lua::open_crypto_lib});
  return run_checks(L, "pki_fuzz", data, size);
}
#else
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
#endif
