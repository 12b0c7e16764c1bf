#pragma once
#include <remora/crypto/pki.hpp>

#if REMORA_CRYPTO
#  include <botan/auto_rng.h>
#  include <botan/ber_dec.h>
#  include <botan/data_src.h>
#  include <botan/der_enc.h>
#  include <botan/ec_group.h>
#  include <botan/hash.h>
#  include <botan/ecdsa.h>
#  include <botan/hmac_drbg.h>
#  include <botan/mac.h>
#  include <botan/pem.h>
#  include <botan/pk_algs.h>
#  include <botan/pkcs10.h>
#  include <botan/pkcs8.h>
#  include <botan/pubkey.h>
#  include <botan/rsa.h>
#  include <botan/system_rng.h>
#  include <botan/x509_ca.h>
#  include <botan/x509_ext.h>
#  include <botan/x509_key.h>
#  include <botan/x509self.h>

#  include <algorithm>
#  include <cctype>

namespace remora::crypto {

namespace detail {

inline std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

inline bool is_ipv4(std::string_view s) {
  int dots = 0, digits = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0) return false;
      ++dots, digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0;
}

// The SEC1 ECPrivateKey structure (RFC 5915) with the curve in [0], as OpenSSL and Mako write it.
inline std::unique_ptr<Botan::Private_Key> load_sec1(const std::vector<std::uint8_t>& der) {
  std::size_t version = 0;
  Botan::secure_vector<std::uint8_t> scalar;
  Botan::OID curve;
  Botan::BER_Decoder(der)
      .start_cons(Botan::SEQUENCE)
      .decode(version)
      .decode(scalar, Botan::OCTET_STRING)
      .decode_optional(curve, Botan::ASN1_Tag(0), Botan::ASN1_Tag(Botan::CONSTRUCTED | Botan::CONTEXT_SPECIFIC));
  if (version != 1 || curve.empty()) throw pki_error("EC private key without a named curve");
  Botan::EC_Group group(curve);
  Botan::BigInt x(scalar.data(), scalar.size());
  // Botan makes a random key for 0: refuse it, and anything not below the order.
  if (x.is_zero() || x >= group.get_order()) throw pki_error("EC private key out of range");
  return std::make_unique<Botan::ECDSA_PrivateKey>(rng(), group, x);
}

inline std::unique_ptr<Botan::Private_Key> load_private_der(const std::string& label, const std::vector<std::uint8_t>& der) {
  Botan::secure_vector<std::uint8_t> bits(der.begin(), der.end());
  if (label == "RSA PRIVATE KEY")
    return std::make_unique<Botan::RSA_PrivateKey>(
        Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM), bits);
  if (label == "EC PRIVATE KEY") return load_sec1(der);
  if (label == "ENCRYPTED PRIVATE KEY") throw pki_error("encrypted private keys are not supported");
  Botan::DataSource_Memory src(der);
  return Botan::PKCS8::load_key(src);
}

// Runs `f`, turning any Botan (or other std) exception into a pki_error naming `what`.
template<class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const pki_error&) {
    throw;
  } catch (const std::exception& e) {
    throw pki_error(std::string(what) + ": " + e.what());
  }
}

inline Botan::X509_DN make_dn(const name_fields& n) {
  Botan::X509_DN dn;
  auto add = [&](const char* oid, const std::string& v) {
    if (!v.empty()) dn.add_attribute(oid, v);
  };
  add("X520.Country", n.country);
  add("X520.State", n.state);
  add("X520.Locality", n.locality);
  add("X520.Organization", n.organization);
  add("X520.OrganizationalUnit", n.org_unit);
  add("X520.CommonName", n.common_name);
  add("PKCS9.EmailAddress", n.email);
  if (dn.empty()) throw pki_error("the distinguished name needs at least one attribute (commonname)");
  return dn;
}

inline Botan::AlternativeName make_alt_names(const std::vector<std::string>& names) {
  Botan::AlternativeName alt;
  for (const auto& n : names) {
    auto colon = n.find(':');
    std::string kind = colon == std::string::npos ? "" : lower(n.substr(0, colon));
    std::string value = colon == std::string::npos ? n : n.substr(colon + 1);
    if (kind == "dns" || kind.empty()) {
      if (kind.empty() && is_ipv4(value))
        alt.add_attribute("IP", value);
      else
        alt.add_attribute("DNS", value);
    } else if (kind == "ip") {
      if (!is_ipv4(value)) throw pki_error("alternative name " + n + ": only IPv4 addresses are supported");
      alt.add_attribute("IP", value);
    } else if (kind == "uri" || kind == "urn" || kind == "http" || kind == "https") {
      alt.add_attribute("URI", kind == "uri" ? value : n);
    } else if (kind == "email") {
      alt.add_attribute("RFC822", value);
    } else {
      throw pki_error("alternative name " + n + ": unknown kind (DNS, IP, URI or EMAIL)");
    }
  }
  return alt;
}

