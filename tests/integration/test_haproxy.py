# SPDX-License-Identifier: MIT
"""Several micas behind HAProxy (issue 7), with contrib/haproxy.cfg itself: loopback ports
and faster health checks are the only changes. Both micas serve in turn; after one is killed
and its health check has marked it down, no request fails; the access log shows the real
client's address (from the X-Forwarded-For that HAProxy adds), which a client cannot forge.

The client talks from 127.0.0.77 (all of 127.0.0.0/8 is loopback on Linux) while HAProxy
reaches the micas from 127.0.0.1, the only trusted proxy: so the client's address differs
from the proxy's, and the log shows which one mica believed.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, Conn, sigkill
from micaproc import free_port, parse_access, read_lines

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                      else None)
SAMPLE = REPO / "contrib" / "haproxy.cfg"
CLIENT_IP = "127.0.0.77"

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")


def test_sample_config_is_valid():
    r = subprocess.run([HAPROXY, "-c", "-f", str(SAMPLE)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout.decode(errors="replace")


def test_config(port, servers, sock, checks="inter 200ms fall 2 rise 1"):
    """contrib/haproxy.cfg for this test: no daemon, chroot, user or syslog; a stats socket
    in the test's folder; bind and servers on loopback; checks every 200 ms, down after 2
    failures, up after 1 success (checks=None: no health checks at all)."""
    out = []
    for line in SAMPLE.read_text().splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("log", "chroot", "user", "group", "daemon"):
            continue
        if word == "maxconn" and not line.startswith("        "):
            line = "    maxconn 256"  # 20000 needs more descriptors than a test may have
        elif word == "stats" and "socket" in line:
            line = f"    stats socket {sock} mode 600 level admin"
        elif word == "bind":
            line = f"    bind 127.0.0.1:{port}"
        elif word == "default-server":
            if checks:
                line = re.sub(r"inter \S+ fall \d+ rise \d+", checks, line)
                assert checks in line, line
            else:
                line = re.sub(r"\bcheck inter \S+ fall \d+ rise \d+ ?", "", line)
                assert "check" not in line, line
        elif word == "server":
            name = line.split()[1]
            line = re.sub(r"\S+:\d+", f"127.0.0.1:{servers[name]}", line, count=1)
        out.append(line)
    text = "\n".join(out) + "\n"
    assert text.count("127.0.0.1:") == 1 + len(servers), text
    return text


test_config.__test__ = False  # a helper, not a test


def server_states(sock):
    """{server name: status} from HAProxy's stats socket ("UP", "DOWN", "UP 1/2" …)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    states = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "mica" and row.get("svname") not in ("BACKEND", "FRONTEND"):
            states[row["svname"]] = row["status"]
    return states


def get_via(port, path, headers=(), timeout=5.0):
    """GET path through HAProxy on a fresh connection from CLIENT_IP: (status, body)."""
    s = socket.socket()
    try:
        s.settimeout(timeout)
        s.bind((CLIENT_IP, 0))
        s.connect(("127.0.0.1", port))
        c = Conn(s, timeout)
        c.get(path, list(headers) + ["Connection: close"])
        r = c.read_response()
        assert r is not None, f"no response to {path}"
        return r[0], r[2]
    finally:
        s.close()


def wait_states(proxy, sock, want, timeout):
    """Polls the stats socket until every server in want has that status (prefix)."""
    deadline = time.monotonic() + timeout
    states = {}
    while time.monotonic() < deadline:
        assert proxy.poll() is None, f"haproxy exited with {proxy.returncode}"
        try:
            states = server_states(sock)
        except OSError:
            states = {}
        if all(k in states and states[k].startswith(v) for k, v in want.items()):
            return states
        time.sleep(0.05)
    raise AssertionError(f"HAProxy never saw {want}: {states}")


