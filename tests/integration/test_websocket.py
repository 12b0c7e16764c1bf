"""WebSockets through ba.socket.req2sock, with python3-websockets (and raw frames) as the
client: echo of text and binary messages, fragmented messages, subprotocols, pages that wait
on their socket, cosockets (event, disable/enable, errors), broadcast from a timer to 200
clients, every close path (normal both ways, 1009 oversize, 1007 bad UTF-8, 1002 unmasked,
a peer that vanishes), a client that stops reading (the queue stays bounded), read
timeouts, wss:// over the TLS listener, and the raw socket of a plain request."""
import asyncio
import base64
import os
import socket
import ssl
import struct
import time
import unittest

import websockets
import websockets.exceptions

from harness import SharedServerTestCase, Server, ServerTestCase, edition, main, write_app, write_file

PRELOAD = r"""
clients = {}
nclients = 0
events = {}
function note(s) events[#events + 1] = s end
local ticks = 0
ba.timer(function()
  ticks = ticks + 1
  for s in pairs(clients) do s:write("tick " .. ticks, true) end
  return true
end):set(100)
flood = nil
flood_result = nil
ba.timer(function()
  if flood then
    local ok, n = flood:write(string.rep("x", 65536))
    if not ok then
      flood_result = math.type(n) == "integer" and ("full " .. n) or ("error " .. tostring(n))
      flood:close()
      flood = nil
    end
  end
  return true
end):set(10)
waiting = nil
"""

