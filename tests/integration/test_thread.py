"""ba.thread: the pool and thread objects, jobs that sleep without holding up pages, order
within a thread object, errors, SQLite connections used from several jobs at once, and stops
with jobs idle or still running. The single-thread edition's loop jobs too (REMORA_MINIMAL)."""
import os
import time
import unittest

from harness import Server, ServerTestCase, SharedServerTestCase, main, run_remora, write_file

PAGES = {
    "start.lsp": """<?lsp
app.done = false
ba.thread.run(function() ba.sleep(800) app.done = true end)
print("started")
?>""",
    "done.lsp": "<?lsp print(app.done) ?>",
    "order.lsp": """<?lsp
local t = ba.thread.create()
app.seq = {}
t:run(function() ba.sleep(300) table.insert(app.seq, "a") end)
t:run(function() error("job b fails") end)
t:run(function() table.insert(app.seq, "c") end)
print("queued")
?>""",
    "seq.lsp": "<?lsp print(table.concat(app.seq or {}, ',')) ?>",
    "configure.lsp": """<?lsp
print(ba.thread.configure(), ba.thread.configure(4), ba.thread.configure(), ba.thread.dbg(),
      ba.thread.create():dbg())
print(pcall(ba.thread.configure, 0))
?>""",
    "sqlite.lsp": """<?lsp
local luasql = require"luasql.sqlite"
local path = app.dbpath
local env = luasql.sqlite()
local c = env:connect(path)
c:execute("CREATE TABLE IF NOT EXISTS t (job INTEGER, n INTEGER)")
c:close()
app.finished = 0
for job = 1, 6 do
  ba.thread.run(function()
    local e = luasql.sqlite()
    local conn = assert(e:connect(path))
    for n = 1, 25 do
      assert(conn:execute(string.format("INSERT INTO t VALUES (%d, %d)", job, n)))
      if n % 10 == 0 then ba.sleep(5) end
    end
    conn:close() e:close()
    app.finished = app.finished + 1
  end)
end
print("writing")
?>""",
    "count.lsp": """<?lsp
local luasql = require"luasql.sqlite"
local e = luasql.sqlite()
local c = e:connect(app.dbpath)
local cur = c:execute("SELECT count(*), count(DISTINCT job) FROM t")
local n, jobs = cur:fetch()
cur:close() c:close() e:close()
print(app.finished, n, jobs)
?>""",
}


class ThreadTest(SharedServerTestCase):
    PREFIX = "remora-thread-"

    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        write_file(app, ".preload", "dbpath = %r\n" % os.path.join(base, "jobs.db"))
        for name, text in PAGES.items():
            write_file(app, name, text)
        # one loop thread: a job that held the VM while it sleeps would hold up every page
        return Server(apps=["-l::" + app], conf={"threads": 1}, tmpdir=base)

    def test_sleeping_job_does_not_hold_up_pages(self):
        self.assertEqual(self.srv.get("/start.lsp").body.strip(), b"started")
        t0 = time.monotonic()
        self.assertEqual(self.srv.get("/done.lsp").body.strip(), b"false")
        self.assertLess(time.monotonic() - t0, 0.4)
        time.sleep(1.0)
        self.assertEqual(self.srv.get("/done.lsp").body.strip(), b"true")

    def test_thread_object_runs_its_jobs_in_order_and_survives_errors(self):
        self.assertEqual(self.srv.get("/order.lsp").body.strip(), b"queued")
        self.assertEqual(self.srv.get("/seq.lsp").body.strip(), b"")
        deadline = time.monotonic() + 5
        while self.srv.get("/seq.lsp").body.strip() != b"a,c" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.srv.get("/seq.lsp").body.strip(), b"a,c")
        self.srv.wait_for(r"Thread error: .*order\.lsp:\d+: job b fails")

    def test_configure_and_dbg(self):
        lines = self.srv.get("/configure.lsp").body.decode().splitlines()
        self.assertEqual(lines[0].split("\t"), ["16", "4", "4", "false", "false"])
        self.assertRegex(lines[1], r"^false\t.*1 to 64 threads")

    def test_sqlite_from_several_jobs_at_once(self):
        self.assertEqual(self.srv.get("/sqlite.lsp").body.strip(), b"writing")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            fields = self.srv.get("/count.lsp").body.split()
            if fields[0] == b"6":
                break
            time.sleep(0.1)
        self.assertEqual(fields, [b"6", b"150", b"6"])


