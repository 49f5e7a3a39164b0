# SPDX-License-Identifier: MIT
"""SIGHUP reloads (issue 7): live settings apply to the next requests without dropping an
open connection; an invalid file changes nothing and error.log says why; restart-only keys
are reported and kept. And the zero-downtime restart: a second mica on the same port
(SO_REUSEPORT), then SIGTERM to the first, with a client that never stops requesting."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import MICA_BIN, Conn, basic_auth, hash_password, wait_for
from micaproc import free_port, micas, parse_access, read_lines  # noqa: F401 (fixture)

HERE = pathlib.Path(__file__).resolve().parent
BIG_HTML = ("<!doctype html><title>t</title><p>" + "words that compress well " * 200).encode()


def make_roots(m):
    """www1 (the first root) and www2 (the one a reload switches to) beside m's folder."""
    one, two = m.workdir / "www1", m.workdir / "www2"
    for d, tag in ((one, "one"), (two, "two")):
        d.mkdir()
        (d / "a.txt").write_text(tag)
        (d / "page.html").write_text(f"<p>{tag}</p>")
        (d / "big.html").write_bytes(BIG_HTML)
        (d / "404.html").write_text(f"standard 404 of {tag}")
    (two / "custom404.html").write_text("custom not found")
    return one, two


def get(c, path, headers=()):
    c.get(path, headers)
    r = c.read_response()
    assert r is not None, f"connection closed instead of answering {path}"
    return r


def test_reload_applies_live_without_dropping_a_connection(micas):
    m = micas(start=False)
    one, two = make_roots(m)
    m.config.update(root=str(one), keepalive_timeout_s=30, log_level="info")
    m.start()
    c = Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5))
    try:
        st, h, body, _ = get(c, "/page.html")
        assert (st, body) == (200, b"<p>one</p>") and "x-reloaded" not in h
        st, h, body, _ = get(c, "/missing")
        assert (st, body) == (404, b"standard 404 of one")
        st, h, body, _ = get(c, "/big.html", ["Accept-Encoding: gzip"])
        assert h.get("content-encoding") == "gzip"
        assert get(c, "/api/stats")[0] == 404  # no admin yet

        new = dict(m.config, root=str(two), not_found_page="custom404.html",
                   headers={"*.html": {"X-Reloaded": "yes"}}, keepalive_timeout_s=1,
                   compression=False, access_log="access2.log",
                   admin={"user": "admin", "password_hash": hash_password("pw")})
        m.reload(new)

        # the same connection, the next requests: every new setting. (Files asked for
        # before the reload may come from the old root for a second: the cache bug shown by
        # test_reload_to_another_root_serves_no_file_from_the_old_root.)
        st, h, body, _ = get(c, "/a.txt")  # never asked for before: not in the cache
        assert (st, body) == (200, b"two"), body
        assert get(c, "/page.html")[1].get("x-reloaded") == "yes"
        st, h, body, _ = get(c, "/missing")
        assert (st, body) == (404, b"custom not found")
        st, h, body, _ = get(c, "/big.html", ["Accept-Encoding: gzip"])
        assert st == 200 and "content-encoding" not in h and body == BIG_HTML
        assert get(c, "/api/stats")[0] == 401
        st, _, body, _ = get(c, "/api/stats", ["Authorization: " + basic_auth("admin", "pw")])
        assert st == 200 and "requests_total" in json.loads(body)
    finally:
        c.close()

    # the new keep-alive timeout (1 s instead of 30) on a new connection
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c2:
        assert get(c2, "/a.txt")[0] == 200
        took = c2.wait_closed(timeout=5)
        assert took is not None and took < 3, f"idle connection still open after {took} s"

    # the access log moved to access2.log
    assert wait_for(lambda: any("/big.html" in l for l in read_lines(m.workdir / "access2.log")),
                    timeout=3)
    old_lines = read_lines(m.workdir / "access.log")
    assert sum("/page.html" in l for l in old_lines) == 1, old_lines
    assert not any("/a.txt" in l for l in old_lines), old_lines
    for line in old_lines + read_lines(m.workdir / "access2.log"):
        parse_access(line)

    # log_level: info → warn; a rejected request (info) is no longer logged
    m.write_config(dict(m.config, log_level="warn"))
    before = m.error_text()
    m.signal(signal.SIGHUP)
    time.sleep(0.5)
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c3:
        c3.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert c3.read_response()[0] == 400
    time.sleep(1.3)
    added = m.error_text()[len(before):]
    assert "[info]" not in added, added


