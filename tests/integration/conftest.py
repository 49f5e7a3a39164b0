# SPDX-License-Identifier: MIT
"""Fixtures for black-box tests: the real mica binary on a free loopback port.

Each server runs in its own temporary directory with its own docroot (a copy of the
shipped www/ plus whatever the test adds), started with --port 0 so the kernel picks a
free port, which the start-up line reports. It is stopped by its pid with SIGTERM, must
exit 0, and must not have printed any sanitizer report.
"""
import json
import os
import pathlib
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MICA_BIN = os.environ.get("MICA_BIN") or str(REPO / "build" / "release" / "mica")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
START_RE = re.compile(r"listening on http://(\S+):(\d+) ")


class Server:
    """One running mica process."""

    def __init__(self, workdir, root, args=(), config=None, bind="127.0.0.1",
                 preexec_fn=None, templates=None):
        self.workdir = pathlib.Path(workdir)
        self.root = pathlib.Path(root)
        self.args = list(args)
        self.config = config
        self.proc = None
        self.port = None
        # bind=None leaves --bind out (the default: every interface, IPv4 and IPv6);
        # the tests then talk to it over 127.0.0.1.
        self.bind = bind
        self.host = bind if bind not in (None, "0.0.0.0", "::") else "127.0.0.1"
        self.preexec_fn = preexec_fn
        self.templates = str(templates) if templates else str(REPO / "templates")
        self.banner = ""
        self.error_log = self.workdir / "error.log"

    def start(self, timeout=10.0):
        cmd = ["--port", "0"]
        if self.bind is not None:
            cmd += ["--bind", self.bind]
        cmd += ["--root", str(self.root), "--templates", self.templates,
                "--error-log", str(self.error_log), "--access-log", "off"]
        if self.config is not None:
            cfg = self.workdir / "config.json"
            cfg.write_text(json.dumps(self.config))
            cmd += ["--config", str(cfg)]
        self.proc = spawn_mica(cmd + self.args, self.workdir, self.preexec_fn)
        line = first_line(self.proc, timeout)
        if not line.endswith(b"\n"):
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            self.kill()
            raise RuntimeError(f"mica did not start: {line!r} {err}")
        self.banner = line.decode()
        m = START_RE.search(self.banner)
        assert m, self.banner
        self.port = int(m.group(2))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/", host=None):
        host = host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"

    def connect(self, timeout=5.0, host=None):
        s = socket.create_connection((host or self.host, self.port), timeout=timeout)
        return s

    def conn(self, timeout=5.0, host=None):
        """A Conn (see below) to this server."""
        return Conn(self.connect(timeout, host), timeout)

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and return (exit code, stderr text)."""
        if self.proc is None:
            return None, ""
        proc, self.proc = self.proc, None
        code, _, err = terminate(proc, timeout)
        return code, err

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_text(self):
        return self.error_log.read_text() if self.error_log.exists() else ""


def assert_clean_exit(code, err):
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    assert code == 0, f"exit code {code}: {err}"


def stop_all_clean(procs):
    """Stops every started one of procs (Server or Mica) by its pid; fails if any exited
    unclean (a sanitizer report, an exit code other than 0)."""
    failures = []
    for p in procs:
        if p.proc is None:
            continue
        code, err = p.stop()
        try:
            assert_clean_exit(code, err)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(files={...}, args=[...], config={...}) → a started Server.

    files maps paths relative to the docroot to bytes or str; the shipped www/ is copied
    first unless bare=True. symlinks maps paths relative to the docroot to link targets.
    bind=None leaves --bind out (listen on every interface); preexec_fn runs in the child
    before exec (e.g. to lower RLIMIT_NOFILE); templates replaces the templates folder;
    start=False returns the Server unstarted, so the test can add to srv.root and srv.workdir
    first and then call srv.start(). Every server started is stopped at the end of the
    test, and a sanitizer report or a non-zero exit fails the test.
    """
    started = []

    def factory(files=None, args=(), config=None, bare=False, bind="127.0.0.1",
                preexec_fn=None, templates=None, symlinks=None, start=True):
        n = len(started)
        work = tmp_path / f"srv{n}"
        root = work / "www"
        work.mkdir()
        if bare:
            root.mkdir()
        else:
            shutil.copytree(REPO / "www", root)
        for rel, content in (files or {}).items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.encode()
            p.write_bytes(content)
        for rel, target in (symlinks or {}).items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, p)
        srv = Server(work, root, args, config, bind, preexec_fn, templates)
        started.append(srv)
        return srv.start() if start else srv

    yield factory
    stop_all_clean(started)


