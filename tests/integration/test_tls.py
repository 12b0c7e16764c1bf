"""HTTPS: certificates (self-signed on first start, PEM files, chains, traditional key forms),
SNI, favorRSA, ALPN, resumption, client certificates, strong-only protocol choices,
mako.loadcerts, redirect2tls, and bad input (bad files, garbage and stalled handshakes).

Clients: python's ssl module, openssl s_client, curl and sslscan. Certificates are made with
the openssl command line in a per-class directory.
"""
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from harness import (CURL, WAIT, ServerTestCase, SharedServerTestCase, free_port, main, run_remora,
                     write_file)

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def sh(args, cwd, input=None):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, input=input, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s failed:\n%s%s" % (args, r.stdout, r.stderr))
    return r.stdout


class PKI:
    """A small CA tree made with openssl: a root, an intermediate, leaves and client certs."""

    CA_CNF = """[ca]
default_ca = c
[c]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

    def __init__(self, d):
        self.d = d
        os.makedirs(os.path.join(d, "db"))
        write_file(d, "db/index.txt", "")
        write_file(d, "db/serial", "1000\n")
        write_file(d, "ca.cnf", self.CA_CNF)
        self.ec_key("root.key")
        sh([OPENSSL, "req", "-x509", "-new", "-key", "root.key", "-out", "root.pem", "-days", "30",
            "-subj", "/CN=Remora Test Root"], d)
        self.ec_key("inter.key")
        sh([OPENSSL, "req", "-new", "-key", "inter.key", "-out", "inter.csr", "-subj", "/CN=Remora Test Inter"], d)
        self.sign("inter.csr", "inter.pem", "root", extensions="v3_ca")

    def path(self, name):
        return os.path.join(self.d, name)

    def ec_key(self, name, traditional=False):
        sh([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name], self.d)
        if traditional:
            sh([OPENSSL, "ec", "-in", name, "-out", name], self.d)  # "EC PRIVATE KEY"
        return self.path(name)

    def rsa_key(self, name, traditional=False):
        sh([OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name], self.d)
        if traditional:
            sh([OPENSSL, "rsa", "-in", name, "-out", name, "-traditional"], self.d)
        return self.path(name)

    def sign(self, csr, out, issuer, extensions=None, start=None, end=None, san=None):
        args = [OPENSSL, "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", issuer + ".pem", "-keyfile",
                issuer + ".key", "-in", csr, "-out", out]
        if extensions:
            args += ["-extensions", extensions]
        if start:
            args += ["-startdate", start, "-enddate", end]
        else:
            args += ["-days", "30"]
        sh(args, self.d)
        return self.path(out)

    def leaf(self, name, cn, issuer="inter", rsa=False, traditional=False, start=None, end=None, client=False):
        key = (self.rsa_key if rsa else self.ec_key)(name + ".key", traditional)
        cfg = "[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=DNS:%s\n" % cn
        if client:
            cfg += "extendedKeyUsage=clientAuth\n"
        write_file(self.d, name + ".cnf", cfg)
        sh([OPENSSL, "req", "-new", "-key", key, "-out", name + ".csr", "-subj", "/CN=" + cn, "-config",
            name + ".cnf", "-reqexts", "ext"], self.d)
        pem = self.sign(name + ".csr", name + ".pem", issuer, start=start, end=end)
        if issuer == "inter":  # the chain file: leaf, then the intermediate
            with open(pem, "a") as f, open(self.path("inter.pem")) as i:
                f.write(i.read())
        return pem, key


def context(cafile=None, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def https_get(port, path="/", ctx=None, host="127.0.0.1", sni=None):
    conn = http.client.HTTPSConnection(host, port, timeout=WAIT, context=ctx or context())
    if sni:  # connect to `host`, name `sni` in the handshake
        conn = http.client.HTTPSConnection(sni, port, timeout=WAIT, context=ctx or context())
        conn._create_connection = lambda addr, timeout=None, source_address=None: socket.create_connection(
            (host, port), timeout)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def s_client(port, *args, input_data="", servername=None):
    cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port] + list(args)
    if servername:
        cmd += ["-servername", servername]
    r = subprocess.run(cmd, input=input_data, capture_output=True, text=True, timeout=WAIT * 2)
    return r.returncode, r.stdout + r.stderr


def peer_cn(port, servername=None, *args):
    """The CN of the certificate the server presents."""
    cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-showcerts"] + list(args)
    if servername:
        cmd += ["-servername", servername]
    r = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=WAIT * 2)
    m = re.search(r"^ ?0 s:.*?CN ?= ?([^,\n/]+)", r.stdout, re.M)
    return m.group(1).strip() if m else r.stdout + r.stderr


PAGES = {
    "www/index.lsp": "<?lsp local c, v = request:cipher() print(request:issecure(), c, v) ?>",
    "www/cert.lsp": """<?lsp
