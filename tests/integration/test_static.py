# SPDX-License-Identifier: MIT
"""Static files: /, index files, 404 pages, MIME types, folders, dotfiles, traversal,
symlinks, FIFOs, large files, HEAD, common headers, validators, 405."""
import email.utils
import hashlib
import os
import subprocess
import time
import urllib.parse

import pytest
import requests

from conftest import REPO, parse_responses, raw_request, request

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()
NOT_FOUND = (REPO / "www" / "404.html").read_bytes()


def test_root_serves_default_page(server):
    r = requests.get(server.url("/"), timeout=5)
    assert r.status_code == 200
    assert r.content == HELLO
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_default_page_by_name(server):
    r = requests.get(server.url("/HelloWorld.html"), timeout=5)
    assert r.status_code == 200 and r.content == HELLO


def test_index_html_wins_over_default_page(make_server):
    srv = make_server(files={"index.html": "<p>the index</p>"})
    r = requests.get(srv.url("/"), timeout=5)
    assert r.status_code == 200
    assert r.content == b"<p>the index</p>"


def test_default_page_option(make_server):
    srv = make_server(files={"start.html": "start here"}, args=["--default-page", "start.html"])
    r = requests.get(srv.url("/"), timeout=5)
    assert r.status_code == 200 and r.content == b"start here"


def test_missing_file_gets_custom_404(server):
    r = requests.get(server.url("/invalid-file.html"), timeout=5)
    assert r.status_code == 404
    assert r.content == NOT_FOUND
    assert r.headers["Content-Type"].startswith("text/html")


def test_missing_file_in_missing_folder_gets_custom_404(server):
    r = requests.get(server.url("/no/such/folder/x.png"), timeout=5)
    assert r.status_code == 404
    assert r.content == NOT_FOUND


def test_not_found_page_option(make_server):
    srv = make_server(files={"gone.html": "custom gone"}, args=["--not-found-page", "gone.html"])
    r = requests.get(srv.url("/nope"), timeout=5)
    assert r.status_code == 404 and r.content == b"custom gone"


