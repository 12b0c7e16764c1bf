// ba.crypto, ba.create.key/csr/certificate, ba.parsecert and ba.parsecerttime with Botan, in
// Mako's forms (worked out from the public BAS Lua modules that call them: jwt, acme, the
// OPC UA stack, CryptoIO, WebAuthn). Only editions built with crypto have them.
//
// ba.crypto.hash([name]) -> h                  name: md5, sha1 (default), sha224, sha256,
//   ba.crypto.hash("hmac", name, key) -> h     sha384, sha512; anything else raises an error.
//   h(data) -> h                               Streams data (chainable: h(a)(b)).
//   h(true [, enc]) -> digest                  enc: "binary" (default), "hex" (lower case), "b64".
//                                              Finalizing resets h (an HMAC keeps its key).
// ba.crypto.sha1() -> h                        the older shorthand for hash("sha1")
// ba.crypto.PBKDF2(name, password, salt, iterations, len) -> bytes        (RFC 8018, HMAC-name)
// ba.crypto.sign(hash, key [, op]) -> signature | nil, err
//   key: PEM private key. ECC: ECDSA over the given digest, DER signature. RSA: op.padding
//   "pkcs1" (default) or "pss", op.hashid (or op.hash) names the digest (default: by length).
// ba.crypto.verify(sig, key, hash [, op]) -> boolean | nil, err
//   The key and the hash may come in either order (BAS code uses both); key: PEM public key,
//   certificate or private key, or a table {x=, y=} (EC) / {n=, e=} (RSA) of big-endian
//   binary or base64url values. A signature that does not verify gives false.
// ba.crypto.sigparams(der) -> r, s             ECDSA DER signature to fixed-size r and s.
// ba.crypto.sigparams(r, s) -> der             and back.
// ba.crypto.encrypt(data, key [, op]) -> bytes | nil, err   RSA: op.padding "pkcs1" (default)
// ba.crypto.decrypt(data, key [, op]) -> bytes | nil, err   or "oaep" (op.hashid, default sha1).
// ba.crypto.keysize(key) -> bytes, "ECC" | "RSA" | nil, err      (32 for P-256, 256 for RSA 2048)
// ba.crypto.keyparams(key) -> x, y (ECC) | n, e (RSA) | nil, err  big-endian binary strings.
// ba.crypto.symmetric("GCM" | "CBC", key, iv [, "encrypt" | "decrypt"]) -> s
//   AES with a 16, 24 or 32 byte key; GCM: any non-empty iv (12 bytes usual), CBC: 16 bytes.
//   s:setauth(aad)                             GCM additional authenticated data.
//   s:encrypt(data [, "PKCS7"]) -> cipher, tag (GCM) | cipher (CBC)
//   s:decrypt(cipher, tag [, "PKCS7"]) (GCM) | s:decrypt(cipher [, "PKCS7"]) (CBC)
//                                             -> data | nil, err (wrong tag or padding)
//   GCM: every call is one message under the object's key and iv (as Mako's CryptoIO uses
//   it); never encrypt two different texts with one object unless the iv changes. CBC chains
//   from one call to the next; without padding the data must be a multiple of 16 bytes.
// ba.create.key([op]) -> PEM                  op.key "ecc" (default) | "rsa", op.curve
//   ("SECP256R1" default, SECP384R1, SECP521R1, BRAINPOOLP256R1/384/512), op.bits (RSA, 2048),
//   op.rnd (bytes: a deterministic key, as ba.tpm derives one; not Mako's derivation).
//   ECC keys are written as "EC PRIVATE KEY" (SEC1), RSA as "RSA PRIVATE KEY" (PKCS#1).
// ba.create.csr(key, dn [, altnames], certtype, keyusage [, hashid]) -> PEM | nil, err
//   dn: {commonname, countryname, statename, localityname, organizationname,
//   organizationalunitname, emailaddress}; altnames: "a;DNS:b;IP:1.2.3.4;URI:u" or a list;
//   certtype: {"SSL_CLIENT", "SSL_SERVER", "EMAIL", "OBJECT_SIGNING", "SSL_CA", "EMAIL_CA",
//   "OBJECT_SIGNING_CA"}; keyusage: {"DIGITAL_SIGNATURE", "NON_REPUDIATION",
//   "KEY_ENCIPHERMENT", "DATA_ENCIPHERMENT", "KEY_AGREEMENT", "KEY_CERT_SIGN", "CRL_SIGN",
//   "ENCIPHER_ONLY", "DECIPHER_ONLY"}; hashid: "sha256" (default), sha384, sha512, sha1.
// ba.create.certificate(csr, key [, cacert], [validfrom, validto [, serial [, hashid]]])
//   -> PEM | nil, err. Self-signed without cacert (key must be the request's); validfrom and
//   validto are os.date("*t") tables (local time) or seconds since the epoch (default: now,
//   one year); serial: integer (default random).
// ba.parsecert(cert) -> table | nil, err      cert: DER or PEM. {subject={commonname=...},
//   issuer={...}, timefrom=, timeto= (seconds since the epoch), tzfrom=, tzto= (the ASN.1
//   times, "YYMMDDhhmmssZ"), serial (hex), keytype ("ECC"|"RSA"), keysize (bytes),
//   keyusage={...}, certtype={...}, subjectaltnames={...}, isca, selfsigned, sha1, sha256
//   (hex fingerprints)}.
// ba.parsecerttime(t) -> seconds since the epoch; 0 when t is not "YY[YY]MMDDhhmm[ss]Z".
#pragma once
#include <remora/config.hpp>

#include <cstdint>
#include <string_view>

struct lua_State;

namespace remora::lua {

// Installs crypto, parsecert and parsecerttime into the table at the top of the stack (the
// `ba` table) and key/csr/certificate into its `create` table; a no-op without crypto.
void open_crypto_lib(lua_State* L);

// ASN.1 UTCTime/GeneralizedTime text to seconds since the epoch; false when malformed.
bool parse_cert_time(std::string_view text, std::int64_t& out);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/crypto_lib.ipp>
#endif
