// Botan 2 behind remora::tls: keys and certificates, the credentials manager (SNI picks the
// certificate), the policy, and Botan::TLS::Server driven from memory.
#pragma once
#include <remora/crypto/pki.hpp>
#include <remora/tls/session.hpp>

#include <botan/auto_rng.h>
#include <botan/certstor_flatfile.h>
#include <botan/tls_client.h>
#include <botan/credentials_manager.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/tls_callbacks.h>
#include <botan/tls_handshake_msg.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_policy.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509path.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace remora::tls {

namespace detail {
inline std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every certificate of `text` (PEM blocks or one DER certificate) into `store`: how many,
// or 0 and `err`.
inline std::size_t add_certs(Botan::Certificate_Store_In_Memory& store, std::string_view text, std::string& err) {
  try {
    auto certs = crypto::load_certificates(text);
    if (certs.empty()) err = "no certificate found";
    for (auto& c : certs) store.add_certificate(c);
    return certs.size();
  } catch (const std::exception& e) {
    err = std::string("cannot read the certificate: ") + e.what();
    return 0;
  }
}

// A private key: PKCS#8 (encrypted ones with `password`), or the traditional RSA/EC forms.
inline std::unique_ptr<Botan::Private_Key> read_key(std::string_view pem, std::string_view password,
                                                    std::string& err) {
  try {
    if (!password.empty()) {
      Botan::DataSource_Memory src(reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size());
      return Botan::PKCS8::load_key(src, std::string(password));
    }
    return crypto::load_private_key(pem);
  } catch (const std::exception& e) {
    err = std::string("cannot read the private key: ") + e.what();
    return nullptr;
  }
}

}  // namespace detail

struct keypair::impl {
  std::vector<Botan::X509_Certificate> chain;
  std::unique_ptr<Botan::Private_Key> key;
  std::string algo;  // "ECDSA", "RSA"
};

REMORA_DECL std::shared_ptr<const keypair> keypair::from_pem(std::string_view chain_pem, std::string_view key_pem,
                                                             std::string_view password, std::string& err) {
  auto p = std::make_shared<impl>();
  try {
    p->chain = crypto::load_certificates(chain_pem);
  } catch (const std::exception& e) {
    err = std::string("cannot read the certificate: ") + e.what();
    return nullptr;
  }
  if (p->chain.empty()) {
    err = "no certificate found";
    return nullptr;
  }
  p->key = detail::read_key(key_pem, password, err);
  if (!p->key) {
    if (err.empty()) err = "no private key found";
    return nullptr;
  }
  p->algo = p->key->algo_name();
  if (p->algo != "ECDSA" && p->algo != "RSA") {
    err = "unsupported key type " + p->algo + " (RSA or ECDSA expected)";
    return nullptr;
  }
  const auto& leaf = p->chain.front();
  if (!crypto::matches(*p->key, leaf)) {
    err = "the private key does not belong to the certificate";
    return nullptr;
  }
  auto kp = std::make_shared<keypair>();
  auto cns = leaf.subject_info("X520.CommonName");
  kp->name_ = cns.empty() ? std::string() : cns.front();
  if (!kp->name_.empty()) kp->hosts_.push_back(detail::lower(kp->name_));
  for (auto& dns : leaf.subject_info("DNS")) kp->hosts_.push_back(detail::lower(dns));
  kp->rsa_ = p->algo == "RSA";
  kp->not_after_ = std::time_t(leaf.not_after().time_since_epoch());
  kp->p = std::move(p);
  return kp;
}

REMORA_DECL bool keypair::make_self_signed(const std::vector<std::string>& names, unsigned days, std::string& chain_pem,
                                           std::string& key_pem, std::string& err) {
  try {
    auto key = crypto::generate_key(crypto::key_options{});  // ECDSA P-256
    std::vector<std::string> n = names.empty() ? std::vector<std::string>{"localhost"} : names;
    chain_pem = crypto::self_signed_certificate(*key, n, days).PEM_encode();
    key_pem = Botan::PKCS8::PEM_encode(*key);
    return true;
  } catch (const std::exception& e) {
    err = e.what();
    return false;
  }
}

