# SPDX-License-Identifier: MIT
"""Compression of generated responses (SPEC §3): template pages, directory listings (HTML
and JSON), /status, /admin, the JSON API, /metrics and 404 pages are compressed like static
files when their body is over 1 KiB and the client accepts gzip or brotli, and every one of
them says Vary: Accept-Encoding, compressed or not. Bodies are decoded with Python's gzip
module and the `brotli` command and compared with the identity body of the same request;
HEAD carries the headers of GET. Pages that change from one request to the next (uptime,
counters) are compared with their numbers masked."""
import re

import pytest
import requests

from conftest import (ADMIN_PASSWORD, ADMIN_USER, Server, assert_clean_exit, basic_auth,
                      decode, hash_password, request_then_ok)


WORDS = "page template listing status metrics folder entry compressed identity".split()

# A template page well over 1 KiB, with a placeholder, and one under it.
BIG_TPL = ("<!doctype html><title>big</title><ul>\n" +
           "".join(f"<li>{WORDS[i % len(WORDS)]} {i} {{{{query.x}}}}</li>\n" for i in range(200)) +
           "</ul>\n")
SMALL_TPL = "<!doctype html><title>small</title><p>{{query.x}}</p>\n"
# A not-found page over 1 KiB.
NOT_FOUND = ("<!doctype html><title>Not found</title>\n" +
             "".join(f"<p>nothing here, try {WORDS[i % len(WORDS)]} {i}</p>\n" for i in range(80)))
# A folder whose listing is well over 1 KiB, in HTML and JSON.
FOLDER = {f"docs/file-{i:03d}-{WORDS[i % len(WORDS)]}.txt": "x" * i for i in range(60)}
FILES = {"big.tpl.html": BIG_TPL, "small.tpl.html": SMALL_TPL, "404.html": NOT_FOUND,
         "ok.txt": "ok", **FOLDER}


def vary(headers):
    return [v.strip().lower() for v in headers.get("vary", "").split(",") if v.strip()]


def masked(body):
    """The body with its numbers masked: uptime and counters move between requests."""
    return re.sub(rb"[0-9]+(\.[0-9]+)?", b"N", body)


def check_compressed(srv, path, headers=(), status=200, want_vary=("accept-encoding",),
                     exact=True):
    """GET path without Accept-Encoding, with gzip and with br: the identity body is over
    1 KiB and sent as is, the others decode to it; Content-Length, Content-Encoding and
    Vary are right on each. Returns the identity (headers, body)."""
    headers = list(headers)
    st, ih, ibody = request_then_ok(srv, path, headers)
    assert st == status, (path, st, ibody[:200])
    assert "content-encoding" not in ih, (path, ih)
    assert vary(ih) == list(want_vary), (path, ih)
    assert int(ih["content-length"]) == len(ibody) > 1024, (path, len(ibody))
    for enc in ("gzip", "br"):
        st, h, body = request_then_ok(srv, path, headers + [f"Accept-Encoding: {enc}"])
        assert st == status, (path, enc, st)
        assert h.get("content-encoding") == enc, (path, enc, h)
        assert vary(h) == list(want_vary), (path, enc, h)
        assert int(h["content-length"]) == len(body) < len(ibody), (path, enc, len(body))
        assert h["content-type"] == ih["content-type"]
        got = decode(h, body)
        if exact:
            assert got == ibody, (path, enc)
        else:
            assert masked(got) == masked(ibody), (path, enc)
    return ih, ibody


