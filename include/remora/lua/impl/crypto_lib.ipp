#pragma once
#include <remora/crypto/pki.hpp>
#include <remora/lua/bind.hpp>
#include <remora/lua/crypto_lib.hpp>

#include <lauxlib.h>
#include <lua.h>

#if REMORA_CRYPTO
#  include <botan/aead.h>
#  include <botan/ber_dec.h>
#  include <botan/base64.h>
#  include <botan/bigint.h>
#  include <botan/cipher_mode.h>
#  include <botan/der_enc.h>
#  include <botan/ecdsa.h>
#  include <botan/hash.h>
#  include <botan/hex.h>
#  include <botan/mac.h>
#  include <botan/pbkdf.h>
#  include <botan/pubkey.h>
#  include <botan/rsa.h>
#  include <botan/x509_ext.h>
#endif

#include <cctype>
#include <cstring>
#include <strings.h>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace remora::lua {

REMORA_DECL bool parse_cert_time(std::string_view t, std::int64_t& out) {
  // YYMMDDhhmm[ss]Z (UTCTime, 1950-2049) or YYYYMMDDhhmm[ss]Z (GeneralizedTime).
  if (t.empty() || t.back() != 'Z') return false;
  t.remove_suffix(1);
  for (char c : t)
    if (c < '0' || c > '9') return false;
  auto num = [&](std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v * 10 + (t[pos + i] - '0');
    return v;
  };
  std::size_t yl;  // 12 digits read as UTCTime with seconds
  if (t.size() == 10 || t.size() == 12)
    yl = 2;
  else if (t.size() == 14)
    yl = 4;
  else
    return false;
  std::tm tm{};
  int y = num(0, yl);
  if (yl == 2) y += y < 50 ? 2000 : 1900;
  tm.tm_year = y - 1900;
  tm.tm_mon = num(yl, 2) - 1;
  tm.tm_mday = num(yl + 2, 2);
  tm.tm_hour = num(yl + 4, 2);
  tm.tm_min = num(yl + 6, 2);
  tm.tm_sec = t.size() - yl == 10 ? num(yl + 8, 2) : 0;
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return false;
  out = std::int64_t(timegm(&tm));
  return true;
}

