"""Command line and configuration file: --version, usage, -l parsing, conf errors, port
fallback, console report, missing application directories."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import NOT_FOUND_BODY, Server, ServerTestCase, main, run_remora, write_file


class VersionUsageTest(unittest.TestCase):
    def test_version(self):
        p = run_remora(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        harness.assert_no_crash(p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "Remora 0.1.0")
        self.assertRegex(lines[1], r"^edition: \w+$")
        self.assertRegex(lines[2], r"^policies: io=\S+ tls=\S+ alloc=\S+ threads=\S+$")
        self.assertRegex(lines[3], r"^features: .*\blua5\.4\b")
        self.assertEqual(len(lines), 4, p.stdout)

    def test_help(self):
        for arg in ("-h", "-?"):
            p = run_remora([arg])
            self.assertEqual(p.returncode, 1, arg)
            self.assertEqual(p.stdout, "", arg)
            self.assertIn("Usage: remora", p.stderr)
            self.assertIn("-l[name]:[priority]:app", p.stderr)
            self.assertIn("-c configfile", p.stderr)
            for flag in ("-d ", "-s ", "-u username", "script"):
                self.assertIn(flag, p.stderr)
            harness.assert_no_crash(p.stderr)

    def test_bad_load_commands(self):
        for arg, msg in (("-lfoo", "expected -l[name]:[priority]:path"),
                         ("-lfoo:", "expected -l[name]:[priority]:path"),
                         ("-l::", "no path"),
                         ("-lfoo::", "no path"),
                         ("-lfoo:x:/tmp", "priority must be a number")):
            p = run_remora([arg])
            self.assertEqual(p.returncode, 1, arg)
            self.assertIn("Invalid load command '%s'" % arg, p.stderr)
            self.assertIn(msg, p.stderr, arg)
            self.assertNotIn("Server listening", p.stderr)
            harness.assert_no_crash(p.stderr)

    def test_unknown_arguments(self):
        for args in (["--bogus"], ["-x"], ["script.lua"], ["-c"]):
            p = run_remora(args)
            self.assertEqual(p.returncode, 1, args)
            self.assertNotIn("Server listening", p.stderr)
            harness.assert_no_crash(p.stderr)
        self.assertIn("unknown argument '--bogus'", run_remora(["--bogus"]).stderr)
        self.assertIn("-c needs a configuration file", run_remora(["-c"]).stderr)

    def test_bad_argument_after_good_ones(self):
        d = tempfile.mkdtemp(prefix="remora-cli-")
        try:
            p = run_remora(["-l::" + d, "-lfoo"])
            self.assertEqual(p.returncode, 1)
            self.assertNotIn("Server listening", p.stderr)
        finally:
            os.rmdir(d)


class ConfErrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="remora-conf-")
        self.addCleanup(self.tmp.cleanup)

    def run_conf(self, text, name="bad.conf"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        p = run_remora(["-c", path])
        harness.assert_no_crash(p.stdout + p.stderr)
        self.assertNotIn("Server listening", p.stderr)
        return path, p

    def test_wrong_type(self):
        path, p = self.run_conf('port=%d\nhost="127.0.0.1"\nconncnt="x"\n' % harness.free_port())
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s: invalid value for parameter 'conncnt': (integer expected, got string)" % path,
                      p.stderr)

    def test_wrong_types_other_params(self):
        for text, name, what in (('port="x"', "port", "(integer expected, got string)"),
                                 ("port=1.5", "port", "(integer expected, got float)"),
                                 ("host=5", "host", "(string expected, got number)"),
                                 ("reqbodymax={}", "reqbodymax", "integer expected"),
                                 ("headertimeout=true", "headertimeout", "integer expected")):
            path, p = self.run_conf(text + "\n")
            self.assertEqual(p.returncode, 1, text)
            self.assertIn("%s: invalid value for parameter '%s': " % (path, name), p.stderr, text)
            self.assertIn(what, p.stderr, text)

    def test_every_option_type_is_checked(self):
        for text, name, what in (('sslport="x"', "sslport", "(integer expected, got string)"),
                                 ("commandcnt=0", "commandcnt", "outside"),
                                 ("timertick={}", "timertick", "integer expected"),
                                 ("tracker_maxlogin=1.5", "tracker_maxlogin", "integer expected"),
                                 ("rspsz=10", "rspsz", "outside"),
                                 ("sessioncnt=0", "sessioncnt", "outside"),
                                 ('apps="app"', "apps", "(table expected, got string)"),
                                 ("users=1", "users", "(table expected, got number)"),
                                 ("sslhost={}", "sslhost", "(string expected, got table)"),
                                 ('favorRSA="yes"', "favorRSA", "(boolean expected, got string)"),
                                 ("certfile={1, 2}", "certfile", "(string or table of strings expected, got table)"),
                                 ("keyfile=3", "keyfile", "(string or table of strings expected, got number)"),
                                 ("tracelogger=false", "tracelogger", "(true or table expected, got boolean)"),
                                 ('acme="on"', "acme", "(table expected, got string)")):
            path, p = self.run_conf(text + "\n")
            self.assertEqual(p.returncode, 1, text)
            self.assertIn("%s: invalid value for parameter '%s': " % (path, name), p.stderr, text)
            self.assertIn(what, p.stderr, text)

    def test_well_typed_options_start(self):
        conf = ('sslport=0\ncommandcnt=3\ntimertick=50\napps={}\nusers={alice="pw"}\nrealm="r"\n'
                'certfile={"a.pem","b.pem"}\nkeyfile="k.pem"\nfavorRSA=true\ntracelogger=true\n'
                'log={smtp={}}\nproxy={name="p", port=8080}\ndbdir="/tmp"\n')
        srv = Server(conf_text=conf + "port=%d\nhost=\"127.0.0.1\"\n" % harness.free_port())
        try:
            self.assertIn("Server listening", srv.output())
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_out_of_range(self):
        for text, name in (("reqmaxsz=100", "reqmaxsz"), ("conncnt=-1", "conncnt"), ("port=70000", "port"),
                           ("headertimeout=0", "headertimeout")):
            path, p = self.run_conf(text + "\n")
            self.assertEqual(p.returncode, 1, text)
            self.assertIn("%s: invalid value for parameter '%s'" % (path, name), p.stderr, text)
            self.assertRegex(p.stderr, r"is outside \d+\.\.\d+")

    def test_syntax_error(self):
        path, p = self.run_conf("port = 9000\nx = = 1\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:2:" % path, p.stderr)

    def test_runtime_error(self):
        path, p = self.run_conf('error("boom from conf")\n')
        self.assertEqual(p.returncode, 1)
        self.assertIn("boom from conf", p.stderr)

    def test_only_base_library(self):
        for text in ('port = tonumber(os.getenv("PORT"))\n', 'io.write("x")\n',
                     'require("socket")\n', 'x = string.format("%d", 1)\n', 'x = ("a"):upper()\n'):
            path, p = self.run_conf(text)
            self.assertEqual(p.returncode, 1, text)
            self.assertIn(path, p.stderr, text)

    def test_missing_conf_file(self):
        path = os.path.join(self.tmp.name, "nope.conf")
        p = run_remora(["-c", path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(path, p.stderr)

    def test_base_library_usable(self):
        # the conf is Lua: computed values and base functions work
        port = harness.free_port()
        d = os.path.join(self.tmp.name, "www")
        write_file(d, "f.txt", b"conf ok")
        text = ("local base = tonumber('%d')\nport = base - 1 + 1\nhost = '127.' .. '0.0.1'\n"
                "assert(type(port) == 'number')\nconncnt = math and 0 or 10\n" % port)
        with Server(apps=["-l::" + d], conf_text=text) as srv:
            self.assertEqual(srv.port, port)
            self.assertEqual(srv.get("/f.txt").body, b"conf ok")


class ConsoleAndAppsTest(ServerTestCase):
    def test_console_report(self):
        tmp = self.tempdir()
        write_file(tmp, "www/a.txt", b"A")
        port = harness.free_port()
        # relative conf and app paths, resolved from the working directory
        srv = Server(apps=["-l::www", "-lnamed:3:www"], conf_text=None, tmpdir=tmp,
                     conf={"port": port})
        try:
            out = srv.output()
            self.assertIn("Remora", out)
            self.assertRegex(out, r"(?m)^Loading /\S+remora-test\.conf$")
            self.assertIn("Loading %s" % os.path.join(tmp, "remora-test.conf"), out)
            self.assertIn("Server listening on IPv4 port %d, interface 127.0.0.1" % port, out)
            self.assertIn('Loading www as "root application" : ok', out)
            self.assertIn('Loading www as "named" : ok', out)
            lines = srv.output_lines()
            i_listen = next(i for i, l in enumerate(lines) if l.startswith("Server listening"))
            i_app = next(i for i, l in enumerate(lines) if l.startswith("Loading www"))
            self.assertLess(i_listen, i_app)
            self.assertEqual(srv.get("/a.txt").body, b"A")
            self.assertEqual(srv.get("/named/a.txt").body, b"A")
        finally:
            srv.stop()

    def test_relative_conf_path_printed_absolute(self):
        tmp = self.tempdir()
        port = harness.free_port()
        harness.write_conf(os.path.join(tmp, "my.conf"), port=port)
        import subprocess
        p = subprocess.Popen([harness.REMORA, "-c", "my.conf"], cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            out = b""
            while b"Server listening" not in out:
                line = p.stderr.readline()
                if not line:
                    break
                out += line
            time.sleep(0.2)  # see harness.Server: the signal handler comes after the listener line
        finally:
            p.terminate()
            rest = p.communicate(timeout=harness.WAIT)[1]
        out = (out + rest).decode()
        self.assertEqual(p.returncode, 0, out)
        harness.assert_no_crash(out)
        self.assertIn("Loading %s\n" % os.path.join(os.path.realpath(tmp), "my.conf"), out)

    def test_missing_app_dir_keeps_running(self):
        tmp = self.tempdir()
        good = os.path.join(tmp, "good")
        write_file(good, "g.txt", b"good app")
        missing = os.path.join(tmp, "does-not-exist")
        srv = self.start(apps=["-lgone::" + missing, "-l::" + good, "-l::" + missing + "2"])
        out = srv.output()
        self.assertRegex(out, r'Loading %s as "gone" : failed: \S' % re.escape(missing))
        self.assertRegex(out, r'Loading %s2 as "root application" : failed: ' % re.escape(missing))
        self.assertIn('Loading %s as "root application" : ok' % good, out)
        self.assertTrue(srv.alive())
        self.assertEqual(srv.get("/g.txt").body, b"good app")
        r = srv.get("/gone/x")
        self.assertEqual((r.status, r.body), (404, NOT_FOUND_BODY))

    def test_app_path_is_a_file(self):
        tmp = self.tempdir()
        f = write_file(tmp, "file.txt", b"x")
        srv = self.start(apps=["-lf::" + f])
        self.assertIn('Loading %s as "f" : failed' % f, srv.output())
        self.assertEqual(srv.get("/f/").status, 404)

    def test_no_apps_welcome_page(self):
        srv = self.start()
        self.assertTrue(srv.wait_for("No applications: serving the welcome page"))
        r = srv.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"Remora is running", r.body)
        r = srv.get("/other")
        self.assertEqual((r.status, r.body), (404, NOT_FOUND_BODY))

    def test_u_drops_to_the_user(self):
        tmp = self.tempdir()
        os.chmod(tmp, 0o755)
        write_file(tmp, "app/who.lsp", "<?lsp print(io:resourcetype(), 'ok') ?>")
        os.chmod(os.path.join(tmp, "app"), 0o755)
        os.chmod(os.path.join(tmp, "app", "who.lsp"), 0o644)
        if os.geteuid() != 0:
            p = run_remora(["-u", "nobody", "-l::" + os.path.join(tmp, "app")])
            self.assertEqual(p.returncode, 1)
            self.assertIn("Cannot use command line option: -u nobody You are not root.", p.stderr)
            return
        srv = self.start(apps=["-l::" + os.path.join(tmp, "app")], args=["-u", "nobody"])
        with open("/proc/%d/status" % srv.proc.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        import pwd
        self.assertEqual(set(uids), {str(pwd.getpwnam("nobody").pw_uid)})
        self.assertEqual(srv.get("/who.lsp").body, b"disk\tok\n")
        p = run_remora(["-u", "no-such-user-here", "-l::" + os.path.join(tmp, "app")])
        self.assertEqual(p.returncode, 1)
        self.assertIn("-u no-such-user-here: no such user", p.stderr)

    @staticmethod
    def trace_file(output):
        m = re.search(r"^Trace file: (.+)$", output, re.M)
        return m.group(1) if m else None

    def test_s_traces_to_file_and_stderr(self):
        tmp = self.tempdir()
        write_file(tmp, "app/.preload", "print('hello from preload', mako.daemon)")
        system_log = "/var/log/remora.log"  # the first choice, when writable
        before = os.path.getsize(system_log) if os.path.exists(system_log) else 0
        srv = self.start(apps=["-l::" + os.path.join(tmp, "app")], args=["-s"])
        path = self.trace_file(srv.output())
        self.assertIsNotNone(path, srv.output())
        start = before if path == system_log else 0
        self.assertTrue(srv.wait_for("hello from preload\tfalse"))  # still on stderr
        self.assertEqual(srv.stop(), 0)
        with open(path, errors="replace") as f:
            f.seek(start)
            text = f.read()
        self.assertIn("hello from preload\tfalse", text)
        self.assertIn("Got SIGTERM; exiting...", text)

    def test_d_detaches(self):
        tmp = self.tempdir()
        port = harness.free_port()
        conf = write_file(tmp, "d.conf", 'port=%d\nhost="127.0.0.1"\n' % port)
        write_file(tmp, "app/.preload", "print('daemon', mako.daemon, mako.exit == nil)")
        write_file(tmp, "app/x.txt", "daemon file")
        p = subprocess.run([harness.REMORA, "-d", "-c", conf, "-l::" + os.path.join(tmp, "app")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20, cwd=tmp)
        self.assertEqual(p.returncode, 0, p.stderr)  # the launcher returns at once
        path = self.trace_file(p.stderr)
        self.assertIsNotNone(path, p.stderr)
        pid = None
        try:
            deadline = time.monotonic() + 10
            body = None
            while time.monotonic() < deadline and body is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        s.sendall(b"GET /x.txt HTTP/1.0\r\n\r\n")
                        body = s.makefile("rb").read().split(b"\r\n\r\n", 1)[1]
                except OSError:
                    time.sleep(0.1)
            self.assertEqual(body, b"daemon file")
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open("/proc/%s/cmdline" % d, "rb") as f:
                            if conf.encode() in f.read() and int(d) != os.getpid():
                                pid = int(d)
                    except OSError:
                        pass
            self.assertIsNotNone(pid)
            with open("/proc/%d/stat" % pid) as f:
                self.assertNotEqual(int(f.read().split(")")[1].split()[1]), os.getpid())  # not our child
            with open(path, errors="replace") as f:
                text = f.read()
            self.assertIn("daemon\ttrue\ttrue", text)
        finally:
            if pid:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not os.path.exists("/proc/%d" % pid):
                        break
                    time.sleep(0.05)

    def test_mako_functions(self):
        tmp = self.tempdir()
        log = os.path.join(tmp, "trace.log")
        out = os.path.join(tmp, "onexit.txt")
        write_file(tmp, "app/.preload", """