class StartupTest(ServerTestCase):
    def test_a_job_started_by_a_preload_waits_for_the_start_up(self):
        # The job and the rest of the .preload both churn the VM; before the start-up ran under
        # the VM lock this corrupted the heap (the job ran beside the .preload).
        app = self.tempdir()
        write_file(app, ".preload", """
ba.thread.run(function()
  local t = {}
  for i = 1, 20000 do t[i] = {tostring(i)} end
  started_job = #t
end)
local u = {}
for i = 1, 20000 do u[i] = string.rep("x", i % 50) end
preload_done = #u
""")
        write_file(app, "s.lsp", "<?lsp print(app.started_job, app.preload_done) ?>")
        srv = self.start(apps=["-l::" + app])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = srv.get("/s.lsp").body.split()
            if body[0] != b"nil":
                break
            time.sleep(0.05)
        self.assertEqual(body, [b"20000", b"20000"])

    def test_script_mode_jobs_run_while_the_script_sleeps(self):
        d = self.tempdir()
        script = write_file(d, "s.lua", """
ba.thread.run(function() shared = "set by the job" end)
ba.sleep(300)
print(shared)
return 3
""")
        r = run_remora([script], cwd=d)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("set by the job", r.stderr)


class StopTest(ServerTestCase):
    def test_idle_threads_end_with_the_server(self):
        app = self.tempdir()
        write_file(app, ".preload", "ba.thread.run(function() end)\nba.thread.create():run(function() end)\n")
        srv = self.start(apps=["-l::" + app])
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.stop()  # exit status 0, no sanitizer report
        self.assertLess(time.monotonic() - t0, 3)

    def test_a_job_that_never_ends_does_not_stop_the_exit(self):
        app = self.tempdir()
        out = os.path.join(self.tempdir(), "unloaded.txt")
        write_file(app, ".preload", """
ba.thread.run(function() while true do ba.sleep(100) end end)
function onunload() local f = _G.io.open(%r, "w") f:write("ran") f:close() end
""" % out)
        srv = self.start(apps=["-l::" + app])
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.stop()  # SIGTERM: exit status 0, no sanitizer report
        self.assertLess(time.monotonic() - t0, 6)
        self.assertIn("ba.thread jobs still running after 3 s", srv.output())
        self.assertTrue(os.path.exists(out), srv.output())
        with open(out) as f:
            self.assertEqual(f.read(), "ran")


MINIMAL = os.environ.get("REMORA_MINIMAL", "")


@unittest.skipUnless(os.path.exists(MINIMAL), "REMORA_MINIMAL names no minimal-edition binary")
class SingleThreadEditionTest(ServerTestCase):
    def test_jobs_run_on_the_loop(self):
        import harness
        base = self.tempdir()
        app = os.path.join(base, "app")
        for name in ("start.lsp", "done.lsp", "order.lsp", "seq.lsp"):
            write_file(app, name, PAGES[name])
        saved = harness.REMORA
        harness.REMORA = MINIMAL
        try:
            srv = self.start(apps=["-l::" + app], tmpdir=base)
        finally:
            harness.REMORA = saved
        self.assertEqual(srv.get("/start.lsp").body.strip(), b"started")
        t0 = time.monotonic()
        self.assertEqual(srv.get("/done.lsp").body.strip(), b"false")
        self.assertLess(time.monotonic() - t0, 0.4)
        time.sleep(1.0)
        self.assertEqual(srv.get("/done.lsp").body.strip(), b"true")


if __name__ == "__main__":
    main()