#if REMORA_CRYPTO
namespace detail {
namespace crypto_lua {

using bytes = std::vector<std::uint8_t>;

inline std::string to_string(const std::uint8_t* p, std::size_t n) { return std::string(reinterpret_cast<const char*>(p), n); }
template<class V>
std::string to_string(const V& v) {
  return to_string(v.data(), v.size());
}
inline const std::uint8_t* u8(const char* p) { return reinterpret_cast<const std::uint8_t*>(p); }

inline std::string_view check_sv(lua_State* L, int idx) {
  std::size_t n;
  const char* s = luaL_checklstring(L, idx, &n);
  return {s, n};
}

inline void push(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

// Lua hash names to Botan's; nullptr when unknown.
inline const char* hash_name(std::string_view n) {
  std::string k;
  for (char c : n)
    if (c != '-' && c != '_') k += char(std::tolower(static_cast<unsigned char>(c)));
  static const char* const names[][2] = {{"md5", "MD5"},       {"sha1", "SHA-1"},     {"sha224", "SHA-224"},
                                         {"sha256", "SHA-256"}, {"sha384", "SHA-384"}, {"sha512", "SHA-512"}};
  for (auto& p : names)
    if (k == p[0]) return p[1];
  return nullptr;
}

inline const char* check_hash(lua_State* L, int idx, const char* def) {
  if (def && lua_isnoneornil(L, idx)) return def;
  const char* n = luaL_checkstring(L, idx);
  const char* b = hash_name(n);
  if (!b) luaL_argerror(L, idx, lua_pushfstring(L, "unknown hash '%s' (md5, sha1, sha256, sha384, sha512)", n));
  return b;
}

// The digest a hash of `len` bytes came from (RSA signatures need to name it).
inline const char* hash_for_length(std::size_t len) {
  switch (len) {
    case 16: return "MD5";
    case 20: return "SHA-1";
    case 28: return "SHA-224";
    case 32: return "SHA-256";
    case 48: return "SHA-384";
    case 64: return "SHA-512";
    default: return nullptr;
  }
}

// Runs f (which returns the number of Lua results); a C++ exception (bad key, Botan's
// refusal) becomes `nil, message`. Lua errors (argument checks) pass through untouched.
template<class F>
int nil_on_throw(lua_State* L, F&& f) {
  std::string msg;
  try {
    return f();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  return fail(L, msg.c_str());
}

// Same, raising a Lua error instead.
template<class F>
int error_on_throw(lua_State* L, F&& f) {
  std::string msg;
  try {
    return f();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  return luaL_error(L, "%s", msg.c_str());
}

inline std::string opt_field(lua_State* L, int idx, const char* k) {
  std::string r;
  if (lua_type(L, idx) != LUA_TTABLE) return r;
  if (lua_getfield(L, idx, k) == LUA_TSTRING) {
    std::size_t n;
    const char* v = lua_tolstring(L, -1, &n);
    r.assign(v, n);
  }
  lua_pop(L, 1);
  return r;
}

// ---- hash --------------------------------------------------------------------------------

constexpr const char* hash_tname = "remora.crypto.hash";

struct hash_obj {
  std::unique_ptr<Botan::Buffered_Computation> h;
};

inline std::string encode_as(lua_State* L, int idx, const std::string& raw) {
  const char* enc = luaL_optstring(L, idx, "binary");
  if (!std::strcmp(enc, "binary")) return raw;
  if (!std::strcmp(enc, "hex")) return Botan::hex_encode(u8(raw.data()), raw.size(), false);
  if (!std::strcmp(enc, "b64") || !std::strcmp(enc, "base64")) return Botan::base64_encode(u8(raw.data()), raw.size());
  luaL_argerror(L, idx, "encoding must be binary, hex or b64");
  return {};
}

inline int hash_call(lua_State* L) {
  auto* o = check_object<hash_obj>(L, 1, hash_tname);
  if (lua_type(L, 2) == LUA_TBOOLEAN && lua_toboolean(L, 2)) {
    auto d = o->h->final();
    push(L, encode_as(L, 3, to_string(d)));
    return 1;
  }
  auto data = check_sv(L, 2);
  o->h->update(u8(data.data()), data.size());
  lua_settop(L, 1);
  return 1;
}

inline int crypto_hash(lua_State* L) {
  std::unique_ptr<Botan::Buffered_Computation> h;
  if (lua_type(L, 1) == LUA_TSTRING && !std::strcmp(lua_tostring(L, 1), "hmac")) {
    const char* name = check_hash(L, 2, nullptr);
    auto key = check_sv(L, 3);
    error_on_throw(L, [&] {
      auto mac = Botan::MessageAuthenticationCode::create_or_throw(std::string("HMAC(") + name + ")");
      mac->set_key(u8(key.data()), key.size());
      h = std::move(mac);
      return 0;
    });
  } else {
    h = Botan::HashFunction::create_or_throw(check_hash(L, 1, "SHA-1"));
  }
  push_object<hash_obj>(L, hash_tname, hash_obj{std::move(h)});
  return 1;
}

// ba.crypto.sha1(): the older shorthand for ba.crypto.hash("sha1"), a SHA-1 hash object.
inline int crypto_sha1(lua_State* L) {
  push_object<hash_obj>(L, hash_tname, hash_obj{Botan::HashFunction::create_or_throw("SHA-1")});
  return 1;
}

inline int crypto_pbkdf2(lua_State* L) {
  const char* name = check_hash(L, 1, nullptr);
  auto pw = check_sv(L, 2);
  auto salt = check_sv(L, 3);
  lua_Integer iter = luaL_checkinteger(L, 4), len = luaL_checkinteger(L, 5);
  luaL_argcheck(L, iter >= 1 && iter <= 100000000, 4, "iterations must be 1 to 100000000");
  luaL_argcheck(L, len >= 1 && len <= 65536, 5, "length must be 1 to 65536");
  return error_on_throw(L, [&] {
    auto kdf = Botan::PBKDF::create_or_throw(std::string("PBKDF2(") + name + ")");
    std::string out(std::size_t(len), '\0');
    kdf->pbkdf_iterations(reinterpret_cast<std::uint8_t*>(out.data()), out.size(), std::string(pw), u8(salt.data()),
                          salt.size(), std::size_t(iter));
    push(L, out);
    return 1;
  });
}

// ---- keys --------------------------------------------------------------------------------

// A base64url (JWK) or binary big-endian number.
inline Botan::BigInt jwk_number(std::string_view v) {
  bool b64 = v.size() >= 2;
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') b64 = false;
  if (b64) {
    std::string s(v);
    for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (s.size() % 4) s += '=';
    auto d = Botan::base64_decode(s);
    return Botan::BigInt(d.data(), d.size());
  }
  return Botan::BigInt(u8(v.data()), v.size());
}

// A public key from a table {x=, y=} or {n=, e=}.
inline std::unique_ptr<Botan::Public_Key> table_key(lua_State* L, int idx) {
  std::string x = opt_field(L, idx, "x"), y = opt_field(L, idx, "y");
  if (!x.empty() && !y.empty()) {
    auto bx = jwk_number(x), by = jwk_number(y);
    std::size_t n = std::max(bx.bytes(), by.bytes());
    Botan::EC_Group group(n <= 32 ? "secp256r1" : n <= 48 ? "secp384r1" : "secp521r1");
    auto point = group.point(bx, by);
    if (!point.on_the_curve()) throw crypto::pki_error("the EC point is not on the curve");
    return std::make_unique<Botan::ECDSA_PublicKey>(group, point);
  }
  std::string n = opt_field(L, idx, "n"), e = opt_field(L, idx, "e");
  if (!n.empty() && !e.empty()) return std::make_unique<Botan::RSA_PublicKey>(jwk_number(n), jwk_number(e));
  throw crypto::pki_error("key table needs x and y (ECC) or n and e (RSA)");
}

inline bool is_ec(const Botan::Public_Key& k) { return dynamic_cast<const Botan::EC_PublicKey*>(&k) != nullptr; }
inline bool is_rsa(const Botan::Public_Key& k) { return dynamic_cast<const Botan::RSA_PublicKey*>(&k) != nullptr; }

// The EMSA for a signature over an already computed digest.
inline std::string emsa_for(lua_State* L, const Botan::Public_Key& key, int op, std::size_t hash_len) {
  if (is_ec(key)) return "Raw";
  if (!is_rsa(key)) throw crypto::pki_error("unsupported key type " + key.algo_name());
  std::string pad = opt_field(L, op, "padding");
  std::string hid = opt_field(L, op, "hashid");
  if (hid.empty()) hid = opt_field(L, op, "hash");
  const char* h = hid.empty() ? hash_for_length(hash_len) : hash_name(hid);
  if (!h) throw crypto::pki_error(hid.empty() ? "cannot tell the hash from its length; set hashid" : "unknown hashid " + hid);
  if (pad.empty() || pad == "pkcs1") return std::string("EMSA3(Raw,") + h + ")";
  if (pad == "pss") return std::string("PSSR_Raw(") + h + ")";
  throw crypto::pki_error("padding must be pkcs1 or pss");
}

inline Botan::Signature_Format sig_format(const Botan::Public_Key& key) {
  return is_ec(key) ? Botan::DER_SEQUENCE : Botan::IEEE_1363;
}

inline int crypto_sign(lua_State* L) {
  auto hash = check_sv(L, 1);
  auto keytext = check_sv(L, 2);
  return nil_on_throw(L, [&] {
    auto key = crypto::load_private_key(keytext);
    Botan::PK_Signer signer(*key, crypto::rng(), emsa_for(L, *key, 3, hash.size()), sig_format(*key));
    push(L, to_string(signer.sign_message(u8(hash.data()), hash.size(), crypto::rng())));
    return 1;
  });
}

inline bool looks_like_pem(lua_State* L, int idx) {
  return lua_type(L, idx) == LUA_TSTRING && std::strstr(lua_tostring(L, idx), "-----BEGIN") != nullptr;
}

inline int crypto_verify(lua_State* L) {
  auto sig = check_sv(L, 1);
  // verify(sig, key, hash) and verify(sig, hash, key): the key is the table or the PEM text.
  int key_idx = 2;
  if (lua_istable(L, 3) || (looks_like_pem(L, 3) && !looks_like_pem(L, 2))) key_idx = 3;
  int hash_idx = key_idx == 2 ? 3 : 2;
  auto hash = check_sv(L, hash_idx);
  if (!lua_istable(L, key_idx)) check_sv(L, key_idx);
  return nil_on_throw(L, [&] {
    auto key = lua_istable(L, key_idx) ? table_key(L, key_idx) : crypto::load_public_key(check_sv(L, key_idx));
    Botan::PK_Verifier verifier(*key, emsa_for(L, *key, 4, hash.size()), sig_format(*key));
    bool ok = false;
    try {
      ok = verifier.verify_message(u8(hash.data()), hash.size(), u8(sig.data()), sig.size());
    } catch (const std::exception&) {  // a malformed signature does not verify
    }
    lua_pushboolean(L, ok);
    return 1;
  });
}

inline std::string oaep_or_pkcs1(lua_State* L, int op) {
  std::string pad = opt_field(L, op, "padding");
  if (pad.empty() || pad == "pkcs1") return "EME-PKCS1-v1_5";
  if (pad != "oaep") throw crypto::pki_error("padding must be pkcs1 or oaep");
  std::string hid = opt_field(L, op, "hashid");
  if (hid.empty()) hid = opt_field(L, op, "hash");
  const char* h = hid.empty() ? "SHA-1" : hash_name(hid);
  if (!h) throw crypto::pki_error("unknown hashid " + hid);
  return std::string("OAEP(") + h + ")";
}

inline int crypto_encrypt(lua_State* L) {
  auto data = check_sv(L, 1);
  auto keytext = check_sv(L, 2);
  return nil_on_throw(L, [&] {
    auto key = crypto::load_public_key(keytext);
    if (!is_rsa(*key)) throw crypto::pki_error("encrypt needs an RSA key");
    Botan::PK_Encryptor_EME enc(*key, crypto::rng(), oaep_or_pkcs1(L, 3));
    push(L, to_string(enc.encrypt(u8(data.data()), data.size(), crypto::rng())));
    return 1;
  });
}

inline int crypto_decrypt(lua_State* L) {
  auto data = check_sv(L, 1);
  auto keytext = check_sv(L, 2);
  return nil_on_throw(L, [&] {
    auto key = crypto::load_private_key(keytext);
    if (!is_rsa(*key)) throw crypto::pki_error("decrypt needs an RSA key");
    Botan::PK_Decryptor_EME dec(*key, crypto::rng(), oaep_or_pkcs1(L, 3));
    push(L, to_string(dec.decrypt(u8(data.data()), data.size())));
    return 1;
  });
}

inline int crypto_keysize(lua_State* L) {
  auto keytext = check_sv(L, 1);
  return nil_on_throw(L, [&] {
    auto info = crypto::describe(*crypto::load_public_key(keytext));
    if (info.type != "ECC" && info.type != "RSA") throw crypto::pki_error("unsupported key type " + info.type);
    lua_pushinteger(L, lua_Integer(info.bytes));
    push(L, info.type);
    return 2;
  });
}

inline int crypto_keyparams(lua_State* L) {
  auto keytext = check_sv(L, 1);
  return nil_on_throw(L, [&] {
    auto key = crypto::load_public_key(keytext);
    if (auto* ec = dynamic_cast<const Botan::EC_PublicKey*>(key.get())) {
      std::size_t n = (ec->domain().get_p_bits() + 7) / 8;
      const auto& p = ec->public_point();
      push(L, to_string(Botan::BigInt::encode_1363(p.get_affine_x(), n)));
      push(L, to_string(Botan::BigInt::encode_1363(p.get_affine_y(), n)));
      return 2;
    }
    if (auto* rsa = dynamic_cast<const Botan::RSA_PublicKey*>(key.get())) {
      push(L, to_string(Botan::BigInt::encode(rsa->get_n())));
      push(L, to_string(Botan::BigInt::encode(rsa->get_e())));
      return 2;
    }
    throw crypto::pki_error("unsupported key type " + key->algo_name());
  });
}

inline int crypto_sigparams(lua_State* L) {
  if (!lua_isnoneornil(L, 2)) {  // r, s -> DER
    auto r = check_sv(L, 1), s = check_sv(L, 2);
    std::vector<std::uint8_t> der;
    Botan::DER_Encoder(der)
        .start_cons(Botan::SEQUENCE)
        .encode(Botan::BigInt(u8(r.data()), r.size()))
        .encode(Botan::BigInt(u8(s.data()), s.size()))
        .end_cons();
    push(L, to_string(der));
    return 1;
  }
  auto der = check_sv(L, 1);
  Botan::BigInt r, s;
  try {
    Botan::BER_Decoder(u8(der.data()), der.size()).start_cons(Botan::SEQUENCE).decode(r).decode(s).end_cons().verify_end();
  } catch (const std::exception&) {
    return fail(L, "invalid ECDSA signature");
  }
  // Fixed-size halves (a JWS needs them): the smallest curve size both fit in.
  std::size_t n = std::max(r.bytes(), s.bytes());
  n = n <= 32 ? 32 : n <= 48 ? 48 : n <= 66 ? 66 : n;
  push(L, to_string(Botan::BigInt::encode_1363(r, n)));
  push(L, to_string(Botan::BigInt::encode_1363(s, n)));
  return 2;
}

// ---- symmetric -----------------------------------------------------------------------------

constexpr const char* sym_tname = "remora.crypto.symmetric";

struct sym_obj {
  bool gcm = false;
  int dir = 0;  // CBC: 0 not yet used, 1 encrypting, 2 decrypting
  std::string key, iv, aad;
  std::unique_ptr<Botan::Cipher_Mode> cbc;
};

inline bool check_pkcs7(lua_State* L, int idx) {
  if (lua_isnoneornil(L, idx)) return false;
  const char* p = luaL_checkstring(L, idx);
  if (strcasecmp(p, "PKCS7") != 0) luaL_argerror(L, idx, "padding must be \"PKCS7\"");
  return true;
}

inline void pad(Botan::secure_vector<std::uint8_t>& b) {
  std::size_t n = 16 - b.size() % 16;
  b.insert(b.end(), n, std::uint8_t(n));
}

inline bool unpad(Botan::secure_vector<std::uint8_t>& b) {
  if (b.empty() || b.size() % 16) return false;
  std::size_t n = b.back();
  if (n == 0 || n > 16) return false;
  for (std::size_t i = b.size() - n; i < b.size(); ++i)
    if (b[i] != n) return false;
  b.erase(b.end() - std::ptrdiff_t(n), b.end());  // (resize: g++ -O3 LTO cannot see it only shrinks)
  return true;
}

inline std::string aes_name(const sym_obj& o, const char* mode) {
  return "AES-" + std::to_string(o.key.size() * 8) + mode;
}

inline std::unique_ptr<Botan::AEAD_Mode> gcm_for(sym_obj& o, Botan::Cipher_Dir dir) {
  auto m = Botan::AEAD_Mode::create_or_throw(aes_name(o, "/GCM"), dir);
  m->set_key(u8(o.key.data()), o.key.size());
  m->set_associated_data(u8(o.aad.data()), o.aad.size());
  m->start(u8(o.iv.data()), o.iv.size());
  return m;
}

inline Botan::Cipher_Mode& cbc_for(lua_State* L, sym_obj& o, int dir) {
  if (o.dir && o.dir != dir) luaL_error(L, "this CBC object was made for %s", o.dir == 1 ? "encryption" : "decryption");
  if (!o.cbc) {
    o.cbc = Botan::Cipher_Mode::create_or_throw(aes_name(o, "/CBC/NoPadding"),
                                                 dir == 1 ? Botan::ENCRYPTION : Botan::DECRYPTION);
    o.cbc->set_key(u8(o.key.data()), o.key.size());
    o.cbc->start(u8(o.iv.data()), o.iv.size());
    o.dir = dir;
  }
  return *o.cbc;
}

inline int sym_setauth(lua_State* L) {
  auto* o = check_object<sym_obj>(L, 1, sym_tname);
  auto aad = check_sv(L, 2);
  if (!o->gcm) return luaL_error(L, "setauth is for GCM");
  o->aad.assign(aad);
  return 0;
}

inline int sym_encrypt(lua_State* L) {
  auto* o = check_object<sym_obj>(L, 1, sym_tname);
  auto data = check_sv(L, 2);
  bool padded = check_pkcs7(L, 3);
  Botan::secure_vector<std::uint8_t> b(data.begin(), data.end());
  if (padded) pad(b);
  if (o->gcm) {
    return error_on_throw(L, [&] {
      gcm_for(*o, Botan::ENCRYPTION)->finish(b);
      lua_pushlstring(L, reinterpret_cast<const char*>(b.data()), b.size() - 16);
      lua_pushlstring(L, reinterpret_cast<const char*>(b.data()) + b.size() - 16, 16);
      return 2;
    });
  }
  if (b.size() % 16) return luaL_error(L, "CBC data must be a multiple of 16 bytes (or use PKCS7 padding)");
  cbc_for(L, *o, 1).process(b.data(), b.size());
  push(L, to_string(b));
  return 1;
}

inline int sym_decrypt(lua_State* L) {
  auto* o = check_object<sym_obj>(L, 1, sym_tname);
  auto data = check_sv(L, 2);
  Botan::secure_vector<std::uint8_t> b(data.begin(), data.end());
  if (o->gcm) {
    auto tag = check_sv(L, 3);
    bool padded = check_pkcs7(L, 4);
    if (tag.size() != 16) return fail(L, "the GCM tag must be 16 bytes");
    b.insert(b.end(), tag.begin(), tag.end());
    try {
      gcm_for(*o, Botan::DECRYPTION)->finish(b);
    } catch (const std::exception&) {
      return fail(L, "authentication failed");
    }
    if (padded && !unpad(b)) return fail(L, "invalid padding");
    push(L, to_string(b));
    return 1;
  }
  bool padded = check_pkcs7(L, 3);
  if (b.size() % 16) return fail(L, "CBC data must be a multiple of 16 bytes");
  cbc_for(L, *o, 2).process(b.data(), b.size());
  if (padded && !unpad(b)) return fail(L, "invalid padding");
  push(L, to_string(b));
  return 1;
}

inline int crypto_symmetric(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  auto key = check_sv(L, 2);
  auto iv = check_sv(L, 3);
  sym_obj o;
  if (!strcasecmp(name, "GCM") || !strcasecmp(name, "AES-GCM"))
    o.gcm = true;
  else if (strcasecmp(name, "CBC") != 0 && strcasecmp(name, "AES-CBC") != 0)
    return luaL_argerror(L, 1, "cipher must be GCM or CBC");
  luaL_argcheck(L, key.size() == 16 || key.size() == 24 || key.size() == 32, 2, "AES key must be 16, 24 or 32 bytes");
  if (o.gcm)
    luaL_argcheck(L, !iv.empty() && iv.size() <= 128, 3, "GCM iv must be 1 to 128 bytes (12 usual)");
  else
    luaL_argcheck(L, iv.size() == 16, 3, "CBC iv must be 16 bytes");
  if (!lua_isnoneornil(L, 4)) {
    const char* op = luaL_checkstring(L, 4);
    if (!std::strcmp(op, "encrypt"))
      o.dir = 1;
    else if (!std::strcmp(op, "decrypt"))
      o.dir = 2;
    else
      return luaL_argerror(L, 4, "must be \"encrypt\" or \"decrypt\"");
    if (o.gcm) o.dir = 0;
  }
  o.key.assign(key);
  o.iv.assign(iv);
  push_object<sym_obj>(L, sym_tname, std::move(o));
  return 1;
}

// ---- ba.create.key / csr / certificate ---------------------------------------------------------

inline int create_key(lua_State* L) {
  crypto::key_options k;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    std::string type = opt_field(L, 1, "key");
    if (!type.empty() && type != "ecc" && type != "rsa") return luaL_argerror(L, 1, "key must be \"ecc\" or \"rsa\"");
    k.rsa = type == "rsa";
    std::string curve = opt_field(L, 1, "curve");
    if (!curve.empty()) k.curve = curve;
    lua_getfield(L, 1, "bits");
    if (!lua_isnil(L, -1)) k.bits = std::size_t(luaL_checkinteger(L, -1));
    lua_pop(L, 1);
    k.seed = opt_field(L, 1, "rnd");
  }
  return error_on_throw(L, [&] {
    push(L, crypto::private_key_pem(*crypto::generate_key(k)));
    return 1;
  });
}

// Names from a Lua list (or nil) mapped through `table`; an unknown name raises an error.
template<class T, std::size_t N>
std::vector<T> names_to(lua_State* L, int idx, const std::pair<const char*, T> (&table)[N], const char* what) {
  std::vector<T> out;
  if (lua_isnoneornil(L, idx)) return out;
  luaL_checktype(L, idx, LUA_TTABLE);
  for (lua_Integer i = 1;; ++i) {
    if (lua_rawgeti(L, idx, i) == LUA_TNIL) {
      lua_pop(L, 1);
      break;
    }
    const char* n = lua_tostring(L, -1);
    bool found = false;
    for (auto& p : table)
      if (n && !strcasecmp(n, p.first)) out.push_back(p.second), found = true;
    if (!found) luaL_error(L, "unknown %s '%s'", what, n ? n : luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  return out;
}

inline const std::pair<const char*, int> cert_types[] = {
    {"SSL_CLIENT", 0x80}, {"SSL_SERVER", 0x40}, {"EMAIL", 0x20},           {"OBJECT_SIGNING", 0x10},
    {"SSL_CA", 0x04},     {"EMAIL_CA", 0x02},   {"OBJECT_SIGNING_CA", 0x01}};
inline const std::pair<const char*, int> key_usages[] = {
    {"DIGITAL_SIGNATURE", Botan::DIGITAL_SIGNATURE}, {"NON_REPUDIATION", Botan::NON_REPUDIATION},
    {"KEY_ENCIPHERMENT", Botan::KEY_ENCIPHERMENT},   {"DATA_ENCIPHERMENT", Botan::DATA_ENCIPHERMENT},
    {"KEY_AGREEMENT", Botan::KEY_AGREEMENT},         {"KEY_CERT_SIGN", Botan::KEY_CERT_SIGN},
    {"CRL_SIGN", Botan::CRL_SIGN},                   {"ENCIPHER_ONLY", Botan::ENCIPHER_ONLY},
    {"DECIPHER_ONLY", Botan::DECIPHER_ONLY}};

inline bool is_cert_type_list(lua_State* L, int idx) {
  if (!lua_istable(L, idx)) return false;
  lua_rawgeti(L, idx, 1);
  bool yes = false;
  if (const char* n = lua_tostring(L, -1))
    for (auto& p : cert_types)
      if (!strcasecmp(n, p.first)) yes = true;
  lua_pop(L, 1);
  return yes;
}

inline std::vector<std::string> alt_names(lua_State* L, int idx) {
  std::vector<std::string> out;
  if (lua_type(L, idx) == LUA_TSTRING) {
    std::string s = lua_tostring(L, idx);
    std::size_t pos = 0;
    while (pos <= s.size()) {
      auto semi = s.find(';', pos);
      std::string part = s.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
      while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front()))) part.erase(0, 1);
      while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) part.pop_back();
      if (!part.empty()) out.push_back(part);
      if (semi == std::string::npos) break;
      pos = semi + 1;
    }
  } else if (lua_istable(L, idx)) {
    for (lua_Integer i = 1; lua_rawgeti(L, idx, i) == LUA_TSTRING; ++i) {
      out.push_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return out;
}

inline std::string dn_field(lua_State* L, int idx, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto v = opt_field(L, idx, n);
    if (!v.empty()) return v;
  }
  return {};
}

inline int create_csr(lua_State* L) {
  auto keytext = check_sv(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  crypto::csr_options c;
  c.subject.common_name = dn_field(L, 2, {"commonname", "cn"});
  c.subject.country = dn_field(L, 2, {"countryname", "country"});
  c.subject.state = dn_field(L, 2, {"statename", "provincename", "stateorprovincename", "state"});
  c.subject.locality = dn_field(L, 2, {"localityname", "locality"});
  c.subject.organization = dn_field(L, 2, {"organizationname", "organization"});
  c.subject.org_unit = dn_field(L, 2, {"organizationalunitname", "unitname", "organizationalunit"});
  c.subject.email = dn_field(L, 2, {"emailaddress", "email"});
  int idx = 3;
  if (lua_type(L, 3) == LUA_TSTRING || (lua_istable(L, 3) && !is_cert_type_list(L, 3))) c.alt_names = alt_names(L, idx++);
  for (int bit : names_to(L, idx, cert_types, "certtype")) {
    c.netscape_cert_type = std::uint8_t(c.netscape_cert_type | bit);
    const char* eku = bit == 0x80 ? "PKIX.ClientAuth"
                      : bit == 0x40 ? "PKIX.ServerAuth"
                      : bit == 0x20 ? "PKIX.EmailProtection"
                      : bit == 0x10 ? "PKIX.CodeSigning"
                                    : nullptr;
    if (eku) c.ext_key_usage.push_back(eku);
    else c.ca = true;
  }
  for (int u : names_to(L, idx + 1, key_usages, "keyusage")) c.key_usage = std::uint16_t(c.key_usage | u);
  c.hash = check_hash(L, idx + 2, "SHA-256");
  return nil_on_throw(L, [&] {
    auto key = crypto::load_private_key(keytext);
    // Usages a key type cannot have (KEY_ENCIPHERMENT on an ECC key, as the ACME client asks
    // for) are dropped, not refused.
    if (is_ec(*key)) c.key_usage &= std::uint16_t(~(Botan::KEY_ENCIPHERMENT | Botan::DATA_ENCIPHERMENT));
    else c.key_usage &= std::uint16_t(~(Botan::KEY_AGREEMENT | Botan::ENCIPHER_ONLY | Botan::DECIPHER_ONLY));
    push(L, crypto::create_csr(*key, c));
    return 1;
  });
}

inline std::chrono::system_clock::time_point time_arg(lua_State* L, int idx, std::chrono::system_clock::time_point def) {
  if (lua_isnoneornil(L, idx)) return def;
  if (lua_type(L, idx) == LUA_TNUMBER) return std::chrono::system_clock::from_time_t(std::time_t(luaL_checkinteger(L, idx)));
  luaL_checktype(L, idx, LUA_TTABLE);
  auto field = [&](const char* k, int d) {
    lua_getfield(L, idx, k);
    int v = lua_isnil(L, -1) ? d : int(luaL_checkinteger(L, -1));
    lua_pop(L, 1);
    return v;
  };
  std::tm tm{};
  tm.tm_year = field("year", -1) - 1900;
  tm.tm_mon = field("month", 0) - 1;
  tm.tm_mday = field("day", 0);
  tm.tm_hour = field("hour", 12);
  tm.tm_min = field("min", 0);
  tm.tm_sec = field("sec", 0);
  tm.tm_isdst = -1;
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1) luaL_argerror(L, idx, "date table needs year, month and day");
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

inline int create_certificate(lua_State* L) {
  auto csr = check_sv(L, 1);
  auto keytext = check_sv(L, 2);
  int idx = 3;
  std::string_view ca;
  if (lua_type(L, 3) == LUA_TSTRING) ca = check_sv(L, idx++);
  crypto::issue_options o;
  o.not_before = time_arg(L, idx, std::chrono::system_clock::now());
  o.not_after = time_arg(L, idx + 1, o.not_before + std::chrono::hours(24 * 365));
  if (!lua_isnoneornil(L, idx + 2)) {
    lua_Integer s = luaL_checkinteger(L, idx + 2);
    luaL_argcheck(L, s > 0, idx + 2, "serial must be positive");
    o.serial = std::uint64_t(s);
  }
  o.hash = check_hash(L, idx + 3, "SHA-256");
  return nil_on_throw(L, [&] {
    auto key = crypto::load_private_key(keytext);
    push(L, crypto::issue_certificate(csr, *key, ca, o));
    return 1;
  });
}

// ---- ba.parsecert -----------------------------------------------------------------------------

inline void set_str(lua_State* L, const char* k, const std::string& v) {
  push(L, v);
  lua_setfield(L, -2, k);
}

inline void push_list(lua_State* L, const std::vector<std::string>& v) {
  lua_createtable(L, int(v.size()), 0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    push(L, v[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
}

template<class Get>
void push_dn(lua_State* L, Get&& get) {
  static const char* const fields[][2] = {
      {"commonname", "X520.CommonName"},       {"countryname", "X520.Country"},
      {"statename", "X520.State"},             {"localityname", "X520.Locality"},
      {"organizationname", "X520.Organization"}, {"organizationalunitname", "X520.OrganizationalUnit"},
      {"emailaddress", "PKCS9.EmailAddress"}};
  lua_newtable(L);
  for (auto& f : fields) {
    std::vector<std::string> v = get(f[1]);
    if (!v.empty()) set_str(L, f[0], v.front());
  }
}

inline int parsecert(lua_State* L) {
  auto text = check_sv(L, 1);
  return nil_on_throw(L, [&] {
    auto cert = crypto::load_certificates(text).front();
    lua_newtable(L);
    push_dn(L, [&](const char* a) { return cert.subject_info(a); });
    lua_setfield(L, -2, "subject");
    push_dn(L, [&](const char* a) { return cert.issuer_info(a); });
    lua_setfield(L, -2, "issuer");
    lua_pushinteger(L, lua_Integer(cert.not_before().time_since_epoch()));
    lua_setfield(L, -2, "timefrom");
    lua_pushinteger(L, lua_Integer(cert.not_after().time_since_epoch()));
    lua_setfield(L, -2, "timeto");
    set_str(L, "tzfrom", cert.not_before().to_string());
    set_str(L, "tzto", cert.not_after().to_string());
    set_str(L, "serial", Botan::hex_encode(cert.serial_number()));
    auto info = crypto::describe(*cert.load_subject_public_key());
    set_str(L, "keytype", info.type);
    lua_pushinteger(L, lua_Integer(info.bytes));
    lua_setfield(L, -2, "keysize");
    std::vector<std::string> usage;
    for (auto& p : key_usages)
      if (cert.constraints() & p.second) usage.push_back(p.first);
    push_list(L, usage);
    lua_setfield(L, -2, "keyusage");
    std::vector<std::string> types;
    for (const auto& oid : cert.extended_key_usage()) {
      auto n = oid.to_formatted_string();
      if (n == "PKIX.ClientAuth") types.push_back("SSL_CLIENT");
      else if (n == "PKIX.ServerAuth") types.push_back("SSL_SERVER");
      else if (n == "PKIX.EmailProtection") types.push_back("EMAIL");
      else if (n == "PKIX.CodeSigning") types.push_back("OBJECT_SIGNING");
    }
    if (cert.is_CA_cert()) types.push_back("SSL_CA");
    push_list(L, types);
    lua_setfield(L, -2, "certtype");
    std::vector<std::string> alt;
    for (const auto& [k, v] : cert.subject_alt_name().contents())
      alt.push_back(k == "DNS" ? v : (k == "RFC822" ? "EMAIL" : k) + ":" + v);
    push_list(L, alt);
    lua_setfield(L, -2, "subjectaltnames");
    lua_pushboolean(L, cert.is_CA_cert());
    lua_setfield(L, -2, "isca");
    lua_pushboolean(L, cert.is_self_signed());
    lua_setfield(L, -2, "selfsigned");
    set_str(L, "sha1", Botan::hex_encode(Botan::HashFunction::create_or_throw("SHA-1")->process(cert.BER_encode()), false));
    set_str(L, "sha256", Botan::hex_encode(Botan::HashFunction::create_or_throw("SHA-256")->process(cert.BER_encode()), false));
    return 1;
  });
}

inline int parsecerttime(lua_State* L) {
  std::int64_t t = 0;
  if (!parse_cert_time(check_sv(L, 1), t)) t = 0;
  lua_pushinteger(L, lua_Integer(t));
  return 1;
}

}  // namespace crypto_lua
}  // namespace detail
#endif

REMORA_DECL void open_crypto_lib([[maybe_unused]] lua_State* L) {
#if REMORA_CRYPTO
  namespace c = detail::crypto_lua;
  static const luaL_Reg no_methods[] = {{nullptr, nullptr}};
  define_class<c::hash_obj>(L, c::hash_tname, no_methods);
  luaL_getmetatable(L, c::hash_tname);
  lua_pushcfunction(L, c::hash_call);
  lua_setfield(L, -2, "__call");
  lua_pop(L, 1);
  static const luaL_Reg sym_methods[] = {
      {"setauth", c::sym_setauth}, {"encrypt", c::sym_encrypt}, {"decrypt", c::sym_decrypt}, {nullptr, nullptr}};
  define_class<c::sym_obj>(L, c::sym_tname, sym_methods);

  static const luaL_Reg crypto[] = {{"hash", c::crypto_hash},         {"PBKDF2", c::crypto_pbkdf2},
                                    {"sign", c::crypto_sign},         {"verify", c::crypto_verify},
                                    {"sigparams", c::crypto_sigparams}, {"encrypt", c::crypto_encrypt},
                                    {"decrypt", c::crypto_decrypt},   {"keysize", c::crypto_keysize},
                                    {"keyparams", c::crypto_keyparams}, {"symmetric", c::crypto_symmetric},
                                    {"sha1", c::crypto_sha1},         {nullptr, nullptr}};
  luaL_newlib(L, crypto);
  lua_setfield(L, -2, "crypto");
  lua_pushcfunction(L, c::parsecert);
  lua_setfield(L, -2, "parsecert");
  lua_pushcfunction(L, c::parsecerttime);
  lua_setfield(L, -2, "parsecerttime");

  luaL_getsubtable(L, -1, "create");  // ba.create, made by whichever library comes first
  static const luaL_Reg create[] = {
      {"key", c::create_key}, {"csr", c::create_csr}, {"certificate", c::create_certificate}, {nullptr, nullptr}};
  luaL_setfuncs(L, create, 0);
  lua_pop(L, 1);
#endif
}

}  // namespace remora::lua
