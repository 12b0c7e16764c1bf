#!/usr/bin/env python3
"""The LuaSocket layer Mako ships, in the real binary: ltn12 (sources, sinks, filters,
pumps), the mime filters (checked against Python's base64 and quopri), ba.pipe (a FIFO
shared with this process), and the socket modules: socket.url, the socket namespace, TCP
clients talking to a Python server and to a Lua server on the same Remora, socket.smtp and
socket.mail delivering to a small SMTP server written here (the messages are parsed back
with Python's email package)."""
import base64
import email
import email.policy
import os
import quopri
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import harness
from harness import ServerTestCase, assert_no_crash, main, write_file


def run_script(script, cwd):
    path = os.path.join(cwd, "s.lua")
    with open(path, "w") as f:
        f.write(script)
    p = subprocess.run([harness.REMORA, path], cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    assert_no_crash(err)
    return p.returncode, err


class ScriptCase(unittest.TestCase):
    def tempdir(self):
        d = tempfile.TemporaryDirectory(prefix="remora-luasocket-")
        self.addCleanup(d.cleanup)
        return d.name

    def run_ok(self, script, cwd=None):
        cwd = cwd or self.tempdir()
        rc, err = run_script(script, cwd)
        self.assertEqual(rc, 0, err)
        self.assertIn("ALL OK", err)
        return err


LTN12 = r"""
local ltn12 = require"ltn12"
assert(package.loaded.ltn12 == ltn12 and ltn12._VERSION)
local function all(src)  -- every chunk of a source, joined
  local snk, t = ltn12.sink.table()
  assert(ltn12.pump.all(src, snk))
  return table.concat(t), #t
end
-- a filter that gives its input back one byte per call: it has to be drained
local function bytewise()
  local buf = ""
  return function(chunk)
    if chunk == nil then
      if buf == "" then return nil end
    else
      buf = buf .. chunk
      if buf == "" then return "" end
    end
    local c = buf:sub(1, 1)
    buf = buf:sub(2)
    if c == "" then return "" end
    return c
  end
end
local upper = function(chunk) return chunk and chunk:upper() end

-- source.string splits at BLOCKSIZE
ltn12.BLOCKSIZE = 4
local s, n = all(ltn12.source.string("abcdefghij"))
assert(s == "abcdefghij" and n == 3, n)
assert(all(ltn12.source.string(nil)) == "")
assert(all(ltn12.source.empty()) == "")
ltn12.BLOCKSIZE = 2048

-- source.table stops at the first nil
assert(all(ltn12.source.table{"a", "b", "c"}) == "abc")

-- source.chain with a filter that must be drained, and with several filters
assert(all(ltn12.source.chain(ltn12.source.string("hello"), bytewise())) == "hello")
local out, chunks = all(ltn12.source.chain(ltn12.source.string("hello"), bytewise()))
assert(chunks == 5, chunks)
assert(all(ltn12.source.chain(ltn12.source.string("abc"), bytewise(), upper, bytewise())) == "ABC")

-- filter.chain: nested, with drained filters inside
local f = ltn12.filter.chain(bytewise(), upper, ltn12.filter.chain(bytewise(), bytewise()))
assert(all(ltn12.source.chain(ltn12.source.table{"ab", "", "cd", "e"}, f)) == "ABCDE")

-- filter.cycle passes the context along and the extra argument
local ctxs = {}
local counter = ltn12.filter.cycle(function(ctx, chunk, extra)
  ctxs[#ctxs + 1] = ctx
  if chunk == nil then return nil, ctx end
  if chunk == "" then return "", ctx end  -- drained: nothing more
  return extra .. chunk, ctx + 1
end, 10, ">")
assert(all(ltn12.source.chain(ltn12.source.table{"x", "y"}, counter)) == ">x>y")
assert(table.concat(ctxs, " ") == "10 11 11 12 12", table.concat(ctxs, " "))

-- sink.chain drains the filter; the sink gets the end too
local got, ended = {}, false
local snk = ltn12.sink.chain(bytewise(), function(chunk)
  if chunk == nil then ended = true else got[#got + 1] = chunk end
  return 1
end)
assert(ltn12.pump.all(ltn12.source.string("xyz"), snk))
assert(table.concat(got, ",") == "x,y,z" and ended)
local snk2, t2 = ltn12.sink.table()
assert(ltn12.pump.all(ltn12.source.string("abc"), ltn12.sink.chain(upper, bytewise(), snk2)))
assert(table.concat(t2) == "ABC")

-- errors: from a source, from a sink, through pump.all
local ok, err = ltn12.pump.all(ltn12.source.error("src broke"), (ltn12.sink.table()))
assert(ok == nil and err == "src broke")
ok, err = ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.error("snk broke"))
assert(ok == nil and err == "snk broke")
assert(ltn12.pump.all(ltn12.source.string("data"), ltn12.sink.null()))
-- an error half-way through a source: what came before was delivered
local i = 0
local flaky = function() i = i + 1 if i < 3 then return "c" .. i end return nil, "late" end
local st, tt = ltn12.sink.table()
ok, err = ltn12.pump.all(flaky, st)
assert(not ok and err == "late" and table.concat(tt) == "c1c2")

-- pump.step: one chunk at a time, a false value at the end
local src = ltn12.source.string("ab")
local s3, t3 = ltn12.sink.table()
assert(ltn12.pump.step(src, s3) and t3[1] == "ab")
local r1, r2 = ltn12.pump.step(src, s3)
assert(not r1 and r2 == nil)

-- source.cat
assert(all(ltn12.source.cat(ltn12.source.string("ab"), ltn12.source.empty(), ltn12.source.string("cd"))) == "abcd")
ok, err = ltn12.pump.all(ltn12.source.cat(ltn12.source.string("a"), ltn12.source.error("cat err")), ltn12.sink.null())
assert(not ok and err == "cat err")

-- source.rewind: chunks pushed back come first, the last pushed first
local rw = ltn12.source.rewind(ltn12.source.string("tail"))
rw("2") rw("1")
assert(rw() == "1" and rw() == "2" and rw() == "tail" and rw() == nil)

-- simplify: a fancy source or sink hands over to another one
local second = ltn12.source.string("second")
local fancy = function() return "first", second end
assert(all(ltn12.source.simplify(fancy)) == "firstsecond")
local s4, t4 = ltn12.sink.table()
local fancy_sink = function(chunk) t4[#t4 + 1] = "[" .. tostring(chunk) .. "]" return 1, s4 end
assert(ltn12.pump.all(ltn12.source.string("one"), ltn12.sink.simplify(fancy_sink)))
assert(table.concat(t4) == "[one]", table.concat(t4))

-- files: source.file and sink.file close the handles when done
local path = os.tmpname()
assert(ltn12.pump.all(ltn12.source.string(("0123456789"):rep(1000)), ltn12.sink.file(io.open(path, "wb"))))
local fh = io.open(path, "rb")
local copy, nchunks = all(ltn12.source.file(fh))
assert(copy == ("0123456789"):rep(1000) and nchunks == 5, nchunks)
assert(io.type(fh) == "closed file")
os.remove(path)
ok, err = ltn12.pump.all(ltn12.source.file(io.open("/nonexistent/x")), ltn12.sink.null())
assert(not ok and err:find("No such file"), err)
ok, err = ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.file(nil, "cannot write"))
assert(not ok and err == "cannot write")
print("ALL OK")
"""

MIME = r"""
local ltn12 = require"ltn12"
local m = require"mime"
assert(m == mime and require"mime.core" == mime and mime._VERSION)
local dir = "@DIR@"
local function read(name) local f = assert(io.open(dir .. "/" .. name, "rb")) local d = f:read("a") f:close() return d end
local function write(name, data) local f = assert(io.open(dir .. "/" .. name, "wb")) f:write(data) f:close() end
local function filtered(data, f, size)
  ltn12.BLOCKSIZE = size or 2048
  local snk, t = ltn12.sink.table()
  assert(ltn12.pump.all(ltn12.source.chain(ltn12.source.string(data), f), snk))
  ltn12.BLOCKSIZE = 2048
  return table.concat(t)
end
local data = read("data.bin")
local text = read("text.txt")
for _, size in ipairs{1, 3, 7, 64, 2048} do
  -- the manual's base64 filter: encoded and broken into lines
  local b64 = filtered(data, ltn12.filter.chain(mime.encode("base64"), mime.wrap("base64")), size)
  write("b64." .. size, b64)
  assert(filtered(b64, mime.decode("base64"), size) == data)
  -- the manual's quoted-printable filter for text
  local qp = filtered(text, ltn12.filter.chain(mime.normalize(), mime.encode("quoted-printable"),
                                               mime.wrap("quoted-printable")), size)
  write("qp." .. size, qp)
  local bin = filtered(data, ltn12.filter.chain(mime.encode("quoted-printable", "binary"),
                                                mime.wrap("quoted-printable")), size)
  write("qpbin." .. size, bin)
  assert(filtered(bin, mime.decode("quoted-printable"), size) == data)
  -- the manual's identity filter
  local id = ltn12.filter.chain(mime.encode("quoted-printable"), mime.encode("base64"),
                                mime.decode("base64"), mime.decode("quoted-printable"))
  assert(filtered(text, id, size) == text)
end
-- normalize and stuff
assert(filtered("a\nb\rc\r\nd\n\re", mime.normalize()) == "a\r\nb\r\nc\r\nd\r\ne")
assert(filtered("a\r\nb\n", mime.normalize("\n")) == "a\nb\n")
assert(filtered(".x\r\n.\r\ny.\r\n", mime.stuff()) == "..x\r\n..\r\ny.\r\n")
-- text wrapping at a given length; a filter by default name
assert(filtered(("x"):rep(25), mime.wrap("text", 10)) == "xxxxxxxxxx\r\nxxxxxxxxxx\r\nxxxxx\r\n")
assert(filtered(("x"):rep(12), mime.wrap(5)) == "xxxxx\r\nxxxxx\r\nxx\r\n")
assert(not pcall(mime.encode, "rot13"))
assert(select(2, pcall(mime.decode, "nope")):find("unknown key %(nope%)"))
print("ALL OK")
"""


class Ltn12Test(ScriptCase):
    def test_sources_sinks_filters_pumps(self):
        self.run_ok(LTN12)


class MimeFiltersTest(ScriptCase):
    def test_filters_against_python(self):
        d = self.tempdir()
        data = bytes((i * 37 + i // 7) % 256 for i in range(5000))
        text = ("Caf\u00e9 au lait = 2\u20ac, tab\there \nline with trailing space \r\n" * 40
                + "x" * 200 + "\n.\nend ").encode("utf-8")
        write_file(d, "data.bin", data)
        write_file(d, "text.txt", text)
        self.run_ok(MIME.replace("@DIR@", d), cwd=d)
        expected_b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
        normalized = text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        for size in (1, 3, 7, 64, 2048):
            with open(os.path.join(d, "b64.%d" % size), "rb") as f:
                self.assertEqual(f.read(), expected_b64, size)
            for name, original in (("qp", normalized), ("qpbin", data)):
                with open(os.path.join(d, "%s.%d" % (name, size)), "rb") as f:
                    coded = f.read()
                self.assertEqual(quopri.decodestring(coded), original, (name, size))
                lines = coded.split(b"\r\n")
                self.assertLessEqual(max(len(l) for l in lines), 76, (name, size))
                for l in lines:  # 7-bit, no bare CR or LF, no white space before a break
                    self.assertTrue(all(32 <= b < 127 or b == 9 for b in l), l)
                    self.assertFalse(l.endswith((b" ", b"\t")), l)


class PipeTest(ServerTestCase):
    def test_page_reads_a_fifo_written_by_another_process(self):
        base = self.tempdir()
        fifo = os.path.join(base, "fifo")
        app = os.path.join(base, "app")
        write_file(app, "make.lsp", "<?lsp print(ba.pipe.mkfifo(request:data'path')) ?>")
        write_file(app, "read.lsp", """<?lsp
local p = assert(ba.pipe.open(request:data'path'))
local got = {}
while true do
  local d, err = p:read(5000)
  if not d then got[#got + 1] = '<' .. err .. '>' break end
  got[#got + 1] = d
end
p:close()
print(table.concat(got))
?>""")
        srv = self.start(apps=["-l::" + app])
        q = "?path=" + urllib.request.quote(fifo)
        self.assertEqual(srv.get("/make.lsp" + q).body.strip(), b"true")
        self.assertTrue(os.path.exists(fifo))

        def writer():
            # opens once the page has opened its end, writes, closes
            fd = os.open(fifo, os.O_WRONLY)
            os.write(fd, b"from python ")
            time.sleep(0.2)
            os.write(fd, b"in two parts")
            os.close(fd)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        r = srv.get("/read.lsp" + q)
        t.join(10)
        self.assertEqual(r.body.strip(), b"from python in two parts<closed>")
        # a second mkfifo on the same path fails with the system's message
        self.assertIn(b"exists", srv.get("/make.lsp" + q).body)


URL = r"""
local url = require"socket.url"
assert(package.loaded["socket.url"] == url)
-- the manual's examples of absolute()
local base = "http://a/b/c/d;p?q"
local cases = {
  {"g:h", "g:h"}, {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"}, {"g/", "http://a/b/c/g/"},
  {"/g", "http://a/g"}, {"//g", "http://g"}, {"?y", "http://a/b/c/?y"}, {"g?y", "http://a/b/c/g?y"},
  {"#s", "http://a/b/c/d;p?q#s"}, {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"},
  {";x", "http://a/b/c/;x"}, {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y#s"},
  {".", "http://a/b/c/"}, {"./", "http://a/b/c/"}, {"..", "http://a/b/"}, {"../", "http://a/b/"},
  {"../g", "http://a/b/g"}, {"../..", "http://a/"}, {"../../", "http://a/"}, {"../../g", "http://a/g"},
}
for _, c in ipairs(cases) do
  local got = url.absolute(base, c[1])
  assert(got == c[2], c[1] .. " -> " .. got)
end
assert(url.absolute(url.parse(base), "g") == "http://a/b/c/g")  -- a parsed base
-- parse: the manual's examples
local p = url.parse("http://www.example.com/cgilua/index.lua?a=2#there")
assert(p.scheme == "http" and p.authority == "www.example.com" and p.path == "/cgilua/index.lua")
assert(p.query == "a=2" and p.fragment == "there" and p.host == "www.example.com" and not p.port)
p = url.parse("ftp://root:passwd@unsafe.org/pub/virus.exe;type=i")
assert(p.scheme == "ftp" and p.authority == "root:passwd@unsafe.org" and p.path == "/pub/virus.exe")
assert(p.params == "type=i" and p.userinfo == "root:passwd" and p.host == "unsafe.org")
assert(p.user == "root" and p.password == "passwd")
p = url.parse("https://[::1]:8443/x")
assert(p.host == "::1" and p.port == "8443" and p.path == "/x")
-- defaults: only the parts present are overwritten
p = url.parse("/only/path", {scheme = "http", host = "h", port = "80"})
assert(p.scheme == "http" and p.host == "h" and p.path == "/only/path")
assert(url.parse("") == nil)
-- build: from parse, and lower-level parts winning
for _, u in ipairs{"http://www.example.com/cgilua/index.lua?a=2#there",
                   "ftp://root:passwd@unsafe.org/pub/virus.exe;type=i", "https://[::1]:8443/x",
                   "mailto:someone@example.com", "/a/b?c", "//host/p"} do
  assert(url.build(url.parse(u)) == u, u)
end
assert(url.build{scheme = "http", authority = "old", host = "new", port = "8080", user = "u",
                 password = "pw", path = "p"} == "http://u:pw@new:8080/p")
-- escape and unescape
assert(url.escape("/#?;") == "%2f%23%3f%3b")
assert(url.escape("a b_c.d") == "a%20b_c%2ed")
assert(url.unescape("a%20b%2Fc%zz") == "a b/c%zz")
local all = {} for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)
assert(url.unescape(url.escape(all)) == all)
-- paths
local segs = url.parse_path("/a%20b/c/")
assert(segs[1] == "a b" and segs[2] == "c" and #segs == 2 and segs.is_absolute and segs.is_directory)
assert(url.build_path(segs) == "/a%20b/c/")
assert(url.build_path({"x/y", "z"}) == "x%2fy/z")
assert(url.build_path({"x/y", "z"}, true) == "x/y/z")
print("ALL OK")
"""

NAMESPACE = r"""
assert(sockcompat and not socket)
local socket = require"socket"
assert(_G.socket == socket and require"socket.core" == socket and _G.sockcompat == nil)
for _, f in ipairs{"tcp", "connect", "bind", "protect", "newtry", "try", "skip", "gettime", "sleep",
                   "sink", "source", "choose", "secure"} do
  assert(type(socket[f]) == "function", f)
end
assert(socket._VERSION:find("LuaSocket"))
-- try/protect as LuaSocket documents them
local f = socket.protect(function(x) return socket.try(x, "no " .. tostring(x)) end)
assert(f(1) == 1)
local r, e = f(false)
assert(r == nil and e == "no false")
assert(select("#", socket.skip(2, 1, 2, 3, 4)) == 2)
-- gettime has sub-second resolution and tracks the clock; sleep waits
local t0 = socket.gettime()
assert(math.abs(t0 - os.time()) < 2)
socket.sleep(0.2)
local dt = socket.gettime() - t0
assert(dt >= 0.19 and dt < 2, dt)
-- objects and their failures
local c = socket.tcp()
assert(tostring(c):find("^tcp{master}"))
assert(c:settimeout(0.5) == 1 and c:gettimeout() == 0.5)
assert(select(2, c:receive()) == "closed" and select(2, c:send("x")) == "closed")
local ok, err = socket.connect("127.0.0.1", @CLOSED@)
assert(ok == nil and err == "cannotconnect", tostring(err))
-- choose
local pick = socket.choose{default = function(a) return "d" .. tostring(a) end, x = function(a) return "x" .. a end}
assert(pick("x", 1) == "x1" and pick(5) == "d5")
assert(not pcall(pick, "nope"))
print("ALL OK")
"""


class SocketUrlTest(ScriptCase):
    def test_parse_build_absolute_escape(self):
        self.run_ok(URL)


class SocketNamespaceTest(ScriptCase):
    def test_namespace_try_protect_time(self):
        closed = harness.free_port()
        self.run_ok(NAMESPACE.replace("@CLOSED@", str(closed)))


def serve(handler, count=1):
    """A TCP server on 127.0.0.1 that runs handler(conn) for `count` connections in a thread;
    returns (port, thread, errors)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(harness.WAIT)
    errors = []

    def run():
        try:
            for _ in range(count):
                conn, _ = srv.accept()
                conn.settimeout(harness.WAIT)
                try:
                    handler(conn)
                finally:
                    conn.close()
        except Exception as e:  # reported by the test
            errors.append(e)
        finally:
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv.getsockname()[1], t, errors


def line_server(conn):
    """hello; then per line: "SIZE n" -> n bytes, "SLOW" -> a line in two parts 300 ms apart,
    "WAIT" -> nothing for 1.5 s then "late\\n", "BYE" -> "the rest" and close, else echo."""
    f = conn.makefile("rb")
    conn.sendall(b"hello\r\n")
    for raw in f:
        line = raw.rstrip(b"\r\n")
        if line.startswith(b"SIZE "):
            n = int(line[5:])
            conn.sendall(bytes(i % 251 for i in range(n)))
        elif line == b"SLOW":
            conn.sendall(b"first half, ")
            time.sleep(0.3)
            conn.sendall(b"second half\n")
        elif line == b"WAIT":
            time.sleep(1.5)
            conn.sendall(b"late\n")
        elif line == b"BYE":
            conn.sendall(b"the rest\nof the data")
            return
        else:
            conn.sendall(b"echo:" + line + b"\n")


CLIENT_PAGE = r"""<?lsp
local socket = require"socket"
local out = {}
local function put(...) local t = table.pack(...) for i = 1, t.n do t[i] = tostring(t[i]) end out[#out + 1] = table.concat(t, "|") end
local c = assert(socket.connect("127.0.0.1", tonumber(request:data"port")))
put(tostring(c):match("^tcp{client}") ~= nil)
put(c:receive())                           -- "hello", the CR dropped
put(c:send("one\r\ntwo\n"))                -- the index of the last byte sent
put(c:receive("*l"), c:receive("l"))
put(c:send("xxSIZE 1000\nyy", 3, 12))       -- i, j select the bytes
local data = c:receive(1000)
local ok = #data == 1000
for i = 1, 1000 do if data:byte(i) ~= (i - 1) % 251 then ok = false end end
put(ok)
c:send("SLOW\n")
put(c:receive("*l", "prefix: "))           -- two reads make one line
c:settimeout(0.3)
c:send("WAIT\n")
put(c:receive())                           -- nil, timeout, partial ""
c:settimeout(nil)
put(c:receive())                           -- the late line still comes
put(c:getpeername() == "127.0.0.1", select(2, c:getpeername()) == tonumber(request:data"port"), select(3, c:getpeername()))
put(c:getsockname() == "127.0.0.1", select(3, c:getsockname()))
c:send("BYE\n")
put(c:receive("*l"))
put(c:receive("*a"))                       -- until the peer closes
put(c:receive())                           -- nil, closed, ""
local received, sent = c:getstats()
put(received > 1000, sent)
put(c:close(), tostring(c):match("^tcp{closed}") ~= nil)
print(table.concat(out, "\n"))
?>"""

LUA_SERVER_PAGE = r"""<?lsp
local socket = require"socket"
local out = {}
local function put(...) local t = table.pack(...) for i = 1, t.n do t[i] = tostring(t[i]) end out[#out + 1] = table.concat(t, "|") end
local server = assert(socket.bind("127.0.0.1", 0))
put(tostring(server):match("^tcp{server}") ~= nil)
local _, port = server:getsockname()
server:settimeout(0.2)
put(server:accept())                       -- nil, timeout: nobody yet
server:settimeout(nil)
-- the server side runs in a thread job: it accepts two clients, echoes lines in upper case
local done = false
ba.thread.run(function()
  for n = 1, 2 do
    local c = assert(server:accept())
    while true do
      local line, err = c:receive()
      if not line then break end
      if line == "quit" then c:send("bye " .. n .. "\n") break end
      c:send(line:upper() .. "\n")
    end
    c:close()
  end
  server:close()
  done = true
end)
for n = 1, 2 do
  local c = assert(socket.connect("127.0.0.1", port))
  c:send("ping " .. n .. "\nagain\n")
  put(c:receive(), c:receive())
  c:send("quit\n")
  put(c:receive("*a"))
  c:close()
end
for _ = 1, 100 do if done then break end ba.sleep(20) end
put(done)
-- sinks and sources of the namespace, over a second listener
local ltn12 = require"ltn12"
local s2 = assert(socket.bind("127.0.0.1", 0))
local _, p2 = s2:getsockname()
local got
ba.thread.run(function()
  local c = assert(s2:accept())
  local snk, t = ltn12.sink.table()
  ltn12.pump.all(socket.source("by-length", c, 5), snk)  -- the first five bytes
  local head = table.concat(t)
  snk, t = ltn12.sink.table()
  ltn12.pump.all(socket.source("until-closed", c), snk)  -- the rest
  got = head .. "|" .. #table.concat(t)
  c:close()
  s2:close()
end)
local c = assert(socket.connect("127.0.0.1", p2))
local sent = ltn12.pump.all(ltn12.source.string(("0123456789"):rep(1000)), socket.sink("close-when-done", c))
put(sent, tostring(c):match("^tcp{closed}") ~= nil)  -- the sink closed it
for _ = 1, 100 do if got then break end ba.sleep(20) end
put(got)
print(table.concat(out, "\n"))
?>"""


class TcpTest(ServerTestCase):
    def make_app(self, pages):
        app = os.path.join(self.tempdir(), "app")
        for name, text in pages.items():
            write_file(app, name, text)
        return self.start(apps=["-l::" + app])

    def test_client_against_a_python_server(self):
        port, t, errors = serve(line_server)
        srv = self.make_app({"client.lsp": CLIENT_PAGE})
        body = srv.get("/client.lsp?port=%d" % port).body.decode()
        t.join(harness.WAIT)
        self.assertEqual(errors, [])
        self.assertEqual(body.strip().split("\n"), [
            "true",
            "hello",
            "9",
            "echo:one|echo:two",
            "12",
            "true",
            "prefix: first half, second half",
            "nil|timeout|",
            "late",
            "true|true|inet",
            "true|inet",
            "the rest",
            "of the data",
            "nil|closed|",
            "true|33",
            "1|true",
        ])

    def test_lua_server_and_client_on_one_remora(self):
        srv = self.make_app({"pair.lsp": LUA_SERVER_PAGE})
        body = srv.get("/pair.lsp").body.decode()
        self.assertEqual(body.strip().split("\n"), [
            "true",
            "nil|timeout",
            "PING 1|AGAIN",
            "bye 1",
            "",
            "PING 2|AGAIN",
            "bye 2",
            "",
            "true",
            "1|true",
            "01234|9995",
        ], body)


class FakeSMTP:
    """A small SMTP server: one session per connection, recorded in self.sessions."""

    def __init__(self, mechs=("PLAIN", "LOGIN"), reject="", connections=1):
        self.mechs, self.reject = mechs, reject
        self.sessions = []
        self.port, self.thread, self.errors = serve(self.session, connections)

    def session(self, conn):
        f = conn.makefile("rb")
        s = {"rcpt": [], "auth": None, "ehlo": None, "from": None, "data": None, "raw": None, "commands": []}

        def say(*lines):
            conn.sendall(b"".join(l.encode() + b"\r\n" for l in lines))

        say("220 fake.example ESMTP")
        for raw in f:
            cmd = raw.rstrip(b"\r\n").decode()
            s["commands"].append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                s["ehlo"] = cmd[5:]
                say("250-fake.example", "250-8BITMIME", "250-AUTH " + " ".join(self.mechs), "250 SIZE 1000000")
            elif verb == "AUTH" and cmd.split(" ")[1] == "PLAIN":
                s["auth"] = ("PLAIN",) + tuple(base64.b64decode(cmd.split(" ")[2]).split(b"\0"))
                say("235 2.7.0 Authentication successful")
            elif verb == "AUTH" and cmd.split(" ")[1] == "LOGIN":
                say("334 VXNlcm5hbWU6")
                user = base64.b64decode(f.readline().strip())
                say("334 UGFzc3dvcmQ6")
                password = base64.b64decode(f.readline().strip())
                s["auth"] = ("LOGIN", user, password)
                say("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                s["from"] = cmd[10:]
                say("250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = cmd[8:]
                if self.reject and self.reject in addr:
                    say("550 5.1.1 No such user here")
                else:
                    s["rcpt"].append(addr)
                    say("250 2.1.5 Ok")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                lines, raw_lines = [], []
                for l in f:
                    if l == b".\r\n":
                        break
                    if not l.endswith(b"\r\n") or b"\n" in l[:-2] or b"\r" in l[:-2]:
                        raise AssertionError("bare CR or LF in the data: %r" % l)
                    raw_lines.append(l)
                    lines.append(l[1:] if l.startswith(b".") else l)  # RFC 5321 4.5.2
                s["data"], s["raw"] = b"".join(lines), b"".join(raw_lines)
                say("250 2.0.0 Ok: queued")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                break
            else:
                say("502 5.5.2 Error: command not recognized")
        self.sessions.append(s)

    def wait(self):
        self.thread.join(harness.WAIT)
        if self.errors:
            raise self.errors[0]
        return self.sessions


ATTACHMENT = bytes((i * 7) % 256 for i in range(1000))
TXTBODY = "Line one\n.\nA line with a dot above it, and caf\u00e9.\n" + "long " * 40 + "\n..two dots\nend"

MAIL_PAGE = r"""<?lsp
require"socket.mail"
local t = {} for i = 0, 999 do t[#t + 1] = string.char((i * 7) % 256) end
local mail = socket.mail{server = "127.0.0.1", port = tonumber(request:data"port"),
                         user = "alice", password = "s3cret pass"}
local ok, err = mail:send{
  subject = "Caf\195\169 report",
  from = "Alice <alice@example.com>",
  to = {"Bob <bob@example.com>", "carol@example.com"},
  cc = "Dave <dave@example.com>",
  bcc = "eve@example.com",
  replyto = "noreply@example.com",
  txtbody = request:data"txt",
  htmlbody = "<p>Hello <b>world</b></p>",
  attach = {source = table.concat(t), name = "dir/data.bin", description = "some bytes"},
}
print(ok, err)
?>"""

SMTP_PAGE = r"""<?lsp
local smtp = require"socket.smtp"
local ltn12 = require"ltn12"
local source = smtp.message{
  headers = {from = "Me <me@example.com>", to = "you@example.com", subject = "parts",
             ["X-Custom"] = "yes"},
  body = {
    preamble = "preamble text",
    [1] = {body = "first part\r\n"},
    [2] = {headers = {["content-type"] = "text/html"}, body = ltn12.source.string(".dot first\r\n<p>second</p>")},
    epilogue = "epilogue text",
  },
}
print(smtp.send{from = "<me@example.com>", rcpt = {"<you@example.com>", "<nobody@example.com>"},
                source = source, server = "127.0.0.1", port = tonumber(request:data"port"),
                user = "me", password = "pw", domain = "client.example"})
?>"""


class SmtpTest(ServerTestCase):
    def make_app(self):
        app = os.path.join(self.tempdir(), "app")
        write_file(app, "mail.lsp", MAIL_PAGE)
        write_file(app, "smtp.lsp", SMTP_PAGE)
        return self.start(apps=["-l::" + app])

    def test_socket_mail_multipart_with_attachment(self):
        fake = FakeSMTP(mechs=("LOGIN", "PLAIN"))
        srv = self.make_app()
        q = "?port=%d&txt=%s" % (fake.port, urllib.request.quote(TXTBODY))
        r = srv.get("/mail.lsp" + q)
        self.assertEqual(r.body.strip(), b"1\tnil")
        s = fake.wait()[0]
        self.assertEqual(s["auth"], ("PLAIN", b"", b"alice", b"s3cret pass"))  # PLAIN first
        self.assertEqual(s["from"], "<alice@example.com>")
        self.assertEqual(s["rcpt"], ["<bob@example.com>", "<carol@example.com>", "<dave@example.com>",
                                     "<eve@example.com>"])
        self.assertEqual(s["commands"][-1], "QUIT")
        msg = email.message_from_bytes(s["data"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Caf\u00e9 report")
        self.assertEqual(msg["From"], "Alice <alice@example.com>")
        self.assertEqual(msg["To"], "Bob <bob@example.com>, carol@example.com")
        self.assertEqual(msg["Cc"], "Dave <dave@example.com>")
        self.assertEqual(msg["Reply-To"], "noreply@example.com")
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertIsNotNone(msg["Date"])
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        alternative, attachment = msg.get_payload()
        self.assertEqual(alternative.get_content_type(), "multipart/alternative")
        text, html = alternative.get_payload()
        self.assertEqual(text.get_content_type(), "text/plain")
        self.assertEqual(text["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(text.get_content_charset(), "utf-8")
        # quoted-printable of the normalised text: every line break is CRLF
        self.assertEqual(text.get_payload(decode=True), TXTBODY.replace("\n", "\r\n").encode("utf-8"))
        self.assertEqual(html.get_content_type(), "text/html")
        self.assertEqual(html.get_payload(decode=True), b"<p>Hello <b>world</b></p>")
        self.assertEqual(attachment.get_content_type(), "application/octet-stream")
        self.assertEqual(attachment.get_filename(), "data.bin")
        self.assertEqual(attachment["Content-Description"], "some bytes")
        self.assertEqual(attachment.get_content_disposition(), "attachment")
        self.assertEqual(attachment.get_payload(decode=True), ATTACHMENT)

    def test_smtp_send_login_message_and_a_rejected_recipient(self):
        fake = FakeSMTP(mechs=("LOGIN",), reject="nobody")
        srv = self.make_app()
        r = srv.get("/smtp.lsp?port=%d" % fake.port)
        self.assertEqual(r.body.strip(), b"nil\t550 5.1.1 No such user here")
        s = fake.wait()[0]
        self.assertEqual(s["ehlo"], "client.example")
        self.assertEqual(s["auth"], ("LOGIN", b"me", b"pw"))
        self.assertEqual(s["rcpt"], ["<you@example.com>"])
        self.assertIsNone(s["data"])  # the error stopped it before DATA

        # the same message to good recipients only: parts, preamble, epilogue, stuffing
        fake = FakeSMTP(mechs=("LOGIN",))
        r = srv.get("/smtp.lsp?port=%d" % fake.port)
        s = fake.wait()[0]
        self.assertEqual(s["rcpt"], ["<you@example.com>", "<nobody@example.com>"])
        self.assertEqual(r.body.strip(), b"1")
        msg = email.message_from_bytes(s["data"], policy=email.policy.default)
        self.assertEqual(msg["X-Custom"], "yes")
        self.assertEqual(msg["X-Mailer"], "LuaSocket 3.0 (Remora)")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(msg.preamble.strip(), "preamble text")
        self.assertEqual(msg.epilogue.strip(), "epilogue text")
        first, second = msg.get_payload()
        self.assertEqual(first.get_payload(decode=True), b"first part\r\n")
        self.assertEqual(second.get_content_type(), "text/html")
        self.assertEqual(second.get_payload(decode=True), b".dot first\r\n<p>second</p>")
        self.assertIn(b"\r\n..dot first\r\n", s["raw"])  # stuffed on the wire


SOCKET_HTTP_PAGE = r"""<?lsp
local http = require"socket.http"
local ltn12 = require"ltn12"
local base = "http://127.0.0.1:" .. request:data("port")
local body, code, headers, status = http.request(base .. "/target.lsp?x=1")
print(body, code, headers["x-answer"], status)
body, code = http.request(base .. "/target.lsp", "a=1&b=2")
print(body, code)
local t = {}
local ok, c2, h2 = http.request{url = base .. "/target.lsp", method = "PUT", sink = ltn12.sink.table(t),
   source = ltn12.source.string("put body"), headers = {["content-length"] = 8, ["X-Test"] = "yes"}}
print(ok, c2, table.concat(t))
ok, c2, h2 = http.request{url = base .. "/moved.lsp", redirect = false}
print(ok, c2, h2.location)
print(http.request(base .. "/moved.lsp"))
print(http.request("http://127.0.0.1:1/"))
?>"""

TARGET_PAGE = r"""<?lsp
response:setheader("X-Answer", "42")
local t = {}
if request:method() == "PUT" then for d in request:rawrdr() do t[#t + 1] = d end end
response:write(request:method(), " ", request:data("x") or request:data("a") or "", " ", table.concat(t), " ",
   request:header("X-Test") or "")
?>"""


class SocketHttpTest(ServerTestCase):
    def test_request_forms(self):
        app = os.path.join(self.tempdir(), "app")
        write_file(app, "sh.lsp", SOCKET_HTTP_PAGE)
        write_file(app, "target.lsp", TARGET_PAGE)
        write_file(app, "moved.lsp", "<?lsp response:sendredirect('target.lsp?x=2') ?>")
        srv = self.start(apps=["-l::" + app])
        body = srv.get("/sh.lsp?port=%d" % srv.port).body.decode()
        self.assertEqual(body.strip().split("\n"), [
            "GET 1  \t200\t42\tHTTP/1.1 200 OK",
            "POST 1  \t200",
            "1\t200\tPUT  put body yes",
            "1\t302\thttp://127.0.0.1:%d/target.lsp?x=2" % srv.port,
            "GET 2  \t200\ttable: " + body.split("table: ")[1].split("\t")[0] + "\tHTTP/1.1 200 OK",
            "nil\tcannotconnect",
        ], body)


if __name__ == "__main__":
    main()
