# SPDX-License-Identifier: MIT
"""Many clients at once: keep-alive connections, short connections, idle connections that
must not hold a worker; every response byte-checked."""
import os
import re
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import REPO, request, run_threads

SIZES = {"tiny.txt": 13, "small.html": 900, "mid.css": 9000, "big.bin": 40000, "large.bin": 300000}


def make_files():
    return {name: os.urandom(n) for name, n in SIZES.items()}


def test_100_clients_50_keepalive_requests(make_server):
    files = make_files()
    srv = make_server(files=files)
    names = sorted(files)

    def client(i):
        with srv.conn(timeout=20) as c:
            for j in range(50):
                name = names[(i + j) % len(names)]
                c.get("/" + name)
                r = c.read_response()
                assert r is not None, f"closed at request {j}"
                status, headers, body, _ = r
                assert status == 200, (j, status)
                assert body == files[name], f"request {j} /{name}: wrong bytes"
                assert headers.get("connection", "").lower() != "close"

    errors = run_threads(100, client)
    assert not errors, errors[:5]
    # the server counted them all, and is fine
    status, _, body = request(srv, "/status")
    assert status == 200


def test_requests_sessions(make_server):
    files = make_files()
    srv = make_server(files=files)
    names = sorted(files)

    def client(i):
        with requests.Session() as s:
            for j in range(10):
                name = names[(i * 3 + j) % len(names)]
                r = s.get(srv.url("/" + name), timeout=20)
                assert r.status_code == 200 and r.content == files[name], (j, name)

    errors = run_threads(30, client)
    assert not errors, errors[:5]


def test_pipelined_clients(make_server):
    files = make_files()
    srv = make_server(files=files)
    names = ["tiny.txt", "small.html", "mid.css"]  # under 64 KiB per batch: see test_http

    def client(i):
        with srv.conn(timeout=20) as c:
            for _ in range(5):
                order = [names[(i + k) % len(names)] for k in range(6)]
                c.send(b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % n.encode() for n in order))
                for n in order:
                    r = c.read_response()
                    assert r is not None and r[0] == 200 and r[2] == files[n]

    errors = run_threads(40, client)
    assert not errors, errors[:5]


def test_hundreds_of_short_connections(make_server):
    files = make_files()
    srv = make_server(files=files)
    names = sorted(files)

    def one(i):
        name = names[i % len(names)]
        with srv.conn(timeout=20) as c:
            c.get("/" + name, ["Connection: close"])
            r = c.read_response()
            assert r is not None and r[0] == 200 and r[2] == files[name], (i, name)
            assert c.wait_closed(5) is not None, f"{i}: not closed"
        return True

    with ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(one, range(400), timeout=60))
    assert results == [True] * 400


def test_short_http10_connections(make_server):
    srv = make_server()
    hello = (REPO / "www" / "HelloWorld.html").read_bytes()

    def one(i):
        with srv.conn(timeout=20) as c:
            c.send(b"GET /HelloWorld.html HTTP/1.0\r\n\r\n")
            r = c.read_response()
            assert r[0] == 200 and r[2] == hello
            assert c.wait_closed(5) is not None
        return True

    with ThreadPoolExecutor(max_workers=16) as ex:
        assert all(ex.map(one, range(200), timeout=60))


def test_idle_connections_do_not_hold_the_worker(make_server):
    # one worker thread and 50 idle or half-sent connections: others are still served
    srv = make_server(args=["--threads", "1"])
    hello = (REPO / "www" / "HelloWorld.html").read_bytes()
    idle = []
    try:
        for i in range(50):
            c = srv.conn()
            if i % 2:
                c.send(b"GET /HelloWorld.html HTTP/1.1\r\nHo")  # a head that never ends
            idle.append(c)
        for _ in range(20):
            status, _, body = request(srv, "/HelloWorld.html", timeout=3)
            assert status == 200 and body == hello
    finally:
        for c in idle:
            c.close()


def test_clients_vanishing_mid_response(make_server):
    # clients that reset their connection mid-download do not hurt the server (no SIGPIPE)
    import socket
    import struct
    data = os.urandom(4 * 1024 * 1024)
    srv = make_server(files={"big.bin": data})
    for _ in range(20):
        s = srv.connect()
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 3)
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST
    r = requests.get(srv.url("/big.bin"), timeout=20)
    assert r.status_code == 200 and r.content == data
    assert srv.proc.poll() is None


def test_requests_total_counts_concurrent_requests(make_server):
    srv = make_server(start=False)
    tpl = srv.workdir / "templates"
    tpl.mkdir()
    (tpl / "status.html").write_text("[requests_total={{requests_total}}]")
    srv.templates = str(tpl)
    srv.start()

    def total():
        return int(re.search(rb"requests_total=(\d+)", request(srv, "/status")[2]).group(1))

    n0 = total()

    def client(i):
        with srv.conn(timeout=20) as c:
            for _ in range(25):
                c.get("/HelloWorld.html")
                assert c.read_response()[0] == 200

    assert not run_threads(40, client)
    assert total() - n0 == 1000 + 1