struct certstore::impl {
  Botan::Certificate_Store_In_Memory store;
  std::size_t count = 0;
};

REMORA_DECL certstore::certstore() : p(std::make_shared<impl>()) {}

REMORA_DECL bool certstore::add(std::string_view text, std::string& err) {
  std::size_t n = detail::add_certs(p->store, text, err);
  p->count += n;
  return n > 0;
}

REMORA_DECL std::size_t certstore::size() const noexcept { return p->count; }

REMORA_DECL std::shared_ptr<const certstore> certstore::snapshot() const {
  auto c = std::make_shared<certstore>();
  c->p = std::make_shared<impl>(*p);
  return c;
}

namespace detail {
// ECDHE + AEAD, TLS 1.2, no renegotiation; ECDSA certificates first unless favorRSA.
class strong_policy final : public Botan::TLS::Policy {
 public:
  strong_policy(bool rsa_first, bool ask_client_cert) : rsa_first_(rsa_first), ask_(ask_client_cert) {}
  std::vector<std::string> allowed_ciphers() const override { return {"AES-128/GCM", "AES-256/GCM", "ChaCha20Poly1305"}; }
  std::vector<std::string> allowed_signature_hashes() const override { return {"SHA-256", "SHA-384", "SHA-512"}; }
  std::vector<std::string> allowed_macs() const override { return {"AEAD"}; }
  std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
  std::vector<std::string> allowed_signature_methods() const override {
    if (rsa_first_) return {"RSA", "ECDSA"};
    return {"ECDSA", "RSA"};
  }
  std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
    using G = Botan::TLS::Group_Params;
    return {G::X25519, G::SECP256R1, G::SECP384R1, G::SECP521R1};
  }
  bool allow_tls10() const override { return false; }
  bool allow_tls11() const override { return false; }
  bool allow_tls12() const override { return true; }
  bool allow_dtls10() const override { return false; }
  bool allow_dtls12() const override { return false; }
  bool allow_insecure_renegotiation() const override { return false; }
  bool allow_client_initiated_renegotiation() const override { return false; }
  bool allow_server_initiated_renegotiation() const override { return false; }
  bool require_cert_revocation_info() const override { return false; }
  bool request_client_certificate_authentication() const override { return ask_; }
  bool server_uses_own_ciphersuite_preferences() const override { return true; }
  std::size_t minimum_rsa_bits() const override { return 2048; }
  std::uint32_t session_ticket_lifetime() const override { return 86400; }

 private:
  bool rsa_first_, ask_;
};

// The session cache and ticket key, shared by every certificate set a context ever holds.
struct session_cache {
  Botan::TLS::Session_Manager_In_Memory manager{crypto::rng(), 10000, std::chrono::seconds(86400)};
  Botan::SymmetricKey ticket_key{crypto::rng(), 32};
};
}  // namespace detail

struct context::impl final : Botan::Credentials_Manager {
  std::vector<std::shared_ptr<const keypair>> pairs;
  std::shared_ptr<const certstore> store;
  bool rsa_first = false, ask_cert = false;
  std::shared_ptr<detail::session_cache> cache;
  std::unique_ptr<detail::strong_policy> policy;

  void finish() { policy = std::make_unique<detail::strong_policy>(rsa_first, ask_cert || (store && store->size() > 0)); }

  // SNI: the certificates naming the host (exactly, or by a "*." wildcard) are the candidates;
  // when none does (or no name was sent), all are. The first of the asked-for key type wins.
  static bool names(const keypair& kp, const std::string& host) {
    for (auto& h : kp.hosts()) {
      if (h == host) return true;
      // "*.example.com" names one label more than example.com
      if (h.size() > 2 && h.compare(0, 2, "*.") == 0 && host.size() > h.size() - 1) {
        std::size_t cut = host.size() - (h.size() - 1);
        if (host.compare(cut, std::string::npos, h, 1) == 0 && host.find('.') == cut) return true;
      }
    }
    return false;
  }

