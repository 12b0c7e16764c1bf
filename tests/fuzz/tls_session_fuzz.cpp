// libFuzzer target: the server TLS session (tls::session over Botan's TLS::Server) and the PEM
// key/certificate reader behind ba.create.sharkcert.
//
// The first byte picks the mode:
//   0: the rest is fed to a new server session as the bytes a client sent;
//   1: a real ClientHello (captured from openssl s_client) goes first, then the rest: the
//      session answers it and then parses what follows as the client's next flight;
//   2: the rest, split at the first NUL, is a certificate chain and a key in PEM.
// Invariants: nothing throws out of the session; what it writes back is whole TLS records
// (content type 20-23, version 3.x, length at most 2^14 + 2048), and once it failed it
// reports an error; a key pair read from PEM has a certificate name list.
#include <remora/tls/session.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

const std::uint8_t client_hello[] = {
#include "client_hello.inc"
};

remora::tls::context& server_context() {
  static remora::tls::context* ctx = [] {
    std::string cert, key, err;
    if (!remora::tls::keypair::make_self_signed({"localhost"}, 30, cert, key, err)) std::abort();
    auto kp = remora::tls::keypair::from_pem(cert, key, "", err);
    if (!kp) std::abort();
    auto* c = new remora::tls::context;
    c->add(kp);
    return c;
  }();
  return *ctx;
}

void check_records(std::string_view out) {
  while (!out.empty()) {
    if (out.size() < 5) std::abort();
    auto type = std::uint8_t(out[0]);
    if (type < 20 || type > 23 || out[1] != 3) std::abort();
    std::size_t len = (std::size_t(std::uint8_t(out[3])) << 8) | std::uint8_t(out[4]);
    if (len > 16384 + 2048 || out.size() < 5 + len) std::abort();
    out.remove_prefix(5 + len);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::uint8_t mode = data[0] % 3;
  ++data;
  --size;
  if (mode == 2) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nul = in.find('\0');
    std::string err;
    auto kp = remora::tls::keypair::from_pem(in.substr(0, nul), nul == in.npos ? "" : in.substr(nul + 1), "", err);
    if (!kp && err.empty()) std::abort();
    return 0;
  }
  auto s = server_context().accept();
  if (!s) std::abort();
  bool ok = true;
  if (mode == 1) {
    ok = s->received(client_hello, sizeof client_hello);
    if (!ok) std::abort();  // the captured hello is valid
    if (s->output().empty()) std::abort();  // ServerHello .. ServerHelloDone
    check_records(s->output());
    s->output().clear();
  }
  ok = s->received(data, size);
  check_records(s->output());
  if (!ok && s->error().empty()) std::abort();
  if (!ok && !s->peer_closed()) std::abort();
  return 0;
}
