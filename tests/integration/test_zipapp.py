#!/usr/bin/env python3
"""Apps deployed as ZIP files: stored, deflated (gzip pass-through) and broken archives."""
import gzip
import os
import zipfile

from harness import ServerTestCase, main, write_file


def make_zip(path, files, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


BIG = b"".join(b"line %06d of a text that compresses well\n" % i for i in range(3000))  # ~130 KB


class ZipAppTest(ServerTestCase):
    def setUp(self):
        self.root = self.tempdir()
        self.zip = make_zip(os.path.join(self.root, "app.zip"), {
            "index.html": b"<h1>zip app</h1>",
            "big.txt": BIG,
            "small.css": b"body{color:red}",
            "sub/page.html": b"sub page",
            ".hidden": b"secret",
        })
        self.stored = make_zip(os.path.join(self.root, "stored.zip"), {"s.bin": bytes(range(256)) * 400},
                               method=zipfile.ZIP_STORED)

    def test_index_and_files(self):
        srv = self.start(apps=["-l::" + self.zip])
        r = srv.get("/")
        self.assertEqual((r.status, r.body), (200, b"<h1>zip app</h1>"))
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(srv.get("/sub/page.html").body, b"sub page")
        self.assertEqual(srv.get("/small.css").header("Content-Type"), "text/css")
        self.assertEqual(srv.get("/sub").status, 302)
        self.assertEqual(srv.get("/.hidden").status, 404)
        self.assertEqual(srv.get("/missing").status, 404)

    def test_gzip_pass_through_is_byte_identical(self):
        srv = self.start(apps=["-l::" + self.zip])
        r = srv.get("/big.txt", headers={"Accept-Encoding": "gzip, deflate"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        self.assertLess(len(r.body), len(BIG) // 3)  # the stored deflate stream, not the text
        self.assertEqual(gzip.decompress(r.body), BIG)
        # the same entry to a client without gzip: inflated by the server
        plain = srv.get("/big.txt")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertEqual(plain.body, BIG)
        self.assertNotEqual(plain.header("ETag"), r.header("ETag"))  # two representations
        # a conditional request for the gzip representation
        again = srv.get("/big.txt", headers={"Accept-Encoding": "gzip", "If-None-Match": r.header("ETag")})
        self.assertEqual(again.status, 304)

    def test_range_on_a_deflated_entry(self):
        srv = self.start(apps=["-l::" + self.zip])
        r = srv.get("/big.txt", headers={"Range": "bytes=100-199", "Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, BIG[100:200])

    def test_stored_entries(self):
        srv = self.start(apps=["-lst::" + self.stored])
        r = srv.get("/st/s.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, bytes(range(256)) * 400)
        r = srv.get("/st/s.bin")  # second time: straight from the archive (CRC already checked)
        self.assertEqual(r.body, bytes(range(256)) * 400)
        r = srv.get("/st/s.bin", headers={"Range": "bytes=-10"})
        self.assertEqual((r.status, r.body), (206, (bytes(range(256)) * 400)[-10:]))

    def test_corrupt_stored_entry_is_not_served(self):
        data = bytearray(open(self.stored, "rb").read())
        data[100] ^= 0xFF  # inside s.bin's bytes
        bad = os.path.join(self.root, "crc.zip")
        open(bad, "wb").write(data)
        srv = self.start(apps=["-l::" + bad])
        r = srv.get("/s.bin")
        self.assertEqual(r.status, 500)
        self.assertHealthy(srv)

    def test_broken_archives_fail_clearly_and_others_still_load(self):
        trunc = os.path.join(self.root, "trunc.zip")
        open(trunc, "wb").write(open(self.zip, "rb").read()[:-30])
        garbage = write_file(self.root, "garbage.zip", b"this is not a zip file at all")
        srv = self.start(apps=["-la::" + trunc, "-lb::" + garbage, "-lc::" + self.zip,
                               "-ld::" + os.path.join(self.root, "nope.zip")])
        out = srv.output()
        self.assertRegex(out, r'Loading .*trunc\.zip as "a" : failed: .*trunc\.zip')
        self.assertRegex(out, r'Loading .*garbage\.zip as "b" : failed: .*garbage\.zip')
        self.assertRegex(out, r'Loading .*nope\.zip as "d" : failed')
        self.assertIn('as "c" : ok', out)
        self.assertEqual(srv.get("/c/").body, b"<h1>zip app</h1>")
        self.assertEqual(srv.get("/a/").status, 404)

    def test_hostile_entry_names_are_skipped(self):
        evil = os.path.join(self.root, "evil.zip")
        with zipfile.ZipFile(evil, "w") as z:
            z.writestr("ok.txt", b"fine")
            z.writestr("../escape.txt", b"evil")
            z.writestr("/abs.txt", b"evil")
        srv = self.start(apps=["-l::" + evil])
        self.assertIn("../escape.txt", srv.output())
        self.assertEqual(srv.get("/ok.txt").body, b"fine")
        r, c = srv.raw(b"GET /escape.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        c.close()
        self.assertEqual(r.status, 404)
        r, c = srv.raw(b"GET /abs.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        c.close()
        self.assertEqual(r.status, 404)

    def test_directory_app_over_zip_app_by_priority(self):
        d = self.tempdir()
        write_file(d, "index.html", b"from the directory")
        srv = self.start(apps=["-lapp:1:" + d, "-lapp:0:" + self.zip])
        self.assertEqual(srv.get("/app/").body, b"from the directory")
        self.assertEqual(srv.get("/app/small.css").body, b"body{color:red}")  # falls through


if __name__ == "__main__":
    main()