  std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& types, const std::string& type,
                                                  const std::string& hostname) override {
    if (type != "tls-server") return {};
    std::string host = detail::lower(hostname);
    bool any = false;
    if (!host.empty())
      for (auto& kp : pairs) any = any || names(*kp, host);
    for (auto& kp : pairs) {
      if (std::find(types.begin(), types.end(), kp->p->algo) == types.end()) continue;
      if (!any || names(*kp, host)) return kp->p->chain;
    }
    return {};
  }

  Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                      const std::string&) override {
    for (auto& kp : pairs)
      if (kp->p->chain.front() == cert) return kp->p->key.get();
    return nullptr;
  }

  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                        const std::string&) override {
    if (type != "tls-server" || !store || store->size() == 0) return {};
    return {&store->p->store};
  }

  Botan::SymmetricKey psk(const std::string& type, const std::string& ctx, const std::string& id) override {
    if (type == "tls-server" && ctx == "session-ticket") return cache->ticket_key;
    return Botan::Credentials_Manager::psk(type, ctx, id);
  }
};

struct session::impl final : Botan::TLS::Callbacks {
  std::shared_ptr<void> keep;               // credentials, policy and cache the channel uses
  Botan::Credentials_Manager* creds = nullptr;
  bool client = false;
  std::string in, out, err;
  peer_info peer;
  bool established = false, closed = false, full = false, failed = false;
  std::unique_ptr<Botan::TLS::Channel> ch;  // a TLS::Server or a TLS::Client

  void tls_emit_data(const std::uint8_t data[], std::size_t size) override {
    out.append(reinterpret_cast<const char*>(data), size);
  }
  void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
    in.append(reinterpret_cast<const char*>(data), size);
  }
  void tls_alert(Botan::TLS::Alert alert) override {
    if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) closed = true;
    else if (alert.is_fatal()) {
      closed = true;
      if (err.empty()) err = "alert from the peer: " + alert.type_string();
    }
  }
  void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& m) override {
    if (m.type() == Botan::TLS::SERVER_KEX || m.type() == Botan::TLS::CLIENT_KEX) full = true;
  }
  std::string tls_server_choose_app_protocol(const std::vector<std::string>& protos) override {
    for (auto& p : protos)
      if (p == "http/1.1") return p;
    return "";
  }
  void verify(const std::vector<Botan::X509_Certificate>& chain) {
    peer.chain.clear();
    for (auto& c : chain) {
      auto der = c.BER_encode();
      peer.chain.emplace_back(reinterpret_cast<const char*>(der.data()), der.size());
    }
    auto roots = creds->trusted_certificate_authorities(client ? "tls-client" : "tls-server", peer.sni);
    if (chain.empty()) return;
    if (roots.empty()) {
      peer.trusted = false;
      peer.trust_error = "no certificate store";
      return;
    }
    Botan::Path_Validation_Restrictions restrictions(false, 110);
    auto r = Botan::x509_path_validate(chain, restrictions, roots, client ? peer.sni : std::string(),
                                       client ? Botan::Usage_Type::TLS_SERVER_AUTH : Botan::Usage_Type::TLS_CLIENT_AUTH);
    peer.trusted = r.successful_validation();
    peer.trust_error = peer.trusted ? std::string() : r.result_string();
    // Botan 2 never builds a path for a self-signed end certificate, even one the store
    // holds: such a certificate is trusted when the store knows it, it is in date, its
    // signature is its own, and (a server's) it names the host.
    if (!peer.trusted && chain.size() == 1 && chain.front().is_self_signed()) {
      const auto& c = chain.front();
      bool known = false;
      for (auto* store : roots) known = known || store->certificate_known(c);
      auto now = Botan::X509_Time(std::chrono::system_clock::now());
      std::unique_ptr<Botan::Public_Key> key(c.subject_public_key());
      bool ok = known && c.not_before() <= now && now <= c.not_after() && key && c.check_signature(*key) &&
                (!client || peer.sni.empty() || c.matches_dns_name(peer.sni));
      if (ok) {
        peer.trusted = true;
        peer.trust_error.clear();
      }
    }
  }
  // A peer certificate is recorded with its verdict rather than refused: request:certificate
  // and socket:trusted() report both, as Mako does, and the application decides.
  void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                             const std::vector<std::shared_ptr<const Botan::OCSP::Response>>&,
                             const std::vector<Botan::Certificate_Store*>&, Botan::Usage_Type,
                             const std::string&, const Botan::TLS::Policy&) override {
    verify(chain);
  }
  bool tls_session_established(const Botan::TLS::Session& s) override {
    established = true;
    peer.version = s.version().to_string();
    peer.cipher = s.ciphersuite().to_string();  // the IANA name without TLS_
    if (!client) peer.sni = s.server_info().hostname();
    peer.resumed = !full;
    if (peer.resumed && !s.peer_certs().empty()) verify(s.peer_certs());
    return true;
  }
  void tls_session_activated() override {
    established = true;
    peer.alpn = ch->application_protocol();
  }
  void tls_log_error(const char*) override {}
};

