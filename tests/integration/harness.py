"""Shared helpers for Remora's integration tests.

Every test starts the real `remora` binary (path from $REMORA) on a loopback port, talks to it
with raw sockets, http.client or curl, and stops it with SIGTERM. Stopping checks that the
server exited 0, printed its SIGTERM line and wrote no sanitizer report.
Standard library only; every wait is bounded.
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REMORA = os.environ.get("REMORA") or os.path.normpath(os.path.join(HERE, "../../build/test/remora"))
CURL = "/usr/bin/curl"
WAIT = 10.0  # upper bound for any single wait

NOT_FOUND_BODY = b"<html><body><h1>404 Not Found</h1><p>Remora (Posix)</p></body></html>"
SERVER_NAME = "Remora (Posix)"
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$")
CRASH_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                 "runtime error:", "ThreadSanitizer", "Segmentation fault", "terminate called")
FALLBACK_PORTS = range(9357, 9371)


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def write_conf(path, port=None, host="127.0.0.1", **limits):
    """A Lua conf: port, host and any other globals (ints or strings). No HTTPS listener
    unless `sslport` is given (sslport=None leaves it out: the default 443 and fallbacks)."""
    limits.setdefault("sslport", 0)
    if limits["sslport"] is None:
        del limits["sslport"]
    lines = []
    if port is not None:
        lines.append("port=%d" % port)
    if host is not None:
        lines.append('host="%s"' % host)
    for k, v in limits.items():
        lines.append("%s=%s" % (k, ('"%s"' % v) if isinstance(v, str) else v))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def edition(binary=None):
    """The edition a remora binary was built as ("full", "embedded", "minimal"), from --version."""
    try:
        out = subprocess.run([binary or REMORA, "--version"], capture_output=True, text=True, timeout=WAIT).stdout
    except OSError:
        return ""
    m = re.search(r"^edition: (\w+)", out, re.M)
    return m.group(1) if m else ""


def run_remora(args, timeout=WAIT, cwd=None):
    """Runs remora to completion (for CLI errors); returns CompletedProcess with text output."""
    return subprocess.run([REMORA] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def assert_no_crash(text, what="remora"):
    for m in CRASH_MARKERS:
        if m in text:
            raise AssertionError("%s reported %r:\n%s" % (what, m, text))


class Server:
    """Starts remora, collects its stderr in a thread, stops it with SIGTERM.

    Server(apps=["-l::/dir"], conf={"port": p, "host": "127.0.0.1", ...}) or conf_text=...
    With neither conf nor conf_text a conf with a free port on 127.0.0.1 is written.
    """

    def __init__(self, apps=(), conf=None, conf_text=None, args=(), wait_listen=True, tmpdir=None):
        self._own_tmp = None
        if tmpdir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="remora-srv-")
            tmpdir = self._own_tmp.name
        self.conf_path = os.path.join(tmpdir, "remora-test.conf")
        if conf_text is None:
            conf = dict(conf or {})
            conf.setdefault("port", free_port())
            host = conf.pop("host", "127.0.0.1")
            port = conf.pop("port")
            write_conf(self.conf_path, port=port, host=host, **conf)
        else:
            with open(self.conf_path, "w") as f:
                f.write(conf_text)
        self.argv = [REMORA, "-c", self.conf_path] + list(apps) + list(args)
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=tmpdir)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = None
        self.ports = {}  # "IPv4"/"IPv6" -> port
        self.returncode = None
        if wait_listen:
            try:
                self.wait_for(r"Server listening on IPv[46] port \d+")
                # wait for one "Loading ... as ..." line per app so the start-up report is complete
                deadline = time.monotonic() + WAIT
                napps = sum(1 for a in apps if a.startswith("-l"))
                while sum(1 for l in self.output_lines() if re.search(r'^Loading .* as ".*" : ', l)) < napps:
                    if time.monotonic() > deadline or not self.alive():
                        raise AssertionError("app loading lines missing:\n" + self.output())
                    time.sleep(0.02)
            except Exception:
                self.kill()
                raise
            for line in self.output_lines():
                m = re.search(r"Server listening on (IPv[46]) port (\d+)", line)
                if m:
                    self.ports[m.group(1)] = int(m.group(2))
                    if self.port is None:
                        self.port = int(m.group(2))

    def https_port(self):
        """The HTTPS listener's port (waits for its console line)."""
        return int(self.wait_for(r"TLS server listening on IPv[46] port (\d+)").group(1))

    # ---- output ----
    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def output_lines(self):
        with self._cond:
            return list(self.lines)

    def output(self):
        return "\n".join(self.output_lines())

    def wait_for(self, pattern, timeout=WAIT):
        """Waits for a console line matching the regex; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self._eof:
                    raise AssertionError("remora exited (rc=%s) before printing %r:\n%s"
                                         % (self.proc.poll(), pattern, "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %r:\n%s" % (pattern, "\n".join(self.lines)))
                self._cond.wait(left)

    # ---- lifetime ----
    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(WAIT)
        self._cleanup_tmp()

    def _cleanup_tmp(self):
        if not self._reader.is_alive() and self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (or SIGINT), wait, then check exit status 0 and a clean console."""
        if self.returncode is not None:
            return self.returncode
        crashed_early = self.proc.poll()
        if crashed_early is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
                self._reader.join(WAIT)
                self._cleanup_tmp()
                raise AssertionError("remora did not exit within %ss of %s:\n%s"
                                     % (WAIT, sig.name, self.output()))
        self._reader.join(WAIT)
        self._cleanup_tmp()
        self.returncode = self.proc.returncode
        out = self.output()
        assert_no_crash(out)
        if crashed_early is not None:
            raise AssertionError("remora exited by itself (rc=%s) before being stopped:\n%s"
                                 % (crashed_early, out))
        if self.returncode != 0:
            raise AssertionError("remora exited with %s after %s:\n%s" % (self.returncode, sig.name, out))
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        if ("Got %s; exiting..." % name) not in out:
            raise AssertionError("no 'Got %s; exiting...' line:\n%s" % (name, out))
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            try:
                self.stop()
            except AssertionError:
                pass  # the first failure is the interesting one
        return False

    # ---- clients ----
    def connect(self, host="127.0.0.1", port=None, timeout=WAIT):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, port or self.port))
        return Conn(s)

    def request(self, method, path, headers=None, body=None, host="127.0.0.1", port=None):
        """One request on a fresh http.client connection; returns Response."""
        c = http.client.HTTPConnection(host, port or self.port, timeout=WAIT)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.reason, "HTTP/1.%d" % (r.version - 10), r.getheaders(), data)
        finally:
            c.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def raw(self, data, head=False, timeout=WAIT):
        """Sends raw bytes on a new connection, reads one response; returns (Response, Conn)."""
        c = self.connect(timeout=timeout)
        c.send(data)
        return c.read_response(head=head), c


