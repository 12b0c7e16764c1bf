// TLS for Remora's server side, without Botan in the header: certificates with their keys, a
// certificate store for client certificates, a context (what a listener offers: its
// certificates, policy and session cache) and a session (one connection's TLS state machine).
//
// A session is a pure state machine: the connection feeds it the bytes it read (received),
// hands it plaintext to protect (send), and writes out whatever output() holds. It never
// touches a socket, so the IO policy's stream (policy/tls.hpp) drives it with asio, and tests
// and fuzzers drive it from memory. Only impl/session.ipp includes Botan.
//
// Protocol choices are fixed and strong: TLS 1.2 (Botan 2's newest), ECDHE only, AEAD only
// (AES-GCM, ChaCha20-Poly1305), no renegotiation, session tickets and an in-memory session
// cache for resumption, ALPN "http/1.1".
#pragma once
#include <remora/config.hpp>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace remora::tls {

// What a connection knows about its peer once the handshake is done.
struct peer_info {
  std::string version;             // "TLS v1.2"
  std::string cipher;              // IANA-style suite name, "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
  std::string sni;                 // the host name asked for ("" when none)
  std::string alpn;                // the negotiated application protocol ("" when none)
  std::vector<std::string> chain;  // the peer's certificates (DER), leaf first
  bool trusted = false;            // chain verified (a server's: and names the host asked for)
  std::string trust_error;         // why it is not trusted
  bool resumed = false;            // an abbreviated handshake (session id or ticket)
};

// A certificate chain (leaf first) and the leaf's private key.
class keypair {
 public:
  // PEM text of the chain and of the key (PKCS#8, encrypted PKCS#8 with `password`, or the
  // traditional "RSA PRIVATE KEY"/"EC PRIVATE KEY" forms). nullptr and `err` on failure,
  // including a key that does not belong to the certificate.
  static std::shared_ptr<const keypair> from_pem(std::string_view chain_pem, std::string_view key_pem,
                                                 std::string_view password, std::string& err);
  // A new self-signed ECDSA P-256 certificate for `names` (the first is the CN), valid for
  // `days`; chain and key come back as PEM.
  static bool make_self_signed(const std::vector<std::string>& names, unsigned days, std::string& chain_pem,
                               std::string& key_pem, std::string& err);

  const std::string& name() const noexcept { return name_; }            // the leaf's CN
  const std::vector<std::string>& hosts() const noexcept { return hosts_; }  // CN and DNS names
  bool rsa() const noexcept { return rsa_; }
  std::time_t not_after() const noexcept { return not_after_; }

  struct impl;
  std::shared_ptr<const impl> p;

 private:
  std::string name_;
  std::vector<std::string> hosts_;
  bool rsa_ = false;
  std::time_t not_after_ = 0;
};

// CA certificates that client certificates are verified against.
class certstore {
 public:
  certstore();
  // Adds every certificate in `pem_or_der`; false and `err` when none could be read.
  bool add(std::string_view pem_or_der, std::string& err);
  std::size_t size() const noexcept;
  // A copy that later add() calls do not change (what a context keeps).
  std::shared_ptr<const certstore> snapshot() const;

  struct impl;
  std::shared_ptr<impl> p;
};

class session;

// What a TLS listener offers. Certificates can be added and replaced while the server runs:
// sessions made after a change see the new set, sessions already open keep theirs.
class context {
 public:
  context();
  ~context();
  void add(std::shared_ptr<const keypair> kp);
  void clear();
  void set_certstore(std::shared_ptr<const certstore> cs);
  void favor_rsa(bool on);
  // Ask every client for a certificate (always done when the store holds certificates).
  void request_client_cert(bool on);
  // Takes `other`'s certificates, store and settings; the session cache stays.
  void assign(const context& other);
  std::size_t size() const;  // certificates held
  // A server session, or nullptr when the context holds no certificate.
  std::unique_ptr<session> accept() const;

  struct impl;

 private:
  mutable std::mutex m_;
  std::shared_ptr<impl> p_;  // replaced, never changed in place
};

// What a TLS client trusts (Debian's CA bundle, and certificates added), and its session
// cache. Server certificates are checked against it and the host name; the verdict is
// recorded in the session's peer_info (trusted, trust_error), not enforced.
class client_context {
 public:
  explicit client_context(bool system_store = true);
  // The one context that trusts Debian's CA bundle and nothing else (read once, shared by
  // ba.sharkclient, the HTTP client and the net IO).
  static std::shared_ptr<client_context> system();
  bool add_trusted(std::string_view pem, std::string& err);
  void add_store(const certstore& cs);  // trusts every certificate of `cs`
  // A client session for `host` (SNI and the name checked); its ClientHello is in output().
  std::unique_ptr<session> connect(const std::string& host, std::uint16_t port,
                                   const std::vector<std::string>& alpn = {}) const;

  struct impl;

 private:
  std::shared_ptr<impl> p_;
};

class session {
 public:
  ~session();
  // Feeds bytes read from the peer. Plaintext lands in input(), bytes to send in output().
  // False on a fatal error (error() says what; output() may hold an alert to send first).
  bool received(const std::uint8_t* data, std::size_t n);
  // Protects plaintext; the records land in output(). False when the session cannot send.
  bool send(const std::uint8_t* data, std::size_t n);
  // A close_notify alert into output().
  void close();

  std::string& input() noexcept;   // decrypted application data not yet consumed
  std::string& output() noexcept;  // records to write to the peer
  bool established() const noexcept;
  bool peer_closed() const noexcept;  // close_notify received (or the session failed)
  const peer_info& peer() const noexcept;
  const std::string& error() const noexcept;

  struct impl;
  explicit session(std::unique_ptr<impl> p);

 private:
  std::unique_ptr<impl> p_;
};

}  // namespace remora::tls

#if REMORA_HEADER_ONLY && REMORA_TLS_BOTAN
#  include <remora/tls/impl/session.ipp>
#endif