PAGES = {
    "echo.lsp": """<?lsp
local s = ba.socket.req2sock(request)
if s then
  s:event(function(s)
    while true do
      local data, isText = s:read()
      if not data then app.note("echo end " .. tostring(isText)) break end
      s:write(data, isText)
    end
  end, "s")
end
?>""",
    "small.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:maxsize(1000)
s:event(function(s)
  while true do
    local data, err = s:read()
    if not data then app.note("small end " .. tostring(err)) break end
    s:write(#data, true)
  end
end)
?>""",
    "proto.lsp": """<?lsp
local s = ba.socket.req2sock(request, "chat")
s:event(function(s) s:write("proto " .. tostring(s:websocket()), true) s:read() end)
?>""",
    # the page itself waits on the socket (no cosocket)
    "inpage.lsp": """<?lsp
local s = ba.socket.req2sock(request)
local d = s:read()
s:write("page got " .. d, true)
local ip, port = s:peername()
s:write(ip .. " " .. tostring(port > 0), true)
s:close()
?>""",
    "timeout.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s)
  local d, err = s:read(200)
  local d2 = s:read(5000)
  s:write(tostring(d) .. " " .. tostring(err) .. " then " .. tostring(d2), true)
  s:read()
end)
?>""",
    "bcast.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s)
  app.clients[s] = true
  app.nclients = app.nclients + 1
  s:read()
  app.clients[s] = nil
  app.nclients = app.nclients - 1
end)
?>""",
    "count.lsp": "<?lsp print(app.nclients) ?>",
    "flood.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:queuelen(256 * 1024)
app.flood = s
app.flood_result = nil
?>""",
    "floodres.lsp": "<?lsp print(app.flood_result) ?>",
    "park.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s)
  app.waiting = s
  local v1, v2 = s:disable()
  s:write("enabled with " .. tostring(v1) .. " " .. tostring(v2), true)
  s:read()
end)
?>""",
    "wake.lsp": "<?lsp local s = app.waiting print(s:state(), s:enable('a', 42), s:state(), s:enable('again')) ?>",
    "boom.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s) s:read() error("cosocket boom") end)
?>""",
    "serverclose.lsp": """<?lsp
local s = ba.socket.req2sock(request)
s:event(function(s) s:write("bye", true) s:close() end)
?>""",
    "raw.lsp": """<?lsp
local s = ba.socket.req2sock(request)
print("ignored")
s:write("HTTP/1.1 200 OK\\r\\nContent-Length: 9\\r\\nConnection: close\\r\\n\\r\\nraw hello")
s:close()
?>""",
    "events.lsp": "<?lsp print(table.concat(app.events, '|')) ?>",
    "ok.lsp": "<?lsp print('ok') ?>",
}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def raw_upgrade(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError("no 101: %r" % head)
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, head.split(b"\r\n\r\n", 1)[1]


def frame(opcode, payload, mask=True, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    else:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_close(s, rest=b""):
    """Reads frames until a close frame; returns its code."""
    data = rest
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        while len(data) >= 2:
            op = data[0] & 0x0F
            n = data[1] & 0x7F
            off = 2
            if n == 126:
                n = struct.unpack("!H", data[2:4])[0]
                off = 4
            if len(data) < off + n:
                break
            payload = data[off:off + n]
            data = data[off + n:]
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    raise AssertionError("no close frame")


class WebSocketTest(SharedServerTestCase):
    PREFIX = "remora-ws-"

    @classmethod
    def make_server(cls, base):
        app = write_app(os.path.join(base, "app"), PAGES, PRELOAD)
        return Server(apps=["-l::" + app])

    def url(self, path):
        return "ws://127.0.0.1:%d/%s" % (self.srv.port, path)

    def events(self):
        return self.srv.get("/events.lsp").body.decode().strip()

    def test_echo_text_and_binary(self):
        async def go():
            async with websockets.connect(self.url("echo.lsp")) as ws:
                await ws.send("hello")
                self.assertEqual(await ws.recv(), "hello")
                await ws.send(b"\x00\x01\xffbinary")
                self.assertEqual(await ws.recv(), b"\x00\x01\xffbinary")
                big = "é" * 100000
                await ws.send(big)
                self.assertEqual(await ws.recv(), big)
        run(go())
        self.assertHealthy(self.srv)

    def test_fragmented_message(self):
        async def go():
            async with websockets.connect(self.url("echo.lsp")) as ws:
                await ws.send(["frag", "ment", "ed"])
                self.assertEqual(await ws.recv(), "fragmented")
                await ws.send([b"\x01", b"\x02\x03"])
                self.assertEqual(await ws.recv(), b"\x01\x02\x03")
        run(go())

    def test_ping_answered(self):
        async def go():
            async with websockets.connect(self.url("echo.lsp")) as ws:
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 5)
        run(go())

    def test_subprotocol(self):
        async def go():
            async with websockets.connect(self.url("proto.lsp"), subprotocols=["chat"]) as ws:
                self.assertEqual(ws.subprotocol, "chat")
                self.assertEqual(await ws.recv(), "proto true")
        run(go())

    def test_page_waits_on_its_socket(self):
        async def go():
            async with websockets.connect(self.url("inpage.lsp")) as ws:
                await asyncio.sleep(0.3)  # the page waits meanwhile; other requests go on
                self.assertEqual(self.srv.get("/ok.lsp").body.strip(), b"ok")
                await ws.send("x1")
                self.assertEqual(await ws.recv(), "page got x1")
                self.assertEqual(await ws.recv(), "127.0.0.1 true")
                with self.assertRaises(websockets.exceptions.ConnectionClosedOK):
                    await ws.recv()
                self.assertEqual(ws.close_code, 1000)
        run(go())

    def test_read_timeout_keeps_socket(self):
        async def go():
            async with websockets.connect(self.url("timeout.lsp")) as ws:
                await asyncio.sleep(0.6)
                await ws.send("late")
                self.assertEqual(await ws.recv(), "nil timeout then late")
        run(go())

    def test_server_close(self):
        async def go():
            async with websockets.connect(self.url("serverclose.lsp")) as ws:
                self.assertEqual(await ws.recv(), "bye")
                with self.assertRaises(websockets.exceptions.ConnectionClosedOK):
                    await ws.recv()
                self.assertEqual(ws.close_code, 1000)
        run(go())

    def test_client_close_seen_by_server(self):
        async def go():
            async with websockets.connect(self.url("echo.lsp")) as ws:
                await ws.send("a")
                await ws.recv()
                await ws.close(1000, "done")
        run(go())
        deadline = time.monotonic() + 5
        while "echo end socketclosed" not in self.events() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("echo end socketclosed", self.events())

    def test_oversize_message_1009(self):
        async def go():
            async with websockets.connect(self.url("small.lsp")) as ws:
                await ws.send("y" * 1000)
                self.assertEqual(await ws.recv(), "1000")
                await ws.send("y" * 1001)
                with self.assertRaises(websockets.exceptions.ConnectionClosedError):
                    await ws.recv()
                self.assertEqual(ws.close_code, 1009)
        run(go())
        self.assertIn("small end toomuchdata", self.events())

    def test_invalid_utf8_1007(self):
        s, rest = raw_upgrade(self.srv.port, "/echo.lsp")
        with s:
            s.sendall(frame(1, b"ok \xc3\x28 bad"))
            self.assertEqual(read_close(s, rest), 1007)

    def test_unmasked_frame_1002(self):
        s, rest = raw_upgrade(self.srv.port, "/echo.lsp")
        with s:
            s.sendall(frame(1, b"not masked", mask=False))
            self.assertEqual(read_close(s, rest), 1002)

    def test_raw_frames_with_early_data(self):
        # a frame sent right behind the upgrade request (before the 101 came back)
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        with s:
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall(("GET /echo.lsp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode()
                      + frame(1, b"early") + frame(0, b"", fin=False)[:0])
            data = b""
            while b"early" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, data)
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 101"))

    def test_peer_vanishes(self):
        s, _ = raw_upgrade(self.srv.port, "/echo.lsp")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset, no close frame
        deadline = time.monotonic() + 5
        while self.events().count("echo end") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertHealthy(self.srv)

    def test_disable_enable(self):
        async def go():
            async with websockets.connect(self.url("park.lsp")) as ws:
                await asyncio.sleep(0.2)
                self.assertEqual(self.srv.get("/wake.lsp").body.strip(), b"disabled\ttrue\tconnected\tfalse")
                self.assertEqual(await ws.recv(), "enabled with a 42")
        run(go())

    def test_cosocket_error_reported(self):
        async def go():
            async with websockets.connect(self.url("boom.lsp")) as ws:
                await ws.send("go")
                with self.assertRaises(websockets.exceptions.ConnectionClosed):
                    await ws.recv()
        run(go())
        self.srv.wait_for(r"Cosocket error: .*cosocket boom")
        self.assertHealthy(self.srv)

    def test_broadcast_from_timer_to_200_clients(self):
        async def go():
            conns = []
            for _ in range(200):
                conns.append(await websockets.connect(self.url("bcast.lsp"), max_queue=None))
            try:
                deadline = time.monotonic() + 10
                while int(self.srv.get("/count.lsp").body) < 200 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                self.assertEqual(int(self.srv.get("/count.lsp").body), 200)

                async def two_ticks(ws):
                    a = await ws.recv()
                    b = await ws.recv()
                    return a, b
                results = await asyncio.gather(*(two_ticks(ws) for ws in conns))
                for a, b in results:
                    self.assertTrue(a.startswith("tick ") and b.startswith("tick "), (a, b))
                    self.assertGreater(int(b.split()[1]), int(a.split()[1]))
            finally:
                await asyncio.gather(*(ws.close() for ws in conns))
            deadline = time.monotonic() + 10
            while int(self.srv.get("/count.lsp").body) > 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            self.assertEqual(int(self.srv.get("/count.lsp").body), 0)
        run(go())

    def test_client_that_stops_reading(self):
        s, _ = raw_upgrade(self.srv.port, "/flood.lsp")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with s:
            deadline = time.monotonic() + 20
            res = b"nil"
            while time.monotonic() < deadline:
                res = self.srv.get("/floodres.lsp").body.strip()
                if res != b"nil":
                    break
                time.sleep(0.1)
            self.assertTrue(res.startswith(b"full "), res)
            queued = int(res.split()[1])
            self.assertLessEqual(queued, 256 * 1024)  # bounded by queuelen
            self.assertGreater(queued, 0)
        self.assertHealthy(self.srv)

    def test_raw_socket_of_plain_request(self):
        r = self.srv.get("/raw.lsp")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"raw hello")