def test_reload_to_another_root_serves_no_file_from_the_old_root(micas):
    """A reload that moves root (a deploy switching release folders) must not go on
    serving the old root's files: the file cache, shared across the reload, trusts an
    entry for a second without looking at the file, and its entries are keyed by the path
    alone, not by the root they came from."""
    m = micas(start=False)
    one, two = make_roots(m)
    (two / "marker.txt").write_text("new root")
    m.config.update(root=str(one))
    m.start()
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        assert get(c, "/a.txt")[2] == b"one"
        assert get(c, "/a.txt")[2] == b"one"  # now from the cache
        # reload, and wait for it by asking for a file only the new root has (the log line
        # could take a second to show up, and so would the bug)
        m.write_config(dict(m.config, root=str(two)))
        m.signal(signal.SIGHUP)
        assert wait_for(lambda: get(c, "/marker.txt")[0] == 200, timeout=3, interval=0.005)
        st, h, body, _ = get(c, "/a.txt")
        assert (st, body) == (200, b"two"), (
            f"after the reload to {two.name}, /a.txt is still the old root's: {body!r}")


def test_reload_turning_the_cache_off_keeps_compression(micas):
    """cache.enabled is live; with the cache off, compression (and Vary, which SPEC §3 wants
    on every response of a compressible type) must go on."""
    m = micas(start=False)
    (m.workdir / "www" / "big.html").write_bytes(BIG_HTML)
    m.start()
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        st, h, body, _ = get(c, "/big.html", ["Accept-Encoding: gzip"])
        assert (st, h.get("content-encoding"), h.get("vary")) == (200, "gzip", "Accept-Encoding")
        m.reload(dict(m.config, cache={"enabled": False}))
        st, h, body, _ = get(c, "/big.html", ["Accept-Encoding: gzip"])
        assert st == 200
        assert h.get("vary") == "Accept-Encoding", f"no Vary with the cache off: {h}"
        assert h.get("content-encoding") == "gzip", f"not compressed with the cache off: {h}"


def test_invalid_config_keeps_the_running_one(micas):
    m = micas(start=False)
    one, two = make_roots(m)
    m.config.update(root=str(one), headers={"*.html": {"X-Rule": "first"}})
    m.start()
    good = dict(m.config)
    bad = [
        ('{"port": 0, "root": ', "invalid JSON"),
        (json.dumps(dict(good, colour="blue")), 'unknown key "colour"'),
        (json.dumps(dict(good, root=str(m.workdir / "nowhere"))), "nowhere"),
        (json.dumps(dict(good, root=str(two), log_level="loud")), "log_level"),
    ]
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        for text, why in bad:
            log = m.reload(text=text, expect="the running configuration stays")
            last = [l for l in log.splitlines() if "the running configuration stays" in l][-1]
            assert "[error] SIGHUP:" in last and why in last, (why, last)
            # the open connection and new ones: the old settings, unchanged
            st, h, body, _ = get(c, "/page.html")
            assert (st, body, h.get("x-rule")) == (200, b"<p>one</p>", "first"), (why, body, h)
            with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c2:
                assert get(c2, "/page.html")[2] == b"<p>one</p>"
    assert "SIGHUP: configuration reloaded" not in m.error_text()
    # and a valid file after all that is taken
    m.reload(dict(good, root=str(two)))
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        assert get(c, "/a.txt")[2] == b"two"  # never asked for before: not in the cache


