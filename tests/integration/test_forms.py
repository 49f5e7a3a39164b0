# SPDX-License-Identifier: MIT
"""POST /forms/NAME: urlencoded and multipart bodies (Content-Length, chunked, Expect:
100-continue), files streamed to data/uploads/ under max_body_bytes, the row in SQLite,
same-origin _redirect only, the _gotcha honeypot, the thanks page, durability across
SIGKILL, 50 × 20 concurrent submissions, and 503 (never a false success) when the
database cannot be written."""
import calendar
import json
import os
import re
import resource
import signal
import socket
import struct
import threading
import time
import http.client

import pytest
import requests

from conftest import basic_auth, db_rows, sigkill, wait_log

URLENC = "application/x-www-form-urlencoded"


@pytest.fixture
def srv(make_admin_server):
    return make_admin_server()


def rows(srv):
    return db_rows(srv.data_dir)


def uploads(srv):
    d = srv.data_dir / "uploads"
    return sorted(os.listdir(d)) if d.exists() else []


def post(srv, path, body, ctype=URLENC, headers=None, timeout=10):
    h = {"Content-Type": ctype} if ctype else {}
    h.update(headers or {})
    return requests.post(srv.url(path), data=body, headers=h, allow_redirects=False,
                         timeout=timeout)


def iso_epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def exchange(srv, data, timeout=5.0):
    """Raw bytes in; the first response out as (status, headers, body)."""
    with srv.conn(timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        assert r is not None, "closed without an answer"
        return r[:3]


# --- urlencoded ----------------------------------------------------------------------------

def test_urlencoded_stored_with_everything(srv):
    before = time.time()
    r = post(srv, "/forms/contact", "name=Ada+Lovelace&email=ada%40example.org&tag=a&tag=b"
             "&tag=c&note=50%25+off%21+%E2%98%95&_redirect=%2Fthanks.html%3Fok%3D1",
             headers={"User-Agent": "form-tester/2.0"})
    assert r.status_code == 303
    assert r.headers["Location"] == "/thanks.html?ok=1"
    got = rows(srv)
    assert len(got) == 1
    row = got[0]
    assert row["form"] == "contact"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["created_at"]), row["created_at"]
    assert before - 2 <= iso_epoch(row["created_at"]) <= time.time() + 1
    assert row["client_ip"] == "127.0.0.1"
    assert row["user_agent"] == "form-tester/2.0"
    fields = json.loads(row["fields"])
    # control fields are not stored; repeated keys become an array, in order
    assert fields == {"name": "Ada Lovelace", "email": "ada@example.org", "tag": ["a", "b", "c"],
                      "note": "50% off! \u2615"}
    assert json.loads(row["files"]) == []


def test_long_message_fits_and_a_huge_field_is_413(srv):
    """A pasted message of a few hundred KiB is a normal submission; one field past 1 MiB
    is refused 413 and nothing is stored."""
    long_text = "line of text\n" * 20000  # 260 KB
    r = post(srv, "/forms/long", {"message": long_text}, ctype=None)
    assert r.status_code == 200, r.status_code
    [row] = rows(srv)
    assert json.loads(row["fields"])["message"] == long_text
    r = post(srv, "/forms/long", {"message": "x" * ((1 << 20) + 1)}, ctype=None)
    assert r.status_code == 413
    assert len(rows(srv)) == 1


def test_thanks_page_without_redirect(srv):
    r = post(srv, "/forms/contact", "name=%3Cb%3EAda%3C%2Fb%3E&message=hi")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Thank you, &lt;b&gt;Ada&lt;/b&gt;!" in r.text
    assert "<b>Ada" not in r.text
    assert "{{" not in r.text
    assert len(rows(srv)) == 1


def test_shipped_contact_form_posts_to_forms_contact(srv):
    page = requests.get(srv.url("/contact.html"), timeout=5).text
    assert 'action="/forms/contact"' in page and 'method="post"' in page
    assert 'name="_gotcha"' in page


