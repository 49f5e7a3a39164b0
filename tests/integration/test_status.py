# SPDX-License-Identifier: MIT
"""/status: the shipped template rendered with live figures."""
import datetime
import re
import time

import requests

from conftest import REPO, request

UPTIME_S = re.compile(r'<span id="uptime-s">(\d+)</span>')

# A template of our own that prints every placeholder in a form easy to parse.
FIGURES = ("uptime", "uptime_s", "started_at", "requests_total", "active_connections",
           "threads", "version")
PROBE = "".join(f"[{k}={{{{{k}}}}}]\n" for k in FIGURES)


def figures(body):
    return dict(re.findall(r"\[(\w+)=([^\]]*)\]", body))


def probe_server(make_server, **kw):
    tpl_dir = None

    def _make():
        nonlocal tpl_dir
        srv = make_server(start=False, **kw)
        tpl_dir = srv.workdir / "templates"
        tpl_dir.mkdir()
        (tpl_dir / "status.html").write_text(PROBE)
        srv.templates = str(tpl_dir)
        return srv.start()
    return _make()


def test_status_page_renders_shipped_template(server):
    # identity: Content-Length is then the length of r.content (requests decodes gzip)
    r = requests.get(server.url("/status"), headers={"Accept-Encoding": "identity"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    assert "{{" not in r.text  # every placeholder was replaced
    assert UPTIME_S.search(r.text)
    assert "0.1.0" in r.text
    assert int(r.headers["Content-Length"]) == len(r.content)


def test_uptime_grows_across_requests(server):
    first = int(UPTIME_S.search(requests.get(server.url("/status"), timeout=5).text).group(1))
    assert 0 <= first <= 5
    deadline = time.monotonic() + 4
    now = first
    while now <= first and time.monotonic() < deadline:
        time.sleep(0.2)
        now = int(UPTIME_S.search(requests.get(server.url("/status"), timeout=5).text).group(1))
    assert now > first, "uptime-s did not grow within 4 s"


def test_every_figure(make_server):
    srv = probe_server(make_server, args=["--threads", "3"])
    before = time.time()
    f = figures(requests.get(srv.url("/status"), timeout=5).text)
    assert set(f) == set(FIGURES), f
    assert f["version"] == "0.1.0"
    assert f["threads"] == "3"
    assert int(f["uptime_s"]) <= 5
    assert re.fullmatch(r"(\d+ h )?(\d+ min )?\d+ s", f["uptime"]), f["uptime"]
    started = datetime.datetime.strptime(f["started_at"], "%Y-%m-%dT%H:%M:%SZ")
    started = started.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert before - 15 <= started <= before + 1
    assert int(f["requests_total"]) >= 1
    assert int(f["active_connections"]) >= 1


def test_requests_total_grows(make_server):
    srv = probe_server(make_server)
    n1 = int(figures(request(srv, "/status")[2].decode())["requests_total"])
    for _ in range(7):
        assert request(srv, "/HelloWorld.html")[0] == 200
    request(srv, "/missing")
    n2 = int(figures(request(srv, "/status")[2].decode())["requests_total"])
    assert n2 - n1 == 9, (n1, n2)


def test_active_connections_counts_open_connections(make_server):
    srv = probe_server(make_server, args=["--threads", "2"])
    base = int(figures(request(srv, "/status")[2].decode())["active_connections"])
    conns = []
    try:
        for _ in range(4):
            c = srv.conn()
            c.get("/HelloWorld.html")
            assert c.read_response()[0] == 200  # so it is accepted and idle
            conns.append(c)
        n = int(figures(request(srv, "/status")[2].decode())["active_connections"])
        assert n >= base + 4, (base, n)
    finally:
        for c in conns:
            c.close()


def test_status_head_has_no_body(server):
    with server.conn() as c:
        c.send(b"HEAD /status HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, _, _ = c.read_response(head=True)
        assert status == 200 and int(headers["content-length"]) > 0
        assert headers["cache-control"] == "no-store"
        status, _, body, _ = c.read_response()
        assert status == 200 and body == (REPO / "www" / "HelloWorld.html").read_bytes()


def test_status_is_not_a_file(make_server):
    # /status is a route: it wins over a file named "status" in the root
    srv = make_server(files={"status": "a file"})
    r = requests.get(srv.url("/status"), timeout=5)
    assert r.status_code == 200 and UPTIME_S.search(r.text)


def test_status_with_query_string(server):
    r = requests.get(server.url("/status?x=%3Cscript%3E"), timeout=5)
    assert r.status_code == 200 and UPTIME_S.search(r.text)
    assert "<script>" not in r.text
