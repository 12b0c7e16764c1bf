#pragma once
#include <remora/lua/aes.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/impl/ba_core.ipp>  // b64_encode, b64_decode

#include <lauxlib.h>
#include <lua.h>

#if REMORA_CRYPTO
#  include <botan/block_cipher.h>
#  include <botan/system_rng.h>
#endif

#include <cctype>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace remora::lua {

#if REMORA_CRYPTO
namespace detail {

inline std::unique_ptr<Botan::BlockCipher> aes_for(std::string_view key) {
  std::string k(key.substr(0, 32));
  k.resize(k.size() <= 16 ? 16 : 32, '\0');
  auto cipher = Botan::BlockCipher::create_or_throw(k.size() == 16 ? "AES-128" : "AES-256");
  cipher->set_key(reinterpret_cast<const std::uint8_t*>(k.data()), k.size());
  return cipher;
}

// XORs `data` (a multiple of 16 bytes) with AES of the little-endian counter 1, 2, ...
// Mako only processes (length mod 65536) bytes and sends the rest of a longer text in the
// clear: a plain bug, not copied; here every block is encrypted.
inline void aes_ctr_le(Botan::BlockCipher& cipher, std::string& data) {
  std::uint8_t block[16];
  for (std::size_t off = 0, n = 1; off < data.size(); off += 16, ++n) {
    std::uint64_t v = n;
    for (int i = 0; i < 16; ++i) {
      block[i] = std::uint8_t(i < 8 ? v & 0xff : 0);
      if (i < 8) v >>= 8;
    }
    cipher.encrypt(block);
    for (int i = 0; i < 16; ++i) data[off + std::size_t(i)] = char(std::uint8_t(data[off + std::size_t(i)]) ^ block[i]);
  }
}

// Base64 in either alphabet; any other character is skipped, as Mako does.
inline bool b64_lenient(std::string_view in, std::string& out) {
  std::string clean;
  for (char ch : in)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/' || ch == '-' || ch == '_') clean += ch;
  return b64_decode(clean, out);
}

inline int ba_aeskey(lua_State* L) {
  lua_Integer n = luaL_optinteger(L, 1, 16);
  std::size_t size = n == 16 ? 16 : 32;
  std::string key(size, '\0');
  Botan::System_RNG().randomize(reinterpret_cast<std::uint8_t*>(key.data()), key.size());
  lua_pushlstring(L, key.data(), key.size());
  return 1;
}

inline int ba_aesencode(lua_State* L) {
  std::size_t kn, dn;
  const char* key = luaL_checklstring(L, 1, &kn);
  const char* data = luaL_checklstring(L, 2, &dn);
  bool addlen = !(lua_type(L, 3) == LUA_TBOOLEAN && !lua_toboolean(L, 3));
  std::string buf;
  if (addlen) {
    if (dn > 0xffffffffu) return luaL_argerror(L, 2, "too long");
    for (int i = 3; i >= 0; --i) buf.push_back(char((std::uint64_t(dn) >> (8 * i)) & 0xff));
  }
  buf.append(data, dn);
  buf.resize((buf.size() + 15) / 16 * 16, '\0');
  aes_ctr_le(*aes_for({key, kn}), buf);
  std::string out = b64_encode(buf, true);  // base64url, no padding
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

inline int ba_aesdecode(lua_State* L) {
  std::size_t kn, sn;
  const char* key = luaL_checklstring(L, 1, &kn);
  const char* text = luaL_checklstring(L, 2, &sn);
  bool addlen = !(lua_type(L, 3) == LUA_TBOOLEAN && !lua_toboolean(L, 3));
  std::string buf;
  if (!b64_lenient({text, sn}, buf) || buf.empty() || buf.size() % 16 != 0) {
    lua_pushnil(L);
    return 1;
  }
  aes_ctr_le(*aes_for({key, kn}), buf);
  if (!addlen) {
    lua_pushlstring(L, buf.data(), buf.size());
    return 1;
  }
  std::uint64_t len = 0;
  for (int i = 0; i < 4; ++i) len = len << 8 | std::uint8_t(buf[std::size_t(i)]);
  // Mako compares the length with the whole text and may return up to 4 bytes of padding;
  // a length past the data means a wrong key: nil.
  if (len > buf.size() - 4 || buf.size() - 4 - len >= 16) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, buf.data() + 4, std::size_t(len));
  return 1;
}

}  // namespace detail
#endif

REMORA_DECL void open_aes_lib([[maybe_unused]] lua_State* L) {
#if REMORA_CRYPTO
  lua_pushcfunction(L, detail::ba_aeskey);
  lua_setfield(L, -2, "aeskey");
  lua_pushcfunction(L, detail::ba_aesencode);
  lua_setfield(L, -2, "aesencode");
  lua_pushcfunction(L, detail::ba_aesdecode);
  lua_setfield(L, -2, "aesdecode");
#endif
}

}  // namespace remora::lua
