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
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MICA_BIN = os.environ.get("MICA_BIN") or str(REPO / "build" / "release" / "mica")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
START_RE = re.compile(r"listening on http://(\S+):(\d+) ")


class Server:
    """One running mica process."""

    def __init__(self, workdir, root, args=(), config=None):
        self.workdir = pathlib.Path(workdir)
        self.root = pathlib.Path(root)
        self.args = list(args)
        self.config = config
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.banner = ""
        self.error_log = self.workdir / "error.log"

    def start(self, timeout=10.0):
        cmd = [MICA_BIN, "--port", "0", "--bind", self.host, "--root", str(self.root),
               "--templates", str(REPO / "templates"), "--error-log", str(self.error_log),
               "--access-log", "off"]
        if self.config is not None:
            cfg = self.workdir / "config.json"
            cfg.write_text(json.dumps(self.config))
            cmd += ["--config", str(cfg)]
        cmd += self.args
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.kill()
                raise RuntimeError(f"mica did not start: {line!r} {err}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    continue
                line += ch
        self.banner = line.decode()
        m = START_RE.search(self.banner)
        assert m, self.banner
        self.port = int(m.group(2))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/"):
        return f"http://{self.host}:{self.port}{path}"

    def connect(self, timeout=5.0):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        return s

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and return (exit code, stderr text)."""
        if self.proc is None:
            return None, ""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("mica did not stop within %.0f s of SIGTERM" % timeout)
        code = self.proc.returncode
        self.proc = None
        return code, err.decode(errors="replace")

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


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(files={...}, args=[...], config={...}) → a started Server.

    files maps paths relative to the docroot to bytes or str; the shipped www/ is copied
    first unless bare=True. Every server started is stopped at the end of the test, and a
    sanitizer report or a non-zero exit fails the test.
    """
    started = []

    def factory(files=None, args=(), config=None, bare=False):
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
        srv = Server(work, root, args, config).start()
        started.append(srv)
        return srv

    yield factory
    failures = []
    for srv in started:
        if srv.proc is None:
            continue
        code, err = srv.stop()
        try:
            assert_clean_exit(code, err)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)


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