// The Netscape certificate type extension (2.16.840.1.113730.1.1), a named bit string, which
// Mako's ba.create.csr sets from its `certtype` list; Botan has no class for it.
class netscape_cert_type final : public Botan::Certificate_Extension {
 public:
  explicit netscape_cert_type(std::uint8_t bits) : bits_(bits) {}
  Botan::OID oid_of() const override { return Botan::OID("2.16.840.1.113730.1.1"); }
  std::string oid_name() const override { return "Netscape.CertType"; }
  Certificate_Extension* copy() const override { return new netscape_cert_type(bits_); }
  bool should_encode() const override { return bits_ != 0; }
  std::vector<std::uint8_t> encode_inner() const override {
    std::uint8_t unused = 0;
    while (unused < 7 && !(bits_ >> unused & 1)) ++unused;
    return {0x03, 0x02, unused, bits_};
  }
  void decode_inner(const std::vector<std::uint8_t>& in) override { bits_ = in.size() == 4 ? in[3] : 0; }
  void contents_to(Botan::Data_Store&, Botan::Data_Store&) const override {}

 private:
  std::uint8_t bits_;
};

inline std::unique_ptr<Botan::PK_Signer> signer_for(const Botan::Private_Key& key, const std::string& hash,
                                                    Botan::AlgorithmIdentifier& alg) {
  return std::unique_ptr<Botan::PK_Signer>(Botan::choose_sig_format(key, rng(), hash, alg));
}

}  // namespace detail

REMORA_DECL Botan::RandomNumberGenerator& rng() { return Botan::system_rng(); }

REMORA_DECL std::vector<pem_block> pem_blocks(std::string_view text) {
  std::vector<pem_block> out;
  static constexpr std::string_view begin = "-----BEGIN ", end = "-----END ";
  std::size_t pos = 0;
  while ((pos = text.find(begin, pos)) != std::string_view::npos) {
    auto label_end = text.find("-----", pos + begin.size());
    if (label_end == std::string_view::npos) break;
    std::string label(text.substr(pos + begin.size(), label_end - pos - begin.size()));
    std::string tail = std::string(end) + label + "-----";
    auto stop = text.find(tail, label_end);
    if (stop == std::string_view::npos) break;
    std::string block(text.substr(pos, stop + tail.size() - pos));
    pos = stop + tail.size();
    try {
      std::string got;
      auto der = Botan::PEM_Code::decode(block, got);
      out.push_back({got, std::vector<std::uint8_t>(der.begin(), der.end())});
    } catch (const std::exception&) {  // a damaged block is skipped
    }
  }
  return out;
}

REMORA_DECL std::string pem_encode(const std::vector<std::uint8_t>& der, const std::string& label) {
  return Botan::PEM_Code::encode(der, label);
}

REMORA_DECL std::unique_ptr<Botan::Private_Key> load_private_key(std::string_view text) {
  return detail::guarded("invalid private key", [&]() -> std::unique_ptr<Botan::Private_Key> {
    for (const auto& b : pem_blocks(text))
      if (b.label.find("PRIVATE KEY") != std::string::npos) return detail::load_private_der(b.label, b.der);
    if (text.find("-----BEGIN") != std::string_view::npos) throw pki_error("invalid private key: no PEM private key");
    return detail::load_private_der("PRIVATE KEY", std::vector<std::uint8_t>(text.begin(), text.end()));
  });
}

REMORA_DECL std::unique_ptr<Botan::Public_Key> load_public_key(std::string_view text) {
  return detail::guarded("invalid public key", [&]() -> std::unique_ptr<Botan::Public_Key> {
    for (const auto& b : pem_blocks(text)) {
      if (b.label == "PUBLIC KEY") return std::unique_ptr<Botan::Public_Key>(Botan::X509::load_key(b.der));
      if (b.label == "RSA PUBLIC KEY")
        return std::make_unique<Botan::RSA_PublicKey>(
            Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM), b.der);
      if (b.label == "CERTIFICATE") return Botan::X509_Certificate(b.der).load_subject_public_key();
      if (b.label.find("PRIVATE KEY") != std::string::npos) return detail::load_private_der(b.label, b.der);
    }
    if (text.find("-----BEGIN") != std::string_view::npos) throw pki_error("no PEM key or certificate");
    std::vector<std::uint8_t> der(text.begin(), text.end());
    try {
      return std::unique_ptr<Botan::Public_Key>(Botan::X509::load_key(der));
    } catch (const std::exception&) {
      return Botan::X509_Certificate(der).load_subject_public_key();
    }
  });
}

