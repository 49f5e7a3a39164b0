# SPDX-License-Identifier: MIT
"""Resources under pressure: running out of descriptors with 1,000 clients, the memory cost
of 10,000 idle keep-alive connections, 1,000 clients that drop a large download (no leak of
descriptors or memory), and the file cache following changes to the files within a second.
The figures are printed (run pytest with -s to see them)."""
import errno
import os
import resource
import selectors
import shutil
import socket
import struct
import time

import pytest

from conftest import (REPO, first_status, proc_fd_count, proc_rss_bytes, raise_nofile, request,
                      serves, wait_for)

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()
ASAN = os.environ.get("MICA_VARIANT") == "asan"


class Crowd:
    """Many non-blocking client connections driven by one selector: each connects, sends
    `request`, and is settled when its first response is complete (its status), when the
    peer closes or refuses it ("closed" / "refused"), or — with read_bytes — once that many
    bytes have arrived ("read"). Settled sockets stay open until close()."""

    def __init__(self, srv, n, request, read_bytes=None):
        self.sel = selectors.DefaultSelector()
        self.request = request
        self.read_bytes = read_bytes
        self.socks = {}  # socket -> [index, bytes received]
        self.results = {}  # index -> outcome
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((srv.host, srv.port))
            if err not in (0, errno.EINPROGRESS):
                self.results[i] = "refused"
                s.close()
                continue
            self.socks[s] = [i, b""]
            self.sel.register(s, selectors.EVENT_WRITE)
        self.unsettled = len(self.socks)

    def settle(self, s, outcome):
        self.results[self.socks[s][0]] = outcome
        self.sel.unregister(s)
        self.unsettled -= 1

    def on_writable(self, s):
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.settle(s, "refused")
            return
        try:
            s.send(self.request)
        except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
            self.settle(s, "refused")
            return
        self.sel.modify(s, selectors.EVENT_READ)

    def on_readable(self, s):
        st = self.socks[s]
        try:
            chunk = s.recv(65536)
        except BlockingIOError:
            return
        except (ConnectionResetError, ConnectionRefusedError):
            chunk = b""
        st[1] += chunk
        if self.read_bytes is not None:
            if len(st[1]) >= self.read_bytes:
                self.settle(s, "read")
                return
        else:
            status = first_status(st[1])
            if status is not None:
                self.settle(s, status)
                return
        if not chunk:
            self.settle(s, "closed")

    def run(self, timeout):
        """Drives the connections until all are settled or timeout; returns how many are not."""
        deadline = time.monotonic() + timeout
        while self.unsettled > 0 and time.monotonic() < deadline:
            for key, ev in self.sel.select(timeout=0.1):
                if ev & selectors.EVENT_WRITE:
                    self.on_writable(key.fileobj)
                else:
                    self.on_readable(key.fileobj)
        return self.unsettled

    def counts(self):
        out = {}
        for v in self.results.values():
            out[v] = out.get(v, 0) + 1
        return out

    def close(self):
        for s in self.socks:
            s.close()
        self.socks.clear()
        self.sel.close()


