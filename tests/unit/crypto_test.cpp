// ba.crypto, ba.create.key/csr/certificate, ba.parsecert and ba.parsecerttime: known vectors
// (RFC 1321/3174/6234 hashes, RFC 2202/4231 HMAC, RFC 6070/7914 PBKDF2, NIST GCM and
// SP 800-38A CBC) and round trips with the openssl command line tool in both directions.
#include <doctest.h>
#include <remora/config.hpp>

#if REMORA_CRYPTO
#  include <remora/crypto/pki.hpp>
#  include <remora/lua/ba_core.hpp>
#  include <remora/lua/crypto_lib.hpp>

#  include "lua_state.hpp"
#  include "temp_dir.hpp"

#  include <cstdio>
#  include <fstream>
#  include <sstream>
#  include <string>

namespace {

struct crypto_state : ba_state {
  crypto_state() : ba_state({remora::lua::open_ba_core, remora::lua::open_crypto_lib}) {}
};

// Runs a shell command; its exit status, and stdout+stderr in `out`.
int sh(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = ::pclose(p);
  if (out) *out = text;
  INFO(cmd << "\n" << text);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string hex(const std::string& s) {
  static const char d[] = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) r += d[c >> 4], r += d[c & 15];
  return r;
}

std::string unhex(const std::string& h) {
  std::string r;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) r += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return r;
}

// Checks that each Lua expression evaluates to its expected text.
void expect_all(ba_state& st, std::initializer_list<std::pair<const char*, const char*>> cases) {
  for (auto& [expr, want] : cases) {
    CAPTURE(expr);
    CHECK(st.eval(expr) == want);
  }
}

}  // namespace