mako.onexit(function() local f = _G.io.open(%r, "w") f:write("onexit ran, port ", mako.port) f:close() end)
local gone = function() error("removed, never runs") end
mako.onexit(gone) mako.onexit(gone, false)
print("dos2unix", mako.dos2unix("a/b"), ba.serverport == mako.port)
""" % out)
        write_file(tmp, "app/trace.lsp", "<?lsp print(mako.tracefile(%r)) _G.print('now in the file') ?>" % log)
        srv = Server(apps=["-l::" + os.path.join(tmp, "app")])
        try:
            self.assertIn("dos2unix\ta/b\ttrue", srv.output())
            self.assertEqual(srv.get("/trace.lsp").body, b"true\n")
            srv.proc.send_signal(signal.SIGTERM)  # its console is the trace file now
            self.assertEqual(srv.proc.wait(timeout=20), 0)
        finally:
            srv.kill()  # waits, and removes its temp dir
        with open(log) as f:
            text = f.read()
        self.assertIn("now in the file", text)
        self.assertIn("Got SIGTERM; exiting...", text)
        with open(out) as f:
            self.assertEqual(f.read(), "onexit ran, port %d" % srv.port)

    def test_port_fallback_when_busy(self):
        free = []
        for p in harness.FALLBACK_PORTS:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
                free.append(p)
            except OSError:
                pass
        if not free:
            self.skipTest("all fallback ports 9357-9370 are busy")
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        tmp = self.tempdir()
        write_file(tmp, "www/fb.txt", b"fallback")
        srv = self.start(apps=["-l::" + os.path.join(tmp, "www")], conf={"port": busy})
        self.assertIn(srv.port, harness.FALLBACK_PORTS, srv.output())
        self.assertNotEqual(srv.port, busy)
        self.assertIn(srv.port, free)
        self.assertIn("Server listening on IPv4 port %d, interface 127.0.0.1" % srv.port, srv.output())
        self.assertEqual(srv.get("/fb.txt").body, b"fallback")

    def test_priority_argument(self):
        tmp = self.tempdir()
        write_file(tmp, "lo/p.txt", b"low")
        write_file(tmp, "hi/p.txt", b"high")
        srv = self.start(apps=["-lp:-1:" + os.path.join(tmp, "lo"), "-lp:5:" + os.path.join(tmp, "hi")])
        self.assertEqual(srv.get("/p/p.txt").body, b"high")


class ConfLookupTest(ServerTestCase):
    """mako.conf: -c, then beside the executable, the working directory, then $HOME."""

    def setUp(self):
        self.exe_dir = self.tempdir()
        self.exe = os.path.join(self.exe_dir, "remora")
        import shutil
        shutil.copy2(harness.REMORA, self.exe)
        shutil.copy2(os.path.join(os.path.dirname(harness.REMORA), "remora.zip"), self.exe_dir)
        self.cwd = self.tempdir()
        self.home = self.tempdir()

    def conf(self, d, tag):
        return write_file(d, "mako.conf", 'port=%d\nhost="127.0.0.1"\nsslport=0\ntag="%s"\n'
                          % (harness.free_port(), tag))

    def which(self, extra=()):
        script = write_file(self.cwd, "which.lua", 'print("conf:", require"loadconf".tag, mako.cfgfname)\n')
        env = dict(os.environ, HOME=self.home)
        env.pop("MAKO_ZIP", None)
        # A script reads the conf through loadconf; the server's lookup order is the same.
        p = subprocess.run([self.exe] + list(extra) + [script], cwd=self.cwd, env=env, capture_output=True,
                           text=True, timeout=harness.WAIT)
        harness.assert_no_crash(p.stderr)
        m = re.search(r"conf:\t(\S+)\t(\S+)", p.stderr)
        return m.groups() if m else (None, p.stderr)

    def test_order(self):
        self.assertEqual(self.which()[0], "nil")  # none anywhere: the built-in defaults
        self.conf(self.home, "home")
        self.assertEqual(self.which(), ("home", os.path.join(self.home, "mako.conf")))
        self.conf(self.cwd, "cwd")
        self.assertEqual(self.which(), ("cwd", os.path.join(self.cwd, "mako.conf")))
        self.conf(self.exe_dir, "exe")
        self.assertEqual(self.which(), ("exe", os.path.join(self.exe_dir, "mako.conf")))

    def test_loading_line_names_the_found_file(self):
        self.conf(self.cwd, "cwd")
        env = dict(os.environ, HOME=self.home)
        env.pop("MAKO_ZIP", None)
        p = subprocess.Popen([self.exe], cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        try:
            out = ""
            deadline = time.monotonic() + harness.WAIT
            while "Server listening" not in out and time.monotonic() < deadline:
                out += p.stdout.readline()
        finally:
            p.terminate()
            out += p.communicate(timeout=harness.WAIT)[0]
        self.assertIn("Loading " + os.path.join(self.cwd, "mako.conf"), out)
        self.assertEqual(p.returncode, 0, out)


class LoadconfTest(ServerTestCase):
    def test_every_option_and_reload(self):
        tmp = self.tempdir()
        write_file(tmp, "app/conf.lsp", """<?lsp