class SecureWebSocketTest(SharedServerTestCase):
    PREFIX = "remora-wss-"

    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        write_file(app, "echo.lsp", PAGES["echo.lsp"])
        write_file(app, "events.lsp", PAGES["events.lsp"])
        write_file(app, ".preload", "events = {} function note(s) events[#events + 1] = s end")
        return Server(apps=["-l::" + app], conf={"sslport": None}, tmpdir=base)

    def test_wss_echo(self):
        if edition() == "minimal":
            self.skipTest("no TLS in the minimal edition")
        port = self.srv.https_port()
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp.name, ".certificate", "remora.pem"))
        ctx.check_hostname = False

        async def go():
            async with websockets.connect("wss://127.0.0.1:%d/echo.lsp" % port, ssl=ctx) as ws:
                await ws.send("secure")
                self.assertEqual(await ws.recv(), "secure")
                await ws.send(b"\x00" * 70000)
                self.assertEqual(await ws.recv(), b"\x00" * 70000)
        run(go())


class ExampleChatTest(ServerTestCase):
    """The bundled example app's chat (examples/www/chat.lsp) works as its page says."""

    def test_two_chatters(self):
        www = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "www")
        srv = self.start(apps=["-l::" + www])
        self.assertEqual(srv.get("/chat.lsp").status, 400)
        self.assertIn(b"chat.lsp", srv.get("/chat.html").body)
        url = "ws://127.0.0.1:%d/chat.lsp" % srv.port

        async def go():
            async with websockets.connect(url) as a:
                self.assertEqual(await a.recv(), "someone joined")
                async with websockets.connect(url) as b:
                    self.assertEqual(await a.recv(), "someone joined")
                    self.assertEqual(await b.recv(), "someone joined")
                    await a.send("hello from a")
                    self.assertEqual(await b.recv(), "hello from a")
                    self.assertEqual(await a.recv(), "hello from a")
                self.assertEqual(await a.recv(), "someone left")
        run(go())