class Setup:
    """Two micas (mica1, mica2) and HAProxy in front of them."""

    def __init__(self, make_server, tmp_path, checks):
        self.tmp = tmp_path
        self.micas, self.logs = {}, {}
        for name in ("mica1", "mica2"):
            self.logs[name] = tmp_path / f"{name}-access.log"
            self.micas[name] = make_server(files={"who.txt": name},
                                           config={"trusted_proxies": ["127.0.0.1"]},
                                           args=["--access-log", str(self.logs[name])])
        self.port = free_port()
        self.sock = tmp_path / "haproxy.sock"
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(test_config(self.port, {n: m.port for n, m in self.micas.items()},
                                   self.sock, checks))
        with open(tmp_path / "haproxy.out", "wb") as out:
            self.proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=out,
                                          stderr=subprocess.STDOUT, cwd=tmp_path)
        # the stats socket answers once HAProxy is ready
        wait_states(self.proxy, self.sock, {"mica1": "", "mica2": ""}, timeout=10)

    def stop(self):
        """Stops HAProxy by its pid; returns what it printed."""
        if self.proxy.poll() is None:
            os.kill(self.proxy.pid, signal.SIGTERM)
        try:
            self.proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proxy.pid, signal.SIGKILL)
            self.proxy.wait()
        return (self.tmp / "haproxy.out").read_text(errors="replace")

    def logged(self, name):
        """mica `name` stopped, its access log parsed."""
        code, err = self.micas[name].stop()
        assert code == 0, err
        return [parse_access(l) for l in read_lines(self.logs[name])]


@pytest.fixture
def setup(make_server, tmp_path, request):
    try:
        with socket.socket() as probe:  # the client's own source address must be usable
            probe.bind((CLIENT_IP, 0))
    except OSError as e:
        pytest.skip(f"cannot bind {CLIENT_IP}: {e}")
    checks = getattr(request, "param", "inter 200ms fall 2 rise 1")
    s = Setup(make_server, tmp_path, checks)
    yield s
    s.stop()


def test_two_micas_behind_haproxy(setup):
    port, sock, proxy = setup.port, setup.sock, setup.proxy
    wait_states(proxy, sock, {"mica1": "UP", "mica2": "UP"}, timeout=10)

    # both serve, in turn
    order = [get_via(port, f"/who.txt?rr-{i}") for i in range(10)]
    assert all(st == 200 for st, _ in order), order
    names = [body.decode() for _, body in order]
    assert names.count("mica1") == names.count("mica2") == 5, names
    assert all(a != b for a, b in zip(names, names[1:])), f"not round robin: {names}"

    # the real client's address, which a client cannot forge
    assert get_via(port, "/who.txt?forged", ["X-Forwarded-For: 203.0.113.9"])[0] == 200

    # one dies; once HAProxy has marked it down, nothing fails
    killed = time.monotonic()
    sigkill(setup.micas["mica2"])
    wait_states(proxy, sock, {"mica2": "DOWN", "mica1": "UP"}, timeout=5)
    took = time.monotonic() - killed
    assert took < 3, f"marked down only after {took:.1f} s"
    results = [get_via(port, f"/who.txt?after-{i}") for i in range(200)]
    bad = [(i, r) for i, r in enumerate(results) if r != (200, b"mica1")]
    assert not bad, f"{len(bad)} of 200 failed or went elsewhere: {bad[:5]}"

    output = setup.stop()
    assert "ALERT" not in output, output
    assert "Server mica/mica2 is DOWN" in output, output
    lines = setup.logged("mica1")
    via = [d for d in lines if "/who.txt?" in d["request"]]
    assert len(via) == 5 + 1 + 200, len(via)
    assert {d["ip"] for d in via} == {CLIENT_IP}, {d["ip"] for d in via}
    checks = [d for d in lines if d["request"].startswith("GET /api/status ")]
    assert checks and {d["ip"] for d in checks} == {"127.0.0.1"}  # HAProxy's own requests
    assert {d["status"] for d in checks} == {200}


@pytest.mark.parametrize("setup", [None], indirect=True, ids=["no-health-checks"])
def test_dead_mica_costs_no_request_even_unchecked(setup):
    """What the sample's `retries` and `option redispatch` are for: with no health check at
    all, a request that HAProxy sends to the dead mica (refused) goes to the other one."""
    names = {get_via(setup.port, "/who.txt")[1] for _ in range(4)}
    assert names == {b"mica1", b"mica2"}, names
    sigkill(setup.micas["mica2"])
    results = [get_via(setup.port, f"/who.txt?r-{i}") for i in range(50)]
    bad = [(i, r) for i, r in enumerate(results) if r != (200, b"mica1")]
    assert not bad, f"{len(bad)} of 50 failed: {bad[:5]}"
    assert "ALERT" not in setup.stop()
