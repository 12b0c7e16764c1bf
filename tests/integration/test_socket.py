"""TCP sockets of ba.socket: a TCP server written in Lua (bind/accept in a cosocket) and a Lua
client talking to it, clients in pages, timers, ba.thread jobs, a .preload at start-up and
script mode; TLS clients with verification (trusted and not) and a TLS server in Lua;
errors (refused, unresolvable, timeouts, a peer that goes) returned to Lua as BAS's names."""
import os
import socket
import ssl
import threading
import time

from harness import (edition, SharedServerTestCase, Server, ServerTestCase, listener, main, make_cert, run_remora,
                     tls_listener, write_app, write_file)

HAVE_TLS = edition() != "minimal"

PRELOAD = r"""
-- an echo server in Lua: "bye" closes, "upper x" answers X
srv = ba.socket.bind(0, {intf = "127.0.0.1"})
local _, p = srv:sockname()
port = p
served = 0
srv:event(function(s)
  while true do
    local c = s:accept()
    if not c then break end
    served = served + 1
    c:event(function(c)
      while true do
        local d = c:read()
        if not d then break end
        if d == "bye" then c:write("closing") c:close() break end
        if d:sub(1, 6) == "upper " then d = d:sub(7):upper() end
        c:write(d)
      end
    end)
  end
end, "r")
function roundtrip(msg)
  local c, err = ba.socket.connect("127.0.0.1", port)
  if not c then return "connect " .. tostring(err) end
  c:write(msg)
  local d, e = c:read(5000)
  c:close()
  return tostring(d or e)
end
"""

PAGES = {
    "port.lsp": "<?lsp print(app.port) ?>",
    # a Lua client in a page, talking to the Lua server
    "client.lsp": """<?lsp print(app.roundtrip(request:data("m") or "hello")) ?>""",
    "err.lsp": """<?lsp
local c, e1 = ba.socket.connect("127.0.0.1", tonumber(request:data("closed")))
local d, e2 = ba.socket.connect("no-such-host.invalid", 80)
print(tostring(c), e1, tostring(d), e2)
?>""",
    "peer.lsp": """<?lsp
local c = ba.socket.connect("127.0.0.1", app.port)
local ip, port, v6 = c:peername()
local lip, lport = c:sockname()
print(ip, port == app.port, v6, lip, lport > 0, c:websocket())
c:write("bye")
print(c:read(2000))
print(c:read(2000))
print(c:write("more"))
c:close()
print(c:state())
?>""",
    "rtimeout.lsp": """<?lsp
local c = ba.socket.connect("127.0.0.1", tonumber(request:data("p")))
local d, e = c:read(200)
print(tostring(d), e)
c:write("ping")
print(c:read(3000))
c:close()
?>""",
    "thread.lsp": """<?lsp
local port = app.port
app.thread_result = nil
ba.thread.run(function()
  local c = ba.socket.connect("127.0.0.1", port)
  c:write("upper from a thread")
  app.thread_result = c:read(5000)
  c:close()
end)
for i = 1, 100 do
  if app.thread_result then break end
  ba.sleep(50)
end
print(app.thread_result)
?>""",
    "timer.lsp": """<?lsp
app.timer_result = nil
ba.timer(function() app.timer_result = app.roundtrip("upper from a timer") end):set(10, true)
for i = 1, 100 do
  if app.timer_result then break end
  ba.sleep(50)
end
print(app.timer_result)
?>""",
    "event.lsp": """<?lsp
app.ev = nil
ba.socket.event(function(a, b)
  local s = ba.socket.connect("127.0.0.1", app.port)
  local same = ba.socket.getsock() ~= nil
  s:write("upper " .. a .. b)
  app.ev = tostring(s:read()) .. " " .. tostring(same)
end, "x", "y")
for i = 1, 100 do
  if app.ev then break end
  ba.sleep(50)
end
print(app.ev)
?>""",
    "sleepco.lsp": """<?lsp
app.slept = nil
ba.socket.event(function()
  local t = ba.clock()
  ba.sleep(150)
  app.slept = ba.clock() - t
end)
for i = 1, 100 do
  if app.slept then break end
  ba.sleep(20)
end
print(app.slept >= 140)
?>""",
    "served.lsp": "<?lsp print(app.served) ?>",
    # a WebSocket client: ws:// through httpc, then ba.socket.http2sock
    "wsclient.lsp": """<?lsp
local h = require"httpc".create()
local ok, err = h:request{url = "ws://127.0.0.1:" .. request:data("port") .. "/ws.lsp", header = {["X-Hello"] = "1"}}
print(ok, err, h:status())
local s = ba.socket.http2sock(h)
print(s:websocket())
s:write("from a Lua client", true)
print(s:read(3000))
s:write("\0\1", false)
local d, text = s:read(3000)
print(#d, text)
s:close()
local h2 = require"httpc".create()
print(h2:request{url = "ws://127.0.0.1:" .. request:data("port") .. "/port.lsp"})
print(h2:status(), ba.socket.http2sock(h2))
?>""",
    "ws.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s)
  while true do
    local d, t = s:read()
    if not d then break end
    s:write(d, t)
  end
end)
?>""",
    "udp.lsp": """<?lsp