@pytest.mark.parametrize("body,status", [("a=%zz", 400), ("a=%4", 400), ("%zz=1", 400)])
def test_bad_escape_400(srv, body, status):
    assert post(srv, "/forms/contact", body).status_code == status
    assert rows(srv) == []


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "application/xml"])
def test_other_content_type_415(srv, ctype):
    assert post(srv, "/forms/contact", '{"a": 1}', ctype=ctype).status_code == 415
    assert rows(srv) == []


def test_get_is_405_with_allow_post(srv):
    r = requests.get(srv.url("/forms/contact"), timeout=5)
    assert r.status_code == 405
    assert "POST" in [m.strip() for m in r.headers["Allow"].split(",")]


@pytest.mark.parametrize("path", ["/forms/a.b", "/forms/", "/forms/a%20b", "/forms/" + "n" * 65,
                                  "/forms/a/b"])
def test_invalid_form_names_404(srv, path):
    r = post(srv, path, "a=1")
    assert r.status_code == 404, (path, r.status_code)
    assert rows(srv) == []


def test_chunked_body(srv):
    body = b"name=chunky&msg=" + b"x" * 3000 + b"&_redirect=/done"
    pieces = [body[i:i + 700] for i in range(0, len(body), 700)]
    data = (b"POST /forms/chunked HTTP/1.1\r\nHost: t\r\nContent-Type: " + URLENC.encode() +
            b"\r\nTransfer-Encoding: chunked\r\n\r\n" +
            b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
    status, headers, _ = exchange(srv, data)
    assert status == 303 and headers["location"] == "/done"
    [row] = rows(srv)
    assert json.loads(row["fields"]) == {"name": "chunky", "msg": "x" * 3000}


def test_expect_100_continue(srv):
    body = b"name=patient&_redirect=/after"
    with srv.conn() as c:
        c.send(b"POST /forms/expect HTTP/1.1\r\nHost: t\r\nContent-Type: " + URLENC.encode() +
               b"\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        deadline = time.monotonic() + 3
        while b"\r\n\r\n" not in c.buf and c._fill(deadline):
            pass
        assert c.buf.startswith(b"HTTP/1.1 100 Continue\r\n"), c.buf[:100]
        first = c.read_response(timeout=3)
        assert first[0] == 100 and first[2] == b""
        assert len(rows(srv)) == 0  # nothing before the body
        c.send(body)
        final = c.read_response()
        assert final[0] == 303 and final[1]["location"] == "/after"
    assert len(rows(srv)) == 1


def test_expect_100_continue_refused_when_too_large(make_admin_server):
    srv = make_admin_server(config={"max_body_bytes": 1000})
    with srv.conn() as c:
        c.send(b"POST /forms/big HTTP/1.1\r\nHost: t\r\nContent-Type: " + URLENC.encode() +
               b"\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=3)
        assert r[0] == 413, r[:2]
    assert rows(srv) == []


# --- redirects -----------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/", "/thanks.html", "/a/b?c=d&e=f#frag", "/%C3%A9t%C3%A9",
                                    "thanks.html", "../done?x=1", "?sent=1", "evil.example"])
def test_same_origin_redirect(srv, target):
    r = post(srv, "/forms/r", {"a": "1", "_redirect": target}, ctype=None)
    assert r.status_code == 303 and r.headers["Location"] == target
    assert len(rows(srv)) == 1


def test_absolute_redirect_to_the_same_host(srv):
    target = f"http://127.0.0.1:{srv.port}/done?x=1"
    r = post(srv, "/forms/r", {"a": "1", "_redirect": target}, ctype=None)
    assert r.status_code == 303 and r.headers["Location"] == target
    assert len(rows(srv)) == 1


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example", "//evil.example/path", "http://evil.example",
    "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "https://127.0.0.1.evil.example/",
    "http://127.0.0.1@evil.example/", "/ok\r\nSet-Cookie: x=1", "http:evil.example",
    "mailto:x@evil.example",
])
def test_redirect_to_another_site_is_ignored_and_the_submission_kept(srv, target):
    r = post(srv, "/forms/r", {"a": "1", "_redirect": target}, ctype=None)
    assert r.status_code == 200, (target, r.status_code, r.headers.get("Location"))
    assert "Location" not in r.headers
    assert "text/html" in r.headers["Content-Type"]
    [row] = rows(srv)
    assert json.loads(row["fields"]) == {"a": "1"}
    text = wait_log(srv, lambda t: "_redirect leaves the site" in t)
    assert "[warn]" in text and "form r: _redirect leaves the site" in text