MINIMAL = os.environ.get("REMORA_MINIMAL", "")


@unittest.skipUnless(os.path.exists(MINIMAL), "REMORA_MINIMAL names no minimal-edition binary")
class SingleThreadEditionTest(ServerTestCase):
    """The minimal edition runs every page, cosocket and timer on one loop thread: a page that
    waits on its socket, cosockets and a timer's broadcast must share it."""

    def test_websockets_on_one_thread(self):
        import harness
        app = write_app(os.path.join(self.tempdir(), "app"), PAGES, PRELOAD)
        saved = harness.REMORA
        harness.REMORA = MINIMAL
        try:
            srv = self.start(apps=["-l::" + app])
        finally:
            harness.REMORA = saved
        url = "ws://127.0.0.1:%d/" % srv.port

        async def go():
            async with websockets.connect(url + "echo.lsp") as e, websockets.connect(url + "inpage.lsp") as p:
                conns = [await websockets.connect(url + "bcast.lsp") for _ in range(50)]
                try:
                    await e.send("one thread")
                    self.assertEqual(await e.recv(), "one thread")
                    await p.send("p")
                    self.assertEqual(await p.recv(), "page got p")
                    ticks = await asyncio.gather(*(ws.recv() for ws in conns))
                    self.assertTrue(all(t.startswith("tick ") for t in ticks), ticks)
                finally:
                    await asyncio.gather(*(ws.close() for ws in conns))
        run(go())
        self.assertHealthy(srv)


if __name__ == "__main__":
    main()