local port = tonumber(request:data("p"))
local u = assert(ba.socket.udpcon("127.0.0.1", port))
u:write("ping")
print(u:read(3000))
local any = assert(ba.socket.udpcon({intf = "127.0.0.1"}))
local _, myport = any:sockname()
any:sendto("direct", "127.0.0.1", port)
local d, ip, p = any:read(3000)
print(d, ip, p == port, myport > 0, any:setoption("broadcast", true))
print(any:read(100))
u:close() any:close()
?>""",
    "starttls.lsp": """<?lsp
local store = ba.create.certstore()
store:addcert(ba.openio("disk"), request:data("ca"))
local shark = ba.create.sharkssl(store, {server = false})
local c = ba.socket.connect("127.0.0.1", tonumber(request:data("p")))
print(c:read(3000))
c:write("STARTTLS")
print(c:read(3000))
local ok, err = c:upgrade(shark, "localhost")
print(ok == c, err, (c:trusted()))
c:write("secret")
print(c:read(3000))
c:close()
?>""",
    "hand.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:write("HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nraw 1")
print(ba.socket.sock2req(s))
?>""",
    "nowait.lsp": """<?lsp
local ok, err = pcall(function()
  -- string.gsub calls its function through lua_call: no yield is possible there
  return (string.gsub("a", "a", function() return tostring(ba.socket.connect("127.0.0.1", app.port)) end))
end)
print(ok, err)
?>""",
}


