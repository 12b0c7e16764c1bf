#!/usr/bin/env python3
"""The LuaSocket layer Mako ships, in the real binary: ltn12 (sources, sinks, filters,
pumps), the mime filters (checked against Python's base64 and quopri), ba.pipe (a FIFO
shared with this process), and the socket modules."""
import base64
import os
import quopri
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


if __name__ == "__main__":
    main()
