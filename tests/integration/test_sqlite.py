#!/usr/bin/env python3
"""SQLite (luasql.sqlite, sqlutil) and LPeg (lpeg, re) from Lua Server Pages on the real
server: every function of the surface, the manual's examples, concurrent writers (HTTP
clients on the thread pool and another process), bad input (SQL errors, constraints, a
locked database, a file that is not a database, a read-only location, a full disk), and a
kill -9 in the middle of a write loop that must lose no committed row."""
import os
import re
import resource
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import REMORA, WAIT, SharedServerTestCase, Server, ServerTestCase, main, write_file

FEATURES = subprocess.run([REMORA, "--version"], capture_output=True, text=True).stdout
HAS_SQLITE = " sqlite" in FEATURES

SURFACE = r"""<?lsp
local ls = require"luasql.sqlite"
assert(ls == luasql and ls == require"luasql.sqlite3")
local env = ls.sqlite()
assert(env:version():match"^3%.%d+")
local used, high = env:memory()
assert(math.type(used) == "integer" and math.type(high) == "integer")
assert(ls.quotestr"it's" == "'it''s'" and env.quotestr"a" == "'a'")
local path = mako.cfgdir .. "/surface.db"
for _, x in ipairs{"", "-wal", "-shm"} do os.remove(path .. x) end
local conn = assert(env:connect(path))
assert(conn:execute"PRAGMA journal_mode":fetch() == "wal")
assert(conn:execute"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, v REAL, b BLOB)" == 0)
assert(conn:execute"INSERT INTO t(name, v) VALUES('a', 1.5)" == 1)
assert(conn:getlastautoid() == 1 and conn:lastid() == 1)
-- database errors: nil, message
local r, err = conn:execute"SELEC 1" assert(r == nil and err:find"syntax error", err)
r, err = conn:execute"INSERT INTO t(name) VALUES('a')" assert(r == nil and err:find"UNIQUE constraint failed", err)
r, err = conn:execute"INSERT INTO t(v) VALUES(1)" assert(r == nil and err:find"NOT NULL", err)
r, err = conn:execute"SELECT * FROM nosuch" assert(r == nil and err:find"no such table", err)
-- cursors
assert(conn:execute"INSERT INTO t(name, v) VALUES('b', 2)" == 1)
assert(conn:execute"UPDATE t SET v = v * 2" == 2)
local cur = conn:execute"SELECT id, name, v FROM t ORDER BY id"
assert(table.concat(cur:getcolnames(), ",") == "id,name,v")
assert(table.concat(cur:getcoltypes(), ",") == "INTEGER,TEXT,REAL")
local id, name, v = cur:fetch() assert(id == 1 and name == "a" and v == 3.0)
local t = cur:fetch({}, "a") assert(t.id == 2 and t.name == "b" and t[1] == nil)
assert(cur:fetch() == nil)
assert(cur:close() == false) -- closed itself at its end
cur = conn:execute"SELECT id, name FROM t ORDER BY id"
t = cur:fetch({}, "n") assert(t[1] == 1 and t[2] == "a" and t.name == nil)
t = cur:fetch({}, "an") assert(t[1] == 2 and t.name == "b")
assert(cur:close() == true and cur:close() == false)
cur = conn:execute"SELECT * FROM t WHERE id < 0" assert(type(cur) == "userdata" and cur:fetch() == nil)
-- prepared statements
local st = assert(conn:prepare"INSERT INTO t(name, v) VALUES(?, ?)")
assert(st:bind("c", 3)) assert(st:execute() == 1)
assert(st:bind{"d", 4}) assert(st:execute() == 1)
assert(st:unbind()) r, err = st:execute() assert(r == nil and err:find"NOT NULL", err)
assert(st:close())
local q = assert(conn:prepare"SELECT name FROM t WHERE v >= :min ORDER BY id")
assert(q:bind{min = 3}) assert(q:execute() == q)
assert(q:fetch() == "a" and q:fetch() == "b" and q:fetch() == "c" and q:fetch() == "d" and q:fetch() == nil)
q:bind{min = 4} q:execute() assert(q:fetch() == "b") -- executed again
assert(q:close())
r, err = conn:prepare"SELECT FROM" assert(r == nil and err:find"syntax error", err)
-- mexec, tables
assert(conn:mexec"CREATE TABLE u(x); INSERT INTO u VALUES(1); INSERT INTO u VALUES(2);" == 2)
r, err = conn:mexec"INSERT INTO u VALUES(3); INSERT INTO nosuch VALUES(1)" assert(r == nil and err:find"no such table", err)
assert(table.concat(conn:tables(), ",") == "t,u")
-- blobs
assert(conn:execute"INSERT INTO t(name, b) VALUES('blob', zeroblob(8))" == 1)
local b = assert(conn:openblob("t", "b", conn:lastid(), true))
assert(b:write("abcd", 2)) assert(b:read() == "\0\0abcd\0\0" and b:read(3, 2) == "abc")
assert(b:close() == true and b:close() == false)
r, err = conn:openblob("t", "b", 9999) assert(r == nil and err, err)
local zb = conn:prepare"INSERT INTO t(name, b) VALUES(?, ?)"
zb:bind("zb", conn:zeroblob(16)) assert(zb:execute() == 1) zb:close()
assert(conn:execute"SELECT length(b) FROM t WHERE name = 'zb'":fetch() == 16)
-- transactions
assert(conn:setautocommit(false))
conn:execute"INSERT INTO t(name) VALUES('rolledback')"
assert(conn:rollback())
conn:execute"INSERT INTO t(name) VALUES('committed')"
assert(conn:commit())
assert(conn:setautocommit(true))
assert(conn:execute"SELECT count(*) FROM t WHERE name IN ('rolledback', 'committed')":fetch() == 1)
assert(conn:setbusytimeout(100))
-- a second connection: WAL lets it read while the first writes; it cannot write meanwhile
local conn2 = assert(env:connect(path))
assert(conn:setautocommit"IMMEDIATE")
conn:execute"INSERT INTO t(name) VALUES('locker')"
conn2:setbusytimeout(50)
r, err = conn2:execute"INSERT INTO t(name) VALUES('blocked')" assert(r == nil and err:find"locked", err)
assert(conn2:execute"SELECT count(*) FROM t WHERE name = 'locker'":fetch() == 0)
r, err = conn2:setautocommit"IMMEDIATE" assert(r == nil and err == "BUSY", err)
assert(conn:commit"IMMEDIATE") assert(conn:setautocommit(true))
assert(conn2:execute"SELECT count(*) FROM t WHERE name = 'locker'":fetch() == 1)
assert(conn2:close())
-- read-only connections
local ro = assert(env:connect(path, "READONLY"))
r, err = ro:execute"DELETE FROM t" assert(r == nil and err:find"readonly", err)
assert(ro:close())
r, err = env:connect(mako.cfgdir .. "/absent.db", "NOCREATE") assert(r == nil and err, err)
-- closed objects raise errors; closing twice answers false
assert(conn:close() == true and conn:close() == false)
assert(not pcall(conn.execute, conn, "SELECT 1"))
assert(env:close() == true and env:close() == false)
assert(not pcall(env.connect, env, path))
do local c <close> = ls.sqlite():connect":memory:" assert(c:execute"SELECT 1":fetch() == 1) end
print"ok"
?>"""

