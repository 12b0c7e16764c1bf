// tls::session, client and server, talking to each other in memory: handshakes, verdicts on
// certificates, ALPN, SNI, resumption, application data both ways, alerts on garbage.
#include <remora/tls/session.hpp>

#include <doctest.h>

#include <string>

using namespace remora;

namespace {

struct pem_pair {
  std::string cert, key;
};

pem_pair self_signed(std::vector<std::string> names) {
  pem_pair p;
  std::string err;
  REQUIRE(tls::keypair::make_self_signed(names, 30, p.cert, p.key, err));
  return p;
}

std::shared_ptr<const tls::keypair> load(const pem_pair& p) {
  std::string err;
  auto kp = tls::keypair::from_pem(p.cert, p.key, "", err);
  REQUIRE_MESSAGE(kp, err);
  return kp;
}

// Moves bytes between the two until neither has anything to say; false if one failed.
bool pump(tls::session& client, tls::session& server) {
  for (int round = 0; round < 20; ++round) {
    bool moved = false;
    if (!client.output().empty()) {
      std::string c = std::move(client.output());
      client.output().clear();
      if (!server.received(reinterpret_cast<const std::uint8_t*>(c.data()), c.size())) return false;
      moved = true;
    }
    if (!server.output().empty()) {
      std::string s = std::move(server.output());
      server.output().clear();
      if (!client.received(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())) return false;
      moved = true;
    }
    if (!moved) return true;
  }
  return false;
}

bool send(tls::session& from, const std::string& text) {
  return from.send(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

}  // namespace

TEST_CASE("a client and a server agree, verify and carry data both ways") {
  auto pair = self_signed({"localhost", "127.0.0.1"});
  tls::context server_ctx;
  server_ctx.add(load(pair));
  tls::client_context client_ctx(false);
  std::string err;
  REQUIRE(client_ctx.add_trusted(pair.cert, err));

  auto client = client_ctx.connect("localhost", 443, {"h2", "http/1.1"});
  auto server = server_ctx.accept();
  REQUIRE(server);
  CHECK_FALSE(client->output().empty());  // the ClientHello
  REQUIRE(pump(*client, *server));
  CHECK(client->established());
  CHECK(server->established());
  CHECK(client->peer().trusted);
  CHECK_MESSAGE(client->peer().trust_error.empty(), client->peer().trust_error);
  CHECK(server->peer().sni == "localhost");
  CHECK(server->peer().alpn == "http/1.1");
  CHECK(client->peer().version == "TLS v1.2");
  CHECK(server->peer().cipher == client->peer().cipher);
  CHECK(server->peer().cipher.find("ECDHE_ECDSA_WITH_") == 0);
  CHECK_FALSE(server->peer().resumed);
  CHECK(server->peer().chain.empty());  // no client certificate asked for

  REQUIRE(send(*client, "GET / HTTP/1.1\r\n\r\n"));
  REQUIRE(pump(*client, *server));
  CHECK(server->input() == "GET / HTTP/1.1\r\n\r\n");
  std::string big(100000, 'x');
  REQUIRE(send(*server, big));
  REQUIRE(pump(*client, *server));
  CHECK(client->input() == big);

  // a close_notify each way
  client->close();
  REQUIRE(pump(*client, *server));
  CHECK(server->peer_closed());

  SUBCASE("the second connection resumes") {
    auto c2 = client_ctx.connect("localhost", 443);
    auto s2 = server_ctx.accept();
    REQUIRE(pump(*c2, *s2));
    CHECK(s2->established());
    CHECK(s2->peer().resumed);
    CHECK(c2->peer().resumed);
  }
}

TEST_CASE("a server certificate the client does not trust is reported, not refused") {
  auto pair = self_signed({"localhost"});
  tls::context server_ctx;
  server_ctx.add(load(pair));
  SUBCASE("unknown issuer") {
    tls::client_context client_ctx(false);
    auto client = client_ctx.connect("localhost", 443);
    auto server = server_ctx.accept();
    REQUIRE(pump(*client, *server));
    CHECK(client->established());
    CHECK_FALSE(client->peer().trusted);
    CHECK_FALSE(client->peer().trust_error.empty());
    CHECK(client->peer().chain.size() == 1);
  }
  SUBCASE("another host name") {
    tls::client_context client_ctx(false);
    std::string err;
    REQUIRE(client_ctx.add_trusted(pair.cert, err));
    auto client = client_ctx.connect("other.test", 443);
    auto server = server_ctx.accept();
    REQUIRE(pump(*client, *server));
    CHECK(client->established());
    CHECK_FALSE(client->peer().trusted);
  }
}

TEST_CASE("SNI picks the certificate naming the host, else the first") {
  auto a = self_signed({"a.test"});
  auto b = self_signed({"b.test", "*.wild.test"});
  tls::context server_ctx;
  server_ctx.add(load(a));
  server_ctx.add(load(b));
  tls::client_context client_ctx(false);
  auto leaf_of = [&](const std::string& host) {
    auto client = client_ctx.connect(host, 443);
    auto server = server_ctx.accept();
    REQUIRE(pump(*client, *server));
    REQUIRE(client->peer().chain.size() == 1);
    return client->peer().chain.front();
  };
  std::string err;
  auto der_a = leaf_of("a.test"), der_b = leaf_of("b.test");
  CHECK(der_a != der_b);
  CHECK(leaf_of("x.wild.test") == der_b);
  CHECK(leaf_of("y.x.wild.test") == der_a);  // a wildcard covers one label
  CHECK(leaf_of("unknown.test") == der_a);
}

TEST_CASE("client certificates are asked for with a store, and judged") {
  auto server_pair = self_signed({"localhost"});
  auto client_pair = self_signed({"client.test"});
  auto stranger = self_signed({"stranger.test"});
  tls::context server_ctx;
  server_ctx.add(load(server_pair));
  tls::certstore store;
  std::string err;
  REQUIRE(store.add(client_pair.cert, err));
  server_ctx.set_certstore(store.snapshot());
  // The client side of mutual TLS is not part of client_context yet: a server session must
  // still accept a client that sends none.
  tls::client_context client_ctx(false);
  auto client = client_ctx.connect("localhost", 443);
  auto server = server_ctx.accept();
  REQUIRE(pump(*client, *server));
  CHECK(server->established());
  CHECK(server->peer().chain.empty());
}

TEST_CASE("bad input: garbage, a wrong key, unreadable PEM") {
  auto pair = self_signed({"localhost"});
  tls::context server_ctx;
  server_ctx.add(load(pair));
  auto server = server_ctx.accept();
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK_FALSE(server->received(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()));
  CHECK_FALSE(server->error().empty());
  CHECK(server->peer_closed());
  CHECK_FALSE(server->send(reinterpret_cast<const std::uint8_t*>("x"), 1));

  auto other = self_signed({"localhost"});
  std::string err;
  CHECK_FALSE(tls::keypair::from_pem(pair.cert, other.key, "", err));
  CHECK(err == "the private key does not belong to the certificate");
  err.clear();
  CHECK_FALSE(tls::keypair::from_pem("not pem", pair.key, "", err));
  CHECK_FALSE(err.empty());
  err.clear();
  CHECK_FALSE(tls::keypair::from_pem(pair.cert, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "", err));
  CHECK(err.find("private key") != std::string::npos);

  tls::context empty;
  CHECK_FALSE(empty.accept());  // no certificate: no session
}

TEST_CASE("replacing certificates leaves open sessions alone") {
  auto one = self_signed({"one.test"});
  auto two = self_signed({"two.test"});
  tls::context ctx;
  ctx.add(load(one));
  tls::client_context client_ctx(false);
  auto c1 = client_ctx.connect("x", 443);
  auto s1 = ctx.accept();
  tls::context next;
  next.add(load(two));
  ctx.assign(next);
  CHECK(ctx.size() == 1);
  REQUIRE(pump(*c1, *s1));  // the session made before the swap finishes with the old set
  auto c2 = client_ctx.connect("y", 443);
  auto s2 = ctx.accept();
  REQUIRE(pump(*c2, *s2));
  CHECK(c1->peer().chain.front() != c2->peer().chain.front());
}
