// ba.aeskey, ba.aesencode and ba.aesdecode, in Mako's format (with Botan's AES), so that
// data encrypted by Mako decrypts here and the other way round:
//
//   ba.aeskey([16|32]) -> 16 or 32 random bytes (32 unless 16 is asked for)
//   ba.aesencode(key, data [, addlen]) -> base64url text (no padding)
//   ba.aesdecode(key, text [, addlen]) -> data | nil
//
// The key's first 32 bytes are used: up to 16 bytes, zero-padded, give AES-128; 17 to 32,
// zero-padded to 32, AES-256. The data gets a 4-byte big-endian length in front (unless
// addlen is false) and zero bytes up to a multiple of 16, and is XORed with AES of a counter
// that starts at 1 and is stored little-endian in the 16-byte block (not the usual CTR
// layout). There is no nonce and no MAC: the same key and data give the same text, as in
// Mako; use ba.crypto for anything new. Only editions built with crypto (Botan) have them.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Installs the three functions into the table at the top of the stack (the `ba` table); a
// no-op in a build without crypto.
void open_aes_lib(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/aes.ipp>
#endif