local c = require"loadconf"
print(c.port == mako.port, c.custom, c.nested and c.nested.x, c.host, type(c.load))
local n = c.load()
print(n.custom, require"loadconf" == n, rawget(n, "load"))
?>""")
        srv = self.start(apps=["-l::" + os.path.join(tmp, "app")], conf={"custom": "first"},
                         tmpdir=tmp)
        # the conf gets a table option, then changes on disk: load() reads the new text
        with open(srv.conf_path) as f:
            text = f.read()
        r = srv.get("/conf.lsp")
        lines = r.body.decode().splitlines()
        self.assertEqual(lines[0], "true\tfirst\tnil\t127.0.0.1\tfunction")
        with open(srv.conf_path, "w") as f:
            f.write(text.replace('custom="first"', 'custom="second"\nnested={x=1}'))
        r = srv.get("/conf.lsp")
        lines = r.body.decode().splitlines()
        self.assertEqual(lines[1], "second\ttrue\tnil")
        r = srv.get("/conf.lsp")
        self.assertEqual(r.body.decode().splitlines()[0], "true\tsecond\t1\t127.0.0.1\tfunction")

    def test_runtime_error_in_the_second_pass_is_printed(self):
        # passes the first pass (base library only), fails in the full state: printed, not fatal
        tmp = self.tempdir()
        srv = self.start(conf_text='port=%d\nhost="127.0.0.1"\nsslport=0\nif string then x = nil .. 1 end\n'
                         % harness.free_port(), tmpdir=tmp)
        srv.wait_for(r"remora-test\.conf:4: attempt to concatenate a nil value")
        self.assertEqual(srv.get("/").status, 200)


class HomeioTest(ServerTestCase):
    def test_home_io_root(self):
        tmp = self.tempdir()
        home = os.path.join(tmp, "homedir")
        write_file(home, "hello.txt", "from the home io")
        write_file(tmp, "app/h.lsp", "<?lsp print(ba.openio'home':open('hello.txt'):read'a', ba.openio'home':realpath'') ?>")
        srv = self.start(apps=["-l::" + os.path.join(tmp, "app")], conf={"homeio": "homedir"}, tmpdir=tmp)
        self.assertIn("Home dir: " + home, srv.output())
        body = srv.get("/h.lsp").body.decode()
        self.assertTrue(body.startswith("from the home io\t" + home), body)

    def test_missing_home_directory_stops_the_start(self):
        d = self.tempdir()
        path = write_file(d, "mako.conf", 'port=%d\nhomeio="nowhere"\n' % harness.free_port())
        p = run_remora(["-c", path], cwd=d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nowhere", p.stderr)
        harness.assert_no_crash(p.stderr)


if __name__ == "__main__":
    main()