SQLUTIL = r"""<?lsp
local su = require"sqlutil"
assert(su.dir() == mako.cfgdir .. "/db/data/", su.dir())
assert(su.exist"users" == false)
local env, conn = su.open"users"
assert(su.exist"users")
conn:execute"CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, age INTEGER)"
for i, n in ipairs{"ann", "bob", "cid"} do
  conn:execute(string.format("INSERT INTO users(name, age) VALUES(%s, %d)", luasql.quotestr(n), 20 + i))
end
su.close(env, conn)
local function opendb() return su.open"users" end
local name, age = su.find(opendb, "name, age FROM users WHERE name = 'bob'")
assert(name == "bob" and age == 22)
env, conn = su.open"users"
assert(su.find(conn, "name FROM users WHERE name = 'zed'") == nil)
local r, err = su.find(conn, "nosuch FROM users") assert(r == nil and err:find"no such column", err)
local t = su.findt(conn, "* FROM users WHERE age = 23", {}) assert(t.name == "cid" and t.age == 23)
assert(su.findt(conn, "* FROM users WHERE age = 99", {}) == nil)
su.close(env, conn)
-- the manual's iterator example
local function sqlIter(sql)
  local env, conn = su.open"users"
  local next = su.iter(conn, sql, true)
  return function()
    local t, err = next()
    if t then return t end
    if err then trace("Err:", err, sql) end
    conn:close()
    env:close()
  end
end
local rows = {}
for tab in sqlIter("* FROM users ORDER BY id") do rows[#rows + 1] = tab.name .. tab.age end
assert(table.concat(rows, ",") == "ann21,bob22,cid23", table.concat(rows, ","))
local ages = {}
for n, a in su.iter(opendb, "name, age FROM users ORDER BY age DESC") do ages[#ages + 1] = n .. "=" .. a end
local it = su.iter(opendb, "x FROM nosuch") r, err = it() assert(r == nil and err:find"no such table", err)
assert(su.select(opendb, "count(*) FROM users", function(cur) return cur:fetch() end) == 3)
assert(su.exec(opendb, "UPDATE users SET age = age + 1") == 3)
r, err = su.exec(opendb, "UPDATE nosuch SET x = 1") assert(r == nil and err:find"no such table", err)
-- the manual's shared environment example
local env0 = luasql.sqlite()
local env2, conn2 = su.open(env0, "users")
assert(env2 == env0)
assert(su.find(conn2, "age FROM users WHERE name = 'ann'") == 22)
su.close(env0, conn2)
local ok, e = pcall(su.open, "absent", "NOCREATE")
assert(not ok and e:find"^Cannot open .*/db/data/absent%.sqlite%.db: ", e) assert(not su.exist"absent")
-- a location nobody can write to, even root: /proc
local old = su.dir()
assert(su.dir"/proc" == "/proc/")
ok, e = pcall(su.open, "x") assert(not ok and e:find"Cannot open /proc/x%.sqlite%.db", e)
su.dir(old)
ok, e = pcall(su.open, "garbage") assert(not ok and e:find"file is not a database", e)
print("ok " .. table.concat(ages, ","))
?>"""