def test_builtin_404_without_404_html(make_server):
    srv = make_server(bare=True, files={"a.txt": "a"})
    r = requests.get(srv.url("/invalid-file.html"), timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert len(r.content) > 0 and b"404" in r.content
    assert r.content != NOT_FOUND
    assert int(r.headers["Content-Length"]) == len(r.content)


MIME = [
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("json", "application/json"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("wav", "audio/wav"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("wasm", "application/wasm"),
    ("unknownext", "application/octet-stream"),
]


def test_content_types(make_server):
    cases = {f"f.{ext}": want for ext, want in MIME}
    cases["noext"] = "application/octet-stream"
    srv = make_server(bare=True, files={name: b"x" * 10 for name in cases})
    wrong = {}
    with requests.Session() as s:
        for name, want in cases.items():
            r = s.get(srv.url("/" + name), timeout=5)
            assert r.status_code == 200, name
            got = r.headers["Content-Type"]
            # charset only on text/* (and it is utf-8 there)
            assert ("charset=utf-8" in got.lower()) == got.lower().startswith("text/"), (name, got)
            if got.lower() != want:
                wrong[name] = (got, want)
    assert not wrong, wrong


@pytest.mark.parametrize("ext", ["ico", "xml"])
def test_content_types_with_variants(make_server, ext):
    want = {"ico": ("image/vnd.microsoft.icon", "image/x-icon"),
            "xml": ("application/xml", "text/xml; charset=utf-8")}[ext]
    srv = make_server(bare=True, files={f"f.{ext}": "x"})
    r = requests.get(srv.url(f"/f.{ext}"), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] in want


def test_query_string_is_ignored_for_files(server):
    r = requests.get(server.url("/style.css?v=3&x=y"), timeout=5)
    assert r.status_code == 200
    assert r.content == (REPO / "www" / "style.css").read_bytes()


def test_percent_decoded_once(make_server):
    srv = make_server(files={"a b.txt": "space", "a%20b.txt": "literal"})
    assert request(srv, "/a%20b.txt")[2] == b"space"
    assert request(srv, "/a%2520b.txt")[2] == b"literal"


def test_dot_segment_inside_root_is_resolved(make_server):
    srv = make_server(files={"b.html": "bee", "a/x.txt": "x"})
    status, _, body = request(srv, "/a/../b.html")
    assert status == 200 and body == b"bee"
    status, _, body = request(srv, "/a/./x.txt")
    assert status == 200 and body == b"x"


def test_folder_without_slash_redirects(make_server):
    srv = make_server(files={"docs/index.html": "docs index"})
    for path, want in [("/docs", "/docs/"), ("/docs?a=1&b=2", "/docs/?a=1&b=2")]:
        status, headers, _ = request(srv, path)
        assert status == 301, path
        loc = urllib.parse.urlsplit(headers["location"])
        got = loc.path + ("?" + loc.query if loc.query else "")
        assert got == want, (path, headers["location"])
    r = requests.get(srv.url("/docs"), timeout=5)  # follows the redirect
    assert r.status_code == 200 and r.content == b"docs index"

def test_folder_redirect_never_leaves_the_site(make_server):
    """The slash redirect is built from the normalised path: a target starting with "//"
    (or reaching it through "..") must not become a Location naming another host."""
    srv = make_server(files={"docs/index.html": "docs index", "a b/index.html": "space"})
    cases = [("//evil.example/../docs", "/docs/"), ("//docs", "/docs/"),
             ("/docs/..//docs", "/docs/"), ("//evil.example/%2e%2e/docs?x=1", "/docs/?x=1"),
             ("/a%20b", "/a%20b/"), ("///a%20b", "/a%20b/")]
    for path, want in cases:
        data = raw_request(srv, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                           .encode())
        status, headers, _ = parse_responses(data)[0]
        assert status == 301, path
        assert headers["location"] == want, (path, headers["location"])



def test_folder_index(make_server):
    srv = make_server(files={"docs/index.html": "docs index", "docs/sub/index.html": "deep"})
    assert request(srv, "/docs/")[:3:2] == (200, b"docs index")
    assert request(srv, "/docs/sub/")[:3:2] == (200, b"deep")


def test_folder_without_index_is_403_when_listing_off(make_server):
    srv = make_server(files={"empty/a.txt": "a"}, args=["--no-listing"])
    status, headers, _ = request(srv, "/empty/")
    assert status == 403
    assert headers["content-type"].startswith("text/html")


def test_root_without_index_default_or_listing_is_404(make_server):
    """SPEC: GET / is index.html, else default_page, else a listing if enabled, else 404
    (with the not_found_page) — a 403 is for other folders."""
    srv = make_server(files={"file.txt": "f", "404.html": "not here"}, bare=True,
                      args=["--no-listing"])
    status, headers, body = request(srv, "/")
    assert status == 404 and body == b"not here"
    assert request(srv, "/file.txt")[0] == 200


@pytest.mark.parametrize("path", ["/.env", "/.git/config", "/.git/", "/.git",
                                  "/sub/.hidden", "/%2eenv", "/.well-hidden/x.txt"])
def test_dotfiles_not_served(make_server, path):
    srv = make_server(files={".env": "SECRET=dotenv", ".git/config": "SECRET=gitconfig",
                             "sub/.hidden": "SECRET=hidden", ".well-hidden/x.txt": "SECRET=wh"})
    status, _, body = request(srv, path)
    assert status == 404, (path, status)
    assert b"SECRET=" not in body


TRAVERSALS = [
    b"/../secret.txt",
    b"/../../../../../../etc/passwd",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/%2E%2E/%2e%2e/etc/passwd",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/..%2fsecret.txt",
    b"/..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/..%2f..%2fetc/passwd",
    b"/%2e%2e%2fsecret.txt",
    b"/sub/../../secret.txt",
    b"/sub/..%2f..%2fsecret.txt",
    b"/./../secret.txt",
    b"//../secret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/%5c..%5csecret.txt",
    b"/sub\\..\\..\\secret.txt",
    b"/%252e%252e/secret.txt",
    b"/..%252fsecret.txt",
    b"/sub/%2e%2e/%2e%2e/secret.txt",
    b"/.%2e/secret.txt",
    b"/%2e./secret.txt",
    b"/...//secret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%c0%af../secret.txt",
    b"/sub/file.txt%00.html",
    b"/%00../secret.txt",
    b"/..%00/secret.txt",
    b"/out/secret.txt",
    b"/out",
    b"/outdir/secret.txt",
    b"/sub/up/secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t.decode(errors="replace"))
def test_traversal_never_leaks(make_server, target):
    srv = make_server(files={"sub/file.txt": "inside"}, start=False)
    secret = srv.workdir / "secret.txt"
    secret.write_text("TOPSECRET-outside-root\n")
    (srv.workdir / "secretdir").mkdir()
    (srv.workdir / "secretdir" / "secret.txt").write_text("TOPSECRET-in-dir\n")
    os.symlink(secret, srv.root / "out")
    os.symlink(srv.workdir / "secretdir", srv.root / "outdir")
    os.symlink("../..", srv.root / "sub" / "up")
    srv.start()
    with srv.conn() as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        rest = c.buf
    assert r is not None, "no response"
    status, _, body, _ = r
    assert b"TOPSECRET" not in body + rest
    assert b"root:x:0:0" not in body + rest
    assert status in (400, 403, 404), status
    # and the server is still fine
    assert request(srv, "/sub/file.txt")[2] == b"inside"


def test_symlink_leading_outside_is_404(make_server):
    srv = make_server(start=False)
    (srv.workdir / "outside.txt").write_text("TOPSECRET")
    os.symlink(srv.workdir / "outside.txt", srv.root / "link.txt")
    srv.start()
    status, _, body = request(srv, "/link.txt")
    assert status in (403, 404)  # SPEC §4: 404 or 403, never the file
    assert b"TOPSECRET" not in body


def test_symlink_inside_root_is_served(make_server):
    srv = make_server(files={"real/target.txt": "through the link"},
                      symlinks={"alias.txt": "real/target.txt", "aliasdir": "real"})
    assert request(srv, "/alias.txt")[:3:2] == (200, b"through the link")
    assert request(srv, "/aliasdir/target.txt")[:3:2] == (200, b"through the link")


def test_fifo_not_served_and_server_stays_responsive(make_server):
    srv = make_server(args=["--threads", "1"], start=False)
    os.mkfifo(srv.root / "pipe.txt")
    srv.start()
    with srv.conn(timeout=3) as c:
        c.get("/pipe.txt")
        r = c.read_response(timeout=3)  # must not hang: a FIFO is not a regular file
    assert r is None or r[0] in (403, 404), r
    # the only worker was not blocked in open() or read()
    for _ in range(5):
        status, _, body = request(srv, "/HelloWorld.html", timeout=3)
        assert status == 200 and body == HELLO


@pytest.fixture
def big(make_server):
    data = os.urandom(5 * 1024 * 1024 + 123)
    srv = make_server(files={"big.bin": data})
    return srv, data


def test_large_file_with_requests(big):
    srv, data = big
    r = requests.get(srv.url("/big.bin"), timeout=20)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(data)
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()


def test_large_file_with_curl(big, tmp_path):
    srv, data = big
    out = tmp_path / "out.bin"
    p = subprocess.run(["curl", "-sS", "--fail", "--max-time", "20", "-o", str(out),
                        "-w", "%{http_code} %{size_download}", srv.url("/big.bin")],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == f"200 {len(data)}"
    assert out.read_bytes() == data


def test_large_file_twice_on_one_connection(big):
    srv, data = big
    # the second request arrives with the first, while the first's body is being sent
    with srv.conn(timeout=10) as c:
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
        for i in range(2):
            try:
                r = c.read_response(timeout=4)
            except TimeoutError:
                raise AssertionError(f"no response {i + 1} within 4 s")
            assert r is not None, f"closed before response {i + 1}"
            assert r[0] == 200 and r[2] == data, (i, r[0], r[1])


def test_head_has_headers_and_no_body(make_server):
    data = os.urandom(70000)
    srv = make_server(files={"blob.bin": data})
    with srv.conn() as c:
        # HEAD then GET on one connection: the GET's status line must follow the HEAD's
        # head immediately, so no body byte was sent for the HEAD.
        c.send(b"HEAD /blob.bin HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, _, _ = c.read_response(head=True)
        assert status == 200
        assert int(headers["content-length"]) == len(data)
        assert headers["content-type"] == "application/octet-stream"
        assert "etag" in headers and "last-modified" in headers
        r = c.read_response()
        assert r[0] == 200 and r[2] == HELLO


def test_head_of_missing_file(server):
    with server.conn() as c:
        c.send(b"HEAD /nope.html HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, _, _ = c.read_response(head=True)
        assert status == 404
        assert int(headers["content-length"]) == len(NOT_FOUND)
        r = c.read_response()
        assert r[0] == 200 and r[2] == HELLO


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_with_requests_matches_get(server, encoding):
    hdrs = {"Accept-Encoding": encoding}
    g = requests.get(server.url("/style.css"), headers=hdrs, timeout=5, stream=True)
    raw = g.raw.read()  # the bytes as sent, not decompressed
    h = requests.head(server.url("/style.css"), headers=hdrs, timeout=5)
    assert h.status_code == 200 and h.content == b""
    assert h.headers["Content-Length"] == g.headers["Content-Length"] == str(len(raw))
    assert h.headers["ETag"] == g.headers["ETag"]
    assert h.headers.get("Content-Encoding") == g.headers.get("Content-Encoding")
    assert (encoding == "gzip") == (g.headers.get("Content-Encoding") == "gzip")


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /dir HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /style.css HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    b"GET /status HTTP/1.1\r\nHost: t\r\n\r\n",
    b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n",
], ids=["root", "css", "404", "301", "403", "405", "status", "501", "400", "505", "414", "head"])
def test_common_headers_on_every_response(make_server, raw):
    srv = make_server(files={"dir/a.txt": "a"}, args=["--no-listing"])
    with srv.conn() as c:
        c.send(raw)
        r = c.read_response(head=raw.startswith(b"HEAD"))
    assert r is not None
    status, headers, body, version = r
    assert version == "HTTP/1.1"
    for h in ("date", "server", "content-length"):
        assert h in headers, (status, h, headers)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["server"].startswith("mica")
    date = email.utils.parsedate_to_datetime(headers["date"])
    assert headers["date"].endswith(" GMT")
    assert abs(date.timestamp() - time.time()) < 5
    if not raw.startswith(b"HEAD"):
        assert int(headers["content-length"]) == len(body)


def test_etag_and_last_modified(make_server):
    srv = make_server(files={"page.html": "<p>x</p>"}, start=False)
    mtime = 1700000000
    os.utime(srv.root / "page.html", (mtime, mtime))
    srv.start()
    _, h1, _ = request(srv, "/page.html")
    _, h2, _ = request(srv, "/page.html")
    assert h1["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    etag = h1["etag"]
    assert (etag.startswith('"') or etag.startswith('W/"')) and etag.endswith('"') and len(etag) > 2
    assert h2["etag"] == etag
    _, h3, _ = request(srv, "/style.css")
    assert h3["etag"] != etag


def assert_allow_get_head(allow):
    """SPEC §2 says Allow: GET, HEAD; OPTIONS, which mica also answers, may be listed."""
    methods = {m.strip() for m in allow.split(",")}
    assert {"GET", "HEAD"} <= methods <= {"GET", "HEAD", "OPTIONS"}, allow


@pytest.mark.parametrize("path", ["/style.css", "/", "/HelloWorld.html"])
def test_post_to_static_file_is_405(server, path):
    with server.conn() as c:
        c.send(f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
               "Content-Length: 5\r\n\r\nhello".encode())
        status, headers, _, _ = c.read_response()
        assert status == 405
        assert_allow_get_head(headers["allow"])
        # the body was consumed; the connection still works
        c.get("/HelloWorld.html")
        r = c.read_response()
        assert r is not None and r[0] == 200 and r[2] == HELLO


def test_post_with_requests_is_405(server):
    r = requests.post(server.url("/HelloWorld.html"), data={"a": "b"}, timeout=5)
    assert r.status_code == 405
    assert_allow_get_head(r.headers["Allow"])


def test_file_in_subfolder_and_unicode_name(make_server):
    srv = make_server(files={"deep/er/été.txt": "summer"})
    r = requests.get(srv.url("/deep/er/%C3%A9t%C3%A9.txt"), timeout=5)
    assert r.status_code == 200 and r.content == b"summer"


def test_empty_file(make_server):
    srv = make_server(files={"empty.txt": b""})
    status, headers, body = request(srv, "/empty.txt")
    assert status == 200 and body == b"" and headers["content-length"] == "0"