class Response:
    def __init__(self, status, reason, version, headers, body):
        self.status = status
        self.reason = reason
        self.version = version
        self.header_list = list(headers)
        self.headers = {}
        for k, v in self.header_list:
            self.headers.setdefault(k.lower(), v)
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def count(self, name):
        return sum(1 for k, _ in self.header_list if k.lower() == name.lower())

    def __repr__(self):
        return "<Response %s %s %r body=%d bytes>" % (self.status, self.reason, self.headers, len(self.body))


class Conn:
    """A raw client socket with a read buffer and an HTTP/1.x response reader."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError("connection closed by server (buffered: %r)" % self.buf[:200])
        self.buf += chunk

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        return m.group(1), int(m.group(2)), m.group(3), headers

    def read_response(self, head=False):
        """One response. 1xx responses are returned as such (call again for the final one)."""
        version, status, reason, headers = self.read_head()
        r = Response(status, reason, version, headers, b"")
        if head or status < 200 or status in (204, 304):
            return r
        te = r.header("Transfer-Encoding")
        if te and "chunked" in te.lower():
            body = b""
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                body += self._read_exact(size)
                self._read_exact(2)
            r.body = body
        elif r.header("Content-Length") is not None:
            r.body = self._read_exact(int(r.header("Content-Length")))
        else:
            r.body = self.read_to_close()
        return r

    def read_to_close(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        out = self.buf
        self.buf = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError("connection still open after %ss" % timeout)
            if not chunk:
                break
            out += chunk
        return out

    def closed_by_peer(self, timeout=3.0):
        """True when the server closes (EOF/reset) within timeout with no further data."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(WAIT)
        return chunk == b""