LPEG = r"""<?lsp
-- the manual's examples
local lpeg=require"lpeg"
print(lpeg.match(lpeg.P'a','aaa')) -- prints: 2
local re = require"re"
print(re.find("the number 423 is odd", "[0-9]+")) -- prints: 12 14
-- errors raised in LPeg's C code and in re.lua, caught by pcall
local ok, e = pcall(lpeg.P, {}) print(ok, e)
ok, e = pcall(re.compile, "[unclosed") print(ok, (e:gsub("\n.*", "")))
ok, e = pcall(lpeg.match, lpeg.P(function() error("from a match-time function", 0) end), "x") print(ok, e)
print(re.match("key = value", "{%w+} %s* '=' %s* {%w+}"))
?>"""

WRITE = r"""<?lsp
local su = require"sqlutil"
local env, conn = su.open"writers"
local r, err = conn:execute(string.format("INSERT INTO w(k, who) VALUES(%s, 'http')",
  luasql.quotestr(request:data"k")))
su.close(env, conn)
print(r or err)
?>"""

READ = r"""<?lsp
local su = require"sqlutil"
print(su.find(function() return su.open"writers" end, "who FROM w WHERE k = " .. luasql.quotestr(request:data"k")))
?>"""

LOCKED = r"""<?lsp
local su = require"sqlutil"
local env, conn = su.open"writers"
conn:setbusytimeout(100)
print(conn:execute"INSERT INTO w(k, who) VALUES('during-lock', 'http')")
su.close(env, conn)
?>"""

