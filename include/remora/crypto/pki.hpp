// Keys and certificates with Botan: the small API that ba.create.key/csr/certificate,
// ba.parsecert and ba.crypto use, and that the TLS code can call (loading certfile/keyfile,
// the self-signed certificate made on first start). Only in editions built with crypto; every
// function throws remora::crypto::pki_error with a message fit for a user on bad input.
//
//   load_private_key(text)    PEM "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY" (PKCS#1),
//                             "EC PRIVATE KEY" (SEC1), or PKCS#8 DER
//   load_public_key(text)     PEM/DER "PUBLIC KEY" (SPKI), "RSA PUBLIC KEY", a certificate or
//                             a private key (its public half)
//   load_certificates(text)   every "CERTIFICATE" block of a PEM text (a chain), or one DER
//   generate_key(opts)        a new ECC (secp256r1/secp384r1/secp521r1, brainpool) or RSA key
//   private_key_pem(key)      SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", as Mako writes
//   create_csr(key, opts)     a PKCS#10 request (PEM)
//   issue_certificate(...)    signs a request: self-signed, or by a CA key + certificate (PEM)
//   self_signed_certificate   a self-signed certificate straight from a key (the TLS default)
//   matches(key, cert)        whether a private key belongs to a certificate
#pragma once
#include <remora/config.hpp>

#if REMORA_CRYPTO
#  include <botan/pk_keys.h>
#  include <botan/rng.h>
#  include <botan/x509cert.h>

#  include <chrono>
#  include <cstdint>
#  include <memory>
#  include <optional>
#  include <stdexcept>
#  include <string>
#  include <string_view>
#  include <vector>

namespace remora::crypto {

struct pki_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The process-wide system RNG (thread-safe).
Botan::RandomNumberGenerator& rng();

// One PEM block: its label ("CERTIFICATE", "PRIVATE KEY", ...) and the decoded DER.
struct pem_block {
  std::string label;
  std::vector<std::uint8_t> der;
};
// Every well-formed PEM block of `text`, in order (none for DER or garbage).
std::vector<pem_block> pem_blocks(std::string_view text);
std::string pem_encode(const std::vector<std::uint8_t>& der, const std::string& label);

std::unique_ptr<Botan::Private_Key> load_private_key(std::string_view text);
std::unique_ptr<Botan::Public_Key> load_public_key(std::string_view text);
std::vector<Botan::X509_Certificate> load_certificates(std::string_view text);

struct key_options {
  bool rsa = false;
  std::string curve = "secp256r1";  // ECC: secp256r1, secp384r1, secp521r1, brainpool*r1
  std::size_t bits = 2048;          // RSA: 1024 to 8192
  std::string seed;                 // non-empty: a deterministic key from these bytes
};
std::unique_ptr<Botan::Private_Key> generate_key(const key_options& opts);
std::string private_key_pem(const Botan::Private_Key& key);

// Key type and size as ba.crypto.keysize gives them: "ECC" with the coordinate size in bytes
// (32 for P-256), "RSA" with the modulus size in bytes.
struct key_info {
  std::string type;
  std::size_t bytes = 0;
};
key_info describe(const Botan::Public_Key& key);

// Distinguished name attributes (empty ones are left out).
struct name_fields {
  std::string common_name, country, state, locality, organization, org_unit, email;
};
// Subject alternative names: "DNS:x", "IP:1.2.3.4", "URI:x", "EMAIL:x" or a bare DNS name.
struct csr_options {
  name_fields subject;
  std::vector<std::string> alt_names;
  std::uint16_t key_usage = 0;              // Botan::Key_Constraints bits
  std::vector<std::string> ext_key_usage;   // OID names: "PKIX.ServerAuth", ...
  std::uint8_t netscape_cert_type = 0;      // the Netscape certificate type bits (0: none)
  bool ca = false;
  std::string hash = "SHA-256";
};
std::string create_csr(const Botan::Private_Key& key, const csr_options& opts);

struct issue_options {
  std::chrono::system_clock::time_point not_before, not_after;
  std::optional<std::uint64_t> serial;  // random when absent
  std::string hash = "SHA-256";
};
// `issuer_cert_pem` empty: self-signed (`signer` must be the request's key).
std::string issue_certificate(std::string_view csr_pem, const Botan::Private_Key& signer,
                              std::string_view issuer_cert_pem, const issue_options& opts);

// A self-signed server certificate for `names` (the first is the common name; IPv4 literals
// become IP alternative names), valid from an hour ago for `days` days.
Botan::X509_Certificate self_signed_certificate(const Botan::Private_Key& key, const std::vector<std::string>& names,
                                                unsigned days = 3650);

bool matches(const Botan::Private_Key& key, const Botan::X509_Certificate& cert);

}  // namespace remora::crypto
#endif

#if REMORA_HEADER_ONLY && REMORA_CRYPTO
#  include <remora/crypto/impl/pki.ipp>
#endif
