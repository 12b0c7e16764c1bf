#!/usr/bin/env python3
"""ba.crypto and ba.create.key/csr/certificate through Lua Server Pages: digests checked with
Python's hashlib/hmac, keys, certificates and signatures made by a page checked with the
openssl command line tool, and bad input answered without hurting the server."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import urllib.parse

from harness import SharedServerTestCase, Server, main, write_file

PAGES = {
    "hash.lsp": """<?lsp
local d = request:data("d") or ""
print(ba.crypto.hash("sha256")(d)(true, "hex"), ba.crypto.hash("hmac", "sha512", "k")(d)(true, "b64"),
      ba.b64encode(ba.crypto.PBKDF2("sha256", d, "salt", 1000, 32)))
?>""",
    "pki.lsp": """<?lsp
local key = ba.create.key()
local csr = ba.create.csr(key, {commonname = "crypto.test"}, "crypto.test;IP:127.0.0.1", {"SSL_SERVER"},
  {"DIGITAL_SIGNATURE"})
local cert = ba.create.certificate(csr, key)
local data = request:data("d") or ""
local t = ba.parsecert(cert)
response:json{key = key, cert = cert, cn = t.subject.commonname, data = data,
  sig = ba.b64encode(ba.crypto.sign(ba.crypto.hash("sha256")(data)(true), key))}
?>""",
    "bad.lsp": """<?lsp
print(ba.crypto.sign("x", "garbage") == nil, ba.parsecert("garbage") == nil, ba.crypto.keysize("x") == nil,
      pcall(ba.crypto.hash, "sha3"), pcall(ba.create.key, {key = "dsa"}))
?>""",
}


class CryptoTest(SharedServerTestCase):
    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        for name, text in PAGES.items():
            write_file(app, name, text)
        return Server(apps=["-l::" + app], tmpdir=base)

    def test_digests_match_python(self):
        for d in ["", "abc", "x" * 1000, "æøå"]:
            r = self.srv.get("/hash.lsp?d=" + urllib.parse.quote(d))
            self.assertEqual(r.status, 200)
            sha, mac, kdf = r.body.decode().split()
            raw = d.encode()
            self.assertEqual(sha, hashlib.sha256(raw).hexdigest())
            self.assertEqual(mac, base64.b64encode(hmac.new(b"k", raw, hashlib.sha512).digest()).decode())
            self.assertEqual(kdf, base64.b64encode(hashlib.pbkdf2_hmac("sha256", raw, b"salt", 1000, 32)).decode())

    def test_key_certificate_and_signature_pass_openssl(self):
        r = self.srv.get("/pki.lsp?d=signed+text")
        self.assertEqual(r.status, 200)
        j = json.loads(r.body)
        self.assertEqual(j["cn"], "crypto.test")
        with tempfile.TemporaryDirectory(prefix="remora-crypto-") as tmp:
            def path(name, data):
                p = os.path.join(tmp, name)
                with open(p, "wb") as f:
                    f.write(data)
                return p
            cert = path("cert.pem", j["cert"].encode())
            key = path("key.pem", j["key"].encode())
            sig = path("sig.der", base64.b64decode(j["sig"]))
            data = path("data.txt", j["data"].encode())
            run = lambda *a: subprocess.run(a, capture_output=True, timeout=20)
            self.assertEqual(run("openssl", "verify", "-CAfile", cert, cert).returncode, 0)
            pub = run("openssl", "x509", "-in", cert, "-noout", "-pubkey")
            self.assertEqual(pub.stdout, run("openssl", "pkey", "-in", key, "-pubout").stdout)
            pubfile = path("pub.pem", pub.stdout)
            v = run("openssl", "dgst", "-sha256", "-verify", pubfile, "-signature", sig, data)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            text = run("openssl", "x509", "-in", cert, "-noout", "-text").stdout.decode()
            self.assertIn("IP Address:127.0.0.1", text)

    def test_bad_input_is_answered(self):
        r = self.srv.get("/bad.lsp")
        self.assertEqual(r.status, 200)
        words = r.body.decode().split()
        self.assertEqual(words[:3], ["true", "true", "true"])
        self.assertEqual(words[3:5], ["false", "false"])  # pcall: only the last one's message
        self.assertIn("ecc", r.body.decode())
        self.assertEqual(self.srv.get("/hash.lsp?d=a").status, 200)


if __name__ == "__main__":
    main()
