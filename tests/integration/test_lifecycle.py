# SPDX-License-Identifier: MIT
"""Process lifecycle and limits: signals, graceful shutdown, timeouts, max_connections,
running out of file descriptors."""
import hashlib
import os
import resource
import select
import signal
import socket
import threading
import time

import pytest

from conftest import (REPO, Conn, assert_clean_exit, first_status, proc_cpu_seconds, request,
                      serves, wait_for)

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()


def refused(srv):
    """True when a new connection to srv is refused (or reset at once)."""
    try:
        with socket.create_connection((srv.host, srv.port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return s.recv(100) == b""
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def wait_exit(srv, timeout):
    """Waits for the process to exit on its own; returns (code, stderr) or fails."""
    try:
        srv.proc.wait(timeout=timeout)
    except Exception:
        raise AssertionError(f"mica still running {timeout} s later")
    return srv.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(server, sig):
    assert request(server, "/")[0] == 200
    os.kill(server.pid, sig)
    code, err = wait_exit(server, 5)
    assert_clean_exit(code, err)
    log = server.log_text()
    assert "stopped" in log, log
    assert "started" in log


def test_sigterm_while_slow_client_downloads(make_server):
    # 12 MiB: far more than the socket buffers hold, so most of it is still to be sent
    # when SIGTERM arrives
    data = os.urandom(12 * 1024 * 1024)
    srv = make_server(files={"big.bin": data}, config={"keepalive_timeout_s": 30})
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(10)
    s.connect((srv.host, srv.port))
    c = Conn(s, timeout=10)
    try:
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        while len(c.buf) < 64 * 1024:
            assert c._fill(time.monotonic() + 5)
        os.kill(srv.pid, signal.SIGTERM)
        # it stops accepting new connections, but keeps the download going
        assert wait_for(lambda: refused(srv), timeout=3), "still accepting after SIGTERM"
        assert srv.proc.poll() is None, "exited with a download in flight"
        head, _, body = c.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        got = bytearray(body)
        deadline = time.monotonic() + 8
        while len(got) < len(data) and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            time.sleep(0.002)  # a slow reader
        assert len(got) == len(data), f"download cut at {len(got)} of {len(data)} bytes"
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        # then the connection closes (its response is done and the server is stopping:
        # nothing to wait for, not the 30 s keep-alive timeout) and the server exits
        took = c.wait_closed(3)
        assert took is not None, "connection left open after its response during shutdown"
        code, err = wait_exit(srv, 2)
        assert_clean_exit(code, err)
        assert "stopped" in srv.log_text()
    finally:
        c.close()


def test_idle_keepalive_connections_closed_at_shutdown(make_server):
    srv = make_server(config={"keepalive_timeout_s": 60})
    conns = []
    try:
        for _ in range(5):
            c = srv.conn()
            c.get("/HelloWorld.html")
            assert c.read_response()[2] == HELLO
            conns.append(c)
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        for c in conns:
            assert c.wait_closed(3) is not None, "idle connection not closed at shutdown"
        code, err = wait_exit(srv, 3)
        assert_clean_exit(code, err)
        assert time.monotonic() - t0 < 3, "idle connections held the grace period"
    finally:
        for c in conns:
            c.close()


def test_keepalive_idle_timeout(make_server):
    srv = make_server(config={"keepalive_timeout_s": 1})
    with srv.conn() as c:
        c.get("/HelloWorld.html")
        assert c.read_response()[0] == 200
        took = c.wait_closed(5)
        assert took is not None, "idle connection not closed within 5 s"
        assert 0.8 <= took <= 3.0, took
        assert c.buf == b""


def test_keepalive_timer_restarts_per_request(make_server):
    srv = make_server(config={"keepalive_timeout_s": 1})
    with srv.conn() as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:  # 2 s of traffic, never 1 s idle
            c.get("/HelloWorld.html")
            assert c.read_response()[0] == 200
            time.sleep(0.3)
        assert c.wait_closed(5) is not None


def test_header_timeout_with_trickling_client(make_server):
    srv = make_server(config={"header_timeout_s": 1})
    slow = srv.conn()
    other = srv.conn()
    try:
        t0 = time.monotonic()
        slow.send(b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nX-Trickle: ")
        answered = 0
        closed_after = None
        while time.monotonic() - t0 < 5:
            ready, _, _ = select.select([slow.sock], [], [], 0.3)
            if ready:
                try:
                    chunk = slow.sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                slow.buf += chunk
                if not chunk:
                    closed_after = time.monotonic() - t0
                    break
                continue
            try:
                slow.send(b"a")  # one byte every 0.3 s, the head never ends
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - t0
                break
            other.get("/HelloWorld.html")  # meanwhile, others are served
            assert other.read_response(timeout=2)[2] == HELLO
            answered += 1
        assert closed_after is not None, "trickling client never cut off"
        assert 0.9 <= closed_after <= 2.5, closed_after
        assert answered >= 2
        if slow.buf:
            assert slow.buf.startswith(b"HTTP/1.1 408 "), slow.buf[:100]
    finally:
        slow.close()
        other.close()


def test_silent_connection_is_closed(make_server):
    srv = make_server(config={"header_timeout_s": 1, "keepalive_timeout_s": 1})
    with srv.conn() as c:
        took = c.wait_closed(5)
        assert took is not None and took <= 3.0, took


def test_first_request_after_a_pause_is_served(make_server):
    """The listener defers accepting until the client's first bytes (TCP_DEFER_ACCEPT, one
    second): a request sent while the kernel still holds the connection, and one sent after
    it was handed over silent, are both answered, on keep-alive and Connection: close."""
    srv = make_server(config={"header_timeout_s": 4})
    for pause in (0.0, 0.4, 1.6):
        for close in (False, True):
            with srv.conn() as c:
                time.sleep(pause)
                c.get("/HelloWorld.html", ["Connection: close"] if close else [])
                status, _, body, _ = c.read_response()
                assert (status, body) == (200, HELLO), (pause, close)
                if close:
                    assert c.wait_closed(2) is not None, "not closed after Connection: close"
                else:
                    c.get("/HelloWorld.html")
                    assert c.read_response()[2] == HELLO


def test_stalled_body_is_cut_off(make_server):
    srv = make_server(config={"body_timeout_s": 1})
    with srv.conn() as c:
        c.send(b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"
               b"0123456789")
        took = c.wait_closed(6)
        assert took is not None, "a stalled body holds the connection"
        assert took <= 3.5, took
        other = request(srv, "/HelloWorld.html")
        assert other[0] == 200


def test_client_that_stops_reading_is_cut_off(make_server):
    data = os.urandom(16 * 1024 * 1024)
    srv = make_server(config={"send_timeout_s": 1}, start=False)
    tpl = srv.workdir / "templates"
    tpl.mkdir()
    (tpl / "status.html").write_text("[active={{active_connections}}]")
    srv.templates = str(tpl)
    (srv.root / "big.bin").write_bytes(data)
    srv.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    s.connect((srv.host, srv.port))
    try:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200")

        def active():
            body = request(srv, "/status")[2]
            return int(body.split(b"=")[1].rstrip(b"]"))
        assert active() == 2  # the stalled download and this /status
        t0 = time.monotonic()
        assert wait_for(lambda: active() == 1, timeout=5), "stalled client never cut off"
        assert time.monotonic() - t0 <= 3.0
        got = 0
        s.settimeout(5)
        while True:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
        assert got < len(data)
    finally:
        s.close()


def test_max_connections(make_server):
    srv = make_server(config={"max_connections": 5}, args=["--threads", "2"])
    conns = []
    try:
        for _ in range(5):
            c = srv.conn()
            c.get("/HelloWorld.html")
            assert c.read_response()[0] == 200
            conns.append(c)
        with srv.conn() as extra:
            extra.get("/HelloWorld.html")
            r = extra.read_response()
            assert r is not None, "6th connection closed without a 503"
            assert r[0] == 503
            assert extra.wait_closed(3) is not None
        # the five still work
        for c in conns:
            c.get("/HelloWorld.html")
            assert c.read_response()[0] == 200
    finally:
        for c in conns:
            c.close()

    assert serves(srv), "no service after the connections closed"
    for _ in range(5):
        assert request(srv, "/HelloWorld.html")[0] == 200


def collect(conns, timeout):
    """Reads the first response (or the close) of each Conn; returns (number of
    connections with neither, {status or "closed": count})."""
    pending = {c.sock: c for c in conns}
    counts = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(list(pending), [], [], 0.2)
        for sock in ready:
            c = pending[sock]
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            c.buf += chunk
            status = first_status(c.buf)
            if status is not None or not chunk:
                key = status or "closed"
                counts[key] = counts.get(key, 0) + 1
                del pending[sock]
    return len(pending), counts


def lower_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_out_of_file_descriptors(make_server):
    srv = make_server(preexec_fn=lower_nofile, args=["--threads", "2"],
                      config={"keepalive_timeout_s": 30})
    conns = []
    try:
        for i in range(100):
            c = srv.conn(timeout=5)
            c.get("/HelloWorld.html")
            conns.append(c)
        # every connection is either answered (200, or 500 when a file cannot be opened,
        # or 503 when refused) or closed; none is left hanging. Idle keep-alive
        # connections are given up to make room, so more than 64 may be served in turn.
        pending, counts = collect(conns, 5)
        assert srv.proc.poll() is None, "mica died"
        assert not pending, f"{len(pending)} connections neither served nor refused: {counts}"
        assert counts.get(200, 0) + counts.get(500, 0) >= 1, counts
        assert counts.get(503, 0) + counts.get("closed", 0) >= 1, counts
        assert set(counts) <= {200, 500, 503, "closed"}, counts

        # it does not spin while the limit holds (connections are still open)
        cpu0 = proc_cpu_seconds(srv.pid)
        time.sleep(1.0)
        for _ in range(10):  # and more arrivals are refused, not queued forever
            with srv.conn(timeout=3) as c:
                c.get("/HelloWorld.html")
                r = c.read_response(timeout=3)
                assert r is None or r[0] in (200, 503), r
        used = proc_cpu_seconds(srv.pid) - cpu0
        assert used < 0.3, f"mica used {used:.2f} s of CPU in 1 s while out of descriptors"
    finally:
        for c in conns:
            c.close()

    assert serves(srv), "no service after descriptors were freed"
    for _ in range(20):
        status, _, body = request(srv, "/HelloWorld.html")
        assert status == 200 and body == HELLO


def test_out_of_file_descriptors_under_load(make_server):
    """Connections keep arriving and requests keep opening files while the descriptor
    table is full, on several workers: afterwards, a burst of connections must still be
    answered or refused, every one of them (none left waiting in an accept queue)."""
    srv = make_server(preexec_fn=lower_nofile, args=["--threads", "4"],
                      config={"keepalive_timeout_s": 30})

    def fds():
        return len(os.listdir(f"/proc/{srv.pid}/fd"))
    base = fds()
    for round_ in range(4):
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    with srv.conn(timeout=2) as c:
                        for _ in range(20):
                            c.get("/HelloWorld.html")
                            if c.read_response(timeout=2) is None:
                                break
                except (OSError, TimeoutError, AssertionError):
                    pass
        workers = [threading.Thread(target=load, daemon=True) for _ in range(8)]
        for t in workers:
            t.start()
        flood = []
        try:
            for _ in range(600):
                try:
                    c = srv.conn(timeout=2)
                    c.get("/HelloWorld.html")
                    flood.append(c)
                except OSError:
                    pass
                if len(flood) >= 80:
                    for c in flood:
                        c.close()
                    flood = []
        finally:
            stop.set()
            for t in workers:
                t.join(10)
            for c in flood:
                c.close()
        assert srv.proc.poll() is None, "mica died"
        assert wait_for(lambda: fds() <= base + 8, timeout=5), f"descriptors not released: {fds()}"
        burst = [srv.conn(timeout=5) for _ in range(100)]
        try:
            for c in burst:
                c.get("/HelloWorld.html")
            pending, counts = collect(burst, 3)
            assert pending == 0, (f"round {round_}: {pending} of 100 connections neither "
                                  f"answered nor refused within 3 s: {counts}")
        finally:
            for c in burst:
                c.close()
    assert request(srv, "/HelloWorld.html")[0] == 200