REMORA_DECL context::context() : p_(std::make_shared<impl>()) {
  p_->cache = std::make_shared<detail::session_cache>();
  p_->finish();
}
REMORA_DECL context::~context() = default;

namespace detail {
template<class F>
void replace(std::mutex& m, std::shared_ptr<context::impl>& p, F change) {
  std::lock_guard lock(m);
  auto n = std::make_shared<context::impl>();
  n->pairs = p->pairs;
  n->store = p->store;
  n->rsa_first = p->rsa_first;
  n->ask_cert = p->ask_cert;
  n->cache = p->cache;
  change(*n);
  n->finish();
  p = std::move(n);
}
}  // namespace detail

REMORA_DECL void context::add(std::shared_ptr<const keypair> kp) {
  if (!kp) return;
  detail::replace(m_, p_, [&](impl& n) { n.pairs.push_back(std::move(kp)); });
}
REMORA_DECL void context::clear() {
  detail::replace(m_, p_, [](impl& n) { n.pairs.clear(); });
}
REMORA_DECL void context::set_certstore(std::shared_ptr<const certstore> cs) {
  detail::replace(m_, p_, [&](impl& n) { n.store = std::move(cs); });
}
REMORA_DECL void context::favor_rsa(bool on) {
  detail::replace(m_, p_, [&](impl& n) { n.rsa_first = on; });
}
REMORA_DECL void context::request_client_cert(bool on) {
  detail::replace(m_, p_, [&](impl& n) { n.ask_cert = on; });
}
REMORA_DECL void context::assign(const context& other) {
  if (&other == this) return;
  std::shared_ptr<impl> o;
  {
    std::lock_guard lock(other.m_);
    o = other.p_;
  }
  detail::replace(m_, p_, [&](impl& n) {
    n.pairs = o->pairs;
    n.store = o->store;
    n.rsa_first = o->rsa_first;
    n.ask_cert = o->ask_cert;
  });
}
REMORA_DECL std::size_t context::size() const {
  std::lock_guard lock(m_);
  return p_->pairs.size();
}

REMORA_DECL std::unique_ptr<session> context::accept() const {
  std::shared_ptr<impl> p;
  {
    std::lock_guard lock(m_);
    p = p_;
  }
  if (p->pairs.empty()) return nullptr;
  auto si = std::make_unique<session::impl>();
  si->creds = p.get();
  si->ch = std::make_unique<Botan::TLS::Server>(*si, p->cache->manager, *p, *p->policy, crypto::rng());
  si->keep = std::move(p);
  return std::make_unique<session>(std::move(si));
}

// ---- client ---------------------------------------------------------------------------------

