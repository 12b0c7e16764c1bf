"""The HTTP client: httpc, http and httpm from pages, against the server itself (the page
waits while the same server answers) and against local HTTPS servers (certificate
verification), through a CONNECT proxy and a SOCKS5 proxy written here, and mako.conf's proxy
option; errors (refused, unresolvable, bad URL, garbage answers, timeouts)."""
import os
import socket
import struct
import threading
import time

from harness import edition, SharedServerTestCase, Server, ServerTestCase, free_port, main, make_cert, tls_listener, write_file

HAVE_TLS = edition() != "minimal"

TARGET_PAGES = {
    "echo.lsp": """<?lsp
response:setheader("X-Method", request:method())
response:setheader("X-Query", request:data("q") or "")
response:setheader("X-Agent", request:header("User-Agent") or "")
response:setheader("X-Custom", request:header("X-Custom") or "")
response:setheader("X-Auth", request:header("Authorization") or "")
print("body=")
?>""",
    "body.lsp": """<?lsp
local t = {}
for data in request:rawrdr() do t[#t + 1] = data end
response:setstatus(201)
response:setheader("X-Length", tostring(request:header("Content-Length")))
response:setheader("X-Chunked", tostring(request:header("Transfer-Encoding")))
response:write("got ", table.concat(t))
?>""",
    "cookie.lsp": """<?lsp
local c = request:createcookie("flavor")
c:value("oat")
c:activate()
print("cookie set")
?>""",
    "redir.lsp": """<?lsp response:sendredirect("echo.lsp?q=moved") ?>""",
    "loop.lsp": """<?lsp response:sendredirect("loop.lsp") ?>""",
    "slow.lsp": """<?lsp ba.sleep(1500) print("slow") ?>""",
    "big.lsp": """<?lsp for i = 1, 2000 do print(string.format("%05d", i) .. string.rep("x", 90)) end ?>""",
    "json.lsp": """<?lsp
local body = {}
if request:method() == "POST" then
  local t = {}
  for data in request:rawrdr() do t[#t + 1] = data end
  body = ba.json.decode(table.concat(t))
end
response:json({method = request:method(), got = body})
?>""",
    "form.lsp": "<?lsp response:write(tostring(request:data('a')), '\\t', tostring(request:data('b'))) ?>",
    "put.lsp": """<?lsp
local t = {}
for data in request:rawrdr() do t[#t + 1] = data end
print(request:method(), #table.concat(t))
?>""",
}

