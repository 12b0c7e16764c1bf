"""Static files from the virtual directory tree: types, index files, redirects, hidden names,
validators and conditional requests, byte ranges, large files, mount priorities."""
import hashlib
import os
import time

import harness
from harness import NOT_FOUND_BODY, Server, SharedServerTestCase, write_file

BIG = os.urandom(5 * 1024 * 1024 + 123)
MID = os.urandom(100 * 1024)
SMALL = b"0123456789abcdefghijklmnopqrstuvwxyz"  # 36 bytes


class StaticTest(SharedServerTestCase):
    PREFIX = "remora-static-"

    @classmethod
    def make_server(cls, root):
        cls.root = root
        write_file(root, "page.html", b"<p>page</p>")
        write_file(root, "style.css", b"body{}")
        write_file(root, "app.js", b"let x=1;")
        write_file(root, "data.json", b'{"a":1}')
        write_file(root, "pic.png", b"\x89PNG\r\n\x1a\n")
        write_file(root, "blob.weird", b"???")
        write_file(root, "noext", b"noext")
        write_file(root, "small.txt", SMALL)
        write_file(root, "empty.txt", b"")
        write_file(root, "big.bin", BIG)
        write_file(root, "mid.bin", MID)
        write_file(root, "with space.txt", b"spaced")
        write_file(root, "caf\u00e9.txt", b"cafe")
        write_file(root, "both/index.html", b"index.html wins")
        write_file(root, "both/index.htm", b"index.htm loses")
        write_file(root, "htm/index.htm", b"only htm")
        write_file(root, "lsponly/index.lsp", b"<?lsp print('x') ?>")
        write_file(root, "lspandhtml/index.html", b"html before lsp")
        write_file(root, "lspandhtml/index.lsp", b"<?lsp ?>")
        write_file(root, "noindex/file.txt", b"f")
        write_file(root, "page.lsp", b"<?lsp print('secret') ?>")
        write_file(root, "page.shtml", b"<!--#include -->")
        write_file(root, ".hidden", b"hidden")
        write_file(root, ".git/config", b"[core]")
        write_file(root, "sub/.env", b"SECRET=1")
        write_file(root, "sub/ok.txt", b"sub ok")
        write_file(root, "sub/.dir/x.txt", b"x")
        write_file(root, "deep/a/b/c/d.txt", b"deep")
        return Server(apps=["-l::" + root])

    def get(self, path, headers=None):
        return self.srv.get(path, headers=headers)

    def assert404(self, path, method="GET"):
        r = self.srv.request(method, path)
        self.assertEqual(r.status, 404, path)
        if method != "HEAD":
            self.assertEqual(r.body, NOT_FOUND_BODY, path)
        self.assertEqual(r.header("Content-Type"), "text/html", path)
        return r

    # ---- content types ----
    def test_content_types(self):
        for path, ctype, body in (
                ("/page.html", "text/html; charset=utf-8", b"<p>page</p>"),
                ("/style.css", "text/css", b"body{}"),
                ("/app.js", "text/javascript", b"let x=1;"),
                ("/data.json", "application/json", b'{"a":1}'),
                ("/pic.png", "image/png", b"\x89PNG\r\n\x1a\n"),
                ("/blob.weird", "application/octet-stream", b"???"),
                ("/noext", "application/octet-stream", b"noext"),
                ("/small.txt", "text/plain", SMALL)):
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.header("Content-Type"), ctype, path)
            self.assertEqual(r.body, body, path)
            self.assertEqual(r.header("Content-Length"), str(len(body)), path)
            self.assertCommonHeaders(r)

    def test_empty_file(self):
        r = self.get("/empty.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(r.body, b"")

    def test_percent_encoded_names(self):
        r = self.get("/with%20space.txt")
        self.assertEqual((r.status, r.body), (200, b"spaced"))
        r = self.get("/caf%C3%A9.txt")
        self.assertEqual((r.status, r.body), (200, b"cafe"))

    def test_deep_path_and_query_ignored(self):
        r = self.get("/deep/a/b/c/d.txt?x=1&y=%20")
        self.assertEqual((r.status, r.body), (200, b"deep"))

    # ---- directories ----
    def test_index_html_before_htm(self):
        r = self.get("/both/")
        self.assertEqual((r.status, r.body), (200, b"index.html wins"))
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")

    def test_index_htm(self):
        r = self.get("/htm/")
        self.assertEqual((r.status, r.body), (200, b"only htm"))
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")

    def test_index_lsp_runs_as_page(self):
        # index.lsp is the last index candidate and runs as a page, never as its source
        r = self.get("/lsponly/")
        self.assertEqual((r.status, r.body), (200, b"x\n"))
        r = self.get("/lspandhtml/")
        self.assertEqual((r.status, r.body), (200, b"html before lsp"))
        self.assertEqual(self.get("/lsponly/index.lsp").body, b"x\n")

    def test_dir_without_index_404(self):
        self.assert404("/noindex/")
        self.assertEqual(self.get("/noindex/file.txt").body, b"f")

    def test_dir_redirect(self):
        r = self.get("/both")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/both/")
        self.assertCommonHeaders(r)
        r = self.get("/deep/a?q=1&r=2")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/deep/a/?q=1&r=2")

    def test_dir_redirect_with_curl_follow(self):
        p = harness.curl(["-L", "http://127.0.0.1:%d/htm" % self.srv.port])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"only htm")

    def test_file_with_trailing_slash_404(self):
        self.assert404("/small.txt/")

    # ---- hidden and server-side files ----
    def test_hidden_files_404(self):
        for p in ("/.hidden", "/.git/config", "/.git/", "/.git", "/sub/.env", "/sub/.dir/x.txt",
                  "/%2ehidden", "/sub/%2Eenv"):
            self.assert404(p)
        self.assertEqual(self.get("/sub/ok.txt").body, b"sub ok")

    def test_lsp_runs_and_shtml_404(self):
        r = self.get("/page.lsp")
        self.assertEqual((r.status, r.body), (200, b"secret\n"))
        self.assert404("/page.shtml")
        r = self.srv.request("HEAD", "/page.lsp")
        self.assertEqual((r.status, r.body), (200, b""))

    # ---- validators ----
    def test_etag_and_last_modified(self):
        r = self.get("/small.txt")
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        self.assertRegex(etag, r'^"[^"]+"$')
        self.assertRegex(lm, harness.IMF_FIXDATE)
        st = os.stat(os.path.join(self.root, "small.txt"))
        self.assertEqual(lm, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(st.st_mtime)))
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertEqual(self.get("/small.txt").header("ETag"), etag)  # stable
        self.assertNotEqual(self.get("/page.html").header("ETag"), etag)

    def test_if_none_match(self):
        etag = self.get("/small.txt").header("ETag")
        for inm in (etag, "*", '"nope", ' + etag, "W/" + etag, '"a","b" ,  W/' + etag):
            r = self.get("/small.txt", {"If-None-Match": inm})
            self.assertEqual(r.status, 304, inm)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("ETag"), etag)
            self.assertIsNotNone(r.header("Last-Modified"))
            self.assertIsNone(r.header("Content-Length"))
            self.assertCommonHeaders(r)
        for inm in ('"nope"', '"a", "b"', etag[:-2] + '"'):
            r = self.get("/small.txt", {"If-None-Match": inm})
            self.assertEqual(r.status, 200, inm)
            self.assertEqual(r.body, SMALL)

    def test_304_keeps_connection_usable(self):
        etag = self.get("/small.txt").header("ETag")
        with self.srv.connect() as c:
            c.send("GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
                   "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n" % etag)
            self.assertEqual(c.read_response().status, 304)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"body{}"))

    def test_if_modified_since(self):
        r = self.get("/small.txt")
        lm = r.header("Last-Modified")
        self.assertEqual(self.get("/small.txt", {"If-Modified-Since": lm}).status, 304)
        later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))
        self.assertEqual(self.get("/small.txt", {"If-Modified-Since": later}).status, 304)
        r = self.get("/small.txt", {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})
        self.assertEqual((r.status, r.body), (200, SMALL))
        r = self.get("/small.txt", {"If-Modified-Since": "not a date"})
        self.assertEqual((r.status, r.body), (200, SMALL))
        # If-None-Match takes precedence over If-Modified-Since
        r = self.get("/small.txt", {"If-None-Match": '"other"', "If-Modified-Since": lm})
        self.assertEqual(r.status, 200)

    # ---- ranges ----
    def test_range_first_bytes(self):
        r = self.get("/small.txt", {"Range": "bytes=0-9"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.reason, "Partial Content")
        self.assertEqual(r.body, SMALL[0:10])
        self.assertEqual(r.header("Content-Range"), "bytes 0-9/36")
        self.assertEqual(r.header("Content-Length"), "10")
        self.assertEqual(r.header("Content-Type"), "text/plain")

    def test_range_suffix_and_open(self):
        r = self.get("/small.txt", {"Range": "bytes=-5"})
        self.assertEqual((r.status, r.body), (206, SMALL[-5:]))
        self.assertEqual(r.header("Content-Range"), "bytes 31-35/36")
        r = self.get("/small.txt", {"Range": "bytes=5-"})
        self.assertEqual((r.status, r.body), (206, SMALL[5:]))
        self.assertEqual(r.header("Content-Range"), "bytes 5-35/36")
        r = self.get("/small.txt", {"Range": "bytes=30-1000"})
        self.assertEqual((r.status, r.body), (206, SMALL[30:]))
        self.assertEqual(r.header("Content-Range"), "bytes 30-35/36")
        r = self.get("/small.txt", {"Range": "bytes=-1000"})
        self.assertEqual(r.body, SMALL)

    def test_range_unsatisfiable(self):
        for rng in ("bytes=36-", "bytes=100-200"):
            r = self.get("/small.txt", {"Range": rng})
            self.assertEqual(r.status, 416, rng)
            self.assertEqual(r.header("Content-Range"), "bytes */36", rng)
        self.assertHealthy(self.srv)

    def test_multi_range_gives_whole(self):
        r = self.get("/small.txt", {"Range": "bytes=0-1,5-6"})
        self.assertEqual((r.status, r.body), (200, SMALL))
        self.assertIsNone(r.header("Content-Range"))

    def test_if_range(self):
        r0 = self.get("/small.txt")
        etag, lm = r0.header("ETag"), r0.header("Last-Modified")
        r = self.get("/small.txt", {"Range": "bytes=0-3", "If-Range": etag})
        self.assertEqual((r.status, r.body), (206, SMALL[:4]))
        r = self.get("/small.txt", {"Range": "bytes=0-3", "If-Range": lm})
        self.assertEqual((r.status, r.body), (206, SMALL[:4]))
        r = self.get("/small.txt", {"Range": "bytes=0-3", "If-Range": '"stale"'})
        self.assertEqual((r.status, r.body), (200, SMALL))
        r = self.get("/small.txt", {"Range": "bytes=0-3", "If-Range": "Sat, 01 Jan 2000 00:00:00 GMT"})
        self.assertEqual((r.status, r.body), (200, SMALL))

    def test_range_head(self):
        with self.srv.connect() as c:
            c.send("HEAD /mid.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n"
                   "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            h = c.read_response(head=True)
            self.assertEqual(h.status, 206)
            self.assertEqual(h.header("Content-Length"), "100")
            self.assertEqual(c.read_response().body, SMALL)

    # ---- large files ----
    def test_big_file_identical(self):
        r = self.get("/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(len(BIG)))
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(BIG).hexdigest())

    def test_big_file_with_curl(self):
        p = harness.curl(["http://127.0.0.1:%d/big.bin" % self.srv.port], timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout), len(BIG))
        self.assertTrue(p.stdout == BIG)

    def test_big_file_twice_on_keep_alive_then_small(self):
        with self.srv.connect() as c:
            c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                   "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(c.read_response().body == BIG)
            self.assertTrue(c.read_response().body == BIG)
            self.assertEqual(c.read_response().body, SMALL)

    def test_big_file_range_tail(self):
        r = self.get("/big.bin", {"Range": "bytes=-100000"})
        self.assertEqual(r.status, 206)
        self.assertTrue(r.body == BIG[-100000:])
        self.assertEqual(r.header("Content-Range"),
                         "bytes %d-%d/%d" % (len(BIG) - 100000, len(BIG) - 1, len(BIG)))

    def test_mid_file_and_middle_range(self):
        r = self.get("/mid.bin")
        self.assertTrue(r.body == MID)
        first, last = 40000, 70000
        r = self.get("/mid.bin", {"Range": "bytes=%d-%d" % (first, last)})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("Content-Length"), str(last - first + 1))
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, len(MID)))
        self.assertTrue(r.body == MID[first:last + 1])
        # a small range inside a large file (inline path)
        r = self.get("/mid.bin", {"Range": "bytes=50000-50009"})
        self.assertEqual(r.body, MID[50000:50010])

    def test_big_file_abandoned_mid_transfer(self):
        # a client that requests the big file and closes after a few bytes must not hurt the server
        for _ in range(5):
            c = self.srv.connect()
            c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            c.sock.recv(1000)
            c.close()
        self.assertHealthy(self.srv)
        self.assertEqual(self.get("/mid.bin").body, MID)