LOOP = r"""<?lsp
local su = require"sqlutil"
local env, conn = su.open"crash"
conn:execute"CREATE TABLE IF NOT EXISTS c(n INTEGER PRIMARY KEY, pad TEXT)"
for n = 1, 100000 do
  local r, err = conn:execute(string.format("INSERT INTO c(n, pad) VALUES(%d, '%s')", n, ("x"):rep(200)))
  if not r then print("ERR " .. err) break end
  response:write(n, "\n")
  response:flush()
end
?>"""

FULL = r"""<?lsp
local su = require"sqlutil"
local env, conn = su.open"full"
conn:execute"CREATE TABLE IF NOT EXISTS f(n INTEGER PRIMARY KEY, pad BLOB)"
local n, err = 0
for i = 1, 100000 do
  local r, e = conn:execute"INSERT INTO f(pad) VALUES(randomblob(16384))"
  if not r then err = e break end
  n = n + 1
end
local count = conn:execute"SELECT count(*) FROM f":fetch()
su.close(env, conn)
print(n, count, err)
?>"""


def app_pages(app):
    for name, text in {"surface.lsp": SURFACE, "sqlutil.lsp": SQLUTIL, "lpeg.lsp": LPEG,
                       "write.lsp": WRITE, "read.lsp": READ, "locked.lsp": LOCKED,
                       "loop.lsp": LOOP, "full.lsp": FULL,
                       "lpegboom.lsp": "<?lsp require'lpeg'.P{} ?>"}.items():
        write_file(app, name, text)


class LpegTest(SharedServerTestCase):
    """LPeg and re are in every edition."""

    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        app_pages(app)
        return Server(apps=["-l::" + app], tmpdir=base)

    def test_manual_examples_and_errors(self):
        r = self.srv.get("/lpeg.lsp")
        self.assertEqual(r.status, 200, r.body)
        lines = r.body.decode().splitlines()
        self.assertEqual(lines[0], "2")
        self.assertEqual(lines[1], "12\t14")
        self.assertRegex(lines[2], r"^false\t.*grammar")
        self.assertRegex(lines[3], r"^false\t.*pattern error")
        self.assertEqual(lines[4], "false\tfrom a match-time function")
        self.assertEqual(lines[5], "key\tvalue")

    def test_uncaught_lpeg_error_is_a_500_and_the_server_goes_on(self):
        for _ in range(3):
            r = self.srv.get("/lpegboom.lsp")
            self.assertEqual(r.status, 500, r.body)
            self.assertIn(b"grammar", r.body)
        self.assertEqual(self.srv.get("/lpeg.lsp").status, 200)
        self.assertHealthy(self.srv)


