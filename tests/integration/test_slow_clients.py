# SPDX-License-Identifier: MIT
"""Bad clients cannot hurt others: slowloris (500 connections trickling their heads), slow
and stalled request bodies, and a reader that stops reading a large file are all cut off by
their deadlines (header_timeout_s, body_timeout_s, body_min_rate, send_timeout_s), while a
normal client keeps being answered quickly. The cut-off times and the normal client's
latencies are printed (run pytest with -s to see them)."""
import fcntl
import os
import select
import selectors
import socket
import struct
import termios
import threading
import time

from conftest import REPO, db_rows, raise_nofile, wait_log

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()
ASAN = os.environ.get("MICA_VARIANT") == "asan"
MAX_LATENCY = 0.150 if ASAN else 0.100  # the 100 ms; some slack under ASan


def run_delays(pid, tids=None):
    """Per thread of pid: nanoseconds spent runnable but waiting for a CPU
    (/proc/PID/task/TID/schedstat, second field)."""
    out = {}
    for tid in tids or os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out


class NormalClient(threading.Thread):
    """GET /HelloWorld.html in a loop, alternating a fresh connection and a kept-alive one,
    recording each request's latency (connect included for fresh ones).

    On a shared machine mica's threads (or this one) may sit runnable for a long time while
    other programs hold every CPU: that is no fault of mica, which cannot run when it is not
    scheduled. Each latency is therefore also recorded net of the run-queue wait, during the
    request, of this thread and of the mica thread that waited longest (schedstat); the
    bound is asserted on that, and the raw figures are printed beside it."""

    def __init__(self, srv, pause=0.02):
        super().__init__(daemon=True)
        self.srv = srv
        self.pause = pause
        self.stop_event = threading.Event()
        self.latencies = []  # (raw, net of run-queue waits)
        self.worst = (0.0, 0.0, 0.0, "")  # net, raw, when (s after start), which connection
        self.errors = []
        self.kept = None

    def starved(self, before, after):
        server = max((after[0][t] - before[0].get(t, after[0][t]) for t in after[0]), default=0)
        mine = sum(after[1].values()) - sum(before[1].values())
        return (server + mine) / 1e9

    def snapshot(self, me):
        return run_delays(self.srv.pid), run_delays(os.getpid(), [me])

    def one(self, fresh, me):
        before = self.snapshot(me)
        t0 = time.monotonic()
        if fresh:
            with self.srv.conn(timeout=2) as c:
                c.get("/HelloWorld.html")
                r = c.read_response(timeout=2)
        else:
            if self.kept is None:
                self.kept = self.srv.conn(timeout=2)
            self.kept.get("/HelloWorld.html")
            r = self.kept.read_response(timeout=2)
            if r is None or r[1].get("connection", "").lower() == "close":
                self.kept.close()
                self.kept = None
        took = time.monotonic() - t0
        after = self.snapshot(me)
        if r is None or r[0] != 200 or r[2] != HELLO:
            raise AssertionError(f"bad answer: {r and r[:2]}")
        return took, max(0.0, took - self.starved(before, after))

    def run(self):
        me = str(threading.get_native_id())
        i = 0
        self.t0 = time.monotonic()
        while not self.stop_event.is_set():
            try:
                fresh = i % 2 == 0
                raw, net = self.one(fresh, me)
                self.latencies.append((raw, net))
                if net > self.worst[0]:
                    self.worst = (net, raw, time.monotonic() - self.t0,
                                  "fresh" if fresh else "kept-alive")
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(f"request {i}: {e!r}")
                if self.kept is not None:
                    self.kept.close()
                    self.kept = None
            i += 1
            self.stop_event.wait(self.pause)
        if self.kept is not None:
            self.kept.close()

    def finish(self, label):
        """Stops, prints the figures, asserts the bound; returns the worst net latency."""
        self.stop_event.set()
        self.join(10)
        assert not self.is_alive()
        assert not self.errors, self.errors[:5]
        n = len(self.latencies)
        assert n >= 20, f"only {n} requests answered"
        raw = sorted(r for r, _ in self.latencies)
        net, worst_raw, when, kind = self.worst
        print(f"\n[{label}] normal client: {n} requests, median {raw[n // 2] * 1000:.1f} ms, "
              f"max {raw[-1] * 1000:.1f} ms raw; max {net * 1000:.1f} ms net of CPU starvation "
              f"({kind} connection, {when:.2f} s in, {worst_raw * 1000:.1f} ms raw)")
        assert raw[n // 2] < MAX_LATENCY, f"median latency {raw[n // 2] * 1000:.1f} ms"
        assert net < MAX_LATENCY, (f"normal client waited {net * 1000:.1f} ms "
                                   f"({worst_raw * 1000:.1f} ms raw) {when:.2f} s in")
        return raw[-1], net


def summary(xs):
    xs = sorted(xs)
    return f"min {xs[0]:.2f} s, median {xs[len(xs) // 2]:.2f} s, max {xs[-1]:.2f} s"


def test_slowloris_500_connections(make_server):
    raise_nofile(4096)
    n = 500
    srv = make_server(config={"header_timeout_s": 2})
    normal = NormalClient(srv)
    normal.start()
    head = b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 64
    sel = selectors.DefaultSelector()
    conns = {}  # socket -> [start, bytes sent, received]
    cut = []
    early = []
    try:
        for _ in range(n):
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            conns[s] = [time.monotonic(), 0, b""]
            sel.register(s, selectors.EVENT_READ)
        opened = time.monotonic()
        deadline = opened + 8
        while conns and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.02):
                s = key.fileobj
                try:
                    chunk = s.recv(4096)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                conns[s][2] += chunk
                if not chunk:
                    start, sent, got = conns.pop(s)
                    cut.append(time.monotonic() - start)
                    if got and not got.startswith(b"HTTP/1.1 408 "):
                        early.append(got[:60])
                    sel.unregister(s)
                    s.close()
            now = time.monotonic()
            for s, st in list(conns.items()):
                # one byte every 0.5 s from each connection's start, the head never ends
                if st[1] < len(head) and now >= st[0] + st[1] * 0.5:
                    try:
                        s.send(head[st[1]:st[1] + 1])
                        st[1] += 1
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        start = conns.pop(s)[0]
                        cut.append(time.monotonic() - start)
                        sel.unregister(s)
                        s.close()
        left = len(conns)
    finally:
        for s in conns:
            s.close()
        sel.close()
    raw, net = normal.finish("slowloris")
    print(f"[slowloris] {len(cut)} of {n} trickling connections cut off: {summary(cut)}"
          f" after their start (header_timeout_s 2); normal client max {raw * 1000:.1f} ms "
          f"({net * 1000:.1f} ms net)")
    assert srv.proc.poll() is None, "mica died"
    assert left == 0, f"{left} of {n} trickling connections still open 8 s later"
    assert not early, f"unexpected answers: {early[:3]}"
    assert min(cut) >= 1.8, f"cut off too early: {summary(cut)}"
    assert max(cut) <= 4.0, f"cut off too late: {summary(cut)}"


