#!/usr/bin/env python3
"""The net IO (issue 7): apps and the home IO at http(s):// URLs, served through Remora's
HTTP client, read-only, revalidated with ETags.

The remote side is mostly `FileServer` below: a small web file server (GET/HEAD with ETags,
Last-Modified and 304s, a redirect for a directory asked for without its slash, WebDAV
PROPFIND with Depth: 1) that serves dot files, as BAS's NetIo expects of its peer. A second
Remora works too, for what it serves: static files. It never serves dot files (an app's
.preload) and runs .lsp pages rather than handing out their text, so an app whose pages or
.preload live on a Remora static server cannot run them; test_remote_remora checks what works.
"""
import hashlib
import http.server
import os
import socket
import ssl
import threading
import time
import urllib.parse
from email.utils import formatdate

import harness
from harness import ServerTestCase, main, write_file

EDITION = harness.edition()


class FileServer:
    """A threaded HTTP/1.1 file server over `root` on a loopback port. `log` holds
    (method, path, request headers, status) of every request; `propfind=False` answers
    PROPFIND with 405; `tls=(cert, key)` serves HTTPS."""

    def __init__(self, root, propfind=True, tls=None):
        self.root = root
        self.propfind = propfind
        self.log = []
        self.lock = threading.Lock()
        self.conns = set()
        self.connections = 0  # accepted so far
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with owner.lock:
                    owner.conns.add(self.connection)
                    owner.connections += 1

            def finish(self):
                with owner.lock:
                    owner.conns.discard(self.connection)
                super().finish()

            def send(self, status, headers=(), body=b"", head=False):
                with owner.lock:
                    owner.log.append((self.command, self.path, dict(self.headers), status))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def fs_path(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                return path, os.path.join(owner.root, path.lstrip("/"))

            def do_GET(self, head=False):
                path, fs = self.fs_path()
                if os.path.isdir(fs):
                    if not path.endswith("/"):
                        return self.send(301, [("Location", path + "/")], head=head)
                    return self.send(200, [("Content-Type", "text/html")], b"<html>a directory</html>", head)
                if not os.path.isfile(fs):
                    return self.send(404, [("Content-Type", "text/plain")], b"not here", head)
                with open(fs, "rb") as f:
                    data = f.read()
                etag = '"%s"' % hashlib.sha1(data).hexdigest()[:16]
                common = [("ETag", etag), ("Last-Modified", formatdate(os.path.getmtime(fs), usegmt=True))]
                if etag in self.headers.get("If-None-Match", ""):
                    return self.send(304, common, head=True)
                self.send(200, common + [("Content-Type", "application/octet-stream")], data, head)

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_PROPFIND(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                if not owner.propfind:
                    return self.send(405, [("Allow", "GET, HEAD")])
                path, fs = self.fs_path()
                if not os.path.exists(fs):
                    return self.send(404)
                items = [(path, fs)]
                if os.path.isdir(fs) and self.headers.get("Depth") == "1":
                    base = path if path.endswith("/") else path + "/"
                    items += [(base + n, os.path.join(fs, n)) for n in sorted(os.listdir(fs))]
                out = ['<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:">']
                for p, f in items:
                    isdir = os.path.isdir(f)
                    href = urllib.parse.quote(p + ("/" if isdir and not p.endswith("/") else ""))
                    props = "<d:resourcetype>%s</d:resourcetype>" % ("<d:collection/>" if isdir else "")
                    if not isdir:
                        props += "<d:getcontentlength>%d</d:getcontentlength>" % os.path.getsize(f)
                    props += "<d:getlastmodified>%s</d:getlastmodified>" % formatdate(os.path.getmtime(f), usegmt=True)
                    out.append("<d:response><d:href>%s</d:href><d:propstat><d:prop>%s</d:prop>"
                               "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>" % (href, props))
                out.append("</d:multistatus>")
                self.send(207, [("Content-Type", "application/xml; charset=utf-8")], "".join(out).encode())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d/" % ("https" if tls else "http", self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests(self, method=None, path=None):
        with self.lock:
            return [r for r in self.log if (method is None or r[0] == method) and (path is None or r[1] == path)]

    def stop(self):
        """Stops listening and closes the connections kept alive (as a stopped server does)."""
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def remote_app(root):
    write_file(root, ".preload", 'greeting = "hello from the network"\nloaded_from = io:resourcetype()\n')
    write_file(root, "index.lsp", "<?lsp print(app.greeting, app.loaded_from, io:resourcetype()) ?>")
    write_file(root, "style.css", "body { color: teal }\n")
    write_file(root, "sub/data.txt", "version 1")
    write_file(root, "sub/page.lsp", "<?lsp print('sub page', app.greeting) ?>")
    write_file(root, "big.bin", bytes(range(256)) * 96)  # 24 KiB: beyond the resource reader's cache
    return root


class NetAppTest(ServerTestCase):
    def serve(self, root, **kw):
        fs = FileServer(root, **kw)
        self.addCleanup(fs.stop)
        return fs

    def test_app_at_a_url(self):
        fs = self.serve(remote_app(self.tempdir()))
        srv = self.start(apps=["-l::" + fs.url])
        self.assertIn('Loading %s as "root application" : ok' % fs.url, srv.output())
        self.assertNotIn(".preload not found", srv.output())
        r = srv.get("/")
        self.assertEqual(r.status, 200, srv.output())
        self.assertEqual(r.body.decode().split(), ["hello", "from", "the", "network", "net", "net"])
        r = srv.get("/style.css")
        self.assertEqual((r.status, r.body), (200, b"body { color: teal }\n"))
        self.assertEqual(r.header("Content-Type").split(";")[0], "text/css")  # by the name, as for disk files
        self.assertEqual(srv.get("/sub/data.txt").body, b"version 1")
        self.assertEqual(srv.get("/sub/page.lsp").body.decode().strip(), "sub page\thello from the network")
        r = srv.get("/sub")
        self.assertEqual((r.status, r.header("Location")), (302, "/sub/"))
        r = srv.get("/big.bin")
        self.assertEqual((r.status, r.body), (200, bytes(range(256)) * 96))
        self.assertEqual(srv.get("/missing.txt").status, 404)
        self.assertEqual(srv.get("/.preload").status, 404)  # dot files are never served here either
        # validators of our own for the browser: a 304 without asking the remote side again
        r = srv.get("/style.css")
        self.assertEqual(srv.get("/style.css", headers={"If-None-Match": r.header("ETag")}).status, 304)

    def test_changes_are_seen_and_bodies_revalidated(self):
        root = remote_app(self.tempdir())
        write_file(root, "reader.lsp", "<?lsp print(io:open('sub/data.txt'):read'a') ?>")
        fs = self.serve(root)
        srv = self.start(apps=["-l::" + fs.url])
        self.assertEqual(srv.get("/reader.lsp").body.strip(), b"version 1")
        self.assertEqual(srv.get("/sub/data.txt").body, b"version 1")
        time.sleep(1.2)
        # unchanged: asked again with the ETag, answered 304, the copy in memory used
        self.assertEqual(srv.get("/reader.lsp").body.strip(), b"version 1")
        conditional = [r for r in fs.requests("GET", "/sub/data.txt") if "If-None-Match" in r[2]]
        self.assertTrue(conditional and conditional[-1][3] == 304, fs.log)
        # a big file goes through the IO on each request: revalidated, not fetched again
        self.assertEqual(srv.get("/big.bin").status, 200)
        time.sleep(1.2)
        self.assertEqual(srv.get("/big.bin").body, bytes(range(256)) * 96)
        self.assertEqual([r[3] for r in fs.requests("GET", "/big.bin")][-1], 304)
        # changed on the remote side: seen within about two seconds (the IO's second and the
        # resource reader's), for the static file, the Lua reader and the page itself
        write_file(root, "sub/data.txt", "version 2, longer")
        write_file(root, "sub/page.lsp", "<?lsp print('changed page') ?>")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.get("/sub/data.txt").body != b"version 2, longer":
            time.sleep(0.2)
        self.assertEqual(srv.get("/sub/data.txt").body, b"version 2, longer")
        self.assertEqual(srv.get("/reader.lsp").body.strip(), b"version 2, longer")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.get("/sub/page.lsp").body.strip() != b"changed page":
            time.sleep(0.2)
        self.assertEqual(srv.get("/sub/page.lsp").body.strip(), b"changed page")
        # removed: 404
        os.remove(os.path.join(root, "style.css"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.get("/style.css").status != 404:
            time.sleep(0.2)
        self.assertEqual(srv.get("/style.css").status, 404)
        # the connection is kept alive between requests: far fewer connections than requests
        self.assertGreater(len(fs.log), 10)
        self.assertLessEqual(fs.connections, 2, fs.log)

    def test_io_object_listing_and_read_only(self):
        root = remote_app(self.tempdir())
        write_file(root, "a b.txt", "spaced")
        write_file(root, "io.lsp", """<?lsp
local t = {}
for name, isdir, mtime, size in io:files("", true) do t[#t + 1] = name .. (isdir and "/" or ":" .. size) end
table.sort(t)
print(table.concat(t, ","))
local st = io:stat("sub")
print(st.isdir, io:stat("style.css").size, io:stat("style.css").mtime > 0, io:stat("nope.txt"))
print(io:open("a b.txt"):read"a", io:realpath"" == nil)
print(io:open("new.txt", "w"))
print(select(2, io:mkdir("d")), select(2, io:remove("style.css")), select(2, io:rename("style.css", "x")))
local f = io:open("sub/data.txt")
f:seek(3)
print(f:read(4), f:write("x"))
?>""")
        fs = self.serve(root)
        srv = self.start(apps=["-l::" + fs.url])
        lines = srv.get("/io.lsp").body.decode().strip().split("\n")
        self.assertEqual(lines[0], ".preload:%d,a b.txt:6,big.bin:24576,index.lsp:%d,io.lsp:%d,style.css:21,sub/"
                         % (os.path.getsize(os.path.join(root, ".preload")),
                            os.path.getsize(os.path.join(root, "index.lsp")),
                            os.path.getsize(os.path.join(root, "io.lsp"))), lines)
        self.assertEqual(lines[1], "true\t21\ttrue\tnil\tnotfound")
        self.assertEqual(lines[2], "spaced\ttrue")
        self.assertEqual(lines[3], "nil\treadonly")
        self.assertEqual(lines[4], "readonly\treadonly\treadonly")
        self.assertEqual(lines[5], "sion\tnil\treadonly")
        self.assertTrue(os.path.exists(os.path.join(root, "style.css")))
        self.assertTrue(fs.requests("PROPFIND", "/"))

    def test_listing_without_webdav(self):
        root = remote_app(self.tempdir())
        write_file(root, "ls.lsp", "<?lsp print(io:files('')) ?>")
        fs = self.serve(root, propfind=False)
        srv = self.start(apps=["-l::" + fs.url])
        self.assertEqual(srv.get("/ls.lsp").body.decode().strip(), "nil\tnotsupported")

    def test_named_app_and_conf_apps_table(self):
        fs = self.serve(remote_app(self.tempdir()))
        tmp = self.tempdir()
        srv = self.start(conf_text='port=%d\nhost="127.0.0.1"\nsslport=0\napps={{name="net", path="%s", conf={timeout=3000}}}\n'
                         % (harness.free_port(), fs.url + "sub/"), tmpdir=tmp)
        srv.wait_for(r'Loading %s as "net" : ok' % (fs.url + "sub/"))
        self.assertEqual(srv.get("/net/data.txt").body, b"version 1")
        # no .preload under sub/: reported as for a directory, naming the URL
        self.assertIn("Info: %ssub/.preload not found" % fs.url, srv.output())
        srv2 = self.start(apps=["-lremote::" + fs.url])
        self.assertEqual(srv2.get("/remote/").body.decode().split()[0], "hello")

    def test_server_gone_or_silent(self):
        root = remote_app(self.tempdir())
        fs = FileServer(root)
        srv = self.start(apps=["-l::" + fs.url])
        self.assertEqual(srv.get("/style.css").status, 200)
        fs.stop()
        time.sleep(1.1)
        for path in ("/style.css", "/sub/page.lsp", "/"):
            t0 = time.monotonic()
            r = srv.get(path)
            self.assertIn(r.status, (404, 500), (path, r))
            self.assertLess(time.monotonic() - t0, 3)
        # the IO says why; a server that accepts and never answers costs the timeout, no more
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        self.addCleanup(silent.close)
        port = silent.getsockname()[1]
        local = self.tempdir()
        write_file(local, "why.lsp", """<?lsp
local dead = ba.mkio(ba.openio"net", "%s")
print(dead:stat("style.css"))
local io = ba.mkio("http://127.0.0.1:%d/")
print(io:netconf{timeout = 400})
local t0 = ba.clock()
print(io:stat("x"))
print(ba.clock() - t0 < 3000)
print(ba.mkio(ba.openio"disk", "/"):netconf{timeout = 1})
?>""" % (fs.url, port))
        srv2 = self.start(apps=["-l::" + local])
        t0 = time.monotonic()
        lines = srv2.get("/why.lsp").body.decode().strip().split("\n")
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(lines, ["nil\tcannotconnect", "true", "nil\ttimeout", "true", "nil\tnotsupported"])
        # an app whose server does not answer at load time is not loaded, with the reason
        srv3 = self.start(apps=["-l::" + fs.url])
        self.assertIn('Loading %s as "root application" : failed: cannotconnect' % fs.url, srv3.output())

    def test_homeio_url(self):
        root = self.tempdir()
        write_file(root, "home/hello.txt", "from the network home")
        remote_app(os.path.join(root, "home/netapp"))
        fs = self.serve(root)
        tmp = self.tempdir()
        write_file(tmp, "local/h.lsp", "<?lsp local h = ba.openio'home' print(h:open('hello.txt'):read'a', h:resourcetype(), h:realpath'') ?>")
        home = fs.url + "home"
        srv = self.start(apps=["-l::local", "-lnet::netapp"], conf={"homeio": home}, tmpdir=tmp)
        self.assertIn("Home dir: %s/" % home, srv.output())
        self.assertEqual(srv.get("/h.lsp").body.decode().strip(), "from the network home\tnet\tnil")
        # a relative app path is looked for in the home IO first: here, on the network
        self.assertIn('Loading netapp as "net" : ok', srv.output())
        self.assertEqual(srv.get("/net/").body.decode().split()[0], "hello")

    def test_homeio_url_that_cannot_be_used(self):
        d = self.tempdir()
        path = write_file(d, "mako.conf", 'port=%d\nhomeio="http://:80/"\n' % harness.free_port())
        p = harness.run_remora(["-c", path], cwd=d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("homeio: not a usable URL: http://:80/", p.stderr)
        harness.assert_no_crash(p.stderr)

    def test_script_mode_with_a_network_home(self):
        root = self.tempdir()
        write_file(root, "hello.txt", "scripted")
        fs = self.serve(root)
        tmp = self.tempdir()
        write_file(tmp, "mako.conf", 'homeio="%s"\n' % fs.url)  # found in the working directory
        write_file(tmp, "s.lua", "print(ba.openio'home':open'hello.txt':read'a')\nreturn 0\n")
        p = harness.run_remora([os.path.join(tmp, "s.lua")], cwd=tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("scripted", p.stdout + p.stderr)

    def test_https(self):
        if EDITION == "minimal":
            self.skipTest("no TLS in the minimal edition")
        d = self.tempdir()
        crt, key = harness.make_cert(d, "localhost", ip=True)
        root = self.tempdir()
        write_file(root, "f.txt", "over tls")
        fs = self.serve(root, tls=(crt, key))
        local = self.tempdir()
        write_file(local, "t.lsp", """<?lsp
local io = ba.mkio("%s")
print(io:stat("f.txt"))
local cs = ba.create.certstore()
assert(cs:addcert("%s"))
io:netconf{shark = ba.create.sharkssl(cs, {server = false})}
print(io:open("f.txt"):read"a")
local lax = ba.mkio("%s")
lax:netconf{trusted = false}
print(lax:open("f.txt"):read"a")
?>""" % (fs.url, crt, fs.url))
        srv = self.start(apps=["-l::" + local])
        lines = srv.get("/t.lsp").body.decode().strip().split("\n")
        self.assertEqual(lines, ["nil\tsslnottrusted", "over tls", "over tls"], srv.output())

    def test_remote_remora(self):
        # A second Remora serving a directory: static files work, with its ETags and 304s; its
        # .lsp pages run there and its dot files are never served (see the module's notes).
        remote_dir = self.tempdir()
        write_file(remote_dir, "page.html", "<p>remote</p>")
        write_file(remote_dir, "docs/readme.txt", "read me")
        write_file(remote_dir, ".preload", "x = 'runs on the remote side only'")
        remote = self.start(apps=["-l::" + remote_dir])
        url = "http://127.0.0.1:%d/" % remote.port
        srv = self.start(apps=["-l::" + url])
        self.assertIn('Loading %s as "root application" : ok' % url, srv.output())
        self.assertIn("Info: %s.preload not found" % url, srv.output())
        self.assertEqual(srv.get("/page.html").body, b"<p>remote</p>")
        self.assertEqual(srv.get("/docs/readme.txt").body, b"read me")
        self.assertEqual(srv.get("/docs").status, 302)
        self.assertEqual(srv.get("/nothing.txt").status, 404)
        time.sleep(1.1)
        write_file(remote_dir, "docs/readme.txt", "read me again")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.get("/docs/readme.txt").body != b"read me again":
            time.sleep(0.2)
        self.assertEqual(srv.get("/docs/readme.txt").body, b"read me again")


if __name__ == "__main__":
    main()