@pytest.fixture
def server(make_server):
    """A server over a copy of the shipped www/."""
    return make_server()


def raw_request(srv, data, timeout=5.0, read_until_close=True):
    """Sends raw bytes and returns everything read until the server closes (or timeout)."""
    with srv.connect(timeout) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def parse_responses(data):
    """Splits a byte stream into (status, headers dict lowercased, body) responses,
    using Content-Length framing. HEAD responses must be parsed by the caller."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete head: {data[:200]!r}"
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


class Conn:
    """A client connection that reads responses one at a time, framed by Content-Length."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def get(self, path, headers=(), method="GET"):
        """Sends one request with a Host header (and extra header lines)."""
        extra = "".join(h + "\r\n" for h in headers)
        self.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete response in time; have {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError(f"no complete response in time; have {self.buf[:200]!r}")
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk
        return bool(chunk)

    def read_response(self, head=False, timeout=None):
        """Returns (status, headers, body, version) or None if the peer closed first.

        head=True: a response to HEAD (no body whatever Content-Length says)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                if self.buf:
                    raise AssertionError(f"closed inside a response head: {self.buf[:300]!r}")
                return None
        head_bytes, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head_bytes.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        version, status = parts[0].decode(), int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            assert sep, f"bad header line {line!r}"
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = 0 if head or status in (204, 304) or 100 <= status < 200 else \
            int(headers.get("content-length", "0"))
        self.buf = rest
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError(f"closed inside a body: {len(self.buf)} of {n} bytes")
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body, version

    def wait_closed(self, timeout=None):
        """Waits for EOF (or a reset) and returns the seconds it took, or None on timeout.
        Any bytes that arrive meanwhile are kept in self.buf."""
        start = time.monotonic()
        deadline = start + (timeout or self.timeout)
        while not self.eof:
            try:
                self._fill(deadline)
            except TimeoutError:
                return None
        return time.monotonic() - start


def request(srv, path, headers=(), method="GET", timeout=5.0, host=None):
    """One request on a fresh connection: (status, headers, body)."""
    with srv.conn(timeout, host) as c:
        c.get(path, headers, method)
        r = c.read_response(head=(method == "HEAD"))
        assert r is not None, f"connection closed without a response to {method} {path}"
        return r[:3]


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(pred, timeout=5.0, interval=0.05):
    """Polls pred() until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def serves(srv, timeout=5.0):
    """Whether srv answers GET /HelloWorld.html with 200 within timeout seconds (after it
    was starved of connections or descriptors)."""
    def ok():
        try:
            return request(srv, "/HelloWorld.html", timeout=2)[0] == 200
        except (OSError, AssertionError, TimeoutError):
            return False
    return wait_for(ok, timeout=timeout)


def first_status(buf):
    """The status of the first response in buf once it is complete, else None."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    return int(head[9:12]) if len(body) >= length else None


def request_then_ok(srv, path, headers=(), method="GET"):
    """One request and a GET /ok.txt (which must hold "ok") after it on the same
    connection, so a response whose length is wrong garbles the second one. Returns the
    first (status, headers, body)."""
    with srv.conn(timeout=10) as c:
        c.get(path, headers, method)
        c.get("/ok.txt")
        first = c.read_response(head=(method == "HEAD"))
        assert first is not None, f"closed without a response to {method} {path}"
        second = c.read_response()
        assert second is not None and second[0] == 200 and second[2] == b"ok", \
            f"the response after {method} {path} is garbled: {second and second[:3]}"
        return first[:3]


BROTLI = shutil.which("brotli")


def unbrotli(data):
    """Decodes a brotli stream with the brotli command (and fails on a broken one)."""
    if not BROTLI:
        pytest.skip("the brotli command (Debian package brotli) is not installed")
    r = subprocess.run([BROTLI, "-d", "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert r.returncode == 0, f"not a brotli stream: {r.stderr.decode(errors='replace')}"
    return r.stdout


def decode(headers, body):
    """The identity bytes of a body, by its Content-Encoding."""
    import gzip
    enc = headers.get("content-encoding")
    if enc is None:
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "br":
        return unbrotli(body)
    raise AssertionError(f"unexpected Content-Encoding {enc!r}")


def run_threads(n, fn, timeout=60):
    """Runs fn(i) in n threads; returns the list of exceptions raised."""
    errors = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def body(i):
        try:
            start.wait(timeout=10)
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "clients still running"
    return errors


def mica_env():
    """The environment to run mica in: sanitizers report leaks too and stop at the first UB."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def spawn_mica(args, cwd, preexec_fn=None):
    """Starts the mica binary with args in cwd, stdout and stderr piped."""
    return subprocess.Popen([MICA_BIN] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=mica_env(), preexec_fn=preexec_fn)


def first_line(proc, timeout):
    """proc's stdout up to and with its first newline; without one when proc closed its
    stdout (exited) or timeout seconds went by first."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.1))
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
        elif proc.poll() is not None:
            break
    return line


def terminate(proc, timeout=15.0):
    """SIGTERM by pid, wait; returns (exit code, the rest of stdout, stderr text). One that
    does not stop in time is killed and the test fails."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("mica did not stop within %.0f s of SIGTERM" % timeout)
    return proc.returncode, out, err.decode(errors="replace")


def start_process(args, cwd, timeout=10.0):
    """Runs the mica binary with args in cwd and waits for its first stdout line (or exit).

    Returns (proc, first line); proc has exited if the line is empty."""
    proc = spawn_mica(args, cwd)
    line = first_line(proc, timeout)
    if not line.endswith(b"\n"):
        try:
            proc.wait(timeout=5)  # stdout closed: it is exiting
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"no start-up line within {timeout} s: {line!r}")
    return proc, line.decode(errors="replace")