def nofile_256():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_descriptor_exhaustion_1000_clients(make_server):
    raise_nofile(4096)
    srv = make_server(preexec_fn=nofile_256, config={"keepalive_timeout_s": 30})
    base = proc_fd_count(srv.pid)
    crowd = Crowd(srv, 1000, b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n")
    try:
        t0 = time.monotonic()
        pending = crowd.run(timeout=15)
        took = time.monotonic() - t0
        counts = crowd.counts()
        peak = proc_fd_count(srv.pid)
        print(f"\n[descriptors] RLIMIT_NOFILE 256, 1000 clients: {counts} in {took:.2f} s, "
              f"{pending} unsettled; mica held {peak} descriptors (baseline {base})")
        assert srv.proc.poll() is None, "mica died"
        assert pending == 0, f"{pending} connections neither answered nor refused: {counts}"
        assert set(counts) <= {200, 500, 503, "closed", "refused"}, counts
        # the admitted ones are answered: 200, or 500 when no descriptor is left to open
        # the file (mica, like nginx, does not reserve one for that)
        assert counts.get(200, 0) + counts.get(500, 0) >= 100, counts
        # the excess is refused (idle keep-alive connections are given up to make room, so
        # more than 256 may be served in turn)
        refused = counts.get(503, 0) + counts.get("closed", 0) + counts.get("refused", 0)
        assert refused >= 1, counts
    finally:
        crowd.close()
    # everyone left: normal service again
    assert serves(srv), "no service after the clients left"
    for _ in range(10):
        status, _, body = request(srv, "/HelloWorld.html")
        assert status == 200 and body == HELLO
    assert wait_for(lambda: proc_fd_count(srv.pid) <= base, timeout=3), \
        f"descriptors not returned: {proc_fd_count(srv.pid)} > {base}"


def test_10000_idle_keepalive_connections_memory(make_server):
    n = 10000
    assert raise_nofile() >= n + 200, "RLIMIT_NOFILE hard limit too low for 10,000 clients"
    data = os.urandom(1024)
    srv = make_server(files={"k.bin": data}, args=["--threads", "1"],
                      config={"max_connections": 20000, "keepalive_timeout_s": 120})
    req = b"GET /k.bin HTTP/1.1\r\nHost: t\r\n\r\n"
    # warm up: the file in the cache, the worker's pools and buffers in use once
    warm = Crowd(srv, 100, req)
    assert warm.run(10) == 0 and warm.counts() == {200: 100}
    warm.close()
    assert serves(srv, timeout=3)
    time.sleep(0.3)
    before = proc_rss_bytes(srv.pid)
    t0 = time.monotonic()
    crowds = []
    try:
        for _ in range(n // 1000):  # 1,000 at a time, all kept open
            c = Crowd(srv, 1000, req)
            left = c.run(20)
            assert left == 0 and c.counts() == {200: 1000}, c.counts()
            crowds.append(c)
        took = time.monotonic() - t0
        time.sleep(0.5)  # let the worker settle every connection into idle
        after = proc_rss_bytes(srv.pid)
        fds = proc_fd_count(srv.pid)
        per = (after - before) / n
        print(f"\n[idle keep-alive] {n} connections opened and answered in {took:.2f} s; "
              f"mica holds {fds} descriptors; VmRSS {before / 1024:.0f} KiB -> "
              f"{after / 1024:.0f} KiB: {per:.0f} bytes per idle connection")
        assert fds >= n
        # all of them are still served: a sample asks again on its open connection
        for c in crowds[::3]:
            for s in list(c.socks)[:20]:
                s.setblocking(True)
                s.settimeout(5)
                s.sendall(req)
                got = b""
                while first_status(got) is None:
                    chunk = s.recv(65536)
                    assert chunk, "an idle connection was closed"
                    got += chunk
                assert first_status(got) == 200 and got.endswith(data)
    finally:
        for c in crowds:
            c.close()
    bound = 4096 if ASAN else 320  # the issue aims at 256; ASan adds redzones per block
    assert per <= bound, f"{per:.0f} bytes per idle connection"


def test_1000_clients_dropping_a_large_download(make_server):
    raise_nofile(4096)
    data = os.urandom(1024 * 1024)
    srv = make_server(files={"big.bin": data})
    status, _, body = request(srv, "/big.bin", timeout=10)
    assert status == 200 and body == data
    time.sleep(0.2)
    base = proc_fd_count(srv.pid)
    req = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
    rss = {}
    t0 = time.monotonic()
    for batch in range(10):
        crowd = Crowd(srv, 100, req, read_bytes=1024)
        try:
            left = crowd.run(10)
            counts = crowd.counts()
            assert left == 0 and counts == {"read": 100}, (batch, counts)
            # half of them reset the connection outright, the others just close it (with
            # unread data: the kernel resets those too, at its own pace)
            for k, s in enumerate(crowd.socks):
                if k % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            crowd.close()
        assert srv.proc.poll() is None, "mica died"
        if batch in (4, 9):
            back = wait_for(lambda: proc_fd_count(srv.pid) <= base, timeout=2)
            assert back, f"after {(batch + 1) * 100} clients: {proc_fd_count(srv.pid)} " \
                         f"descriptors, baseline {base}"
            rss[(batch + 1) * 100] = proc_rss_bytes(srv.pid)
    took = time.monotonic() - t0
    growth = rss[1000] - rss[500]
    print(f"\n[dropped downloads] 1000 clients in {took:.2f} s; descriptors back to the "
          f"baseline of {base}; VmRSS after 500: {rss[500] / 1024:.0f} KiB, after 1000: "
          f"{rss[1000] / 1024:.0f} KiB (growth {growth / 1024:.0f} KiB)")
    assert growth < 2 * 1024 * 1024, f"VmRSS grew {growth} bytes from 500 to 1000 clients"
    status, _, body = request(srv, "/big.bin", timeout=10)
    assert status == 200 and body == data
    assert request(srv, "/HelloWorld.html")[2] == HELLO


# --- the file cache follows the files ---------------------------------------------------

def try_request(srv, path):
    """request(), or ("torn", message) when the response is cut short."""
    try:
        return request(srv, path)
    except AssertionError as e:
        return "torn", {}, str(e).encode()


def poll_until(srv, path, pred, limit=1.2, extra=0.4):
    """Requests path every 50 ms from now. Returns the seconds it took until
    pred((status, headers, body)) first held (or None after limit + extra seconds), and every
    response seen more than 1.1 s from now (at least two of them), each with its time."""
    t0 = time.monotonic()
    first = None
    late = []
    while True:
        r = try_request(srv, path)
        now = time.monotonic() - t0
        if first is None and pred(r):
            first = now
        if now > 1.1:
            late.append((now, r))
        if now > limit + extra or (first is not None and now > 1.1 and len(late) >= 2):
            return first, late
        time.sleep(0.05)


@pytest.mark.parametrize("size", [1024, 2 * 1024 * 1024], ids=["1KiB", "2MiB"])
@pytest.mark.parametrize("new_size", ["same size", "smaller", "larger"])
def test_overwritten_file_is_served_fresh(make_server, size, new_size):
    old = os.urandom(size)
    srv = make_server(files={"f.bin": old})
    for _ in range(3):  # in the cache, and checked recently
        assert request(srv, "/f.bin")[2] == old
    n = {"same size": size, "smaller": size // 2 + 7, "larger": size + size // 2}[new_size]
    new = os.urandom(n)
    (srv.root / "f.bin").write_bytes(new)
    first, late = poll_until(srv, "/f.bin", lambda r: r[2] == new)
    print(f"\n[cache] {size} bytes overwritten ({new_size}): new bytes after "
          f"{first if first is None else round(first, 2)} s")
    assert first is not None and first <= 1.2, f"new content not served within 1.2 s ({first})"
    for when, (status, headers, body) in late:
        assert status == 200 and body == new, f"stale or torn response {when:.2f} s after the write"
        assert int(headers["content-length"]) == len(new)


@pytest.mark.parametrize("size", [1024, 2 * 1024 * 1024], ids=["1KiB", "2MiB"])
@pytest.mark.parametrize("new_size", ["same size", "smaller", "larger"])
def test_changed_file_is_never_served_inconsistently(make_server, size, new_size):
    """Right after a change, within the cache's one-second trust in what it knows, a response
    may be stale, but it must be whole and true to its own headers: the old bytes with the
    old validators and length, or the new bytes with new ones — never the new bytes under
    the old ETag, cut at the old length, or cut short of it."""
    old = os.urandom(size)
    srv = make_server(files={"f.bin": old})
    status, headers, body = request(srv, "/f.bin")
    assert status == 200 and body == old
    old_etag = headers["etag"]
    n = {"same size": size, "smaller": size // 2 + 7, "larger": size + size // 2}[new_size]
    new = os.urandom(n)
    (srv.root / "f.bin").write_bytes(new)
    status, headers, body = try_request(srv, "/f.bin")
    assert status != "torn", f"response cut short right after the change: {body.decode()}"
    assert status == 200
    assert int(headers["content-length"]) == len(body)
    if body == old:
        assert headers["etag"] == old_etag
    else:
        assert body == new, (f"{len(body)} bytes that are neither the old file nor the new one "
                             f"(new[:{len(body)}] == body: {new[:len(body)] == body})")
        assert headers["etag"] != old_etag, "the new bytes under the old ETag"


def test_deleted_file_is_404(make_server):
    srv = make_server(files={"gone.txt": "here"})
    for _ in range(3):
        assert request(srv, "/gone.txt")[2] == b"here"
    os.unlink(srv.root / "gone.txt")
    first, late = poll_until(srv, "/gone.txt", lambda r: r[0] == 404)
    print(f"\n[cache] deleted file: 404 after {first if first is None else round(first, 2)} s")
    assert first is not None and first <= 1.2, first
    assert all(r[0] == 404 for _, r in late)


def test_file_replaced_by_a_folder_is_301(make_server):
    srv = make_server(files={"thing": "a file"})
    for _ in range(3):
        assert request(srv, "/thing")[2] == b"a file"
    os.unlink(srv.root / "thing")
    (srv.root / "thing").mkdir()
    (srv.root / "thing" / "index.html").write_text("a folder")
    first, late = poll_until(srv, "/thing", lambda r: r[0] == 301)
    print(f"\n[cache] file replaced by a folder: 301 after "
          f"{first if first is None else round(first, 2)} s")
    assert first is not None and first <= 1.2, first
    for _, (status, headers, _) in late:
        assert status == 301 and headers["location"].endswith("/thing/")
    assert request(srv, "/thing/")[2] == b"a folder"


def test_folder_replaced_by_a_file(make_server):
    srv = make_server(files={"thing/index.html": "a folder"})
    for _ in range(3):
        assert request(srv, "/thing/")[2] == b"a folder"
        assert request(srv, "/thing")[0] == 301
    shutil.rmtree(srv.root / "thing")
    (srv.root / "thing").write_text("a file")
    first, late = poll_until(srv, "/thing", lambda r: r[0] == 200 and r[2] == b"a file")
    assert first is not None and first <= 1.2, first
    assert all(r[0] == 200 and r[2] == b"a file" for _, r in late)
    assert request(srv, "/thing/")[0] == 404


def test_created_file_is_served(make_server):
    srv = make_server()
    for _ in range(3):
        assert request(srv, "/new.txt")[0] == 404
    (srv.root / "new.txt").write_text("new")
    first, late = poll_until(srv, "/new.txt", lambda r: r[0] == 200 and r[2] == b"new")
    assert first is not None and first <= 1.2, first
    assert all(r[0] == 200 and r[2] == b"new" for _, r in late)