REMORA_DECL std::vector<Botan::X509_Certificate> load_certificates(std::string_view text) {
  return detail::guarded("invalid certificate", [&] {
    std::vector<Botan::X509_Certificate> out;
    for (const auto& b : pem_blocks(text))
      if (b.label == "CERTIFICATE" || b.label == "X509 CERTIFICATE" || b.label == "TRUSTED CERTIFICATE")
        out.emplace_back(b.der);
    if (out.empty()) {
      if (text.find("-----BEGIN") != std::string_view::npos) throw pki_error("no PEM certificate");
      out.emplace_back(std::vector<std::uint8_t>(text.begin(), text.end()));
    }
    return out;
  });
}

REMORA_DECL std::unique_ptr<Botan::Private_Key> generate_key(const key_options& opts) {
  std::unique_ptr<Botan::RandomNumberGenerator> seeded;
  if (!opts.seed.empty()) {
    auto drbg = std::make_unique<Botan::HMAC_DRBG>(Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-256)"));
    // No reseeding (no entropy source); the seed is stretched to the DRBG's 256-bit level.
    auto seed = Botan::HashFunction::create_or_throw("SHA-512")->process(opts.seed);
    drbg->initialize_with(seed.data(), seed.size());
    seeded = std::move(drbg);
  }
  Botan::RandomNumberGenerator& r = seeded ? *seeded : rng();
  if (opts.rsa) {
    if (opts.bits < 1024 || opts.bits > 8192) throw pki_error("RSA key size must be 1024 to 8192 bits");
    return std::make_unique<Botan::RSA_PrivateKey>(r, opts.bits);
  }
  std::string curve = detail::lower(opts.curve);
  static const char* const known[] = {"secp256r1", "secp384r1", "secp521r1", "brainpool256r1", "brainpool384r1",
                                      "brainpool512r1"};
  if (std::find(std::begin(known), std::end(known), curve) == std::end(known))
    throw pki_error("unknown curve " + opts.curve + " (SECP256R1, SECP384R1, SECP521R1, BRAINPOOLP256R1, ...)");
  return std::make_unique<Botan::ECDSA_PrivateKey>(r, Botan::EC_Group(curve));
}

REMORA_DECL std::string private_key_pem(const Botan::Private_Key& key) {
  if (auto* ec = dynamic_cast<const Botan::EC_PrivateKey*>(&key)) {
    const auto& group = ec->domain();
    std::size_t n = (group.get_order_bits() + 7) / 8;
    auto scalar = Botan::BigInt::encode_1363(ec->private_value(), n);
    auto point = ec->public_point().encode(Botan::PointGFp::UNCOMPRESSED);
    std::vector<std::uint8_t> der;
    Botan::DER_Encoder(der)
        .start_cons(Botan::SEQUENCE)
        .encode(std::size_t(1))
        .encode(scalar, Botan::OCTET_STRING)
        .start_explicit(0)
        .encode(group.get_curve_oid())
        .end_explicit()
        .start_explicit(1)
        .encode(point, Botan::BIT_STRING)
        .end_explicit()
        .end_cons();
    return pem_encode(der, "EC PRIVATE KEY");
  }
  if (dynamic_cast<const Botan::RSA_PrivateKey*>(&key)) {
    auto bits = key.private_key_bits();
    return pem_encode(std::vector<std::uint8_t>(bits.begin(), bits.end()), "RSA PRIVATE KEY");
  }
  return Botan::PKCS8::PEM_encode(key);
}

REMORA_DECL key_info describe(const Botan::Public_Key& key) {
  if (auto* ec = dynamic_cast<const Botan::EC_PublicKey*>(&key))
    return {"ECC", (ec->domain().get_p_bits() + 7) / 8};
  if (auto* rsa = dynamic_cast<const Botan::RSA_PublicKey*>(&key)) return {"RSA", rsa->get_n().bytes()};
  return {key.algo_name(), (key.key_length() + 7) / 8};
}