class SocketTest(SharedServerTestCase):
    PREFIX = "remora-sock-"

    @classmethod
    def make_server(cls, base):
        app = write_app(os.path.join(base, "app"), PAGES, PRELOAD)
        return Server(apps=["-l::" + app])

    def lua_port(self):
        return int(self.srv.get("/port.lsp").body)

    def test_python_client_to_lua_server(self):
        with socket.create_connection(("127.0.0.1", self.lua_port()), timeout=10) as s:
            s.sendall(b"hello")
            self.assertEqual(s.recv(100), b"hello")
            s.sendall(b"upper abc")
            self.assertEqual(s.recv(100), b"ABC")
            s.sendall(b"bye")
            self.assertEqual(s.recv(100), b"closing")
            self.assertEqual(s.recv(100), b"")

    def test_many_clients_at_once(self):
        port = self.lua_port()
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"n%d" % i)
            for i, s in enumerate(socks):
                self.assertEqual(s.recv(100), b"n%d" % i)
        finally:
            for s in socks:
                s.close()

    def test_lua_client_to_lua_server_in_page(self):
        r = self.srv.get("/client.lsp?m=upper%20lua%20to%20lua")
        self.assertEqual(r.body.strip(), b"LUA TO LUA")

    def test_errors(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        r = self.srv.get("/err.lsp?closed=%d" % port)
        self.assertEqual(r.body.strip(), b"nil\tcannotconnect\tnil\tcannotresolve")

    def test_names_close_and_state(self):
        lines = self.srv.get("/peer.lsp").body.decode().splitlines()
        self.assertEqual(lines[0], "127.0.0.1\ttrue\tfalse\t127.0.0.1\ttrue\tfalse")
        self.assertEqual(lines[1], "closing")
        self.assertEqual(lines[2], "nil\tsocketclosed")
        self.assertEqual(lines[3], "nil\tsocketclosed")
        self.assertEqual(lines[4], "terminated\tfalse")

    def test_read_timeout_then_data(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        got = []

        def serve():
            c, _ = ls.accept()
            with c:
                got.append(c.recv(100))
                c.sendall(b"pong")
                time.sleep(0.5)
        t = threading.Thread(target=serve)
        t.start()
        r = self.srv.get("/rtimeout.lsp?p=%d" % ls.getsockname()[1])
        t.join(10)
        ls.close()
        self.assertEqual(r.body.decode().splitlines(), ["nil\ttimeout", "pong"])
        self.assertEqual(got, [b"ping"])

    def test_thread_job_blocks(self):
        self.assertEqual(self.srv.get("/thread.lsp").body.strip(), b"FROM A THREAD")

    def test_timer_waits(self):
        self.assertEqual(self.srv.get("/timer.lsp").body.strip(), b"FROM A TIMER")

    def test_socketless_cosocket(self):
        self.assertEqual(self.srv.get("/event.lsp").body.strip(), b"XY true")

    def test_sleep_in_cosocket(self):
        self.assertEqual(self.srv.get("/sleepco.lsp").body.strip(), b"true")

    def test_cannot_wait_where_no_yield(self):
        r = self.srv.get("/nowait.lsp")
        self.assertIn(b"false", r.body)
        self.assertIn(b"cannot wait for a socket here", r.body)
        self.assertHealthy(self.srv)


class MoreSocketsTest(SharedServerTestCase):
    PREFIX = "remora-sock2-"

    @classmethod
    def make_server(cls, base):
        app = write_app(os.path.join(base, "app"), PAGES, PRELOAD)
        return Server(apps=["-l::" + app])

    def test_websocket_client(self):
        r = self.srv.get("/wsclient.lsp?port=%d" % self.srv.port)
        self.assertEqual(r.body.decode().splitlines(),
                         ["true\tnil\t101", "true", "from a Lua client\ttrue", "2\tfalse", "true", "200\tnil\tinvalidparam"])

    def test_udp(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(10)
        port = u.getsockname()[1]

        def serve():
            for _ in range(2):
                d, addr = u.recvfrom(100)
                u.sendto(b"pong:" + d, addr)
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        r = self.srv.get("/udp.lsp?p=%d" % port)
        t.join(10)
        u.close()
        lines = r.body.decode().splitlines()
        self.assertEqual(lines[0], "pong:ping\t127.0.0.1\t%d" % port)
        self.assertEqual(lines[1], "pong:direct\t127.0.0.1\ttrue\ttrue\ttrue")
        self.assertEqual(lines[2], "nil\ttimeout")

    def test_starttls(self):
        if not HAVE_TLS:
            self.skipTest("no TLS in the minimal edition")
        import ssl
        d = self.tmp.name
        crt, key = make_cert(d, "localhost")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)

        def talk(c):
            c.sendall(b"220 hello")
            self.assertEqual(c.recv(100), b"STARTTLS")
            c.sendall(b"220 go ahead")
            with ctx.wrap_socket(c, server_side=True) as t:
                t.sendall(b"tls:" + t.recv(100))
        ls = listener(talk)
        try:
            r = self.srv.get("/starttls.lsp?p=%d&ca=%s" % (ls.getsockname()[1], crt))
        finally:
            ls.close()
        self.assertEqual(r.body.decode().splitlines(),
                         ["220 hello", "220 go ahead", "true\tnil\ttrue", "tls:secret"])

    def test_sock2req(self):
        with self.srv.connect() as c:
            c.send("GET /hand.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
            r1 = c.read_response()
            self.assertEqual(r1.body, b"raw 1")
            c.send("GET /port.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
            r2 = c.read_response()
            self.assertEqual(r2.status, 200)
            self.assertTrue(r2.body.strip().isdigit(), r2.body)


class StartupAndScriptTest(ServerTestCase):
    def greeter(self):
        def greet(c):
            c.sendall(b"greetings")
            c.recv(100)
        ls = listener(greet)
        self.addCleanup(ls.close)
        return ls.getsockname()[1]

    def test_preload_connects_at_startup(self):
        port = self.greeter()
        app = os.path.join(self.tempdir(), "app")
        write_file(app, ".preload", """
local c = assert(ba.socket.connect("127.0.0.1", %d))
greeting = c:read(5000)
c:close()
""" % port)
        write_file(app, "g.lsp", "<?lsp print(app.greeting) ?>")
        srv = self.start(apps=["-l::" + app])
        self.assertEqual(srv.get("/g.lsp").body.strip(), b"greetings")

    def test_script_mode(self):
        port = self.greeter()
        script = write_file(self.tempdir(), "s.lua", """
local c = assert(ba.socket.connect("127.0.0.1", %d))
print(c:read(5000))
c:close()
local s = ba.socket.bind(0, {intf = "127.0.0.1"})
local _, p = s:sockname()
print(p > 0)
return 3
""" % port)
        r = run_remora([script])
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).split()[-2:], ["greetings", "true"])


class TlsSocketTest(ServerTestCase):
    def setUp(self):
        if not HAVE_TLS:
            self.skipTest("no TLS in the minimal edition")

    def tls_echo_server(self, crt, key):
        def echo(t):
            d = t.recv(100)
            t.sendall(b"tls:" + d)
        ls = tls_listener(crt, key, echo)
        self.addCleanup(ls.close)
        return ls.getsockname()[1]

    def test_tls_client_trusted_and_not(self):
        d = self.tempdir()
        crt, key = make_cert(d, "localhost", ip=True)
        other, _ = make_cert(d, "other", ip=True)
        port = self.tls_echo_server(crt, key)
        app = os.path.join(d, "app")
        write_file(app, "c.lsp", """<?lsp
local function try(pem, host)
  local store = ba.create.certstore()
  assert(store:addcert(ba.openio("disk"), pem))
  local shark = ba.create.sharkssl(store, {server = false})
  local c, err = ba.socket.connect(host, %d, {shark = shark})
  if not c then return "connect " .. tostring(err) end
  local ok, why = c:trusted()
  c:write("hi")
  local data = c:read(5000)
  local cipher = c:cipher()
  c:close()
  return tostring(ok) .. " " .. tostring(data) .. " " .. tostring(cipher ~= nil)
end
print(try("%s", "localhost"))
print(try("%s", "localhost"))
?>""" % (port, crt, other))
        srv = self.start(apps=["-l::" + app])
        lines = srv.get("/c.lsp").body.decode().splitlines()
        self.assertEqual(lines[0], "true tls:hi true")
        self.assertEqual(lines[1], "false tls:hi true")

    def test_tls_server_in_lua(self):
        d = self.tempdir()
        crt, key = make_cert(d, "localhost", ip=True)
        app = os.path.join(d, "app")
        write_file(app, ".preload", """
local cert = assert(ba.create.sharkcert(ba.openio("disk"), "%s", "%s"))
local shark = ba.create.sharkssl()
shark:addcert(cert)
srv = assert(ba.socket.bind(0, {intf = "127.0.0.1", shark = shark}))
local _, p = srv:sockname()
port = p
srv:event(function(s)
  while true do
    local c = s:accept()
    if not c then break end
    c:event(function(c)
      local d = c:read()
      c:write("lua tls " .. tostring(d) .. " " .. tostring(c:cipher() ~= nil))
      c:close()
    end)
  end
end)
""" % (crt, key))
        write_file(app, "port.lsp", "<?lsp print(app.port) ?>")
        srv = self.start(apps=["-l::" + app])
        port = int(srv.get("/port.lsp").body)
        ctx = ssl.create_default_context(cafile=crt)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                t.sendall(b"x")
                self.assertEqual(t.recv(100), b"lua tls x true")


if __name__ == "__main__":
    main()