def open_body(srv, length):
    """A connection that sent the head of a POST with Content-Length and read its 405."""
    c = srv.conn(timeout=5)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.send(b"POST /HelloWorld.html HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % length)
    r = c.read_response()
    assert r is not None and r[0] == 405, r and r[:2]
    return c


def closed_now(c):
    """True when the peer has closed (EOF or reset); reads whatever is pending."""
    while True:
        ready, _, _ = select.select([c.sock], [], [], 0)
        if not ready:
            return False
        try:
            chunk = c.sock.recv(65536)
        except ConnectionResetError:
            return True
        if not chunk:
            return True
        c.buf += chunk


def test_stalled_body_cut_off_by_body_timeout(make_server):
    srv = make_server(config={"body_timeout_s": 2, "body_min_rate": 1024})
    normal = NormalClient(srv)
    normal.start()
    c = open_body(srv, 100000)
    try:
        c.send(b"x" * 100)
        # a byte every 0.5 s for 3 s: each gap is under body_timeout_s, and body_min_rate
        # only applies from 10 s, so the connection stays
        for _ in range(6):
            time.sleep(0.5)
            assert not closed_now(c), "cut off while the body was still arriving"
            c.send(b"x")
        last = time.monotonic()
        took = c.wait_closed(6)
        if took is not None:
            took = time.monotonic() - last
    finally:
        c.close()
    raw, net = normal.finish("stalled body")
    print(f"[stalled body] cut off {took if took is None else round(took, 2)} s after its last "
          f"byte (body_timeout_s 2); normal client max {raw * 1000:.1f} ms "
          f"({net * 1000:.1f} ms net)")
    assert took is not None, "a stalled body holds its connection"
    assert 1.8 <= took <= 3.5, took
    assert c.buf == b"", c.buf[:100]


def test_stalled_form_body_answered_408_and_logged(make_admin_server):
    """A form whose body stops coming is answered 408 (RFC 9110 §15.5.9) about
    body_timeout_s after its last byte, and error.log says why; nothing is stored."""
    srv = make_admin_server(config={"body_timeout_s": 2})
    with srv.conn(timeout=8) as c:
        c.send(b"POST /forms/slow HTTP/1.1\r\nHost: t\r\nContent-Type: "
               b"application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\na=1&b=")
        last = time.monotonic()
        r = c.read_response(timeout=8)
        took = time.monotonic() - last
        assert r is not None and r[0] == 408, r and r[:2]
        assert r[1].get("connection") == "close"
        assert c.wait_closed(3) is not None
    assert 1.8 <= took <= 3.5, took
    text = wait_log(srv, lambda t: "request body timeout" in t)
    assert "closing: request body timeout" in text, text
    assert db_rows(srv.data_dir) == []


def test_slow_body_cut_off_by_body_min_rate(make_server):
    srv = make_server(config={"body_timeout_s": 2, "body_min_rate": 1024})
    normal = NormalClient(srv, pause=0.05)
    normal.start()
    c = open_body(srv, 100000)
    t0 = time.monotonic()
    took = None
    sent = 0
    try:
        # 100 bytes/s (10 bytes every 0.1 s): far under 1024 bytes/s, never a 2 s gap
        while time.monotonic() - t0 < 13:
            time.sleep(0.1)
            if closed_now(c):
                took = time.monotonic() - t0
                break
            try:
                c.send(b"y" * 10)
                sent += 10
            except (BrokenPipeError, ConnectionResetError):
                took = time.monotonic() - t0
                break
        if took is None:
            w = c.wait_closed(0.5)
            took = None if w is None else time.monotonic() - t0
    finally:
        c.close()
    raw, net = normal.finish("slow body")
    print(f"[slow body] 100 bytes/s cut off after {took if took is None else round(took, 2)} s, "
          f"{sent} body bytes sent (body_min_rate 1024, from 10 s); "
          f"normal client max {raw * 1000:.1f} ms ({net * 1000:.1f} ms net)")
    assert took is not None, "a body at 100 bytes/s was not cut off within 13 s"
    assert 10.0 <= took <= 12.5, took


def tcp_row(server_port, client_port):
    """The /proc/net/tcp line of the server's side of a connection: (state, inode) or None."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote = fields[1], fields[2]
                    if (int(local.rsplit(":", 1)[1], 16) == server_port and
                            int(remote.rsplit(":", 1)[1], 16) == client_port):
                        return fields[3], int(fields[9])
        except FileNotFoundError:
            continue
    return None


def server_holds(srv, inode):
    """True while the mica process has socket inode open."""
    want = f"socket:[{inode}]"
    fd_dir = f"/proc/{srv.pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") == want:
                return True
        except FileNotFoundError:
            continue
    return False


def test_slow_reader_cut_off_by_send_timeout(make_server):
    data = os.urandom(20 * 1024 * 1024)
    srv = make_server(files={"big.bin": data}, config={"send_timeout_s": 2})
    normal = NormalClient(srv)
    normal.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024)
    s.settimeout(5)
    try:
        s.connect((srv.host, srv.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        first = s.recv(100)
        assert first.startswith(b"HTTP/1.1 200"), first
        client_port = s.getsockname()[1]
        row = tcp_row(srv.port, client_port)
        assert row is not None, "the server's socket is not in /proc/net/tcp"
        inode = row[1]
        assert server_holds(srv, inode)
        # read nothing more; watch the bytes queued on our side grow until the buffers are
        # full, and the server's socket, until mica lets go of it
        t0 = time.monotonic()
        last_growth, queued, released = t0, -1, None
        while time.monotonic() - t0 < 10:
            q = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]
            now = time.monotonic()
            if q != queued:
                queued, last_growth = q, now
            if not server_holds(srv, inode):
                released = now
                break
            time.sleep(0.01)
        assert released is not None, "mica still holds the stalled connection after 10 s"
        took = released - last_growth
        # the rest of what was sent, then the end of the stream
        got = len(first) + queued
        s.settimeout(5)
        while True:
            try:
                chunk = s.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += len(chunk)
    finally:
        s.close()
    raw, net = normal.finish("slow reader")
    print(f"[slow reader] buffers full {last_growth - t0:.2f} s after the request "
          f"({queued} bytes queued here); cut off {took:.2f} s after the last byte received "
          f"(send_timeout_s 2); {got} of {len(data)} bytes delivered; "
          f"normal client max {raw * 1000:.1f} ms ({net * 1000:.1f} ms net)")
    assert 1.8 <= took <= 4.0, took
    assert got < len(data)