REMORA_DECL std::string create_csr(const Botan::Private_Key& key, const csr_options& opts) {
  return detail::guarded("cannot create the CSR", [&] {
    Botan::Extensions ext;
    ext.add(new Botan::Cert_Extension::Basic_Constraints(opts.ca, opts.ca ? 8 : 0), opts.ca);
    if (opts.key_usage) ext.add(new Botan::Cert_Extension::Key_Usage(Botan::Key_Constraints(opts.key_usage)), true);
    if (!opts.ext_key_usage.empty()) {
      std::vector<Botan::OID> oids;
      for (const auto& n : opts.ext_key_usage) oids.push_back(Botan::OID::from_string(n));
      ext.add(new Botan::Cert_Extension::Extended_Key_Usage(oids));
    }
    if (!opts.alt_names.empty())
      ext.add(new Botan::Cert_Extension::Subject_Alternative_Name(detail::make_alt_names(opts.alt_names)));
    if (opts.netscape_cert_type) ext.add(new detail::netscape_cert_type(opts.netscape_cert_type));
    auto req = Botan::PKCS10_Request::create(key, detail::make_dn(opts.subject), ext, opts.hash, rng());
    return req.PEM_encode();
  });
}

REMORA_DECL std::string issue_certificate(std::string_view csr_pem, const Botan::Private_Key& signer,
                                          std::string_view issuer_cert_pem, const issue_options& opts) {
  return detail::guarded("cannot create the certificate", [&] {
    std::vector<std::uint8_t> der;
    for (const auto& b : pem_blocks(csr_pem))
      if (b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST") der = b.der;
    if (der.empty()) {
      if (csr_pem.find("-----BEGIN") != std::string_view::npos) throw pki_error("no PEM certificate request");
      der.assign(csr_pem.begin(), csr_pem.end());
    }
    Botan::PKCS10_Request req(der);
    auto pub = std::unique_ptr<Botan::Public_Key>(req.subject_public_key());
    if (!req.check_signature(*pub)) throw pki_error("the request's signature does not verify");
    Botan::Extensions ext = req.extensions();
    auto key_id = Botan::Cert_Extension::Subject_Key_ID(req.raw_public_key(), opts.hash).get_key_id();
    ext.replace(new Botan::Cert_Extension::Subject_Key_ID(key_id));
    Botan::X509_DN issuer = req.subject_dn();
    std::vector<std::uint8_t> authority = key_id;
    if (!issuer_cert_pem.empty()) {
      auto ca = load_certificates(issuer_cert_pem).front();
      if (!matches(signer, ca)) throw pki_error("the signing key does not belong to the CA certificate");
      issuer = ca.subject_dn();
      authority = ca.subject_key_id();
    } else {
      if (pub->public_key_bits() != signer.public_key_bits())
        throw pki_error("self-signed: the signing key is not the request's key (give the CA certificate)");
    }
    if (!authority.empty()) ext.replace(new Botan::Cert_Extension::Authority_Key_ID(authority));
    if (opts.not_after <= opts.not_before) throw pki_error("the validity ends before it starts");
    Botan::BigInt serial;
    if (opts.serial)
      serial = Botan::BigInt(*opts.serial);
    else
      serial = Botan::BigInt(rng(), 127);
    Botan::AlgorithmIdentifier alg;
    auto sig = detail::signer_for(signer, opts.hash, alg);
    auto cert = Botan::X509_CA::make_cert(sig.get(), rng(), serial, alg, req.raw_public_key(),
                                          Botan::X509_Time(opts.not_before), Botan::X509_Time(opts.not_after), issuer,
                                          req.subject_dn(), ext);
    return cert.PEM_encode();
  });
}

REMORA_DECL Botan::X509_Certificate self_signed_certificate(const Botan::Private_Key& key,
                                                            const std::vector<std::string>& names, unsigned days) {
  if (names.empty()) throw pki_error("a self-signed certificate needs a name");
  csr_options c;
  c.subject.common_name = names.front();
  c.alt_names = names;
  c.key_usage = Botan::DIGITAL_SIGNATURE | (key.algo_name() == "RSA" ? Botan::KEY_ENCIPHERMENT : 0);
  c.ext_key_usage = {"PKIX.ServerAuth"};
  issue_options o;
  o.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  o.not_after = o.not_before + std::chrono::hours(24) * days;
  auto pem = issue_certificate(create_csr(key, c), key, {}, o);
  return load_certificates(pem).front();
}

REMORA_DECL bool matches(const Botan::Private_Key& key, const Botan::X509_Certificate& cert) {
  try {
    return cert.load_subject_public_key()->public_key_bits() == key.public_key_bits();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace remora::crypto
#endif
