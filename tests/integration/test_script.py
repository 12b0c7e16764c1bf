#!/usr/bin/env python3
"""Script mode (`remora script.lua`) and the Lua globals every app sees: ba (IO objects,
ba.json, core functions, ba.parselsp), mako, print and trace."""
import os
import subprocess
import tempfile
import unittest

import harness
from harness import main, assert_no_crash


def run(script, args=None, cwd=None):
    with tempfile.TemporaryDirectory(prefix="remora-script-") as d:
        path = os.path.join(d, "s.lua")
        with open(path, "w") as f:
            f.write(script)
        p = subprocess.run([harness.REMORA] + (args if args is not None else [path]), cwd=cwd or d,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert_no_crash(p.stderr.decode(errors="replace"))
        return p.returncode, p.stdout.decode(), p.stderr.decode()


def mako_aes(key, data, addlen=True):
    """Mako's ba.aesencode, computed independently: AES-ECB of the little-endian counter
    blocks 1, 2, ... from `openssl enc`, XORed with the (length-prefixed, zero-padded) data."""
    import base64
    k = key[:32]
    k = k + bytes((16 if len(k) <= 16 else 32) - len(k))
    buf = (len(data).to_bytes(4, "big") if addlen else b"") + data
    buf += bytes(-len(buf) % 16)
    counters = b"".join(i.to_bytes(16, "little") for i in range(1, len(buf) // 16 + 1))
    cipher = "-aes-128-ecb" if len(k) == 16 else "-aes-256-ecb"
    ks = subprocess.run(["openssl", "enc", cipher, "-K", k.hex(), "-nopad"], input=counters,
                        capture_output=True, check=True).stdout
    return base64.urlsafe_b64encode(bytes(a ^ b for a, b in zip(buf, ks))).rstrip(b"=").decode()


class ScriptTest(unittest.TestCase):
    def test_ba_aes(self):
        data = bytes(range(256)) * 3 + b"tail"
        cases = [(b"0123456789abcdef", b"hello"), (b"short", b""), (b"k" * 20, data), (b"K" * 40, b"x" * 33)]
        lua = ["local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end",
               "local function unhex(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end"]
        for key, d in cases:
            lua.append("do local k, d = unhex('%s'), unhex('%s') local e = ba.aesencode(k, d)"
                       " io.write(e, ' ', tostring(ba.aesdecode(k, e) == d), ' ', tostring(ba.aesdecode(string.char(k:byte(1) ~ 1) .. k:sub(2), e)), '\\n') end"
                       % (key.hex(), d.hex()))
        lua.append("io.write(#ba.aeskey(), ' ', #ba.aeskey(16), ' ', #ba.aeskey(32), ' ', #ba.aeskey(7), ' ', tostring(ba.aeskey() ~= ba.aeskey()), '\\n')")
        lua.append("io.write(ba.aesencode('0123456789abcdef', 'hello', false), ' ', ba.aesdecode('0123456789abcdef', ba.aesencode('0123456789abcdef', 'hello', false), false):sub(1, 5), ' ', tostring(ba.aesdecode('k', 'not-a-multiple')), '\\n')")
        code, out, err = run("\n".join(lua) + "\n")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[0], "F_9GG2QKVKsSysWKVErV6Q")  # the known vector
        for (key, d), line in zip(cases, lines):
            text, back, wrong = line.split()
            self.assertEqual(text, mako_aes(key, d))
            self.assertEqual((back, wrong), ("true", "nil"))
        self.assertEqual(lines[4], "16 16 32 32 true")
        text, plain, bad = lines[5].split()
        self.assertEqual((text, plain, bad), (mako_aes(b"0123456789abcdef", b"hello", False), "hello", "nil"))

    def test_ba_exec(self):
        code, out, err = run("""
local o, s = ba.exec("echo hi; echo there >&2")
io.write(o, "|", s, "|")
local a, b, c = ba.exec("echo failing; exit 3")
io.write(tostring(a), "|", b, "|", c)
""")
        self.assertEqual((code, out), (0, "hi\nthere\n|0|nil|768|failing\n"), err)

    def test_ba_loadfile(self):
        code, out, err = run("""
local home = ba.openio("home")
local f = home:open("m.lua", "w") f:write("return x or 'no x'") f:close()
local fn = assert(ba.loadfile("m.lua", home, {x = "from env"}))
io.write(fn(), "|")
io.write(assert(ba.loadfile("m.lua", home))(), "|")
local bad, msg = ba.loadfile("none.lua", home)
io.write(tostring(bad), "|", msg, "|")
io.write(type(ba.loadfile(".config")), "|")  -- the resource zip by default
f = home:open("bad.lua", "w") f:write("x = = 1") f:close()
io.write(tostring(select(2, ba.loadfile("bad.lua", home)):match("bad.lua:1:") ~= nil))
""")
        self.assertEqual((code, out), (0, "from env|no x|nil|cannot open none.lua: notfound |function|true"), err)

    def test_exit_status_and_channels(self):
        code, out, err = run('#!/usr/bin/env remora\nprint("to", "stderr")\nio.write("to stdout")\nreturn 7\n')
        self.assertEqual(code, 7)
        self.assertEqual(out, "to stdout")
        self.assertIn("to\tstderr\n", err)
        code, _, _ = run("local x = 1\n")
        self.assertEqual(code, 0)

    def test_errors(self):
        code, out, err = run("local a = 1\nerror('boom')\n")
        self.assertEqual(code, 1)
        self.assertIn("s.lua:2: boom", err)
        self.assertIn("stack traceback:", err)
        code, out, err = run("x = = 1\n")
        self.assertEqual(code, 1)
        self.assertIn("s.lua:1: unexpected symbol near '='", err)  # not "attempt to call a nil value"
        self.assertNotIn("attempt to call a nil value", err)
        code, _, err = run("", args=["/nonexistent/x.lua"])
        self.assertEqual(code, 1)
        self.assertIn("/nonexistent/x.lua", err)

    def test_mako_table(self):
        code, out, _ = run("io.write(mako.version, '|', #mako.argv, '|', mako.argv[1]:match('s.lua$'), '|',"
                           " tostring(mako.daemon), '|', type(mako.exit), '|', mako.cwd, '|', type(mako.env.PATH))")
        self.assertEqual(code, 0)
        v, n, arg, daemon, exitfn, cwd, path = out.split("|")
        self.assertEqual((n, arg, daemon, exitfn, path), ("1", "s.lua", "false", "function", "string"))
        self.assertRegex(v, r"^\d+\.\d+\.\d+$")
        code, out, _ = run("io.write('a'); io.stdout:flush(); mako.exit(3); io.write('never')")
        self.assertEqual((code, out), (3, "a"))

    def test_ba_libraries(self):
        code, out, err = run(r'''
local t = assert(ba.json.decode('{"a":[1,2,{"b":null}],"s":"\\u00e9"}'))
assert(t.a[3].b == ba.json.null and t.s == "\u{e9}")
assert(ba.json.decode("{") == nil)
assert(ba.b64decode(ba.b64encode("foobar")) == "foobar")
assert(ba.urldecode(ba.urlencode("a b&c")) == "a b&c")
assert(ba.parsedate(ba.encdate(784111777)) == 784111777)
assert(#ba.rndbs(16) == 16)
local chunk = assert(ba.parselsp("x<?lsp= 1+1 ?>"))
assert(chunk:find("_emit", 1, true))
local n, e = ba.parselsp("<?lsp x")
assert(n == nil and e == "start tag without end tag at line# 1")
local home = assert(ba.openio("home"))
local f = assert(home:open("out.txt", "w")); f:write("written"); f:close()
assert(home:open("out.txt"):read("a") == "written")
assert(ba.openio("disk"):resourcetype() == "disk")
local vm = assert(ba.openio("vm"))
assert(vm:stat(".config") and vm:stat(".openports"))
local ios = ba.io()
assert(ios.disk and ios.home and ios.vm)
trace("traced")
io.write("ok")
''')
        self.assertEqual((code, out), (0, "ok"), err)
        self.assertRegex(err, r" \d+: traced\n")

    def test_not_script_mode_with_more_arguments(self):
        # Mako: `mako -c x.conf script.lua` is not script mode (3 arguments)
        code, _, err = run("", args=["-c", "/nonexistent.conf", "s.lua"])
        self.assertEqual(code, 1)


if __name__ == "__main__":
    main()
