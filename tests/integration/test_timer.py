"""ba.timer: intervals, once, now, coroutines that yield, cancel and reset, errors, timers
that keep themselves alive, a deferred response finished by a timer, and ba.sleep in a timer
leaving the rest of the server free."""
import os
import time

from harness import ServerTestCase, SharedServerTestCase, Server, main, run_remora, write_file

PRELOAD = """
count = 0
ba.timer(function() count = count + 1 return count < 5 end):set(60)
n2 = 0
ba.timer(function() while true do n2 = n2 + 1 coroutine.yield(n2 < 3) end end):set(50)
once = 0
ba.timer(function() once = once + 1 return true end):set(50, true)
now = 0
ba.timer(function() now = now + 1 end):set(100000, true, true)
ba.timer(function() error("boom in a timer") end):set(50)
cancelled = 0
local tc = ba.timer(function() cancelled = cancelled + 1 return true end)
tc:set(200)
print("cancel", tc:cancel(), tc:cancel())
co_runs = 0
local co = coroutine.create(function() for i = 1, 3 do co_runs = i coroutine.yield(true) end end)
ba.timer(co):set(50)
print("collected", collectgarbage("collect") == 0)
"""

PAGES = {
    "state.lsp": "<?lsp print(app.count, app.n2, app.once, app.now, app.cancelled, app.co_runs) ?>",
    # a timer re-armed with reset, then cancelled from a page
    "reset.lsp": """<?lsp
local hits = 0
local t = ba.timer(function() hits = hits + 1 return true end)
t:set(10000)
print(t:reset(50))
ba.sleep(400)
print(hits > 2, t:cancel(), ba.timer(function() end):reset())
local n = hits
local once = ba.timer(function() hits = hits + 1 end)
once:set(20, true)
ba.sleep(200)
print(hits == n + 1, once:reset(20))  -- a one-shot that ran is armed again by reset
ba.sleep(200)
print(hits == n + 2, once:cancel(), t:cancel())
?>""",
    # the answer comes from a timer 200 ms later
    "later.lsp": """<?lsp
local d = response:deferred()
ba.timer(function() d:write("from the timer") d:close() end):set(200, true)
?>""",
    # a timer that sleeps for a second (suspended: the loop goes on), which must not hold up pages
    "sleeper.lsp": """<?lsp
app.slept = false
ba.timer(function() ba.sleep(1000) app.slept = true end):set(10, true)
print("armed")
?>""",
    "slept.lsp": "<?lsp print(app.slept) ?>",
}


class TimerTest(SharedServerTestCase):
    PREFIX = "remora-timer-"

    @classmethod
    def make_server(cls, base):
        app = os.path.join(base, "app")
        write_file(app, ".preload", PRELOAD)
        for name, text in PAGES.items():
            write_file(app, name, text)
        # one loop thread: a timer that blocked it would hold up every page
        return Server(apps=["-l::" + app], conf={"timertick": 10, "threads": 1}, tmpdir=base)

    def test_intervals_once_now_coroutines_cancel(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = self.srv.get("/state.lsp").body.decode().split()
            if body == ["5", "3", "1", "1", "0", "3"]:
                break
            time.sleep(0.1)
        self.assertEqual(body, ["5", "3", "1", "1", "0", "3"])
        time.sleep(0.3)  # they stopped: nothing changes
        self.assertEqual(self.srv.get("/state.lsp").body.decode().split(), body)
        self.assertIn("cancel\ttrue\tfalse", self.srv.output())

    def test_error_is_printed_and_stops_the_timer(self):
        self.srv.wait_for(r"Timer error: .*\.preload:10: boom in a timer")
        time.sleep(0.3)
        self.assertEqual(self.srv.output().count("boom in a timer"), 1)
        self.assertEqual(self.srv.get("/state.lsp").status, 200)

    def test_reset_and_cancel(self):
        lines = self.srv.get("/reset.lsp").body.decode().splitlines()
        self.assertEqual(lines, ["true", "true\ttrue\tfalse", "true\ttrue", "true\tfalse\tfalse"])

    def test_deferred_response_from_a_timer(self):
        t0 = time.monotonic()
        r = self.srv.get("/later.lsp")
        self.assertEqual((r.status, r.body), (200, b"from the timer"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)

    def test_sleeping_timer_does_not_hold_up_pages(self):
        self.assertEqual(self.srv.get("/sleeper.lsp").body.strip(), b"armed")
        time.sleep(0.1)
        t0 = time.monotonic()
        self.assertEqual(self.srv.get("/slept.lsp").body.strip(), b"false")  # answered while it sleeps
        self.assertLess(time.monotonic() - t0, 0.5)
        time.sleep(1.2)
        self.assertEqual(self.srv.get("/slept.lsp").body.strip(), b"true")


class ScriptModeTest(ServerTestCase):
    def test_no_event_loop(self):
        d = self.tempdir()
        script = write_file(d, "t.lua", "local t = ba.timer(function() end)\nprint(t:set(10))\n"
                                        "print(pcall(ba.timer, 42))\n")
        r = run_remora([script], cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nil\tno event loop", r.stderr)
        self.assertRegex(r.stderr, r"false\tbad argument #1 to '.*' \(function or coroutine expected, got number\)")


if __name__ == "__main__":
    main()