def curl(args, timeout=WAIT):
    """Runs curl; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run([CURL, "-sS", "--max-time", str(int(timeout))] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 5)


class ServerTestCase(unittest.TestCase):
    """Helpers: self.start(...) starts a server that is stopped (and checked) at cleanup."""

    def start(self, *a, **kw):
        srv = Server(*a, **kw)
        self.addCleanup(srv.stop)
        return srv

    def tempdir(self):
        d = tempfile.TemporaryDirectory(prefix="remora-test-")
        self.addCleanup(d.cleanup)
        return d.name

    def assertCommonHeaders(self, r):
        self.assertEqual(r.header("Server"), SERVER_NAME, r)
        self.assertIsNotNone(r.header("Date"), r)
        self.assertRegex(r.header("Date"), IMF_FIXDATE)
        self.assertEqual(r.count("Date"), 1)

    def assertHealthy(self, srv):
        """The server still answers a plain request on a new connection."""
        self.assertTrue(srv.alive(), "server died:\n" + srv.output())
        r = srv.get("/")
        self.assertIn(r.status, (200, 404), r)
        self.assertCommonHeaders(r)


class SharedServerTestCase(ServerTestCase):
    """One server for every test of a class. A subclass writes its fixtures under `base` and
    returns the Server from make_server(base); it is stopped and `base` removed afterwards."""

    PREFIX = "remora-"

    @classmethod
    def make_server(cls, base):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix=cls.PREFIX)
        try:
            cls.srv = cls.make_server(cls.tmp.name)
        except BaseException:
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.tmp.cleanup()


def resource_core():
    """The files every resource zip needs besides .config: .openports and its module."""
    lua = os.path.join(HERE, "../../lua")
    out = {}
    for rel in (".openports", ".lua/loadconf.lua"):
        with open(os.path.join(lua, rel)) as f:
            out[rel] = f.read()
    return out


def make_cert(d, cn, ip=False):
    """A self-signed ECDSA P-256 certificate for `cn` (and 127.0.0.1 when `ip`): (cert, key) paths."""
    key = os.path.join(d, cn + ".key")
    crt = os.path.join(d, cn + ".pem")
    san = "DNS:%s" % cn + (",IP:127.0.0.1" if ip else "")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=" + san], check=True, capture_output=True)
    return crt, key


def listener(handle, ctx=None):
    """A TCP server on a loopback port that calls handle(sock) for each connection (TLS first
    when `ctx`, an ssl.SSLContext, is given), in a daemon thread; returns the listening socket
    (close it to stop)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                with (ctx.wrap_socket(c, server_side=True) if ctx else c) as s:
                    handle(s)
            except OSError:  # ssl.SSLError too
                pass
    threading.Thread(target=serve, daemon=True).start()
    return ls


def tls_listener(crt, key, handle):
    """listener() speaking TLS with the certificate `crt` and its key."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return listener(handle, ctx)


def write_app(root, pages, preload=None):
    """An app directory `root` holding `pages` ({name: text}) and a .preload; returns root."""
    if preload is not None:
        write_file(root, ".preload", preload)
    for name, text in pages.items():
        write_file(root, name, text)
    return root


def write_file(root, rel, data=b"", mode="wb"):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, mode) as f:
        f.write(data)
    return path


def main():
    if not os.access(REMORA, os.X_OK):
        raise SystemExit("remora binary not found at %s (set REMORA)" % REMORA)
    unittest.main(verbosity=2)