local cert, trusted = request:certificate()
if not cert then print("none") else
  if type(cert) == "table" then
    local s = cert.subject or {}
    print("cert", s.commonname or s.commonName or s.CN or "?", tostring(trusted))
  else
    print("cert", #cert, tostring(trusted))
  end
end ?>""",
    "www/loadcerts.lsp": """<?lsp
local shark, err = mako.loadcerts(request:data"key", request:data"cert")
print(shark and "loaded" or ("failed: " .. tostring(err))) ?>""",
    "www/tohttps.lsp": "<?lsp request:redirect2tls() print('not reached on http') ?>",
}


class CertificatesTest(SharedServerTestCase):
    """One server with an ECDSA chain (a.test), an RSA certificate with a traditional key
    (b.test), a traditional-EC-key certificate (c.test) and a certificate store."""

    PREFIX = "remora-tls-"

    @classmethod
    def make_server(cls, base):
        cls.pki = PKI(os.path.join(base, "pki"))
        cls.a = cls.pki.leaf("a", "a.test")
        cls.b = cls.pki.leaf("b", "b.test", issuer="root", rsa=True, traditional=True)
        cls.c = cls.pki.leaf("c", "c.test", traditional=True)
        cls.client = cls.pki.leaf("client", "client.test", client=True)
        for rel, text in PAGES.items():
            write_file(base, rel, text)
        cls.port, cls.ssl = free_port(), free_port()
        conf = ('port=%d\nhost="127.0.0.1"\nsslport=%d\nsslhost="127.0.0.1"\n'
                'certfile={"%s","%s","%s"}\nkeyfile={"%s","%s","%s"}\ncertstore="%s"\n'
                % (cls.port, cls.ssl, cls.a[0], cls.b[0], cls.c[0], cls.a[1], cls.b[1], cls.c[1],
                   cls.pki.path("root.pem")))
        from harness import Server
        srv = Server(apps=["-l::" + os.path.join(base, "www")], conf_text=conf, tmpdir=base)
        srv.https_port()
        return srv

    def test_console_lines(self):
        out = self.srv.output()
        for cn in ("a.test", "b.test", "c.test"):
            self.assertIn("Loading certificate " + cn, out)
        self.assertIn("TLS server listening on IPv4 port %d, interface 127.0.0.1" % self.ssl, out)

    def test_https_with_the_chain_verified(self):
        ctx = context(cafile=self.pki.path("root.pem"))
        status, body = https_get(self.ssl, "/", ctx=ctx, sni="a.test")
        self.assertEqual(status, 200)
        secure, cipher, version = body.decode().strip().split("\t")
        self.assertEqual((secure, version), ("true", "TLS v1.2"))
        self.assertRegex(cipher, r"^ECDHE_(ECDSA|RSA)_WITH_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$")

    def test_curl_with_cacert(self):
        r = subprocess.run([CURL, "-sS", "--max-time", "10", "--cacert", self.pki.path("root.pem"), "--resolve",
                            "a.test:%d:127.0.0.1" % self.ssl, "https://a.test:%d/" % self.ssl],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("true\t"), r.stdout)

    def test_sni_picks_the_certificate(self):
        self.assertEqual(peer_cn(self.ssl, "a.test"), "a.test")
        self.assertEqual(peer_cn(self.ssl, "c.test"), "c.test")
        self.assertEqual(peer_cn(self.ssl, "b.test"), "b.test")
        # an unknown name or no SNI: the first certificate of a usable type
        self.assertEqual(peer_cn(self.ssl, "other.test"), "a.test")
        self.assertEqual(peer_cn(self.ssl, None, "-noservername"), "a.test")

    def test_rsa_certificate_when_the_client_only_takes_rsa(self):
        self.assertEqual(peer_cn(self.ssl, "other.test", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"), "b.test")
        self.assertEqual(peer_cn(self.ssl, "other.test", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"), "b.test")

    def test_alpn(self):
        rc, out = s_client(self.ssl, "-alpn", "h2,http/1.1")
        self.assertIn("ALPN protocol: http/1.1", out)
        rc, out = s_client(self.ssl, "-alpn", "h2")
        self.assertIn("No ALPN negotiated", out)

    def test_resumption_by_ticket_and_by_session_id(self):
        with self.tempdir_file("sess") as sess:
            for extra in ([], ["-no_ticket"]):
                rc, out = s_client(self.ssl, "-sess_out", sess, *extra)
                self.assertEqual(rc, 0, out)
                self.assertNotIn("Reused", out)
                rc, out = s_client(self.ssl, "-sess_in", sess, *extra)
                self.assertIn("Reused, TLSv1.2", out, extra)

    def tempdir_file(self, name):
        import contextlib
        d = self.tempdir()

        @contextlib.contextmanager
        def cm():
            yield os.path.join(d, name)
        return cm()

    def test_weak_protocols_and_ciphers_are_refused(self):
        for args in (["-tls1_1"], ["-tls1"], ["-tls1_2", "-cipher", "AES128-SHA"],
                     ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"],
                     ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"]):
            rc, out = s_client(self.ssl, *args)
            self.assertNotEqual(rc, 0, (args, out))
            self.assertNotRegex(out, r"Cipher is (?!\(NONE\))", args)
        self.assertTrue(self.srv.alive())

    def test_sslscan_offers_only_strong_choices(self):
        r = subprocess.run(["sslscan", "--no-colour", "--no-check-certificate", "127.0.0.1:%d" % self.ssl],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout
        self.assertRegex(out, r"TLSv1\.2\s+enabled")
        for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
            self.assertRegex(out, proto.replace(".", r"\.") + r"\s+disabled")
        accepted = re.findall(r"^(?:Preferred|Accepted)\s+TLSv1\.2\s+\d+ bits\s+(\S+)", out, re.M)
        self.assertTrue(accepted, out)
        for c in accepted:
            self.assertRegex(c, r"^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$")
        self.assertNotIn("Insecure session renegotiation supported", out)

    def test_client_certificates(self):
        # no client certificate
        status, body = https_get(self.ssl, "/cert.lsp")
        self.assertEqual(body.strip(), b"none")
        # one from the store's CA (through the intermediate in its chain file)
        status, body = https_get(self.ssl, "/cert.lsp", ctx=context(cert=self.client[0], key=self.client[1]))
        fields = body.decode().split()
        self.assertEqual(fields[0], "cert")
        self.assertEqual(fields[-1], "true", body)
        # one from an unknown CA: the handshake succeeds, the certificate is not trusted
        other = PKI(os.path.join(self.tempdir(), "other"))
        stranger = other.leaf("x", "stranger.test", issuer="root", client=True)
        status, body = https_get(self.ssl, "/cert.lsp", ctx=context(cert=stranger[0], key=stranger[1]))
        self.assertEqual(body.decode().split()[-1], "false", body)
        self.assertTrue(self.srv.alive())

    def test_plain_port_still_answers(self):
        r = self.srv.get("/")
        self.assertEqual(r.body.split()[0], b"false")

    def test_redirect2tls_names_the_https_port(self):
        r = self.srv.get("/tohttps.lsp")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "https://127.0.0.1:%d/tohttps.lsp" % self.ssl)
        status, body = https_get(self.ssl, "/tohttps.lsp")
        self.assertEqual(body.strip(), b"not reached on http")

    def test_garbage_instead_of_a_client_hello(self):
        with socket.create_connection(("127.0.0.1", self.ssl), timeout=WAIT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertNotIn(b"HTTP/1.1", data)  # an alert at most, then the close
        status, _ = https_get(self.ssl, "/")
        self.assertEqual(status, 200)

    def test_keep_alive_requests_on_one_connection(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.ssl, timeout=WAIT, context=context())
        for _ in range(20):
            conn.request("GET", "/")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        conn.close()

    def test_large_static_body_over_tls(self):
        data = os.urandom(3 * 1024 * 1024 + 7)
        write_file(os.path.join(self.tmp.name, "www"), "big.bin", data)
        status, body = https_get(self.ssl, "/big.bin")
        self.assertEqual(status, 200)
        self.assertEqual(body, data)


class SelfSignedTest(ServerTestCase):
    def test_created_on_first_start_then_reused(self):
        home = self.tempdir()
        conf = {"sslport": free_port(), "sslhost": "127.0.0.1"}
        srv = self.start(conf=conf, tmpdir=home)
        port = srv.https_port()
        pem = os.path.join(home, ".certificate", "remora.pem")
        key = os.path.join(home, ".certificate", "remora.key")
        self.assertIn("Created a self-signed certificate: " + pem, srv.output())
        self.assertIn("Loading certificate localhost", srv.output())
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(pem) as f:
            first = f.read()
        status, _ = https_get(port, "/", ctx=context(cafile=pem), sni="localhost")
        self.assertEqual(status, 200)  # no app: the welcome page, over a verified handshake
        srv.stop()
        srv = self.start(conf=conf, tmpdir=home)
        srv.https_port()
        self.assertNotIn("Created a self-signed", srv.output())
        with open(pem) as f:
            self.assertEqual(f.read(), first)
        r = subprocess.run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pem,
                            "https://localhost:%d/" % srv.https_port(), "--resolve",
                            "localhost:%d:127.0.0.1" % srv.https_port()], capture_output=True, text=True)
        self.assertEqual(r.stdout, "200", r.stderr)

    def test_fallback_port_when_the_first_is_taken(self):
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        self.addCleanup(busy.close)
        srv = self.start(conf={"sslport": taken, "sslhost": "127.0.0.1"}, tmpdir=self.tempdir())
        port = srv.https_port()
        self.assertNotEqual(port, taken)
        self.assertTrue(9443 <= port <= 9460, port)
        status, _ = https_get(port, "/")
        self.assertEqual(status, 200)


class LoadCertsTest(ServerTestCase):
    def test_certificates_swapped_while_running(self):
        base = self.tempdir()
        pki = PKI(os.path.join(base, "pki"))
        one = pki.leaf("one", "one.test")
        two = pki.leaf("two", "two.test")
        for rel, text in PAGES.items():
            write_file(base, rel, text)
        conf = ('port=%d\nhost="127.0.0.1"\nsslport=%d\nsslhost="127.0.0.1"\ncertfile="%s"\nkeyfile="%s"\n'
                % (free_port(), free_port(), one[0], one[1]))
        srv = self.start(apps=["-l::" + os.path.join(base, "www")], conf_text=conf, tmpdir=base)
        port = srv.https_port()
        self.assertEqual(peer_cn(port), "one.test")
        # a keep-alive connection made before the swap
        kept = http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT, context=context())
        kept.request("GET", "/")
        kept.getresponse().read()
        r = srv.get("/loadcerts.lsp?key=%s&cert=%s" % (two[1], two[0]))
        self.assertEqual(r.body.strip(), b"loaded", srv.output())
        self.assertEqual(peer_cn(port), "two.test")
        kept.request("GET", "/")
        self.assertEqual(kept.getresponse().read().split()[0], b"true")
        kept.close()
        # a bad pair is refused and the current certificates stay
        r = srv.get("/loadcerts.lsp?key=%s&cert=%s" % (one[1], two[0]))
        self.assertIn(b"failed: ", r.body)
        self.assertIn(b"does not belong", r.body)
        self.assertEqual(peer_cn(port), "two.test")
        # reloading from mako.conf
        r = srv.get("/loadcerts.lsp")
        self.assertEqual(r.body.strip(), b"loaded")
        self.assertEqual(peer_cn(port), "one.test")


class LuaObjectsTest(ServerTestCase):
    def test_client_and_server_contexts_in_script_mode(self):
        d = self.tempdir()
        pki = PKI(os.path.join(d, "pki"))
        leaf = pki.leaf("s", "s.test")
        script = write_file(d, "s.lua", """
local c = ba.sharkclient()
local store = ba.create.certstore()
assert(store:addcert(%r))
local ok, err = store:addcert("/nonexistent.pem")
local cc = ba.create.sharkssl(store, {server=false})
local sc = ba.create.sharkssl(store)
local cert = assert(ba.create.sharkcert(%r, %r))
sc:addcert(cert)
local bad, berr = pcall(cc.addcert, cc, cert)
local con, cerr = pcall(ba.create.servcon, 0, {intf="127.0.0.1", shark=cc})
local sv = assert(ba.create.servcon(0, {intf="127.0.0.1", shark=sc}))
print(c:isclient(), cc:isclient(), sc:isclient(), sc:size(), ok, err ~= nil, bad, con, cert:name(), sv:port() > 0)
print(berr)
sv:close()
""" % (pki.path("root.pem"), leaf[0], leaf[1]))
        r = run_remora([script], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(lines[-2], "true\ttrue\tfalse\t1\tnil\ttrue\tfalse\tfalse\ts.test\ttrue", r.stderr)
        self.assertIn("a server SharkSSL object expected", lines[-1])


class FavorRSATest(ServerTestCase):
    def test_rsa_first_for_clients_that_take_both(self):
        base = self.tempdir()
        pki = PKI(os.path.join(base, "pki"))
        ec = pki.leaf("ec", "ec.test")
        rsa = pki.leaf("rsa", "rsa.test", rsa=True)
        conf = {"sslport": free_port()}
        text = ('port=%d\nhost="127.0.0.1"\nsslport=%d\nsslhost="127.0.0.1"\ncertfile={"%s","%s"}\n'
                'keyfile={"%s","%s"}\n' % (free_port(), conf["sslport"], ec[0], rsa[0], ec[1], rsa[1]))
        srv = self.start(conf_text=text, tmpdir=base)
        self.assertEqual(peer_cn(srv.https_port()), "ec.test")  # ECDSA ranks first by default
        srv.stop()
        srv = self.start(conf_text=text + "favorRSA=true\n", tmpdir=base)
        port = srv.https_port()
        srv.wait_for("Favor RSA certificate")
        self.assertEqual(peer_cn(port), "rsa.test")
        self.assertEqual(peer_cn(port, None, "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"), "ec.test")


MINIMAL = os.environ.get("REMORA_MINIMAL", "")


@unittest.skipUnless(os.path.exists(MINIMAL), "REMORA_MINIMAL names no minimal-edition binary")
class MinimalEditionTest(ServerTestCase):
    def test_links_no_tls_code(self):
        needed = subprocess.run(["readelf", "-d", MINIMAL], capture_output=True, text=True).stdout
        self.assertIn("NEEDED", needed)
        self.assertNotIn("botan", needed.lower())
        syms = subprocess.run(["nm", "-C", MINIMAL], capture_output=True, text=True).stdout.splitlines()
        self.assertGreater(len(syms), 100)  # not stripped: the check means something
        self.assertTrue(any("luaL_newstate" in s for s in syms))
        # code, not type names inside other symbols: functions of these classes
        for word in ("Botan::", "remora::tls::session::", "remora::tls::context::", "remora::tls::keypair::"):
            found = [s for s in syms if word in s]
            self.assertEqual(found[:3], [], word)

    def test_sslport_is_refused_with_a_clear_message(self):
        d = self.tempdir()
        path = os.path.join(d, "mako.conf")
        with open(path, "w") as f:
            f.write('port=%d\nhost="127.0.0.1"\nsslport=%d\n' % (free_port(), free_port()))
        r = subprocess.run([MINIMAL, "-c", path], capture_output=True, text=True, timeout=WAIT, cwd=d)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("this edition has no TLS (remove sslport or set it to 0)", r.stderr)

    def test_no_sslport_means_http_only(self):
        d = self.tempdir()
        path = os.path.join(d, "mako.conf")
        port = free_port()
        with open(path, "w") as f:
            f.write('port=%d\nhost="127.0.0.1"\n' % port)
        p = subprocess.Popen([MINIMAL, "-c", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=d)
        try:
            deadline = time.monotonic() + WAIT
            out = ""
            while "Server listening" not in out and time.monotonic() < deadline:
                out += p.stdout.readline()
            self.assertIn("Server listening on IPv4 port %d" % port, out)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            conn.request("GET", "/")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            p.terminate()
            rest = p.communicate(timeout=WAIT)[0]
        self.assertNotIn("TLS server", out + rest)
        self.assertEqual(p.returncode, 0)


class BadCertificateFilesTest(ServerTestCase):
    """A bad certificate configuration stops the start with a clear message (exit 1)."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls._tmp = tempfile.TemporaryDirectory(prefix="remora-badcert-")
        cls.pki = PKI(os.path.join(cls._tmp.name, "pki"))
        cls.a = cls.pki.leaf("a", "a.test")
        cls.b = cls.pki.leaf("b", "b.test")
        cls.old = cls.pki.leaf("old", "old.test", start="20200101000000Z", end="20200201000000Z")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def run_conf(self, text):
        d = self.tempdir()
        path = os.path.join(d, "mako.conf")
        with open(path, "w") as f:
            f.write('port=%d\nhost="127.0.0.1"\nsslport=%d\nsslhost="127.0.0.1"\n' % (free_port(), free_port()) + text)
        return run_remora(["-c", path], cwd=d)

    def test_missing_certificate_file(self):
        r = self.run_conf('certfile="nope.pem"\nkeyfile="nope.key"\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn(".openports error: certfile: cannot find nope.pem", r.stderr)

    def test_key_of_another_certificate(self):
        r = self.run_conf('certfile="%s"\nkeyfile="%s"\n' % (self.a[0], self.b[1]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("the private key does not belong to the certificate", r.stderr)

    def test_garbage_files(self):
        d = self.tempdir()
        junk = write_file(d, "junk.pem", b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        r = self.run_conf('certfile="%s"\nkeyfile="%s"\n' % (junk, self.a[1]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("junk.pem with key %s: cannot read the certificate" % self.a[1], r.stderr)
        r = self.run_conf('certfile="%s"\nkeyfile="%s"\n' % (self.a[0], junk))
        self.assertEqual(r.returncode, 1)
        self.assertIn("private key", r.stderr)

    def test_unequal_lists(self):
        r = self.run_conf('certfile={"%s","%s"}\nkeyfile={"%s"}\n' % (self.a[0], self.b[0], self.a[1]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("certfile and keyfile must name as many files", r.stderr)

    def test_expired_certificate_is_loaded_with_a_warning(self):
        conf = {"sslport": free_port(), "sslhost": "127.0.0.1", "certfile": self.old[0], "keyfile": self.old[1]}
        srv = self.start(conf=conf, tmpdir=self.tempdir())
        port = srv.https_port()
        self.assertRegex(srv.output(), r"Warning: certificate .*old\.pem expired on 2020-02-01")
        self.assertEqual(peer_cn(port), "old.test")

    def test_stalled_handshake_is_closed_and_others_are_served(self):
        conf = {"sslport": free_port(), "sslhost": "127.0.0.1", "certfile": self.a[0], "keyfile": self.a[1],
                "headertimeout": 1}
        srv = self.start(conf=conf, tmpdir=self.tempdir())
        port = srv.https_port()
        # the first 20 bytes of a ClientHello, then nothing
        stalled = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        stalled.sendall(bytes.fromhex("16030100f4010000f00303") + os.urandom(9))
        status, _ = https_get(port, "/")
        self.assertEqual(status, 200)
        t0 = time.monotonic()
        self.assertEqual(stalled.recv(100), b"")  # closed by the server
        self.assertLess(time.monotonic() - t0, 5)
        stalled.close()


if __name__ == "__main__":
    main()