CLIENT_PAGES = {
    "get.lsp": """<?lsp
local h = require"httpc".create()
local port = request:data("port")
local ok, err = h:request{url = "http://127.0.0.1:" .. port .. "/echo.lsp?a=1", query = {q = "x y"},
   header = {["X-Custom"] = "yes"}}
print(ok, err, h:status(), h:header("X-Query"), h:header("X-Agent"), h:header("X-Custom"),
   h:header()["X-Method"], h:read("*a"):match("body="))
local _, p1 = h:sockname()
h:request{url = "http://user:pa%20ss@127.0.0.1:" .. port .. "/echo.lsp"}
local _, p2 = h:sockname()
print(p1 == p2, h:header("X-Auth") == "Basic " .. ba.b64encode("user:pa ss"))
h:read("*a")
h:close()
?>""",
    "post.lsp": """<?lsp
local h = require"httpc".create()
local url = "http://127.0.0.1:" .. request:data("port") .. "/body.lsp"
print(h:request{url = url, method = "POST", size = 11})
print(h:write("hello "), h:write("world"))
print(h:status(), h:header("X-Length"), h:read("*a"))
print(h:request{url = url, method = "POST"})
print(h:write("chunk1 "), h:write("chunk2"))
print(h:status(), h:header("X-Chunked"), h:read("*a"))
print(h:request{url = url, method = "PUT", size = 3})
print(h:write("toolong"))
?>""",
    "pieces.lsp": """<?lsp
local h = require"httpc".create()
h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/big.lsp"}
local n, parts = 0, 0
while true do
  local d = h:read(1000)
  if not d then break end
  assert(#d <= 1000)
  n = n + #d
  parts = parts + 1
end
print(n, parts >= 180, h:read())
?>""",
    "head.lsp": """<?lsp
local h = require"httpc".create()
h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/big.lsp", method = "HEAD"}
print(h:status(), h:read(), h:header("Content-Type"))
h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/nothere.lsp"}
print(h:status())
?>""",
    "cookie.lsp": """<?lsp
local h = require"httpc".create()
h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/cookie.lsp"}
print(h:cookie("flavor"), h:cookie().flavor)
local n = 0
for k, v in h:headerpairs() do n = n + 1 end
print(n > 3)
?>""",
    "redirect.lsp": """<?lsp
local h = require"http".create()
local port = request:data("port")
print(h:request{url = "http://127.0.0.1:" .. port .. "/redir.lsp"})
print(h:status(), h:header("X-Query"))
h:read("*a")
print(h:request{url = "http://127.0.0.1:" .. port .. "/loop.lsp"})
local c = require"httpc".create()
c:request{url = "http://127.0.0.1:" .. port .. "/redir.lsp"}
print(c:status())
?>""",
    "timeout.lsp": """<?lsp
local h = require"httpc".create()
h:timeout(300)
local t = ba.clock()
print(h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/slow.lsp"})
print(ba.clock() - t < 1200)
?>""",
    "connto.lsp": """<?lsp
local h = require"httpc".create()
h:timeout(400)
local t = ba.clock()
print(h:request{url = "http://127.0.0.1:" .. request:data("p") .. "/"})
print(ba.clock() - t < 3000)
?>""",
    "errors.lsp": """<?lsp
local h = require"httpc".create()
print(h:request{url = "http://127.0.0.1:" .. request:data("closed") .. "/"})
print(h:request{url = "http://no-such-host.invalid/"})
print(h:request{url = "ftp://x/"})
print(h:request{url = "http://127.0.0.1:" .. request:data("garbage") .. "/"})
print(h:request{url = "http://127.0.0.1:" .. request:data("port") .. "/", header = {X = "a\\r\\nY: b"}})
?>""",
    "httpm.lsp": """<?lsp
local hm = require"httpm".create()
local base = "http://127.0.0.1:" .. request:data("port")
local t = hm:json(base .. "/json.lsp", {n = 5})
print(t.method, t.got.n)
print(hm:json(base .. "/json.lsp").method)
local body, status = hm:post(base .. "/form.lsp", {a = "1", b = "x y"})
print(body, status)
local st = hm:stat(base .. "/big.lsp")
print(st.status, st.type)
local io = ba.openio("home")
print(hm:download(base .. "/big.lsp", io, "dl.txt"))
print(io:stat("dl.txt").size)
local ub, us = hm:upload(base .. "/put.lsp", io, "dl.txt")
print(ub, us)
print(hm:json(base .. "/nothere.lsp"))
?>""",
    "tls.lsp": """<?lsp
local port = request:data("port")
local store = ba.create.certstore()
store:addcert(ba.openio("disk"), request:data("ca"))
local trusting = ba.create.sharkssl(store, {server = false})
local h = require"httpc".create{shark = trusting}
print(h:request{url = "https://localhost:" .. port .. "/x", trusted = true})
print(h:status(), h:read("*a"), h:trusted(), h:cipher() ~= nil, h:certificate().subject.commonname)
local h2 = require"httpc".create()
print(h2:request{url = "https://localhost:" .. port .. "/x", trusted = true})
local h3 = require"httpc".create()
print(h3:request{url = "https://localhost:" .. port .. "/x"})
print(h3:status(), h3:trusted())
?>""",
    "proxy.lsp": """<?lsp
local op = {proxy = "127.0.0.1", proxyport = tonumber(request:data("pport")), socks = request:data("socks") == "1",
   proxyuser = request:data("user"), proxypass = request:data("pass")}
local h = require"httpc".create(op)
print(h:request{url = request:data("url")})
print(h:status(), h:read("*a"))
?>""",
    "conf.lsp": """<?lsp
local h = require"http".create()
print(h:request{url = request:data("url")})
print(h:status(), h:read("*a"))
?>""",
}