struct client_context::impl final : Botan::Credentials_Manager {
  std::unique_ptr<Botan::Certificate_Store> system;  // Debian's CA bundle
  Botan::Certificate_Store_In_Memory extra;
  bool use_system = true;
  Botan::TLS::Session_Manager_In_Memory manager{crypto::rng(), 1000, std::chrono::seconds(3600)};
  Botan::TLS::Policy policy;  // Botan's defaults: a client meets servers as they are

  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                        const std::string&) override {
    if (type != "tls-client") return {};
    std::vector<Botan::Certificate_Store*> v{&extra};
    if (use_system && system) v.push_back(system.get());
    return v;
  }
};

REMORA_DECL client_context::client_context(bool system_store) : p_(std::make_shared<impl>()) {
  p_->use_system = system_store;
  if (system_store) {
    try {
      p_->system = std::make_unique<Botan::Flatfile_Certificate_Store>("/etc/ssl/certs/ca-certificates.crt", true);
    } catch (const std::exception&) {
      p_->system.reset();  // no CA bundle installed: nothing is trusted but what is added
    }
  }
}

REMORA_DECL std::shared_ptr<client_context> client_context::system() {
  static const auto shared = std::make_shared<client_context>(true);
  return shared;
}

REMORA_DECL bool client_context::add_trusted(std::string_view text, std::string& err) {
  return detail::add_certs(p_->extra, text, err) > 0;
}

REMORA_DECL void client_context::add_store(const certstore& cs) {
  for (auto& c : cs.p->store.all_subjects()) {
    if (auto cert = cs.p->store.find_cert(c, {})) p_->extra.add_certificate(*cert);
  }
}

REMORA_DECL std::unique_ptr<session> client_context::connect(const std::string& host, std::uint16_t port,
                                                              const std::vector<std::string>& alpn) const {
  auto si = std::make_unique<session::impl>();
  si->client = true;
  si->creds = p_.get();
  si->peer.sni = host;
  si->keep = p_;
  try {
    si->ch = std::make_unique<Botan::TLS::Client>(*si, p_->manager, *p_, p_->policy, crypto::rng(),
                                                  Botan::TLS::Server_Information(host, port),
                                                  Botan::TLS::Protocol_Version::latest_tls_version(), alpn);
  } catch (const std::exception& e) {
    si->failed = si->closed = true;
    si->err = e.what();
  }
  return std::make_unique<session>(std::move(si));
}

REMORA_DECL session::session(std::unique_ptr<impl> p) : p_(std::move(p)) {}
REMORA_DECL session::~session() = default;

REMORA_DECL bool session::received(const std::uint8_t* data, std::size_t n) {
  if (p_->failed) return false;
  try {
    p_->ch->received_data(data, n);
    return true;
  } catch (const std::exception& e) {
    p_->failed = p_->closed = true;
    if (p_->err.empty()) p_->err = e.what();
    return false;
  }
}

REMORA_DECL bool session::send(const std::uint8_t* data, std::size_t n) {
  if (p_->failed || !p_->ch->is_active()) return false;
  try {
    p_->ch->send(data, n);
    return true;
  } catch (const std::exception& e) {
    p_->failed = true;
    if (p_->err.empty()) p_->err = e.what();
    return false;
  }
}

REMORA_DECL void session::close() {
  if (p_->failed) return;
  try {
    if (!p_->ch->is_closed()) p_->ch->close();
  } catch (const std::exception&) {
    p_->failed = true;
  }
}

REMORA_DECL std::string& session::input() noexcept { return p_->in; }
REMORA_DECL std::string& session::output() noexcept { return p_->out; }
REMORA_DECL bool session::established() const noexcept { return p_->established; }
REMORA_DECL bool session::peer_closed() const noexcept { return p_->closed || p_->failed; }
REMORA_DECL const peer_info& session::peer() const noexcept { return p_->peer; }
REMORA_DECL const std::string& session::error() const noexcept { return p_->err; }

}  // namespace remora::tls
