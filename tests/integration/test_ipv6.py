# SPDX-License-Identifier: MIT
"""IPv6: --bind ::1, and the default bind answering on both 127.0.0.1 and ::1."""
import socket

import pytest
import requests

from conftest import REPO, ipv6_loopback, request

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()

needs_v6 = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) here")


def refused(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@needs_v6
def test_bind_ipv6_loopback(make_server):
    srv = make_server(bind="::1")
    assert "http://[::1]:" in srv.banner, srv.banner
    status, _, body = request(srv, "/HelloWorld.html", host="::1")
    assert status == 200 and body == HELLO
    r = requests.get(srv.url("/HelloWorld.html", host="::1"), timeout=5)
    assert r.status_code == 200 and r.content == HELLO
    # only there: not on IPv4
    assert refused("127.0.0.1", srv.port)


@needs_v6
def test_ipv6_status_and_404(make_server):
    srv = make_server(bind="::1")
    assert request(srv, "/nope", host="::1")[0] == 404
    assert request(srv, "/status", host="::1")[0] == 200


@needs_v6
def test_bind_ipv4_only(make_server):
    srv = make_server(bind="127.0.0.1")
    assert request(srv, "/HelloWorld.html")[0] == 200
    assert refused("::1", srv.port)


@needs_v6
def test_default_bind_serves_ipv4_and_ipv6(make_server):
    srv = make_server(bind=None)
    for host in ("127.0.0.1", "::1"):
        status, _, body = request(srv, "/HelloWorld.html", host=host)
        assert status == 200 and body == HELLO, host
    # keep-alive works on both
    for host in ("127.0.0.1", "::1"):
        with srv.conn(host=host) as c:
            for _ in range(3):
                c.get("/HelloWorld.html")
                assert c.read_response()[2] == HELLO


def test_default_bind_serves_ipv4(make_server):
    srv = make_server(bind=None)
    assert request(srv, "/HelloWorld.html", host="127.0.0.1")[0] == 200


@needs_v6
def test_ipv6_curl(make_server):
    import subprocess
    srv = make_server(bind="::1")
    url = srv.url("/HelloWorld.html", host="::1")
    p = subprocess.run(["curl", "-sS", "-g", "--max-time", "5", url],
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert p.stdout == HELLO