TEST_CASE("ba.crypto.hash: RFC hash and HMAC vectors, streaming, encodings") {
  crypto_state st;
  // expression -> hex digest
  const char* vectors[][2] = {
      {"hash('md5')('abc')", "900150983cd24fb0d6963f7d28e17f72"},
      {"hash('sha1')('abc')", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"hash()('abc')", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"sha1()('a')('bc')", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"hash('sha256')('abc')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"hash('sha384')('abc')",
       "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
      {"hash('sha512')('abc')",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e"
       "2a9ac94fa54ca49f"},
      {"hash('sha256')", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      // HMAC: RFC 4231 cases 1, 2 and 6, RFC 2202 case 2
      {"hash('hmac','sha256',k1)('Hi There')", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"hash('hmac','sha384',k1)('Hi There')",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
      {"hash('hmac','sha512',k1)('Hi There')",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1"
       "702e696c203a126854"},
      {"hash('hmac','sha256','Jefe')('what do ya ')('want for nothing?')",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"hash('hmac','md5','Jefe')('what do ya want for nothing?')", "750c783e6ab0b503eaa86e310a5db738"},
      {"hash('hmac','sha1','Jefe')('what do ya want for nothing?')", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
      {"hash('hmac','sha256',k6)('Test Using Larger Than Block-Size Key - Hash Key First')",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  st.set("k1", std::string(20, '\x0b'));
  st.set("k6", std::string(131, '\xaa'));
  for (auto& v : vectors) CHECK(st.eval(std::string("ba.crypto.") + v[0] + "(true,'hex')") == v[1]);
  // Streaming in pieces equals one update; binary is the default; b64; reset after final.
  LUA_OK_RUN(st, R"lua(
    local h = ba.crypto.hash('sha256')
    assert(h('a')('b')('c') == h)
    local d = h(true)
    assert(#d == 32 and d == ba.crypto.hash('sha256')('abc')(true, 'binary'))
    assert(ba.crypto.hash('sha256')('abc')(true, 'b64') == ba.b64encode(d))
    assert(h('abc')(true) == d, 'finalizing resets')
    local big = string.rep('x', 100000)
    local s = ba.crypto.hash('sha1')
    for i = 1, 100 do s(string.rep('x', 1000)) end
    assert(s(true) == ba.crypto.hash('sha1')(big)(true))
  )lua");
  // Unknown names and bad arguments raise errors (BAS code probes sha512 with pcall).
  CHECK(st.eval("select(2, pcall(ba.crypto.hash, 'sha3'))").find("unknown hash") != std::string::npos);
  expect_all(st, {{"pcall(ba.crypto.hash, 'sha3')", "false"},
                  {"pcall(ba.crypto.hash, 'sha512')", "true"},
                  {"pcall(function() ba.crypto.hash('sha1')({}) end)", "false"},
                  {"pcall(function() ba.crypto.hash('sha1')(true, 'base32') end)", "false"},
                  {"pcall(ba.crypto.hash, 'hmac', 'sha256')", "false"}});
}

TEST_CASE("ba.crypto.hash agrees with openssl dgst") {
  crypto_state st;
  temp_dir d;
  std::string data;
  for (int i = 0; i < 5000; ++i) data += char(i * 7 + i / 13);
  auto file = d.write("data.bin", data);
  st.set("data", data);
  for (const char* h : {"md5", "sha1", "sha256", "sha384", "sha512"}) {
    CAPTURE(h);
    std::string out;
    REQUIRE(sh(std::string("openssl dgst -") + h + " -r " + file, &out) == 0);
    CHECK(out.substr(0, out.find(' ')) == st.eval(std::string("ba.crypto.hash('") + h + "')(data)(true,'hex')"));
    REQUIRE(sh(std::string("openssl dgst -") + h + " -hmac s3cret -r " + file, &out) == 0);
    CHECK(out.substr(0, out.find(' ')) ==
          st.eval(std::string("ba.crypto.hash('hmac','") + h + "','s3cret')(data)(true,'hex')"));
  }
}

TEST_CASE("ba.crypto.PBKDF2: RFC 6070 and RFC 7914 vectors") {
  crypto_state st;
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha1','password','salt',1,20)")) == "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha1','password','salt',2,20)")) == "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha1','password','salt',4096,20)")) ==
        "4b007901b765489abead49d926f721d065a429c1");
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha1','passwordPASSWORDpassword','saltSALTsaltSALTsaltSALTsaltSALTsalt',4096,25)")) ==
        "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha1','pass\\0word','sa\\0lt',4096,16)")) == "56fa6aa75548099dcc37d7f03425e0c3");
  CHECK(hex(st.eval("ba.crypto.PBKDF2('sha256','passwd','salt',1,64)")) ==
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e3"
        "0bd509112041d3a19783");
  CHECK(st.eval("pcall(ba.crypto.PBKDF2,'sha1','p','s',0,20)") == "false");
  CHECK(st.eval("pcall(ba.crypto.PBKDF2,'nope','p','s',1,20)") == "false");
  CHECK(st.eval("pcall(ba.crypto.PBKDF2,'sha1','p','s',1,0)") == "false");
}

TEST_CASE("ba.crypto.symmetric: NIST GCM and SP 800-38A CBC vectors, openssl enc") {
  crypto_state st;
  st.set("k", unhex("feffe9928665731c6d6a8f9467308308"));
  st.set("iv", unhex("cafebabefacedbaddecaf888"));
  st.set("p", unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b1"
                    "6aedf5aa0de657ba637b39"));
  st.set("aad", unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"));
  // GCM test case 4: 60 bytes with additional data.
  LUA_OK_RUN(st, R"lua(
    local s = ba.crypto.symmetric('GCM', k, iv)
    s:setauth(aad)
    c, t = s:encrypt(p)
    assert(#c == 60 and #t == 16)
    local d = ba.crypto.symmetric('GCM', k, iv)
    d:setauth(aad)
    assert(d:decrypt(c, t) == p)
    local bad = c:sub(1, 10) .. string.char(c:byte(11) ~ 1) .. c:sub(12)
    local r, e = d:decrypt(bad, t)
    assert(r == nil and e == 'authentication failed', e)
    local n = ba.crypto.symmetric('GCM', k, iv)  -- no aad: the tag differs
    assert(n:decrypt(c, t) == nil)
    -- PKCS7 padding inside GCM, as Mako's examples use it
    local c2, t2 = s:encrypt('{"a":1}', 'PKCS7')
    assert(#c2 == 16 and s:decrypt(c2, t2, 'PKCS7') == '{"a":1}')
  )lua");
  CHECK(hex(st.eval("c")) ==
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0a"
        "ac973d58e091");
  CHECK(hex(st.eval("t")) == "5bc94fbc3221a5db94fae95ae7121a47");

  // CBC F.2.1 (AES-128), one call and the same text in two calls (the chain carries over).
  st.set("k", unhex("2b7e151628aed2a6abf7158809cf4f3c"));
  st.set("iv", unhex("000102030405060708090a0b0c0d0e0f"));
  st.set("p", unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"));
  CHECK(hex(st.eval("ba.crypto.symmetric('CBC', k, iv):encrypt(p)")) ==
        "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
  LUA_OK_RUN(st, R"lua(
    local e = ba.crypto.symmetric('CBC', k, iv, 'encrypt')
    local c = e:encrypt(p:sub(1, 16)) .. e:encrypt(p:sub(17))
    assert(c == ba.crypto.symmetric('CBC', k, iv):encrypt(p))
    assert(not pcall(e.decrypt, e, c), 'an encrypting object does not decrypt')
    local d = ba.crypto.symmetric('CBC', k, iv, 'decrypt')
    assert(d:decrypt(c) == p)
    assert(not pcall(e.encrypt, e, 'short'), 'unpadded CBC needs whole blocks')
    assert(not pcall(e.setauth, e, 'x'))
  )lua");

  // PKCS7 CBC against openssl enc (AES-256).
  temp_dir d;
  std::string key(32, '\x11'), iv(16, '\x22');
  st.set("k", key);
  st.set("iv", iv);
  st.set("msg", "Remora speaks AES-256-CBC with PKCS#7 padding.");
  auto in = d.write("cbc.bin", st.eval("ba.crypto.symmetric('CBC', k, iv):encrypt(msg, 'PKCS7')"));
  std::string out;
  REQUIRE(sh("openssl enc -d -aes-256-cbc -K " + hex(key) + " -iv " + hex(iv) + " -in " + in, &out) == 0);
  CHECK(out == "Remora speaks AES-256-CBC with PKCS#7 padding.");
  auto plain = d.write("plain.txt", "from openssl");
  REQUIRE(sh("openssl enc -aes-256-cbc -K " + hex(key) + " -iv " + hex(iv) + " -in " + plain + " -out " +
             (d.path / "o.bin").string()) == 0);
  st.set("oc", slurp((d.path / "o.bin").string()));
  CHECK(st.eval("ba.crypto.symmetric('CBC', k, iv):decrypt(oc, 'PKCS7')") == "from openssl");
  CHECK(st.eval("select(2, ba.crypto.symmetric('CBC', k, iv):decrypt(string.rep('x', 16), 'PKCS7'))") ==
        "invalid padding");

  // Bad arguments.
  expect_all(st, {{"pcall(ba.crypto.symmetric, 'GCM', 'short', '123456789012')", "false"},
                  {"pcall(ba.crypto.symmetric, 'CBC', k, 'short')", "false"},
                  {"pcall(ba.crypto.symmetric, 'ECB', k, iv)", "false"},
                  {"pcall(ba.crypto.symmetric, 'GCM', k, iv, 'sideways')", "false"},
                  {"pcall(function() ba.crypto.symmetric('GCM', k, iv):encrypt('x', 'zero') end)", "false"},
                  {"select(2, ba.crypto.symmetric('GCM', k, iv):decrypt('x', 'short'))", "the GCM tag must be 16 bytes"}});
}

TEST_CASE("ba.create.key: ECC and RSA keys openssl accepts; keysize, keyparams") {
  crypto_state st;
  temp_dir d;
  std::string out;
  LUA_OK_RUN(st, "ec = ba.create.key() ec384 = ba.create.key{key='ecc', curve='SECP384R1'} "
                 "rsa = ba.create.key{key='rsa', bits=2048}");
  CHECK(st.eval("ec:match('^%-%-%-%-%-BEGIN EC PRIVATE KEY%-%-%-%-%-') ~= nil") == "true");
  CHECK(st.eval("rsa:match('^%-%-%-%-%-BEGIN RSA PRIVATE KEY%-%-%-%-%-') ~= nil") == "true");
  auto ec = d.write("ec.pem", st.eval("ec"));
  REQUIRE(sh("openssl ec -in " + ec + " -noout -text", &out) == 0);
  CHECK(out.find("prime256v1") != std::string::npos);
  REQUIRE(sh("openssl ec -in " + d.write("ec384.pem", st.eval("ec384")) + " -noout -text", &out) == 0);
  CHECK(out.find("secp384r1") != std::string::npos);
  auto rsa = d.write("rsa.pem", st.eval("rsa"));
  REQUIRE(sh("openssl rsa -in " + rsa + " -check -noout", &out) == 0);
  CHECK(out.find("RSA key ok") != std::string::npos);

  CHECK(st.eval("table.concat({ba.crypto.keysize(ec)}, ',')") == "32,ECC");
  CHECK(st.eval("table.concat({ba.crypto.keysize(ec384)}, ',')") == "48,ECC");
  CHECK(st.eval("table.concat({ba.crypto.keysize(rsa)}, ',')") == "256,RSA");
  CHECK(st.eval("ba.crypto.keysize('cert/notafile.pem')") == "nil");

  // keyparams: x, y are the point openssl reports (the last 64 bytes of the DER public key).
  REQUIRE(sh("openssl ec -in " + ec + " -pubout -outform DER -out " + (d.path / "pub.der").string()) == 0);
  auto pub = slurp((d.path / "pub.der").string());
  REQUIRE(pub.size() > 65);
  CHECK(st.eval("table.concat({ba.crypto.keyparams(ec)})") == pub.substr(pub.size() - 64));
  REQUIRE(sh("openssl rsa -in " + rsa + " -noout -modulus", &out) == 0);
  std::string modulus = out.substr(out.find('=') + 1, 512);
  for (auto& c : modulus) c = char(std::tolower(static_cast<unsigned char>(c)));
  CHECK(hex(st.eval("select(1, ba.crypto.keyparams(rsa))")) == modulus);
  CHECK(hex(st.eval("select(2, ba.crypto.keyparams(rsa))")) == "010001");

  // A seed gives the same key again (ba.tpm derives keys this way).
  CHECK(st.eval("ba.create.key{rnd='seed'} == ba.create.key{rnd='seed'}") == "true");
  CHECK(st.eval("ba.create.key{rnd='seed'} ~= ba.create.key{rnd='seed2'}") == "true");
  // Bad options raise errors.
  for (const char* bad : {"{curve='SECP999R1'}", "{key='dsa'}", "{key='rsa', bits=512}", "'ecc'"})
    CHECK(st.eval(std::string("pcall(ba.create.key, ") + bad + ")") == "false");
}

TEST_CASE("private keys openssl writes load: PKCS#8, SEC1, PKCS#1") {
  crypto_state st;
  temp_dir d;
  auto p8 = (d.path / "p8.pem").string(), sec1 = (d.path / "sec1.pem").string(), p1 = (d.path / "p1.pem").string();
  REQUIRE(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " + p8) == 0);
  REQUIRE(sh("openssl ecparam -genkey -name prime256v1 -noout -out " + sec1) == 0);
  REQUIRE(sh("openssl genrsa -traditional -out " + p1 + " 1024") == 0);
  st.set("p8", slurp(p8));
  st.set("sec1", slurp(sec1));
  st.set("p1", slurp(p1));
  CHECK(st.eval("table.concat({ba.crypto.keysize(p8)}, ',')") == "48,ECC");
  CHECK(st.eval("table.concat({ba.crypto.keysize(sec1)}, ',')") == "32,ECC");
  CHECK(st.eval("table.concat({ba.crypto.keysize(p1)}, ',')") == "128,RSA");
  auto key = remora::crypto::load_private_key(slurp(sec1));
  CHECK(remora::crypto::describe(*key).type == "ECC");
  CHECK_THROWS_AS(remora::crypto::load_private_key("garbage"), remora::crypto::pki_error);
  CHECK_THROWS_AS(remora::crypto::load_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                  remora::crypto::pki_error);
}

TEST_CASE("ba.crypto.sign/verify: ECDSA and RSA both ways with openssl") {
  crypto_state st;
  temp_dir d;
  std::string out;
  auto data = d.write("data.txt", "the message to sign\n");
  st.set("data", "the message to sign\n");
  LUA_OK_RUN(st, "ec = ba.create.key() rsa = ba.create.key{key='rsa'} h = ba.crypto.hash('sha256')(data)(true)");
  auto ec = d.write("ec.pem", st.eval("ec"));
  auto rsa = d.write("rsa.pem", st.eval("rsa"));
  auto ecpub = (d.path / "ecpub.pem").string(), rsapub = (d.path / "rsapub.pem").string();
  REQUIRE(sh("openssl pkey -in " + ec + " -pubout -out " + ecpub) == 0);
  REQUIRE(sh("openssl pkey -in " + rsa + " -pubout -out " + rsapub) == 0);
  st.set("ecpub", slurp(ecpub));
  st.set("rsapub", slurp(rsapub));

  // Ours -> openssl.
  auto sig = d.write("ec.sig", st.eval("ba.crypto.sign(h, ec)"));
  CHECK(sh("openssl dgst -sha256 -verify " + ecpub + " -signature " + sig + " " + data) == 0);
  auto hfile = d.write("h.bin", st.eval("h"));
  CHECK(sh("openssl pkeyutl -verify -pubin -inkey " + ecpub + " -in " + hfile + " -sigfile " + sig) == 0);
  sig = d.write("rsa.sig", st.eval("ba.crypto.sign(h, rsa)"));
  CHECK(sh("openssl dgst -sha256 -verify " + rsapub + " -signature " + sig + " " + data) == 0);
  sig = d.write("pss.sig", st.eval("ba.crypto.sign(h, rsa, {padding='pss', hashid='sha256'})"));
  CHECK(sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -verify " + rsapub +
           " -signature " + sig + " " + data) == 0);

  // openssl -> ours, with the key in every form and both argument orders.
  REQUIRE(sh("openssl dgst -sha256 -sign " + ec + " -out " + (d.path / "o.sig").string() + " " + data) == 0);
  st.set("osig", slurp((d.path / "o.sig").string()));
  CHECK(st.eval("ba.crypto.verify(osig, ecpub, h)") == "true");
  CHECK(st.eval("ba.crypto.verify(osig, h, ecpub)") == "true");
  CHECK(st.eval("ba.crypto.verify(osig, ec, h)") == "true");
  CHECK(st.eval("ba.crypto.verify(osig, h, {x=select(1, ba.crypto.keyparams(ec)), y=select(2, ba.crypto.keyparams(ec))})") ==
        "true");
  CHECK(st.eval("ba.crypto.verify(osig, h, {x=ba.b64urlencode(select(1, ba.crypto.keyparams(ec))), "
                "y=ba.b64urlencode(select(2, ba.crypto.keyparams(ec)))})") == "true");
  CHECK(st.eval("ba.crypto.verify(osig, ecpub, ba.crypto.hash('sha256')('other')(true))") == "false");
  CHECK(st.eval("ba.crypto.verify('not DER', ecpub, h)") == "false");
  REQUIRE(sh("openssl dgst -sha256 -sign " + rsa + " -out " + (d.path / "r.sig").string() + " " + data) == 0);
  st.set("rsig", slurp((d.path / "r.sig").string()));
  CHECK(st.eval("ba.crypto.verify(rsig, rsapub, h, {padding='pkcs1', hashid='sha256'})") == "true");
  CHECK(st.eval("ba.crypto.verify(rsig, rsapub, h)") == "true");
  CHECK(st.eval("ba.crypto.verify(rsig, h, {n=select(1, ba.crypto.keyparams(rsa)), e=select(2, ba.crypto.keyparams(rsa))})") ==
        "true");
  CHECK(st.eval("ba.crypto.verify(rsig, rsapub, h, {padding='pss'})") == "false");

  // sigparams: DER <-> fixed-size r, s (the JWS ES256 form), and back.
  LUA_OK_RUN(st, R"lua(
    local sig = ba.crypto.sign(h, ec)
    local r, s = ba.crypto.sigparams(sig)
    assert(#r == 32 and #s == 32)
    assert(ba.crypto.verify(ba.crypto.sigparams(r, s), ec, h) == true)
    assert(ba.crypto.sigparams('junk') == nil)
  )lua");

  // Bad keys: nil and a message, never a crash.
  CHECK(st.eval("select(2, ba.crypto.sign(h, 'garbage'))").find("invalid private key") != std::string::npos);
  CHECK(st.eval("ba.crypto.sign(h, ecpub)") == "nil");
  CHECK(st.eval("ba.crypto.verify(osig, h, 'garbage')") == "nil");
  CHECK(st.eval("ba.crypto.verify(osig, h, {x='1'})") == "nil");
  CHECK(st.eval("ba.crypto.verify(osig, h, {x=string.rep('\\1', 32), y=string.rep('\\2', 32)})") == "nil");
  CHECK(st.eval("select(2, ba.crypto.sign('short', rsa))").find("hashid") != std::string::npos);
  CHECK(st.eval("select(2, ba.crypto.sign(h, rsa, {padding='nope'}))").find("padding") != std::string::npos);
  CHECK(st.eval("pcall(ba.crypto.sign, h)") == "false");
}

TEST_CASE("ba.crypto.encrypt/decrypt: RSA PKCS#1 and OAEP both ways with openssl") {
  crypto_state st;
  temp_dir d;
  std::string out;
  LUA_OK_RUN(st, "rsa = ba.create.key{key='rsa'}");
  auto rsa = d.write("rsa.pem", st.eval("rsa"));
  auto pub = (d.path / "pub.pem").string();
  REQUIRE(sh("openssl pkey -in " + rsa + " -pubout -out " + pub) == 0);
  st.set("pub", slurp(pub));
  auto c = d.write("c1.bin", st.eval("ba.crypto.encrypt('secret one', pub)"));
  REQUIRE(sh("openssl pkeyutl -decrypt -inkey " + rsa + " -in " + c, &out) == 0);
  CHECK(out == "secret one");
  c = d.write("c2.bin", st.eval("ba.crypto.encrypt('secret two', pub, {padding='oaep', hashid='sha256'})"));
  REQUIRE(sh("openssl pkeyutl -decrypt -inkey " + rsa + " -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in " + c,
             &out) == 0);
  CHECK(out == "secret two");
  auto plain = d.write("p.txt", "from openssl");
  REQUIRE(sh("openssl pkeyutl -encrypt -pubin -inkey " + pub + " -pkeyopt rsa_padding_mode:oaep -in " + plain + " -out " +
             (d.path / "o.bin").string()) == 0);
  st.set("oc", slurp((d.path / "o.bin").string()));
  expect_all(st, {{"ba.crypto.decrypt(oc, rsa, {padding='oaep', hash='sha1'})", "from openssl"},
                  {"ba.crypto.decrypt(oc, rsa)", "nil"},  // wrong padding: nil, message
                  {"ba.crypto.encrypt(string.rep('x', 300), pub)", "nil"},
                  {"select(2, ba.crypto.encrypt('x', ba.create.key()))", "encrypt needs an RSA key"},
                  {"ba.crypto.decrypt('x', 'garbage')", "nil"}});
}

TEST_CASE("ba.create.csr and ba.create.certificate: openssl req/x509/verify accept them") {
  crypto_state st;
  temp_dir d;
  std::string out;
  LUA_OK_RUN(st, R"lua(
    key = ba.create.key()
    csr = ba.create.csr(key, {commonname='example.com', countryname='NO', organizationname='Remora'},
      'example.com;www.example.com;IP:127.0.0.1', {'SSL_SERVER'}, {'DIGITAL_SIGNATURE', 'KEY_ENCIPHERMENT'})
    assert(csr:find('BEGIN CERTIFICATE REQUEST', 1, true), csr)
    local from = os.date('*t') from.day = from.day - 1
    local to = os.date('*t') to.year = to.year + 2
    cert = ba.create.certificate(csr, key, from, to, 123456)
    assert(cert and cert:find('BEGIN CERTIFICATE', 1, true), cert)
  )lua");
  auto csr = d.write("csr.pem", st.eval("csr"));
  REQUIRE(sh("openssl req -in " + csr + " -noout -verify -text", &out) == 0);
  CHECK(out.find("CN = example.com") != std::string::npos);
  CHECK(out.find("DNS:www.example.com") != std::string::npos);
  CHECK(out.find("IP Address:127.0.0.1") != std::string::npos);
  auto cert = d.write("cert.pem", st.eval("cert"));
  REQUIRE(sh("openssl x509 -in " + cert + " -noout -text", &out) == 0);
  CHECK(out.find("Serial Number: 123456") != std::string::npos);
  CHECK(out.find("Issuer: C = NO, O = Remora, CN = example.com") != std::string::npos);
  CHECK(out.find("TLS Web Server Authentication") != std::string::npos);
  CHECK(out.find("Digital Signature") != std::string::npos);
  CHECK(out.find("Key Encipherment") == std::string::npos);  // not for an ECC key
  CHECK(out.find("SSL Server") != std::string::npos);        // Netscape cert type
  CHECK(sh("openssl verify -CAfile " + cert + " " + cert) == 0);
  auto key = d.write("key.pem", st.eval("key"));
  std::string a, b;
  REQUIRE(sh("openssl x509 -in " + cert + " -noout -pubkey", &a) == 0);
  REQUIRE(sh("openssl pkey -in " + key + " -pubout", &b) == 0);
  CHECK(a == b);

  // A CA (RSA, sha384) signs a leaf's request; a request openssl made is signed too.
  LUA_OK_RUN(st, R"lua(
    cakey = ba.create.key{key='rsa'}
    local cacsr = ba.create.csr(cakey, {commonname='Remora Test CA'}, {'SSL_CA'}, {'KEY_CERT_SIGN', 'CRL_SIGN'}, 'sha384')
    cacert = ba.create.certificate(cacsr, cakey, os.time() - 60, os.time() + 86400 * 30, nil, 'sha384')
    assert(cacert, 'CA cert')
    local lkey = ba.create.key{curve='SECP384R1'}
    local lcsr = ba.create.csr(lkey, {commonname='leaf.example'}, {'SSL_CLIENT', 'SSL_SERVER'}, {'DIGITAL_SIGNATURE'})
    leaf = ba.create.certificate(lcsr, cakey, cacert, os.time() - 60, os.time() + 86400)
    assert(leaf, 'leaf')
    local r, e = ba.create.certificate(lcsr, key, cacert)
    assert(r == nil and e:find('does not belong'), e)
    r, e = ba.create.certificate(lcsr, key)
    assert(r == nil and e:find('not the request'), e)
  )lua");
  auto ca = d.write("ca.pem", st.eval("cacert"));
  auto leaf = d.write("leaf.pem", st.eval("leaf"));
  CHECK(sh("openssl verify -CAfile " + ca + " " + leaf) == 0);
  REQUIRE(sh("openssl x509 -in " + ca + " -noout -text", &out) == 0);
  CHECK(out.find("CA:TRUE") != std::string::npos);
  CHECK(out.find("sha384WithRSAEncryption") != std::string::npos);
  auto okey = (d.path / "okey.pem").string(), ocsr = (d.path / "ocsr.pem").string();
  REQUIRE(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + okey +
             " -subj /CN=openssl.example -out " + ocsr) == 0);
  st.set("ocsr", slurp(ocsr));
  auto ocert = d.write("ocert.pem", st.eval("ba.create.certificate(ocsr, cakey, cacert)"));
  CHECK(sh("openssl verify -CAfile " + ca + " " + ocert) == 0);

  // Bad input: nil and a message, or an error for wrong argument types.
  CHECK(st.eval("ba.create.csr('garbage', {commonname='x'}, {'SSL_SERVER'}, {})") == "nil");
  CHECK(st.eval("pcall(ba.create.csr, key, {commonname='x'}, {'SSL_SERVER'}, {'FLY'})") == "false");
  CHECK(st.eval("pcall(ba.create.csr, key, 'cn')") == "false");
  CHECK(st.eval("select(2, ba.create.csr(key, {}, {'SSL_SERVER'}, {}))").find("commonname") != std::string::npos);
  CHECK(st.eval("ba.create.certificate('garbage', key)") == "nil");
  CHECK(st.eval("select(2, ba.create.certificate(csr, key, os.time(), os.time() - 10))").find("ends before") !=
        std::string::npos);
  CHECK(st.eval("pcall(ba.create.certificate, csr, key, {year=2020})") == "false");
}

TEST_CASE("ba.parsecert and ba.parsecerttime") {
  crypto_state st;
  temp_dir d;
  std::string out;
  auto key = (d.path / "k.pem").string(), cert = (d.path / "c.pem").string(), der = (d.path / "c.der").string();
  REQUIRE(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key + " -out " + cert +
             " -days 10 -subj /C=NO/ST=Oslo/L=Oslo/O=Acme/OU=Web/CN=example.com "
             "-addext subjectAltName=DNS:example.com,DNS:www.example.com,IP:127.0.0.1") == 0);
  REQUIRE(sh("openssl x509 -in " + cert + " -outform DER -out " + der) == 0);
  st.set("pem", slurp(cert));
  st.set("der", slurp(der));
  LUA_OK_RUN(st, R"lua(
    for _, c in ipairs{pem, der} do
      local t = assert(ba.parsecert(c))
      assert(t.subject.commonname == 'example.com', t.subject.commonname)
      assert(t.subject.countryname == 'NO' and t.subject.organizationname == 'Acme')
      assert(t.subject.statename == 'Oslo' and t.subject.localityname == 'Oslo')
      assert(t.subject.organizationalunitname == 'Web')
      assert(t.issuer.commonname == 'example.com')
      assert(t.timeto - t.timefrom == 10 * 86400, t.timeto - t.timefrom)
      assert(math.abs(t.timefrom - os.time()) < 120)
      assert(ba.parsecerttime(t.tzto) == t.timeto and ba.parsecerttime(t.tzfrom) == t.timefrom)
      assert(t.tzto:match('^%d+Z$'), t.tzto)
      assert(t.keytype == 'ECC' and t.keysize == 32)
      local alt = table.concat(t.subjectaltnames, ',')
      assert(alt:find('www.example.com', 1, true) and alt:find('IP:127.0.0.1', 1, true), alt)
      assert(t.selfsigned == true)
      fp, serial = t.sha256, t.serial
    end
  )lua");
  REQUIRE(sh("openssl x509 -in " + cert + " -noout -fingerprint -sha256", &out) == 0);
  std::string fp;
  for (char c : out.substr(out.find('=') + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) fp += char(std::tolower(static_cast<unsigned char>(c)));
  CHECK(st.eval("fp") == fp);
  REQUIRE(sh("openssl x509 -in " + cert + " -noout -serial", &out) == 0);
  std::string serial = out.substr(out.find('=') + 1);
  while (!serial.empty() && std::isspace(static_cast<unsigned char>(serial.back()))) serial.pop_back();
  CHECK(st.eval("serial") == serial);
  // Our own certificates report their key usage and type.
  LUA_OK_RUN(st, R"lua(
    local k = ba.create.key{key='rsa'}
    local c = ba.create.certificate(ba.create.csr(k, {commonname='r'}, {'SSL_CLIENT'}, {'DIGITAL_SIGNATURE', 'KEY_ENCIPHERMENT'}), k)
    local t = ba.parsecert(c)
    assert(t.keytype == 'RSA' and t.keysize == 256)
    assert(table.concat(t.keyusage, ',') == 'DIGITAL_SIGNATURE,KEY_ENCIPHERMENT', table.concat(t.keyusage, ','))
    assert(table.concat(t.certtype, ',') == 'SSL_CLIENT', table.concat(t.certtype, ','))
    assert(t.isca == false)
  )lua");
  // Garbage: nil and a message.
  CHECK(st.eval("ba.parsecert('')") == "nil");
  CHECK(st.eval("ba.parsecert('garbage')") == "nil");
  CHECK(st.eval("select(2, ba.parsecert(pem:sub(1, 200)))").find("certificate") != std::string::npos);
  CHECK(st.eval("ba.parsecert(der:sub(1, 100))") == "nil");
  CHECK(st.eval("pcall(ba.parsecert)") == "false");

  const char* times[][2] = {{"700101000000Z", "0"},          {"491231235959Z", "2524607999"},
                            {"500101000000Z", "-631152000"}, {"20380119031408Z", "2147483648"},
                            {"2401011200Z", "1704110400"},   {"garbage", "0"},
                            {"241301000000Z", "0"},          {"", "0"}};
  for (auto& t : times) CHECK(st.eval(std::string("ba.parsecerttime('") + t[0] + "')") == t[1]);
}

TEST_CASE("pki API: self-signed ECDSA certificate for the TLS default") {
  temp_dir d;
  auto key = remora::crypto::generate_key({});
  auto cert = remora::crypto::self_signed_certificate(*key, {"localhost", "127.0.0.1"}, 30);
  CHECK(remora::crypto::matches(*key, cert));
  CHECK_FALSE(remora::crypto::matches(*remora::crypto::generate_key({}), cert));
  auto path = d.write("self.pem", cert.PEM_encode());
  std::string out;
  REQUIRE(sh("openssl x509 -in " + path + " -noout -text", &out) == 0);
  CHECK(out.find("DNS:localhost") != std::string::npos);
  CHECK(out.find("IP Address:127.0.0.1") != std::string::npos);
  CHECK(out.find("ecdsa-with-SHA256") != std::string::npos);
  CHECK(sh("openssl verify -CAfile " + path + " " + path) == 0);
  auto pem = remora::crypto::private_key_pem(*key);
  auto again = remora::crypto::load_private_key(pem);
  CHECK(remora::crypto::matches(*again, cert));
  CHECK(remora::crypto::load_certificates(cert.PEM_encode() + cert.PEM_encode()).size() == 2);
  CHECK_THROWS_AS(remora::crypto::load_certificates("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----"),
                  remora::crypto::pki_error);
}

#endif  // REMORA_CRYPTO
