# SPDX-License-Identifier: MIT
"""The access and error logs (SPEC §5, issue 7): no line lost on a clean stop, every line
well-formed, client text escaped, lines on disk within a second, the logrotate dance with
SIGUSR1, "-" and "off", log_level, and a log that cannot be written (lines counted as lost,
serving goes on)."""
import datetime
import json
import os
import resource
import signal
import socket
import struct
import threading
import time

from conftest import assert_clean_exit, basic_auth, request, wait_for, wait_log
from micaproc import ERROR_RE, parse_access, parse_metrics, read_lines

BODY = b"0123456789" * 10  # 100 bytes


def access_server(make_server, tmp_path, name="access.log", args=(), **kw):
    """A server whose access log is tmp_path/name (--access-log comes after the fixture's
    own "--access-log off", and the last one wins)."""
    path = tmp_path / name
    srv = make_server(files={"x.txt": BODY}, args=["--access-log", str(path)] + list(args), **kw)
    return srv, path


def keepalive_load(srv, n_threads, per_thread, tag):
    """n_threads keep-alive connections, per_thread requests each, for /x.txt?tag-T-I.
    Returns the number of 200 responses with the right body."""
    ok = [0] * n_threads
    errors = []

    def run(t):
        try:
            with srv.conn(timeout=10) as c:
                for i in range(per_thread):
                    c.get(f"/x.txt?{tag}-{t}-{i}", ["User-Agent: load/1.0"])
                    r = c.read_response()
                    assert r is not None, f"closed after {i} requests"
                    if r[0] == 200 and r[2] == BODY:
                        ok[t] += 1
        except Exception as e:  # reported by the main thread
            errors.append(f"thread {t}: {e!r}")

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    return sum(ok)


def test_ten_thousand_requests_then_sigterm_loses_no_line(make_server, tmp_path):
    srv, path = access_server(make_server, tmp_path)
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    assert keepalive_load(srv, 4, 2500, "n") == 10000
    # SIGTERM at once: most lines are still in the workers' buffers
    code, err = srv.stop()
    assert_clean_exit(code, err)
    t1 = datetime.datetime.now(datetime.timezone.utc)
    lines = read_lines(path)
    seen = set()
    for line in lines:
        d = parse_access(line)
        if "?n-" not in d["request"]:
            continue
        method, target, version = d["request"].split(" ")
        assert (method, version) == ("GET", "HTTP/1.1"), line
        assert target not in seen, f"logged twice: {line}"
        seen.add(target)
        assert d["ip"] == "127.0.0.1" and d["user"] == "-", line
        assert (d["status"], d["bytes"]) == (200, len(BODY)), line
        assert (d["referer"], d["agent"]) == ("-", "load/1.0"), line
        assert t0 <= d["when"] <= t1, line
        assert d["usec"] < 10_000_000, line
    assert len(seen) == 10000, f"{len(seen)} of 10000 requests logged ({len(lines)} lines)"
    assert len(lines) == 10000, f"{len(lines) - 10000} unexpected lines"
    # error.log: every line "ISO-8601 time [level] message"
    errors = srv.log_text().splitlines()
    assert any("started" in l for l in errors) and any("stopped" in l for l in errors), errors
    for line in errors:
        assert ERROR_RE.match(line), f"malformed error.log line: {line!r}"


def test_client_text_is_escaped(make_server, tmp_path):
    srv, path = access_server(make_server, tmp_path)
    # A tab, quotes, a backslash and bytes above 0x7e are legal in a header value; each is
    # written as \xHH so that no client can break a field or forge a line.
    agent = b'evil\t"agent" \\ \xff\xc3\xa9 "- - [01/Jan/2000:00:00:00 +0000] x'
    referer = b'http://r/"q"'
    with srv.conn() as c:
        c.send(b'GET /x.txt?a="b" HTTP/1.1\r\nHost: t\r\nUser-Agent: ' + agent +
               b"\r\nReferer: " + referer + b"\r\n\r\n")
        assert c.read_response()[0] == 200
    # \x01 in a header value is refused (400); its line names no client text at all
    with srv.conn() as c:
        c.send(b'GET /x.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: a\x01"b\r\n\r\n')
        r = c.read_response()
        assert r[0] == 400, r
    # a request line with a control character
    with srv.conn() as c:
        c.send(b'GET /x\x01".txt HTTP/1.1\r\nHost: t\r\n\r\n')
        r = c.read_response()
        assert r[0] == 400, r
    code, err = srv.stop()
    assert_clean_exit(code, err)
    lines = read_lines(path)  # decoding as ASCII checks no raw byte got through
    assert len(lines) == 3, lines
    parsed = [parse_access(l) for l in lines]
    ok = [d for d in parsed if d["status"] == 200]
    assert len(ok) == 1, lines
    d = ok[0]
    assert d["request"] == r"GET /x.txt?a=\x22b\x22 HTTP/1.1", d
    assert d["agent"] == (r"evil\x09\x22agent\x22 \x5c \xff\xc3\xa9 \x22- - "
                          r"[01/Jan/2000:00:00:00 +0000] x"), d
    assert d["referer"] == r"http://r/\x22q\x22", d
    for d in parsed:
        if d["status"] == 400:
            assert "\x01" not in lines[parsed.index(d)]
            assert d["agent"] in ("-", r"a\x01\x22b"), d
    # the parser refused the last one, but its request line came whole: it is logged (the
    # threads' lines may come in any order)
    assert r"GET /x\x01\x22.txt HTTP/1.1" in [d["request"] for d in parsed], parsed