@unittest.skipUnless(HAS_SQLITE, "edition without SQLite")
class SqliteTest(SharedServerTestCase):
    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        app_pages(app)
        cls.data = os.path.join(base, "db", "data")
        os.makedirs(cls.data)
        cls.garbage = b"this is not an SQLite database\n" * 200
        write_file(cls.data, "garbage.sqlite.db", cls.garbage)
        with sqlite3.connect(os.path.join(cls.data, "writers.sqlite.db")) as db:
            db.execute("CREATE TABLE w(k TEXT PRIMARY KEY, who TEXT)")
        return Server(apps=["-l::" + app], conf={"dbdir": os.path.join(base, "db")}, tmpdir=base)

    def get_ok(self, path):
        r = self.srv.get(path)
        self.assertEqual(r.status, 200, r.body.decode("utf-8", "replace"))
        return r.body.decode()

    def test_luasql_surface(self):
        self.assertEqual(self.get_ok("/surface.lsp"), "ok\n")

    def test_sqlutil_functions_and_manual_examples(self):
        self.assertEqual(self.get_ok("/sqlutil.lsp"), "ok cid=23,bob=22,ann=21\n")
        self.assertTrue(os.path.isfile(os.path.join(self.data, "users.sqlite.db")))
        # the file that is not a database was left as it was
        with open(os.path.join(self.data, "garbage.sqlite.db"), "rb") as f:
            self.assertEqual(f.read(), self.garbage)
        self.assertFalse(os.path.exists(os.path.join(self.data, "garbage.sqlite.db-wal")))

    def test_concurrent_writers(self):
        """8 HTTP clients (pages on the thread pool) and a writer in another process."""
        errors = []

        def http_writer(t):
            try:
                for i in range(25):
                    r = self.srv.get("/write.lsp?k=t%d-%d" % (t, i))
                    if r.status != 200 or r.body != b"1\n":
                        errors.append((t, i, r.status, r.body))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        def other_process():
            db = sqlite3.connect(os.path.join(self.data, "writers.sqlite.db"), timeout=WAIT)
            for i in range(100):
                with db:
                    db.execute("INSERT INTO w(k, who) VALUES(?, 'python')", ("p-%d" % i,))
            db.close()

        threads = [threading.Thread(target=http_writer, args=(t,)) for t in range(8)]
        threads.append(threading.Thread(target=other_process))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        with sqlite3.connect(os.path.join(self.data, "writers.sqlite.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM w WHERE who='http' AND k LIKE 't%'").fetchone()[0], 200)
            self.assertEqual(db.execute("SELECT count(*) FROM w WHERE who='python'").fetchone()[0], 100)
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(self.get_ok("/read.lsp?k=t3-7"), "http\n")
        self.assertEqual(self.get_ok("/read.lsp?k=p-50"), "python\n")

    def test_database_locked_by_another_process(self):
        db = sqlite3.connect(os.path.join(self.data, "writers.sqlite.db"), isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            body = self.get_ok("/locked.lsp")
            self.assertRegex(body, r"^nil\tdatabase is locked")
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.assertEqual(self.get_ok("/locked.lsp"), "1\n")
        self.assertHealthy(self.srv)


@unittest.skipUnless(HAS_SQLITE, "edition without SQLite")
class SqliteCrashTest(ServerTestCase):
    def server(self, base, **kw):
        app = os.path.join(base, "app")
        app_pages(app)
        return Server(apps=["-l::" + app], conf={"dbdir": base}, tmpdir=base, **kw)

    def test_kill_9_in_a_write_loop_loses_no_committed_row(self):
        base = self.tempdir()
        srv = self.server(base)
        seen = 0
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
                s.sendall(b"GET /loop.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
                buf = b""
                deadline = time.monotonic() + 30
                while seen < 300 and time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    # chunked body: the committed row numbers, one a line
                    nums = re.findall(rb"(?m)^(\d+)\n", buf)
                    if nums:
                        seen = max(seen, int(nums[-1]))
                srv.proc.kill()  # SIGKILL while the loop goes on
        finally:
            srv.kill()
        self.assertGreaterEqual(seen, 300, srv.output())
        with sqlite3.connect(os.path.join(base, "data", "crash.sqlite.db")) as db:
            count, top = db.execute("SELECT count(*), max(n) FROM c").fetchone()
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertGreaterEqual(top, seen)  # every row the page reported as committed is there
        self.assertEqual(count, top)  # and no gap

    def test_disk_full(self):
        base = self.tempdir()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))  # inherited by the server
        try:
            srv = self.server(base)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        self.addCleanup(srv.stop)
        r = srv.get("/full.lsp")
        self.assertEqual(r.status, 200, r.body)
        n, count, err = r.body.decode().rstrip("\n").split("\t")
        self.assertGreater(int(n), 0)
        self.assertEqual(n, count)  # every insert that succeeded is there, no more
        self.assertRegex(err, r"disk|full|I/O")
        # the server goes on, and so does the database
        r2 = srv.get("/full.lsp")
        self.assertEqual(r2.status, 200, r2.body)
        self.assertHealthy(srv)
        srv.stop()
        with sqlite3.connect(os.path.join(base, "data", "full.sqlite.db")) as db:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertGreaterEqual(db.execute("SELECT count(*) FROM f").fetchone()[0], int(n))


if __name__ == "__main__":
    main()