def check_head(srv, path, headers=()):
    """HEAD gives what GET would: the same status and the same framing headers, for each
    encoding."""
    for ae in ([], ["Accept-Encoding: gzip"], ["Accept-Encoding: br"]):
        g = request_then_ok(srv, path, list(headers) + ae)
        h = request_then_ok(srv, path, list(headers) + ae, method="HEAD")
        assert h[0] == g[0] and h[2] == b"", (path, ae)
        for k in ("content-length", "content-encoding", "content-type", "vary", "etag"):
            assert h[1].get(k) == g[1].get(k), (path, ae, k, h[1].get(k), g[1].get(k))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One server with an admin, metrics, the pages and folder above."""
    work = tmp_path_factory.mktemp("dyncompress")
    root = work / "www"
    for rel, content in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    config = {"admin": {"user": ADMIN_USER, "password_hash": hash_password(ADMIN_PASSWORD)},
              "data_dir": str(work / "data"), "metrics": True}
    s = Server(work, root, config=config).start()
    yield s
    assert_clean_exit(*s.stop())


ADMIN = [f"Authorization: {basic_auth()}"]


def test_template_page(srv):
    _, body = check_compressed(srv, "/big.tpl.html?x=hello")
    assert body.count(b"hello") == 200
    check_head(srv, "/big.tpl.html?x=hello")


def test_listing_html_and_json(srv):
    """A listing varies with Accept too: Vary: Accept, Accept-Encoding. Its weak ETag is the
    same whatever the encoding, and a 304 says Vary as well."""
    for path, headers in (("/docs/", []), ("/docs/", ["Accept: application/json"]),
                          ("/docs/?format=json", [])):
        ih, body = check_compressed(srv, path, headers, want_vary=("accept", "accept-encoding"))
        assert b"file-059" in body
        etag = ih["etag"]
        assert etag.startswith('W/"')
        for enc in ("gzip", "br"):
            _, h, _ = request_then_ok(srv, path, headers + [f"Accept-Encoding: {enc}"])
            assert h["etag"] == etag
        st, h, _ = request_then_ok(srv, path, headers + ["Accept-Encoding: gzip", f"If-None-Match: {etag}"])
        assert st == 304 and vary(h) == ["accept", "accept-encoding"], (path, st, h)
        check_head(srv, path, headers)


def test_status_page(srv):
    check_compressed(srv, "/status", exact=False)


def test_admin_dashboard_and_login_form(srv):
    check_compressed(srv, "/admin", ADMIN, exact=False)
    check_compressed(srv, "/login")


def test_api_submissions_json(srv):
    for i in range(12):
        r = requests.post(srv.url("/forms/contact"),
                          data={"name": f"visitor {i}", "message": " ".join(WORDS) * 3,
                                "_redirect": "/ok.txt"},
                          allow_redirects=False, timeout=5)
        assert r.status_code == 303
    ih, body = check_compressed(srv, "/api/submissions", ADMIN)
    assert ih["content-type"] == "application/json"
    assert body.count(b"visitor") == 12
    check_head(srv, "/api/submissions", ADMIN)


def test_metrics(srv):
    ih, _ = check_compressed(srv, "/metrics", ADMIN, exact=False)
    assert ih["content-type"].startswith("text/plain")


def test_not_found_page(srv):
    _, body = check_compressed(srv, "/no/such/file.html", status=404)
    assert body == NOT_FOUND.encode()
    check_head(srv, "/no/such/file.html")


@pytest.mark.parametrize("path, headers", [
    ("/small.tpl.html?x=1", []),            # a template page under 1 KiB
    ("/api/status", []),                    # small JSON
    ("/api/nothing", []),                   # a JSON 404
    ("/big.tpl.html?x=1", ["Accept-Encoding: identity"]),
    ("/big.tpl.html?x=1", ["Accept-Encoding: gzip;q=0, br;q=0"]),
    ("/big.tpl.html?x=1", ["Accept-Encoding: deflate, zstd"]),
    ("/api/submissions", ADMIN),            # no Accept-Encoding at all
])
def test_identity_with_vary(srv, path, headers):
    """Small bodies and clients that take no gzip or brotli get identity, with Vary."""
    extra = [] if any(h.startswith("Accept-Encoding") for h in headers) else \
        ["Accept-Encoding: gzip, br"]
    if path == "/api/submissions":
        extra = []
    st, h, body = request_then_ok(srv, path, headers + extra)
    assert "content-encoding" not in h, (path, headers, h)
    assert "accept-encoding" in vary(h), (path, headers, h)
    assert int(h["content-length"]) == len(body)


def test_builtin_error_page_says_vary(make_server):
    """No not-found page in the root: the built-in one (small: identity) still says Vary."""
    srv = make_server(bare=True, files={"ok.txt": "ok"})
    st, h, body = request_then_ok(srv, "/missing", ["Accept-Encoding: gzip"])
    assert st == 404 and "content-encoding" not in h and vary(h) == ["accept-encoding"]
    assert b"404 Not Found" in body


def test_compression_off(make_server):
    """--no-gzip: nothing is compressed; Vary is still sent for compressible types, as for
    static files."""
    srv = make_server(bare=True, files={"big.tpl.html": BIG_TPL, "ok.txt": "ok", **FOLDER},
                      args=["--no-gzip"])
    for path in ("/big.tpl.html", "/docs/", "/docs/?format=json", "/status"):
        st, h, body = request_then_ok(srv, path, ["Accept-Encoding: gzip, br"])
        assert st == 200 and "content-encoding" not in h, (path, h)
        assert "accept-encoding" in vary(h), (path, h)
        assert int(h["content-length"]) == len(body) > 1024


def test_static_floor_is_over_one_kib(make_server):
    """SPEC §3 "over 1 KiB", for static files as for generated bodies."""
    srv = make_server(bare=True, files={"ok.txt": "ok", "a.txt": "a" * 1024, "b.txt": "b" * 1025})
    for path, want in (("/a.txt", None), ("/b.txt", "gzip")):
        st, h, body = request_then_ok(srv, path, ["Accept-Encoding: gzip"])
        assert st == 200 and h.get("content-encoding") == want, (path, h)
        assert "accept-encoding" in vary(h)
        assert decode(h, body) == (b"a" * 1024 if want is None else b"b" * 1025)
