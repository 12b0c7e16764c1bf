"""HTTP/1.x protocol behaviour of the real server: keep-alive, pipelining, HEAD, 100-continue,
request bodies, common headers, IPv4/IPv6 listeners, signals."""
import signal
import socket
import threading
import time

import harness
from harness import NOT_FOUND_BODY, Server, ServerTestCase, SharedServerTestCase, write_file


class HttpTest(SharedServerTestCase):
    PREFIX = "remora-http-"

    @classmethod
    def make_server(cls, root):
        write_file(root, "a.txt", b"alpha\n")
        write_file(root, "b.txt", b"bravo bravo\n")
        write_file(root, "c.txt", b"charlie charlie charlie\n")
        write_file(root, "index.html", b"<html>root index</html>")
        return Server(apps=["-l::" + root])

    def conn(self):
        c = self.srv.connect()
        self.addCleanup(c.close)
        return c

    def test_get_and_common_headers(self):
        r = self.srv.get("/a.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"alpha\n")
        self.assertEqual(r.header("Content-Length"), "6")
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertCommonHeaders(r)

    def test_404_has_common_headers_and_exact_body(self):
        r = self.srv.get("/nothing-here")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.reason, "Not Found")
        self.assertEqual(r.body, NOT_FOUND_BODY)
        self.assertEqual(r.header("Content-Type"), "text/html")
        self.assertEqual(r.header("Content-Length"), str(len(NOT_FOUND_BODY)))
        self.assertCommonHeaders(r)

    def test_root_index(self):
        r = self.srv.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<html>root index</html>")
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")

    def test_keep_alive_default_http11(self):
        c = self.conn()
        for path, body in (("/a.txt", b"alpha\n"), ("/b.txt", b"bravo bravo\n"), ("/a.txt", b"alpha\n")):
            c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, body)
            self.assertIsNone(r.header("Connection"))
            self.assertEqual(r.version, "HTTP/1.1")
        self.assertFalse(c.closed_by_peer(0.3))

    def test_many_requests_on_one_connection(self):
        c = self.conn()
        for i in range(200):
            c.send("GET /c.txt?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"charlie charlie charlie\n")

    def test_pipelining_three_in_one_write(self):
        c = self.conn()
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        self.assertEqual((r1.status, r1.body), (200, b"alpha\n"))
        self.assertEqual((r2.status, r2.body), (404, NOT_FOUND_BODY))
        self.assertEqual((r3.status, r3.body), (200, b"charlie charlie charlie\n"))
        self.assertFalse(c.closed_by_peer(0.3))

    def test_pipelining_with_close_last(self):
        c = self.conn()
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               "HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r1 = c.read_response()
        r2 = c.read_response(head=True)
        r3 = c.read_response()
        self.assertEqual(r1.body, b"alpha\n")
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.header("Content-Length"), "12")
        self.assertEqual(r3.body, b"charlie charlie charlie\n")
        self.assertEqual(r3.header("Connection"), "close")
        self.assertEqual(c.read_to_close(), b"")

    def test_pipelining_split_across_writes(self):
        c = self.conn()
        data = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            time.sleep(0.005)
        self.assertEqual(c.read_response().body, b"alpha\n")
        self.assertEqual(c.read_response().body, b"bravo bravo\n")

    def test_connection_close(self):
        c = self.conn()
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"alpha\n")
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer(3.0))

    def test_http10_closes_by_default(self):
        c = self.conn()
        c.send("GET /a.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"alpha\n")
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer(3.0))

    def test_http10_keep_alive(self):
        c = self.conn()
        c.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "keep-alive")
        self.assertEqual(r.body, b"alpha\n")
        c.send("GET /b.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.body, b"bravo bravo\n")
        self.assertEqual(r.header("Connection"), "keep-alive")
        c.send("GET /c.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.body, b"charlie charlie charlie\n")
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer(3.0))

    def test_head_same_headers_no_body(self):
        g = self.srv.get("/b.txt")
        c = self.conn()
        c.send("HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        h = c.read_response(head=True)
        self.assertEqual(h.status, 200)
        for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges", "Server"):
            self.assertEqual(h.header(name), g.header(name), name)
        self.assertEqual(h.header("Content-Length"), "12")
        # no body bytes follow: the next response starts right away
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"alpha\n")

    def test_head_404_no_body(self):
        c = self.conn()
        c.send("HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        h = c.read_response(head=True)
        self.assertEqual(h.status, 404)
        self.assertEqual(h.header("Content-Length"), str(len(NOT_FOUND_BODY)))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"alpha\n"))

    def test_expect_100_continue(self):
        c = self.conn()
        body = b"x" * 1000
        c.send("POST /missing HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
               % len(body))
        r = c.read_response()
        self.assertEqual(r.status, 100)
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertEqual(r.reason, "Continue")
        c.send(body)
        r = c.read_response()
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, NOT_FOUND_BODY)
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"alpha\n"))

    def test_expect_100_continue_static_file_405(self):
        c = self.conn()
        c.send("PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        self.assertEqual(c.read_response().status, 100)
        c.send("hello")
        r = c.read_response()
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_expect_unknown_417(self):
        c = self.conn()
        c.send("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: teapot\r\n\r\nab")
        r = c.read_response()
        self.assertEqual(r.status, 417)

    def test_post_content_length_body_consumed(self):
        c = self.conn()
        body = bytes(range(256)) * 40
        c.send(b"POST /missing HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        r = c.read_response()
        self.assertEqual(r.status, 404)
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"alpha\n"))

    def test_post_static_file_405(self):
        c = self.conn()
        c.send("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        r = c.read_response()
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")
        self.assertCommonHeaders(r)
        c.send("GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.read_response().body, b"bravo bravo\n")

    def test_other_methods_on_static_405(self):
        for m in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            r = self.srv.request(m, "/a.txt")
            self.assertEqual(r.status, 405, m)
            self.assertEqual(r.header("Allow"), "GET, HEAD", m)

    def test_chunked_body_consumed(self):
        c = self.conn()
        c.send("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.read_response().body, b"alpha\n")

    def test_chunked_body_to_missing_path(self):
        c = self.conn()
        c.send("POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "a\r\n0123456789\r\n0\r\n\r\n"
               "GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.read_response().status, 404)
        self.assertEqual(c.read_response().body, b"charlie charlie charlie\n")

    def test_expect_100_with_chunked(self):
        c = self.conn()
        c.send("POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        self.assertEqual(c.read_response().status, 100)
        c.send("3\r\nabc\r\n0\r\n\r\n")
        self.assertEqual(c.read_response().status, 404)

    def test_concurrent_clients(self):
        errors = []

        def worker(n):
            try:
                with self.srv.connect() as c:
                    for i in range(20):
                        c.send("GET /%s.txt HTTP/1.1\r\nHost: x\r\n\r\n" % "abc"[(n + i) % 3])
                        r = c.read_response()
                        if r.status != 200 or r.body not in (b"alpha\n", b"bravo bravo\n",
                                                             b"charlie charlie charlie\n"):
                            errors.append((n, i, r))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append((n, repr(e)))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.WAIT * 2)
        self.assertEqual(errors, [])

    def test_curl_get_and_http10(self):
        url = "http://127.0.0.1:%d/a.txt" % self.srv.port
        p = harness.curl(["-i", url])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b"HTTP/1.1 200 OK\r\n"), p.stdout)
        self.assertTrue(p.stdout.endswith(b"\r\n\r\nalpha\n"))
        self.assertIn(b"\r\nServer: Remora (Posix)\r\n", p.stdout)
        p = harness.curl(["--http1.0", "-o", "/dev/null", "-w", "%{http_code}", url])
        self.assertEqual(p.stdout, b"200")
        # two URLs on one curl: keep-alive reuse
        p = harness.curl(["-v", url, url])
        self.assertEqual(p.stdout, b"alpha\nalpha\n")
        self.assertIn(b"Re-using existing connection", p.stderr.replace(b"Reusing", b"Re-using"))

    def test_curl_post_with_body(self):
        url = "http://127.0.0.1:%d/a.txt" % self.srv.port
        p = harness.curl(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "x" * 5000, url])
        self.assertEqual(p.stdout, b"405")


class ListenerTest(ServerTestCase):
    def test_ipv4_and_ipv6_without_host(self):
        root = self.tempdir()
        write_file(root, "hello.txt", b"hello both\n")
        port = harness.free_port()
        srv = self.start(apps=["-l::" + root], conf_text="port=%d\n" % port)
        out = srv.output()
        self.assertIn("Server listening on IPv4 port %d" % port, out)
        self.assertIn("Server listening on IPv6 port %d" % port, out)
        r = srv.get("/hello.txt", host="127.0.0.1", port=port)
        self.assertEqual((r.status, r.body), (200, b"hello both\n"))
        if not harness.have_ipv6_loopback():
            self.skipTest("no ::1 on this machine")
        with srv.connect(host="::1", port=port) as c:
            c.send("GET /hello.txt HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"hello both\n"))

    def test_ipv6_host_only(self):
        if not harness.have_ipv6_loopback():
            self.skipTest("no ::1 on this machine")
        root = self.tempdir()
        write_file(root, "six.txt", b"six\n")
        port = harness.free_port("::1")
        srv = self.start(apps=["-l::" + root], conf={"port": port, "host": "::1"})
        self.assertIn("Server listening on IPv6 port %d, interface ::1" % port, srv.output())
        self.assertNotIn("IPv4", srv.output())
        with srv.connect(host="::1", port=port) as c:
            c.send("GET /six.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().body, b"six\n")
        with socket.socket() as s:
            s.settimeout(2)
            self.assertRaises(OSError, s.connect, ("127.0.0.1", port))

    def test_ipv4_host_banner(self):
        srv = self.start(apps=[])
        self.assertIn("Server listening on IPv4 port %d, interface 127.0.0.1" % srv.port, srv.output())
        self.assertNotIn("IPv6", srv.output())
        r = srv.get("/nothing-here")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, NOT_FOUND_BODY)

    def test_sigint_exits_cleanly(self):
        srv = Server(apps=[])
        try:
            self.assertEqual(srv.get("/").status, 200)  # the welcome page
        finally:
            self.assertEqual(srv.stop(signal.SIGINT), 0)

    def test_sigterm_with_open_connections(self):
        root = self.tempdir()
        write_file(root, "f.txt", b"f")
        srv = Server(apps=["-l::" + root])
        conns = []
        try:
            for _ in range(5):
                c = srv.connect()
                conns.append(c)
            conns[0].send("GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(conns[0].read_response().body, b"f")
            conns[1].send("GET /f.txt HTTP/1.1\r\nHo")  # half a request
        finally:
            self.assertEqual(srv.stop(), 0)
            for c in conns:
                c.close()

    def test_keepalive_timeout_closes_idle_connection(self):
        root = self.tempdir()
        write_file(root, "k.txt", b"k")
        srv = self.start(apps=["-l::" + root], conf={"keepalivetimeout": 1})
        with srv.connect() as c:
            c.send("GET /k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().body, b"k")
            t0 = time.monotonic()
            self.assertTrue(c.closed_by_peer(5.0), "idle keep-alive connection not closed")
            self.assertLess(time.monotonic() - t0, 4.0)
        self.assertHealthy(srv)

    def test_port_zero_no_listener(self):
        # port=0 means no listener: the server runs (prints no listening line) until SIGTERM
        srv = Server(conf_text="port=0\n", wait_listen=False)
        try:
            srv.wait_for(r"Remora Server")
            time.sleep(0.5)
            self.assertTrue(srv.alive(), srv.output())
            self.assertNotIn("Server listening", srv.output())
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    harness.main()