# --- honeypot ------------------------------------------------------------------------------

def test_gotcha_drops_silently(srv):
    real = post(srv, "/forms/contact", "name=Ada&message=hi")
    bot = post(srv, "/forms/contact", "name=Ada&message=hi&_gotcha=http%3A%2F%2Fspam")
    assert bot.status_code == real.status_code == 200
    assert "Thank you, Ada!" in bot.text
    assert len(rows(srv)) == 1
    r = post(srv, "/forms/contact", "name=Bot&_gotcha=x&_redirect=/thanks")
    assert r.status_code == 303 and r.headers["Location"] == "/thanks"
    assert len(rows(srv)) == 1
    # an empty _gotcha (what a person sends) is stored
    assert post(srv, "/forms/contact", "name=Eve&_gotcha=&_redirect=/t").status_code == 303
    assert len(rows(srv)) == 2


# --- multipart -----------------------------------------------------------------------------

def test_multipart_fields_and_file(srv):
    payload = bytes(range(256)) * 300 + b"\r\n--not-a-boundary\r\n"
    r = requests.post(srv.url("/forms/upload"),
                      data={"name": "Ada", "note": "two\r\nlines", "_redirect": "/ok"},
                      files={"attachment": ("report.bin", payload, "application/octet-stream")},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == "/ok"
    [row] = rows(srv)
    assert json.loads(row["fields"]) == {"name": "Ada", "note": "two\r\nlines"}
    [f] = json.loads(row["files"])
    assert f["field"] == "attachment" and f["name"] == "report.bin"
    assert f["size"] == len(payload)
    assert f["path"].startswith("uploads/")
    stored = srv.data_dir / f["path"]
    assert stored.resolve().parent == (srv.data_dir / "uploads").resolve()
    assert stored.read_bytes() == payload
    assert uploads(srv) == [stored.name]


def test_multipart_quoted_boundary_and_filename_star(srv):
    b = "a:b=c ,d?e(f)/g'h"  # needs the quotes: ':', '=', ' ', '?' are tspecials
    body = (f'--{b}\r\nContent-Disposition: form-data; name="who"\r\n\r\nAda\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="doc"; filename="fallback.txt"; '
            f"filename*=UTF-8''caf%C3%A9%20%E2%98%95.txt\r\nContent-Type: text/plain\r\n\r\n"
            f"hello\r\n--{b}--\r\n").encode()
    r = post(srv, "/forms/star?x", body, ctype=f'multipart/form-data; boundary="{b}"')
    assert r.status_code == 200, r.text[:200]
    [row] = rows(srv)
    assert json.loads(row["fields"]) == {"who": "Ada"}
    [f] = json.loads(row["files"])
    assert f["name"] == "caf\u00e9 \u2615.txt" and f["size"] == 5
    assert (srv.data_dir / f["path"]).read_bytes() == b"hello"


def test_client_file_name_never_used_as_a_path(srv):
    r = requests.post(srv.url("/forms/upload"), data={"_redirect": "/ok"},
                      files={"f": ("../../../evil.txt", b"EVIL")}, allow_redirects=False,
                      timeout=10)
    assert r.status_code == 303
    [row] = rows(srv)
    [f] = json.loads(row["files"])
    assert (srv.data_dir / f["path"]).read_bytes() == b"EVIL"
    assert "evil" not in f["path"]
    for p in (srv.data_dir / "evil.txt", srv.data_dir.parent / "evil.txt",
              srv.workdir / "evil.txt"):
        assert not p.exists()


def multipart_body(boundary, size):
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="t"\r\n\r\nv\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def test_file_over_max_body_413_content_length(make_admin_server):
    srv = make_admin_server(config={"max_body_bytes": 65536})
    head, tail = multipart_body("BOUNDARY", 0)
    body = head + b"z" * 100_000 + tail
    data = (b"POST /forms/big HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
            b"boundary=BOUNDARY\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    status, _, _ = exchange(srv, data)
    assert status == 413
    assert rows(srv) == [] and uploads(srv) == []


def test_file_over_max_body_413_streamed(make_admin_server):
    # Chunked: the size is learned only while the file is written, so a part of it is on
    # disk when the limit is passed; it must be removed.
    srv = make_admin_server(config={"max_body_bytes": 65536})
    head, tail = multipart_body("BOUNDARY", 0)
    with srv.conn() as c:
        c.send(b"POST /forms/big HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
               b"boundary=BOUNDARY\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send(b"%x\r\n%s\r\n" % (len(head), head))
        sent_file = False
        try:
            for _ in range(25):  # 25 × 8 KiB: well past 64 KiB
                chunk = b"z" * 8192
                c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent_file = True
            c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent_file
        r = c.read_response()
        assert r is not None and r[0] == 413, r and r[:2]
    assert rows(srv) == []
    deadline = time.monotonic() + 2
    while uploads(srv) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uploads(srv) == [], "a partial upload was left behind"


def test_file_within_limit_is_kept(make_admin_server):
    srv = make_admin_server(config={"max_body_bytes": 65536})
    payload = os.urandom(40_000)
    r = requests.post(srv.url("/forms/ok"), files={"f": ("ok.bin", payload)},
                      data={"_redirect": "/"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    [f] = json.loads(rows(srv)[0]["files"])
    assert (srv.data_dir / f["path"]).read_bytes() == payload


def test_submission_keeps_its_files_when_the_client_leaves(srv):
    """A client that resets its connection right after sending a whole upload with
    Expect: 100-continue (curl sends it for large bodies) is gone while its submission is
    with the store: the 100 meets the reset. The row is stored all the same, so the file it
    names must stay."""
    boundary, n = "QQ", 20
    for i in range(n):
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="i"\r\n\r\n{i}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="f.txt"'
                f'\r\n\r\nfile {i}\r\n--{boundary}--\r\n').encode()
        head = ("POST /forms/left HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection((srv.host, srv.port), timeout=5) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(head + body)  # then the close sends a reset
        time.sleep(0.02)
    deadline = time.monotonic() + 5
    while len(rows(srv)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the worker frees each abandoned call right after its commit
    stored = rows(srv)
    assert stored, "no submission was stored"
    for row in stored:
        i = json.loads(row["fields"])["i"]
        [f] = json.loads(row["files"])
        path = srv.data_dir / f["path"]
        assert path.exists(), f"submission {i}: its row names {f['path']}, which was deleted"
        assert path.read_bytes() == f"file {i}".encode()
    assert len(uploads(srv)) == len(stored)


# --- durability and concurrency ------------------------------------------------------------

def test_submission_survives_sigkill(make_admin_server):
    srv = make_admin_server()
    body = b"name=durable&n=42&_redirect=/ok"
    with srv.conn() as c:
        c.send(b"POST /forms/durable HTTP/1.1\r\nHost: t\r\nUser-Agent: killer\r\n"
               b"Content-Type: " + URLENC.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
               + body)
        r = c.read_response()
        assert r[0] == 303
        sigkill(srv)  # at once: no chance for anything to be written after the 303
    got = rows(srv)
    assert len(got) == 1 and json.loads(got[0]["fields"]) == {"name": "durable", "n": "42"}
    # and a new server on the same data sees it through the API
    again = make_admin_server()
    r = requests.get(again.url("/api/submissions?form=durable"),
                     headers={"Authorization": basic_auth()}, timeout=5)
    assert r.status_code == 200
    subs = r.json()["submissions"]
    assert len(subs) == 1
    s = subs[0]
    assert s["form"] == "durable" and s["fields"] == {"name": "durable", "n": "42"}
    assert s["user_agent"] == "killer" and s["client_ip"] == "127.0.0.1"


def test_50_concurrent_submitters_20_each(make_admin_server):
    srv = make_admin_server(args=["--threads", "4"])
    statuses, errors = [], []
    lock = threading.Lock()

    def submitter(t):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            mine = []
            for i in range(20):
                conn.request("POST", "/forms/load", f"t={t}&i={i}&_redirect=/ok",
                             {"Content-Type": URLENC})
                resp = conn.getresponse()
                resp.read()
                mine.append(resp.status)
            conn.close()
            with lock:
                statuses.extend(mine)
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=submitter, args=(t,)) for t in range(50)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    elapsed = time.monotonic() - t0
    assert not errors, errors[:5]
    assert len(statuses) == 1000 and set(statuses) == {303}, {s: statuses.count(s) for s in set(statuses)}
    got = db_rows(srv.data_dir, "SELECT id, fields FROM submissions WHERE form = 'load'")
    assert len(got) == 1000, len(got)
    pairs = {(f["t"], f["i"]) for f in (json.loads(r["fields"]) for r in got)}
    assert pairs == {(str(t), str(i)) for t in range(50) for i in range(20)}
    assert len({r["id"] for r in got}) == 1000
    assert elapsed < 45, elapsed


def test_database_error_is_503_never_a_false_success(make_admin_server):
    # How to make the database fail reliably, even as root (chmod does not stop root):
    # the server runs with RLIMIT_FSIZE = 256 KiB (SIGXFSZ ignored, so a write past the
    # limit fails with EFBIG instead of killing the process). The database starts small;
    # submissions of ~20 KB each make the WAL reach the limit after a few commits, and
    # from then on every commit fails. Each answer must then be 503, and exactly as many
    # rows as 303 answers must be in the database.
    limit = 256 * 1024

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    srv = make_admin_server(preexec_fn=small_files)
    ok = failed = 0
    s = requests.Session()
    for i in range(100):
        r = s.post(srv.url("/forms/big"), data={"i": str(i), "t": "x" * 20000, "_redirect": "/ok"},
                   allow_redirects=False, timeout=10)
        assert r.status_code in (303, 503), r.status_code
        if r.status_code == 303:
            assert failed == 0, "a success after the database had started failing"
            ok += 1
        else:
            assert "Location" not in r.headers
            failed += 1
            if failed == 3:
                break
    assert failed == 3, "the database never failed: the test's premise is wrong"
    assert ok >= 1
    # without _redirect: 503 too, not the thanks page
    r = s.post(srv.url("/forms/big"), data={"t": "y" * 20000}, timeout=10)
    assert r.status_code == 503 and "Thank you" not in r.text
    got = db_rows(srv.data_dir, "SELECT fields FROM submissions")
    assert len(got) == ok, (len(got), ok)
    assert [json.loads(g["fields"])["i"] for g in got] == [str(i) for i in range(ok)]
    text = wait_log(srv, lambda t: t.count("not stored") >= 4, timeout=3)
    assert text.count("not stored") >= 4, text
    assert re.search(r"\[error\].*form big.*not stored", text), text
    # the server is still up and serving
    assert requests.get(srv.url("/HelloWorld.html"), timeout=5).status_code == 200