def stop_process(proc, timeout=15.0):
    """SIGTERM by pid, wait, return (exit code, stderr text)."""
    code, _, err = terminate(proc, timeout)
    return code, err


def ipv6_loopback():
    """True when ::1 can be bound on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def proc_rss_bytes(pid):
    """The resident set size of a process (VmRSS in /proc/PID/status), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def proc_fd_count(pid):
    """How many descriptors a process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_nofile(want=None):
    """Raises this process's RLIMIT_NOFILE soft limit to want (at most the hard limit; the
    hard limit itself when want is None). Never lowers it. Returns the soft limit."""
    import resource
    inf = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if want is None else (want if hard == inf else min(want, hard))
    if target == inf:
        target = 1 << 20
    if soft != inf and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


# --- helpers for the dynamic half: admin servers, form posts, the database ------------------

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
_HASHES = {}


def hash_password(password):
    """`mica --hash-password` for password (cached per password for the session)."""
    if password not in _HASHES:
        r = subprocess.run([MICA_BIN, "--hash-password"], input=password.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        _HASHES[password] = r.stdout.decode().strip()
        assert _HASHES[password].startswith("$"), _HASHES[password]
    return _HASHES[password]


def basic_auth(user=ADMIN_USER, password=ADMIN_PASSWORD):
    """The value of an Authorization header for HTTP Basic."""
    import base64
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sigkill(srv):
    """Kills a fixture's server with SIGKILL and forgets it, so the fixture's teardown
    (which expects a clean exit) leaves it alone."""
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(timeout=10)
    try:
        srv.proc.stdout.close()
        srv.proc.stderr.close()
    except OSError:
        pass
    srv.proc = None


@pytest.fixture
def make_admin_server(make_server, tmp_path):
    """Factory: make_admin_server(password=..., user=..., data_dir=..., config={...}, **kw)
    → a started Server with an admin configured and its data in data_dir (by default
    tmp_path/"data", shared by every server of the test, so a restarted server finds what
    the previous one stored). The Server gets .admin_user, .admin_password and .data_dir."""

    def factory(password=ADMIN_PASSWORD, user=ADMIN_USER, data_dir=None, config=None, **kw):
        data = pathlib.Path(data_dir) if data_dir else tmp_path / "data"
        cfg = {"admin": {"user": user, "password_hash": hash_password(password)},
               "data_dir": str(data)}
        cfg.update(config or {})
        start = kw.pop("start", True)
        srv = make_server(config=cfg, start=False, **kw)
        srv.admin_user, srv.admin_password, srv.data_dir = user, password, data
        return srv.start() if start else srv

    return factory


def db_rows(data_dir, sql="SELECT id, form, created_at, client_ip, user_agent, fields, files "
                          "FROM submissions ORDER BY id", args=()):
    """Rows of data_dir/mica.db, opened read-only (the server may still be running)."""
    import sqlite3
    path = pathlib.Path(data_dir) / "mica.db"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def wait_log(srv, pred, timeout=3.0):
    """Polls the server's error log until pred(text) is truthy (lines are flushed within
    about a second); returns the text."""
    return poll_text(srv.log_text, pred, timeout)


def poll_text(read, pred, timeout=3.0):
    """Calls read() until pred(text) is truthy or the deadline passes; returns the text."""
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if pred(text) or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)
