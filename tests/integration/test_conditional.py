# SPDX-License-Identifier: MIT
"""Conditional requests (RFC 9110 §13): a strong ETag that follows the file, If-None-Match
(lists, "*", weak comparison) and If-Modified-Since → 304 with the validators and no body;
If-Match and If-Unmodified-Since → 412; the precedence between them; HEAD; POST is 405."""
import email.utils
import os
import time

import pytest

from conftest import REPO, request

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()
MTIME = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Wed, 15 Nov 2023 00:00:00 GMT"
CONTENT = os.urandom(3000)


@pytest.fixture
def page(make_server):
    """A server with /page.bin (3000 random bytes, mtime MTIME); returns (srv, etag)."""
    srv = make_server(files={"page.bin": CONTENT}, start=False)
    os.utime(srv.root / "page.bin", (MTIME, MTIME))
    srv.start()
    status, headers, body = request(srv, "/page.bin")
    assert status == 200 and body == CONTENT
    assert headers["last-modified"] == LAST_MODIFIED
    return srv, headers["etag"]


def is_strong(etag):
    return etag.startswith('"') and etag.endswith('"') and len(etag) > 2 and '"' not in etag[1:-1]


def conditional(srv, headers, method="GET"):
    """Sends the request, then a plain GET on the same connection: the second response
    must start right after the first, so a 304 that carried body bytes is caught.
    Returns the first (status, headers, body)."""
    with srv.conn() as c:
        extra = "".join(h + "\r\n" for h in headers)
        c.send(f"{method} /page.bin HTTP/1.1\r\nHost: t\r\n{extra}\r\n"
               "GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        first = c.read_response(head=(method == "HEAD"))
        assert first is not None, "closed without a response"
        second = c.read_response()
        assert second is not None and second[0] == 200 and second[2] == HELLO, \
            f"the response after {first[0]} is garbled: {second and second[:2]}"
        return first[:3]


def assert_304(r, etag):
    status, headers, body = r
    assert status == 304, (status, headers)
    assert body == b""
    assert headers["etag"] == etag
    assert headers["last-modified"] == LAST_MODIFIED
    # RFC 9110 §15.4.5: a 304 has no content; a Content-Length, if any, is the selected
    # representation's, never that of an error page or of anything actually sent
    if "content-length" in headers:
        assert int(headers["content-length"]) in (0, len(CONTENT)), headers["content-length"]
    assert "content-range" not in headers


def assert_200(r):
    status, headers, body = r
    assert status == 200, (status, headers)
    assert body == CONTENT


def test_etag_is_strong_and_stable(page):
    srv, etag = page
    assert is_strong(etag), etag
    assert request(srv, "/page.bin")[1]["etag"] == etag
    assert request(srv, "/page.bin", method="HEAD")[1]["etag"] == etag


@pytest.mark.parametrize("change", ["same size", "other size", "touch"])
def test_etag_changes_when_the_file_changes(page, change):
    srv, etag = page
    path = srv.root / "page.bin"
    if change == "same size":
        path.write_bytes(os.urandom(len(CONTENT)))
        os.utime(path, (MTIME + 60, MTIME + 60))
    elif change == "other size":
        path.write_bytes(os.urandom(len(CONTENT) + 1))
        os.utime(path, (MTIME, MTIME))  # same mtime: the size alone must change the tag
    else:
        os.utime(path, (MTIME + 1, MTIME + 1))
    deadline = time.monotonic() + 3
    while True:
        status, headers, body = request(srv, "/page.bin")
        if headers["etag"] != etag or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200
    assert headers["etag"] != etag, f"ETag unchanged 3 s after the file changed ({change})"
    assert is_strong(headers["etag"])
    assert body == path.read_bytes()
    # the old tag no longer validates, the new one does
    assert conditional(srv, [f"If-None-Match: {etag}"])[0] == 200
    assert conditional(srv, [f"If-None-Match: {headers['etag']}"])[0] == 304


def test_if_none_match_304(page):
    srv, etag = page
    assert_304(conditional(srv, [f"If-None-Match: {etag}"]), etag)


@pytest.mark.parametrize("value", ['"a", {etag}', '"a",{etag},"b"', "*", "W/{etag}",
                                   '"x", W/{etag}'])
def test_if_none_match_forms_that_match(page, value):
    srv, etag = page
    assert_304(conditional(srv, ["If-None-Match: " + value.format(etag=etag)]), etag)


@pytest.mark.parametrize("value", ['"a"', '"a", "b"', 'W/"a"', '"{inner}x"'])
def test_if_none_match_forms_that_do_not_match(page, value):
    srv, etag = page
    assert_200(conditional(srv, ["If-None-Match: " + value.format(inner=etag[1:-1])]))


def test_if_none_match_on_two_lines(page):
    srv, etag = page
    assert_304(conditional(srv, ['If-None-Match: "a"', f"If-None-Match: {etag}"]), etag)


def test_head_if_none_match_304(page):
    srv, etag = page
    assert_304(conditional(srv, [f"If-None-Match: {etag}"], method="HEAD"), etag)


@pytest.mark.parametrize("date", [LAST_MODIFIED, LATER])
def test_if_modified_since_equal_or_later_is_304(page, date):
    srv, etag = page
    assert_304(conditional(srv, [f"If-Modified-Since: {date}"]), etag)


def test_if_modified_since_earlier_is_200(page):
    srv, _ = page
    assert_200(conditional(srv, [f"If-Modified-Since: {EARLIER}"]))


def test_if_modified_since_invalid_date_is_ignored(page):
    srv, _ = page
    assert_200(conditional(srv, ["If-Modified-Since: yesterday"]))


def test_head_if_modified_since_304(page):
    srv, etag = page
    assert_304(conditional(srv, [f"If-Modified-Since: {LATER}"], method="HEAD"), etag)


def test_if_none_match_takes_precedence_over_if_modified_since(page):
    srv, etag = page
    # a tag that does not match: 200 even though the date alone would give 304
    assert_200(conditional(srv, ['If-None-Match: "other"', f"If-Modified-Since: {LATER}"]))
    # a tag that matches: 304 even though the date alone would give 200
    assert_304(conditional(srv, [f"If-None-Match: {etag}", f"If-Modified-Since: {EARLIER}"]),
               etag)


@pytest.mark.parametrize("value,want", [('"other"', 412), ("*", 200), ("{etag}", 200),
                                        ('"a", {etag}', 200), ("W/{etag}", 412)])
def test_if_match(page, value, want):
    srv, etag = page
    status, headers, body = conditional(srv, ["If-Match: " + value.format(etag=etag)])
    assert status == want, (value, status)
    if want == 200:
        assert body == CONTENT
    else:
        assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize("date,want", [(EARLIER, 412), (LAST_MODIFIED, 200), (LATER, 200)])
def test_if_unmodified_since(page, date, want):
    srv, _ = page
    status, _, body = conditional(srv, [f"If-Unmodified-Since: {date}"])
    assert status == want, (date, status)
    if want == 200:
        assert body == CONTENT


def test_if_match_takes_precedence_over_if_unmodified_since(page):
    srv, etag = page
    # RFC 9110 §13.2.2: If-Unmodified-Since is only evaluated without If-Match
    assert conditional(srv, [f"If-Match: {etag}", f"If-Unmodified-Since: {EARLIER}"])[0] == 200
    assert conditional(srv, ['If-Match: "no"', f"If-Unmodified-Since: {LATER}"])[0] == 412


def test_412_comes_before_304(page):
    srv, etag = page
    r = conditional(srv, ['If-Match: "no"', f"If-None-Match: {etag}"])
    assert r[0] == 412


@pytest.mark.parametrize("status", [412, 416])
def test_error_for_a_compressed_file_is_plain(make_server, status):
    """A 412 or 416 for a file the client would get gzipped is an HTML page: no
    Content-Encoding, no ETag or Last-Modified of the file it is not."""
    srv = make_server(files={"big.txt": "compressible text " * 500})
    extra = ['If-Match: "nope"'] if status == 412 else ["Range: bytes=999999-"]
    got, h, body = request(srv, "/big.txt", ["Accept-Encoding: gzip"] + extra)
    assert got == status, got
    assert "content-encoding" not in h and "etag" not in h and "last-modified" not in h, h
    assert h["content-type"].startswith("text/html") and body.startswith(b"<!doctype html>")
    if status == 416:
        assert h["content-range"] == "bytes */9000"


@pytest.mark.parametrize("headers", [["If-None-Match: {etag}"], ["If-None-Match: *"],
                                     ['If-Match: "nope"'], ["If-Modified-Since: " + LATER],
                                     ["If-Unmodified-Since: " + EARLIER], []])
def test_post_is_405_whatever_the_preconditions(page, headers):
    srv, etag = page
    hs = [h.format(etag=etag) for h in headers] + ["Content-Length: 0"]
    status, resp_headers, _ = conditional(srv, hs, method="POST")
    assert status == 405, (headers, status)
    assert "GET" in resp_headers["allow"] and "POST" not in resp_headers["allow"]


def test_304_last_modified_is_an_http_date(page):
    srv, etag = page
    _, headers, _ = conditional(srv, [f"If-None-Match: {etag}"])
    when = email.utils.parsedate_to_datetime(headers["last-modified"])
    assert when.timestamp() == MTIME
    assert headers["date"].endswith(" GMT")