def test_restart_only_keys_are_reported_and_kept(micas):
    m = micas(start=False)
    one, two = make_roots(m)
    m.config.update(root=str(one))
    m.start()
    other = free_port()
    new = dict(m.config, port=other, threads=3, max_header_bytes=8192,
               data_dir=str(m.workdir / "data2"), root=str(two))
    log = m.reload(new)
    for key in ("port", "threads", "max_header_bytes", "data_dir"):
        assert f'[warn] SIGHUP: "{key}" changed: it needs a restart' in log, (key, log)
    # the old port serves, with the live part of the reload (root) applied
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        assert get(c, "/page.html")[2] == b"<p>two</p>"
    try:
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
        raise AssertionError(f"something answers on the new port {other}")
    except ConnectionRefusedError:
        pass
    # and a header block of 12 KiB still fits the running 16 KiB limit
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        assert get(c, "/a.txt", ["X-Pad: " + "p" * 12000])[0] == 200
    assert not (m.workdir / "data2").exists()


MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


def in_private_netns():
    """A command prefix that runs a program in a network namespace of its own, loopback up
    and net.ipv4.tcp_migrate_req=1; None when that cannot be had (not root, no unshare)."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")) \
            or not os.path.exists(MIGRATE_REQ):
        return None
    prefix = ["unshare", "--net", "sh", "-c",
              f'ip link set lo up && echo 1 > {MIGRATE_REQ} && exec "$0" "$@"']
    r = subprocess.run(prefix + ["cat", MIGRATE_REQ], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    return prefix if r.returncode == 0 and r.stdout.strip() == b"1" else None


def test_zero_downtime_restarts_on_the_same_port(tmp_path):
    """Rolling restarts: 6 rounds of starting a new mica on the port the first one chose
    (both bound thanks to SO_REUSEPORT) and then SIGTERMing the old one, while 4 clients
    keep making requests on fresh connections. Not one request may fail, but for the one
    that Linux itself may reset (below).

    When a SO_REUSEPORT listener closes, Linux resets the connections still queued on it
    unless net.ipv4.tcp_migrate_req=1 (Linux 5.14+) hands them to another listener of the
    group: an operator's setting (mica(1) says so). The handover runs in a network
    namespace of its own where it is set (see handover.py), leaving the host's alone.

    Even then the kernel has a race: a connection whose socket it is creating on one CPU
    just as the old listener closes on the other is reset (inet_csk_reqsk_queue_add finds
    the listener no longer listening). Measured with and without TCP_DEFER_ACCEPT: about
    one run in 50 loses one such connection. So a run may lose one request, and only one
    that was reset or closed within 150 ms of a SIGTERM; anything else fails the test."""
    prefix = in_private_netns()
    if prefix is None:
        if not os.path.exists(MIGRATE_REQ) or open(MIGRATE_REQ).read().strip() != "1":
            pytest.skip("needs net.ipv4.tcp_migrate_req=1 or root to set it in a namespace")
        prefix = []
    env = dict(os.environ, MICA_BIN=os.path.abspath(MICA_BIN))
    r = subprocess.run(prefix + [sys.executable, str(HERE / "handover.py"), str(tmp_path), "6",
                                 "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=90)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    res = json.loads(r.stdout)
    for name, e in res["exits"].items():
        assert e["code"] == 0 and not e["sanitizer"], (name, e)
    served, failures = res["served"], res["failures"]
    assert all(n > 0 for n in served.values()), served
    def at_a_close(f):
        return f["reset"] and any(0 <= f["at"] - t <= 0.15 for t in res["signalled"])
    assert len(failures) <= 1 and all(at_a_close(f) for f in failures), (
        f"{len(failures)} requests failed during 6 handovers (SIGTERMs at "
        f"{[round(t, 3) for t in res['signalled']]}; {res['stops']}; served {served}): "
        f"{failures[:5]}")
    assert res["alone"] == [res["last"]], res["alone"]  # the last one serves alone