def test_rejected_requests_are_logged_with_what_was_asked(make_server, tmp_path):
    """SPEC §5: error.log has rejected requests with the reason (also those refused for
    their path, after parsing), and access.log the request line the parser refused."""
    srv, path = access_server(make_server, tmp_path)
    for raw, status in [(b"FOO / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
                        (b"GET /a/../../x HTTP/1.1\r\nHost: t\r\n\r\n", 400),
                        (b"GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", 400)]:
        with srv.conn() as c:
            c.send(raw)
            r = c.read_response()
            assert r is not None and r[0] == status, (raw, r and r[0])
        time.sleep(1.05)  # rejection lines are limited to one a second per thread
    text = wait_log(srv, lambda t: t.count("127.0.0.1: 400 bad path") >= 2)
    assert "127.0.0.1: 501" in text, text
    assert text.count("127.0.0.1: 400 bad path") == 2, text
    code, err = srv.stop()
    assert_clean_exit(code, err)
    requests_logged = sorted(parse_access(l)["request"] for l in read_lines(path))
    assert requests_logged == ["FOO / HTTP/1.1", "GET /a%00b HTTP/1.1",
                               "GET /a/../../x HTTP/1.1"], requests_logged


def test_lines_reach_disk_within_a_second(make_server, tmp_path):
    srv, path = access_server(make_server, tmp_path)
    delays = []
    for i in range(3):
        start = time.monotonic()
        assert request(srv, f"/x.txt?disk-{i}")[0] == 200
        on_disk = wait_for(lambda: any(f"disk-{i} " in l for l in read_lines(path)),
                           timeout=3, interval=0.02)
        assert on_disk, f"request {i} not in access.log after 3 s"
        delays.append(time.monotonic() - start)
        time.sleep(0.3 * i)  # different phases of the logger's one-second tick
    assert max(delays) < 1.5, f"lines took {delays} s to reach the disk"
    # error.log lines too (a 400 is logged at info with the reason)
    with srv.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert c.read_response()[0] == 400
    start = time.monotonic()
    text = wait_log(srv, lambda t: "[info] 127.0.0.1: 400" in t, timeout=3)
    assert "[info] 127.0.0.1: 400" in text, text
    assert time.monotonic() - start < 1.5


def test_large_bodies_log_the_bytes_sent_and_the_time_taken(make_admin_server, tmp_path):
    """BYTES counts the body bytes sent (as CLF does) and USEC the time until the last one
    left: a download read slowly logs its whole duration, one the client drops half-way
    logs what it got, and /api/stats' bytes_sent agrees."""
    path = tmp_path / "access.log"
    big = os.urandom(16 << 20)
    srv = make_admin_server(files={"big.bin": big}, args=["--access-log", str(path)])
    # 1. Read slowly, 64 KiB every 5 ms. The kernel's socket buffers can hold a few MiB of
    # the end (mica is done when the last byte is handed to the kernel, as nginx's
    # $request_time), so the line must show at least the time until all but 6 MiB came.
    with srv.conn(timeout=10) as c:
        c.get("/big.bin?slow")
        start, got, mark = time.monotonic(), 0, None
        while got < len(big) + 100 and time.monotonic() - start < 20:
            data = c.sock.recv(64 << 10)
            if not data:
                break
            got += len(data)
            if mark is None and got >= len(big) - (6 << 20):
                mark = time.monotonic() - start
            time.sleep(0.005)
    assert mark is not None and got > len(big)
    def bytes_sent():
        stats = request(srv, "/api/stats", headers=["Authorization: " + basic_auth()])
        return json.loads(stats[2])["bytes_sent"]

    # 2. Drop it after 1 MiB.
    with srv.conn(timeout=10) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        c.get("/big.bin?dropped")
        got2 = 0
        while got2 < (1 << 20):
            data = c.sock.recv(64 << 10)
            assert data
            got2 += len(data)
        mid = bytes_sent()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    def lines():
        return {d["request"].split()[1]: d for d in map(parse_access, read_lines(path))}
    assert wait_for(lambda: "/big.bin?dropped" in lines(), timeout=5), read_lines(path)
    slow, dropped = lines()["/big.bin?slow"], lines()["/big.bin?dropped"]
    assert slow["status"] == 200 and slow["bytes"] == len(big)
    assert slow["usec"] >= (mark - 0.05) * 1e6, (slow["usec"], mark)
    assert dropped["status"] == 200
    assert 1 << 20 <= dropped["bytes"] < len(big) - (1 << 20), dropped["bytes"]
    sent = bytes_sent()
    assert len(big) + dropped["bytes"] <= sent < 2 * len(big), sent
    assert sent >= mid, (mid, sent)  # a counter: it never goes back


def test_logrotate_rename_then_sigusr1(make_server, tmp_path):
    srv, path = access_server(make_server, tmp_path)
    rotated = tmp_path / "access.log.1"
    # a client keeps requesting through the whole dance
    stop = threading.Event()
    done = []
    errors = []

    def load():
        try:
            with srv.conn(timeout=10) as c:
                i = 0
                while not stop.is_set():
                    c.get(f"/x.txt?bg-{i}")
                    r = c.read_response()
                    assert r is not None and r[0] == 200, r
                    done.append(i)
                    i += 1
                    time.sleep(0.001)
        except Exception as e:
            errors.append(repr(e))

    bg = threading.Thread(target=load)
    bg.start()
    try:
        for i in range(200):
            assert request(srv, f"/x.txt?before-{i}")[0] == 200
        os.rename(path, rotated)
        # until SIGUSR1, lines still go to the renamed file (same inode)
        for i in range(50):
            assert request(srv, f"/x.txt?renamed-{i}")[0] == 200
        os.kill(srv.pid, signal.SIGUSR1)
        assert wait_for(path.exists, timeout=3), "no new access.log after SIGUSR1"
        time.sleep(0.2)  # the reopen happens in the logger; let it settle
        for i in range(200):
            assert request(srv, f"/x.txt?after-{i}")[0] == 200
    finally:
        stop.set()
        bg.join(20)
    assert not errors, errors
    assert "SIGUSR1: reopening the logs" in wait_log(srv, lambda t: "SIGUSR1" in t)
    code, err = srv.stop()
    assert_clean_exit(code, err)
    old, new = read_lines(rotated), read_lines(path)
    for line in old + new:
        parse_access(line)  # every line complete and well-formed
    old_text, new_text = "\n".join(old) + "\n", "\n".join(new) + "\n"
    for i in range(200):
        assert f"?before-{i} " in old_text, f"before-{i} missing from the rotated file"
        assert f"?after-{i} " in new_text, f"after-{i} missing from the new file"
    for i in range(50):
        assert f"?renamed-{i} " in old_text, f"renamed-{i} missing from the rotated file"
    assert "?after-" not in old_text
    assert "?before-" not in new_text and "?renamed-" not in new_text
    # the background client's lines: each exactly once, in one file or the other
    bg_lines = [l for l in old + new if "?bg-" in l]
    assert len(done) > 10
    assert len(bg_lines) == len(done), (len(bg_lines), len(done))
    assert len(old) + len(new) == 450 + len(done)


def test_access_log_to_stdout(make_server):
    srv = make_server(files={"x.txt": BODY}, args=["--access-log", "-"])
    for i in range(5):
        assert request(srv, f"/x.txt?stdout-{i}")[0] == 200
    # the fixture read the banner; the rest of stdout is read after the stop
    os.kill(srv.pid, signal.SIGTERM)
    out, err = srv.proc.communicate(timeout=15)
    code = srv.proc.returncode
    srv.proc = None
    assert_clean_exit(code, err.decode(errors="replace"))
    lines = out.decode("ascii").splitlines()
    assert len(lines) == 5, lines
    for i, line in enumerate(sorted(lines, key=lambda l: int(l.split("stdout-")[1].split()[0]))):
        d = parse_access(line)
        assert d["request"] == f"GET /x.txt?stdout-{i} HTTP/1.1" and d["status"] == 200, line


def test_error_log_to_stderr(make_server):
    srv = make_server(args=["--error-log", "-"])
    assert request(srv, "/")[0] == 200
    code, err = srv.stop()
    assert_clean_exit(code, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert any("started" in l for l in lines) and any("stopped" in l for l in lines), err
    for line in lines:
        assert ERROR_RE.match(line), line
    assert not srv.error_log.exists()


def test_logs_off_write_nothing(make_server, tmp_path):
    srv = make_server(args=["--error-log", "off"])  # the access log is off in the fixture
    assert request(srv, "/")[0] == 200
    assert request(srv, "/nope")[0] == 404
    with srv.conn() as c:
        c.send(b"BAD\r\n\r\n")
        assert c.read_response()[0] == 400
    os.kill(srv.pid, signal.SIGTERM)
    out, err = srv.proc.communicate(timeout=15)
    code = srv.proc.returncode
    srv.proc = None
    assert_clean_exit(code, err.decode(errors="replace"))
    assert out == b"" and err == b"", (out, err)
    logs = [p for p in srv.workdir.rglob("*") if "log" in p.name and "www" not in p.parts]
    assert not logs, logs


def test_log_level_filters(make_server, tmp_path):
    # warn: info lines (start, a rejected request) are left out; warn lines stay. A changed
    # restart-only key on SIGHUP is a warning that does not depend on who runs the test.
    cfg_path = tmp_path / "lvl.json"
    srv = make_server(args=["--log-level", "warn", "--config", str(cfg_path)], start=False)
    cfg_path.write_text('{"max_header_bytes": 16384}')
    srv.start()
    with srv.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert c.read_response()[0] == 400
    cfg_path.write_text('{"max_header_bytes": 8192}')
    os.kill(srv.pid, signal.SIGHUP)
    text = wait_log(srv, lambda t: "needs a restart" in t)
    assert '[warn] SIGHUP: "max_header_bytes" changed' in text, text
    time.sleep(1.2)  # anything else would have been flushed by now
    code, err = srv.stop()
    assert_clean_exit(code, err)
    text = srv.log_text()
    for line in text.splitlines():
        assert ERROR_RE.match(line), line
        assert "[info]" not in line and "[debug]" not in line, text
    # info (the default): the same events are there
    srv2 = make_server()
    with srv2.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert c.read_response()[0] == 400
    text = wait_log(srv2, lambda t: "400" in t)
    assert "[info] mica" in text and "started" in text, text
    assert "[info] 127.0.0.1: 400" in text, text
    # error: not even warnings
    srv3 = make_server(args=["--log-level", "error", "--error-log", str(tmp_path / "e3.log")])
    os.kill(srv3.pid, signal.SIGUSR1)  # an info line
    time.sleep(1.2)
    code, err = srv3.stop()
    assert_clean_exit(code, err)
    e3 = tmp_path / "e3.log"
    assert not e3.exists() or e3.read_text() == "", e3.read_text()


def _fsize_limit(limit):
    def pre():
        # SIGXFSZ would kill the process at the limit; ignored, write() fails with EFBIG
        # instead (an ignored disposition survives exec).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_unwritable_access_log_counts_lost_lines_and_serving_goes_on(make_admin_server,
                                                                     tmp_path):
    # RLIMIT_FSIZE stands in for a full disk: past 32 KiB, every write to access.log fails
    # (EFBIG). error.log stays well below it.
    limit = 32 * 1024
    path = tmp_path / "full.log"
    srv = make_admin_server(config={"metrics": True},
                            args=["--access-log", str(path)], files={"x.txt": BODY},
                            preexec_fn=_fsize_limit(limit))
    auth = "Authorization: " + basic_auth()
    served = 0
    with srv.conn(timeout=10) as c:
        for i in range(1500):  # ~150 bytes a line: far more than 32 KiB
            c.get(f"/x.txt?full-{i}")
            r = c.read_response()
            assert r is not None and r[0] == 200 and r[2] == BODY, r
            served += 1
    assert served == 1500

    def lost_in_stats():
        lost_in_stats.calls += 1
        with srv.conn() as c:
            c.get("/api/stats", [auth])
            st, _, body, _ = c.read_response()
            assert st == 200, body
            return json.loads(body).get("log_lines_lost", 0)

    lost_in_stats.calls = 0

    lost = wait_for(lambda: lost_in_stats() > 0, timeout=5)
    assert lost, "log_lines_lost stays 0 while access.log cannot grow"
    # still serving, and the loss is reported in error.log (the first report comes at once)
    assert request(srv, "/x.txt")[0] == 200
    text = wait_log(srv, lambda t: "lines lost" in t, timeout=3)
    assert "[error] logs:" in text and "lines lost" in text, text
    # every line so far has been written or counted by now (the logger runs every second);
    # the /metrics request itself is the next line, lost but not yet counted
    time.sleep(1.3)
    requests_before = 1500 + lost_in_stats.calls + 1
    with srv.conn() as c:
        c.get("/metrics", [auth])
        st, headers, body, _ = c.read_response()
        assert st == 200
    samples, _ = parse_metrics(body.decode())
    n = int(samples[("mica_log_lines_lost_total", ())])
    assert n > 500, n
    assert path.stat().st_size <= limit
    code, err = srv.stop()
    assert_clean_exit(code, err)
    # what reached the file is whole lines, then at most one cut line (counted as lost)
    data = path.read_bytes()
    whole = data[:data.rfind(b"\n") + 1].decode("ascii").splitlines()
    for line in whole:
        parse_access(line)
    assert len(whole) + n == requests_before, (len(whole), n, requests_before)