class TreeTest(SharedServerTestCase):
    """-lapp:1:DIR1 -lapp:0:DIR2 -l::DIR3 -lother::DIR4."""

    PREFIX = "remora-tree-"

    @classmethod
    def make_server(cls, t):
        cls.d1, cls.d2, cls.d3, cls.d4 = (os.path.join(t, n) for n in ("one", "two", "root", "other"))
        write_file(cls.d1, "x.txt", b"x from one")
        write_file(cls.d1, "only1.txt", b"only in one")
        write_file(cls.d2, "x.txt", b"x from two")
        write_file(cls.d2, "only2.txt", b"only in two")
        write_file(cls.d2, "index.html", b"two index")
        write_file(cls.d3, "app/y.txt", b"y from root")
        write_file(cls.d3, "app/x.txt", b"x from root")
        write_file(cls.d3, "r.txt", b"root file")
        write_file(cls.d4, "o.txt", b"other file")
        # priority 0 listed first: order on the command line must not matter
        return Server(apps=["-lapp:0:" + cls.d2, "-lapp:1:" + cls.d1, "-l::" + cls.d3,
                               "-lother::" + cls.d4])

    def test_console_lines(self):
        out = self.srv.output()
        self.assertIn('Loading %s as "app" : ok' % self.d1, out)
        self.assertIn('Loading %s as "app" : ok' % self.d2, out)
        self.assertIn('Loading %s as "root application" : ok' % self.d3, out)
        self.assertIn('Loading %s as "other" : ok' % self.d4, out)

    def test_priority_wins(self):
        r = self.srv.get("/app/x.txt")
        self.assertEqual((r.status, r.body), (200, b"x from one"))

    def test_fall_through_to_lower_priority(self):
        self.assertEqual(self.srv.get("/app/only1.txt").body, b"only in one")
        self.assertEqual(self.srv.get("/app/only2.txt").body, b"only in two")
        self.assertEqual(self.srv.get("/app/").body, b"two index")

    def test_fall_through_to_root(self):
        r = self.srv.get("/app/y.txt")
        self.assertEqual((r.status, r.body), (200, b"y from root"))
        self.assertEqual(self.srv.get("/r.txt").body, b"root file")

    def test_app_redirect(self):
        r = self.srv.get("/app")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/app/")
        r = self.srv.get("/other?a=b")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/other/?a=b")

    def test_named_app_not_at_root(self):
        for p in ("/o.txt", "/x.txt", "/only1.txt", "/only2.txt"):
            r = self.srv.get(p)
            self.assertEqual((r.status, r.body), (404, NOT_FOUND_BODY), p)
        self.assertEqual(self.srv.get("/other/o.txt").body, b"other file")

    def test_missing_everywhere(self):
        r = self.srv.get("/app/nothing.txt")
        self.assertEqual((r.status, r.body), (404, NOT_FOUND_BODY))
        r = self.srv.get("/other/nothing")
        self.assertEqual(r.status, 404)

    def test_prefix_is_segment_based(self):
        # /apple.txt must not be served by the "app" mount
        write_file(self.d3, "apple.txt", b"apple at root")
        self.assertEqual(self.srv.get("/apple.txt").body, b"apple at root")
        self.assertEqual(self.srv.get("/appx/y.txt").status, 404)

    def test_files_appear_and_disappear_live(self):
        p = write_file(self.d1, "live.txt", b"live one")
        self.assertEqual(self.srv.get("/app/live.txt").body, b"live one")
        os.remove(p)
        # the reader caches small files and revalidates them at most once a second
        deadline = time.monotonic() + 3
        while self.srv.get("/app/live.txt").status != 404:
            self.assertLess(time.monotonic(), deadline, "removed file still served after 3 s")
            time.sleep(0.1)
        self.assertEqual(self.srv.get("/app/live.txt").body, NOT_FOUND_BODY)


if __name__ == "__main__":
    harness.main()