class HttpClientTest(SharedServerTestCase):
    PREFIX = "remora-httpc-"

    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        for name, text in TARGET_PAGES.items():
            write_file(app, name, text)
        for name, text in CLIENT_PAGES.items():
            write_file(app, "c/" + name, text)
        return Server(apps=["-l::" + app], tmpdir=base)

    def page(self, name, **q):
        q.setdefault("port", self.srv.port)
        qs = "&".join("%s=%s" % (k, v) for k, v in q.items())
        r = self.srv.get("/c/%s?%s" % (name, qs))
        self.assertEqual(r.status, 200, r.body)
        return r.body.decode().splitlines()

    def test_get_query_headers_reuse_and_auth(self):
        lines = self.page("get.lsp")
        self.assertEqual(lines[0], "true\tnil\t200\tx y\tRemora\tyes\tGET\tbody=")
        self.assertEqual(lines[1], "true\ttrue")

    def test_post_sized_and_chunked(self):
        lines = self.page("post.lsp")
        self.assertEqual(lines, ["true", "true\ttrue", "201\t11\tgot hello world",
                                 "true", "true\ttrue", "201\tchunked\tgot chunk1 chunk2",
                                 "true", "nil\ttoomuchdata"])

    def test_read_in_pieces(self):
        self.assertEqual(self.page("pieces.lsp"), ["192000\ttrue\tnil"])

    def test_head_and_404(self):
        self.assertEqual(self.page("head.lsp"), ["200\tnil\ttext/html; charset=utf-8", "404"])

    def test_cookies(self):
        self.assertEqual(self.page("cookie.lsp"), ["oat\toat", "true"])

    def test_redirects(self):
        self.assertEqual(self.page("redirect.lsp"), ["true", "200\tmoved", "nil\tredirect", "302"])

    def test_timeout(self):
        self.assertEqual(self.page("timeout.lsp"), ["nil\ttimeout", "true"])
        self.assertHealthy(self.srv)

    def test_connect_timeout(self):
        # a listener whose accept queue is full drops new SYNs: connecting hangs
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(0)
        port = ls.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
                fillers.append(c)
            time.sleep(0.2)
            self.assertEqual(self.page("connto.lsp", p=port), ["nil\ttimeout", "true"])
        finally:
            for c in fillers:
                c.close()
            ls.close()
        self.assertHealthy(self.srv)

    def test_errors(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        cport = closed.getsockname()[1]
        closed.close()
        garbage = socket.socket()
        garbage.bind(("127.0.0.1", 0))
        garbage.listen()

        def serve():
            c, _ = garbage.accept()
            with c:
                c.recv(1000)
                c.sendall(b"this is not HTTP\r\n\r\n")
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        lines = self.page("errors.lsp", closed=cport, garbage=garbage.getsockname()[1])
        garbage.close()
        self.assertEqual(lines, ["nil\tcannotconnect", "nil\tcannotresolve", "nil\tinvalidurl",
                                 "nil\tinvalidresponse", "nil\tinvalidparam"])

    def test_httpm(self):
        lines = self.page("httpm.lsp")
        self.assertEqual(lines[0], "POST\t5")
        self.assertEqual(lines[1], "GET")
        self.assertEqual(lines[2], "1\tx y\t200")
        self.assertEqual(lines[3], "200\ttext/html; charset=utf-8")
        self.assertEqual(lines[4], "true\t200")
        self.assertEqual(lines[5], "192000")
        self.assertEqual(lines[6], "PUT\t192000")
        self.assertEqual(lines[7], "\t200")
        self.assertEqual(lines[8], "nil\tstatus 404\t404")


def https_server(crt, key, body=b"secret"):
    def answer(t):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = t.recv(4096)
            if not chunk:
                break
            data += chunk
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    return tls_listener(crt, key, answer)


class Proxy:
    """A CONNECT (and absolute-form GET) proxy, or a SOCKS5 one; counts what it relays."""

    def __init__(self, socks=False, user=None, password=None):
        self.socks, self.user, self.password = socks, user, password
        self.used = []
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen()
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def close(self):
        self.ls.close()

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    def recv_exact(self, c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def handle(self, c):
        try:
            with c:
                if self.socks:
                    upstream = self.socks5(c)
                else:
                    upstream = self.http(c)
                if upstream is None:
                    return
                with upstream:
                    self.pipe(c, upstream)
        except OSError:
            pass

    def socks5(self, c):
        ver, n = self.recv_exact(c, 2)
        methods = self.recv_exact(c, n)
        if self.user:
            if 2 not in methods:
                c.sendall(b"\x05\xff")
                return None
            c.sendall(b"\x05\x02")
            self.recv_exact(c, 1)
            u = self.recv_exact(c, self.recv_exact(c, 1)[0])
            p = self.recv_exact(c, self.recv_exact(c, 1)[0])
            ok = u.decode() == self.user and p.decode() == self.password
            c.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return None
        else:
            c.sendall(b"\x05\x00")
        ver, cmd, _, atyp = self.recv_exact(c, 4)
        assert atyp == 3
        host = self.recv_exact(c, self.recv_exact(c, 1)[0]).decode()
        port = struct.unpack("!H", self.recv_exact(c, 2))[0]
        self.used.append(("socks", host, port))
        up = socket.create_connection((host if host != "localhost" else "127.0.0.1", port), timeout=10)
        c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", port))
        return up

    def http(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.recv(4096)
            if not chunk:
                return None
            head += chunk
        line = head.split(b"\r\n")[0].decode()
        method, target, _ = line.split(" ")
        if self.user:
            import base64
            want = "Proxy-Authorization: Basic " + base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
            if want.encode() not in head:
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return None
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            self.used.append(("connect", host, int(port)))
            up = socket.create_connection(("127.0.0.1" if host == "localhost" else host, int(port)), timeout=10)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return up
        # absolute form: http://host:port/path
        rest = target.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.used.append(("get", host, int(port)))
        up = socket.create_connection((host, int(port)), timeout=10)
        up.sendall(head.replace(target.encode(), b"/" + path.encode(), 1))
        return up

    def pipe(self, a, b):
        def one(x, y):
            try:
                while True:
                    d = x.recv(65536)
                    if not d:
                        break
                    y.sendall(d)
            except OSError:
                pass
            try:
                y.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t = threading.Thread(target=one, args=(b, a), daemon=True)
        t.start()
        one(a, b)
        t.join(10)


class RemoteTest(ServerTestCase):
    """HTTPS servers and proxies written here."""

    def setUp(self):
        self.base = self.tempdir()
        app = os.path.join(self.base, "app")
        for name, text in TARGET_PAGES.items():
            write_file(app, name, text)
        for name, text in CLIENT_PAGES.items():
            write_file(app, "c/" + name, text)
        self.app = app

    def lines(self, srv, name, **q):
        qs = "&".join("%s=%s" % (k, v) for k, v in q.items())
        r = srv.get("/c/%s?%s" % (name, qs))
        self.assertEqual(r.status, 200, r.body)
        return r.body.decode().splitlines()

    def test_https_verification(self):
        if not HAVE_TLS:
            self.skipTest("no TLS in the minimal edition")
        crt, key = make_cert(self.base, "localhost")
        ls = https_server(crt, key)
        self.addCleanup(ls.close)
        srv = self.start(apps=["-l::" + self.app])
        lines = self.lines(srv, "tls.lsp", port=ls.getsockname()[1], ca=crt)
        self.assertEqual(lines[0], "true")
        self.assertEqual(lines[1], "200\tsecret\ttrue\ttrue\tlocalhost")
        self.assertEqual(lines[2], "nil\tsslnottrusted")
        self.assertEqual(lines[3], "true")
        self.assertTrue(lines[4].startswith("200\tfalse"), lines[4])

    def test_connect_proxy_for_https_and_plain(self):
        if not HAVE_TLS:
            self.skipTest("no TLS in the minimal edition")
        crt, key = make_cert(self.base, "localhost")
        ls = https_server(crt, key, b"via proxy")
        self.addCleanup(ls.close)
        proxy = Proxy(user="u", password="p")
        self.addCleanup(proxy.close)
        srv = self.start(apps=["-l::" + self.app])
        hport = ls.getsockname()[1]
        lines = self.lines(srv, "proxy.lsp", pport=proxy.port, user="u", **{"pass": "p"},
                           url="https://localhost:%d/" % hport)
        self.assertEqual(lines, ["true", "200\tvia proxy"])
        self.assertIn(("connect", "localhost", hport), proxy.used)
        lines = self.lines(srv, "proxy.lsp", pport=proxy.port, user="u", **{"pass": "p"},
                           url="http://127.0.0.1:%d/form.lsp?a=1" % srv.port)
        self.assertEqual(lines, ["true", "200\t1\tnil"])
        self.assertIn(("get", "127.0.0.1", srv.port), proxy.used)
        lines = self.lines(srv, "proxy.lsp", pport=proxy.port, user="u", **{"pass": "wrong"},
                           url="https://localhost:%d/" % hport)
        self.assertEqual(lines[0], "nil\tproxyauth")

    def test_socks5_proxy(self):
        proxy = Proxy(socks=True, user="su", password="sp")
        self.addCleanup(proxy.close)
        srv = self.start(apps=["-l::" + self.app])
        lines = self.lines(srv, "proxy.lsp", pport=proxy.port, socks=1, user="su", **{"pass": "sp"},
                           url="http://127.0.0.1:%d/form.lsp?a=socks" % srv.port)
        self.assertEqual(lines, ["true", "200\tsocks\tnil"])
        self.assertIn(("socks", "127.0.0.1", srv.port), proxy.used)
        lines = self.lines(srv, "proxy.lsp", pport=proxy.port, socks=1, user="su", **{"pass": "bad"},
                           url="http://127.0.0.1:%d/form.lsp" % srv.port)
        self.assertEqual(lines[0], "nil\tproxyauth")

    def test_mako_conf_proxy(self):
        proxy = Proxy()
        self.addCleanup(proxy.close)
        port = free_port()
        conf = 'port=%d\nhost="127.0.0.1"\nsslport=0\nproxy={name="127.0.0.1", port=%d}\n' % (port, proxy.port)
        srv = self.start(apps=["-l::" + self.app], conf_text=conf)
        lines = self.lines(srv, "conf.lsp", url="http://127.0.0.1:%d/form.lsp?a=conf" % port)
        self.assertEqual(lines, ["true", "200\tconf\tnil"])
        self.assertEqual(proxy.used, [("get", "127.0.0.1", port)])


if __name__ == "__main__":
    main()
