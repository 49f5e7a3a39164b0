# SPDX-License-Identifier: MIT
"""HTTP/1.1 protocol over raw sockets: strict parsing and its error statuses, versions,
persistent connections, pipelining, request bodies that must not be parsed as requests."""
import socket

import pytest

from conftest import REPO

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()


def exchange(srv, data, timeout=5.0):
    """Sends data, then reads responses until the server closes the connection.

    Returns (responses, closed): closed is False if the connection stayed open for
    `timeout` seconds after the last response."""
    out = []
    with srv.conn(timeout) as c:
        c.send(data)
        while True:
            try:
                r = c.read_response(timeout=timeout)
            except TimeoutError:
                return out, False
            if r is None:
                return out, True
            out.append(r)


def one_error(srv, data, want, closed=True):
    """data must draw exactly one response with status want (then a close if closed)."""
    with srv.conn() as c:
        c.send(data)
        r = c.read_response()
        assert r is not None, f"no response to {data[:80]!r}"
        assert r[0] == want, (data[:80], r[0], r[2][:200])
        assert int(r[1]["content-length"]) == len(r[2])
        if closed:
            assert c.wait_closed(3) is not None, "connection not closed after the error"
            assert c.buf == b"", f"more after the error: {c.buf[:100]!r}"
        return r


@pytest.mark.parametrize("line", [
    b"GET\r\n",
    b"GET /\r\n",
    b"GET / \r\n",
    b"GET  / HTTP/1.1\r\n",
    b"GET /  HTTP/1.1\r\n",
    b"GET / HTTP/1.1 \r\n",
    b" GET / HTTP/1.1\r\n",
    b"GET\t/ HTTP/1.1\r\n",
    b"GET / HTTP/1.1 extra\r\n",
    b"GET /a b HTTP/1.1\r\n",
    b"GET index.html HTTP/1.1\r\n",
    b"GET /\x01 HTTP/1.1\r\n",
    b"GET /\x7f HTTP/1.1\r\n",
    b"GET /\xff HTTP/1.1\r\n",
    b"G\x00T / HTTP/1.1\r\n",
    b"GET / HTTP/1.1\rX\r\n",
    b"/ HTTP/1.1\r\n",
    b"GET HTTP/1.1\r\n",
])
def test_malformed_request_line_is_400(server, line):
    data = line + b"Host: t\r\n\r\n" if line.endswith(b"\r\n") else line
    one_error(server, data, 400)


@pytest.mark.parametrize("version", [b"HTTP/1.10", b"http/1.1", b"HTTP/1", b"HTTP/1.1.1",
                                     b"HTTP/01.1", b"HTTP/1.a", b"HTTPS/1.1", b"HTTP/ 1.1",
                                     b"HTTP/-1.1", b"HTTP/1.", b"HTTP/.1", b"HTTP/11",
                                     b"HTTP/10.0", b"HTTP1.1", b"HTTP/1,1"])
def test_malformed_version_is_400(server, version):
    one_error(server, b"GET / " + version + b"\r\nHost: t\r\n\r\n", 400)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/9.9"])
def test_http2_and_above_is_505(server, version):
    one_error(server, b"GET / " + version + b"\r\nHost: t\r\n\r\n", 505)


def test_h2_preface_is_505(server):
    one_error(server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)


@pytest.mark.parametrize("minor", [b"2", b"9"])
def test_http_1_x_is_served_as_1_1(server, minor):
    with server.conn() as c:
        c.send(b"GET /HelloWorld.html HTTP/1." + minor + b"\r\nHost: t\r\n\r\n")
        status, headers, body, version = c.read_response()
        assert (status, version, body) == (200, "HTTP/1.1", HELLO)
        c.get("/HelloWorld.html")  # 1.1 semantics: still open
        assert c.read_response()[0] == 200


@pytest.mark.parametrize("headers", [
    b"Host: t\r\nX-Folded: a\r\n  b\r\n",
    b"Host: t\r\nX-Folded: a\r\n\tb\r\n",
    b"Host : t\r\n",
    b"Host: t\r\nX-Space : v\r\n",
    b"Host: t\r\nX-Tab\t: v\r\n",
    b"Host: t\r\nX-CR: a\rb\r\n",
    b"Host: t\r\nX\rCR: ab\r\n",
    b"Host: t\r\nX-NUL: a\x00b\r\n",
    b"Host: t\r\nNo-colon-here\r\n",
    b"Host: t\r\n: empty-name\r\n",
    b"Host: t\r\nX(y): z\r\n",
    b"Host: t\r\nX y: z\r\n",
    b" Host: t\r\n",
    b"Host: t\r\nX-Ctl: a\x01b\r\n",
])
def test_malformed_header_is_400(server, headers):
    one_error(server, b"GET / HTTP/1.1\r\n" + headers + b"\r\n", 400)


def test_bare_cr_line_ending_is_400(server):
    one_error(server, b"GET / HTTP/1.1\r\nHost: t\r\r\n\r\n", 400)


def test_target_over_8k_is_414(server):
    one_error(server, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)


def test_target_under_8k_is_not_414(server):
    # the limit is on the whole target: a long query string under 8 KiB is fine, and a
    # path over 4 KiB is a name no file can have on Linux: 404, not 414
    with server.conn() as c:
        target = b"/HelloWorld.html?q=" + b"a" * (8100 - 19)
        assert len(target) == 8100
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r[0] == 200 and r[2] == HELLO
        c.get("/" + "a" * 5000)
        assert c.read_response()[0] == 404


def test_header_block_over_16k_is_431(server):
    one_error(server, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n", 431)


def test_many_headers_over_16k_is_431(server):
    hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(170))
    one_error(server, b"GET / HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n", 431)


def test_header_block_under_16k_is_served(server):
    with server.conn() as c:
        c.send(b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nCookie: " + b"c" * 12000 + b"\r\n\r\n")
        status, _, body, _ = c.read_response()
        assert status == 200 and body == HELLO


def test_max_header_bytes_from_config(make_server):
    srv = make_server(config={"max_header_bytes": 4096})
    one_error(srv, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431)
    with srv.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Small: " + b"a" * 3000 + b"\r\n\r\n")
        assert c.read_response()[0] == 200


@pytest.mark.parametrize("method", [b"BREW", b"PROPFIND", b"FOO", b"get"])
def test_unknown_method_is_501(server, method):
    r = one_error(server, method + b" / HTTP/1.1\r\nHost: t\r\n\r\n", 501, closed=False)
    assert r[1]["content-type"].startswith("text/html")


def test_trace_is_405(server):
    with server.conn() as c:
        c.send(b"TRACE / HTTP/1.1\r\nHost: t\r\nX-Secret: abc\r\n\r\n")
        status, headers, body, _ = c.read_response()
        assert status == 405
        assert "allow" in headers and "TRACE" not in headers["allow"]
        assert b"X-Secret" not in body


def test_options_star(server):
    with server.conn() as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body, _ = c.read_response()
        assert status == 204 and body == b""
        allow = {m.strip() for m in headers["allow"].split(",")}
        assert {"GET", "HEAD", "OPTIONS"} <= allow
        c.get("/HelloWorld.html")  # still usable
        assert c.read_response()[2] == HELLO


@pytest.mark.parametrize("headers", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n",
])
def test_content_length_and_transfer_encoding_is_400_and_close(server, headers):
    one_error(server, b"POST / HTTP/1.1\r\nHost: t\r\n" + headers +
              b"\r\n0\r\n\r\nGET /evil HTTP/1.1\r\nHost: t\r\n\r\n", 400)


@pytest.mark.parametrize("headers", [
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Content-Length: 0\r\nContent-Length: 20\r\n",
])
def test_conflicting_content_length_is_400_and_close(server, headers):
    one_error(server, b"GET / HTTP/1.1\r\nHost: t\r\n" + headers +
              b"\r\nhello GET /evil HTTP/1.1\r\nHost: t\r\n\r\n", 400)


@pytest.mark.parametrize("value", [b"abc", b"-1", b"+5", b"5 5", b"0x10", b"1.0", b""])
def test_invalid_content_length_is_400(server, value):
    one_error(server, b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: " + value + b"\r\n\r\n", 400)


def test_huge_content_length_is_rejected(server):
    with server.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n")
        r = c.read_response()
        assert r is not None and r[0] in (400, 413)
        assert c.wait_closed(3) is not None


def test_http11_without_host_is_400(server):
    one_error(server, b"GET / HTTP/1.1\r\n\r\n", 400)


def test_two_host_headers_is_400(server):
    one_error(server, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)


def test_http10_without_host_is_fine(server):
    resps, closed = exchange(server, b"GET /HelloWorld.html HTTP/1.0\r\n\r\n")
    assert [r[0] for r in resps] == [200] and resps[0][2] == HELLO and closed


def test_http10_closes_after_response(server):
    with server.conn() as c:
        c.send(b"GET /HelloWorld.html HTTP/1.0\r\nHost: t\r\n\r\n")
        status, headers, body, _ = c.read_response()
        assert status == 200 and body == HELLO
        assert headers.get("connection", "close").lower() == "close"
        assert c.wait_closed(3) is not None


def test_http10_keep_alive_when_asked(server):
    with server.conn() as c:
        for _ in range(3):
            c.send(b"GET /HelloWorld.html HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body, _ = c.read_response()
            assert status == 200 and body == HELLO
            assert headers["connection"].lower() == "keep-alive"
        # a 1.0 request without keep-alive ends it
        c.send(b"GET /HelloWorld.html HTTP/1.0\r\nHost: t\r\n\r\n")
        assert c.read_response()[0] == 200
        assert c.wait_closed(3) is not None


def test_http11_keeps_connection_open(server):
    with server.conn() as c:
        for path in ("/HelloWorld.html", "/nope", "/style.css", "/HelloWorld.html"):
            c.get(path)
            status, headers, _, version = c.read_response()
            assert version == "HTTP/1.1"
            assert status == (404 if path == "/nope" else 200)
            assert headers.get("connection", "keep-alive").lower() != "close"


@pytest.mark.parametrize("value", [b"close", b"Close", b"keep-alive, close", b"CLOSE"])
def test_connection_close_is_honoured(server, value):
    data = (b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nConnection: " + value +
            b"\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
    resps, closed = exchange(server, data)
    assert closed
    assert len(resps) == 1 and resps[0][0] == 200 and resps[0][2] == HELLO
    assert resps[0][1]["connection"].lower() == "close"


def make_numbered(n, size):
    files = {}
    for i in range(n):
        line = f"file {i:03d}\n".encode()
        files[f"p/{i:03d}.txt"] = (line * (size // len(line) + 1))[:size]
    return files


@pytest.mark.parametrize("size", [16, 2048], ids=["small", "2KiB"])
def test_pipelining_100_in_order(make_server, size):
    files = make_numbered(100, size)
    srv = make_server(files=files)
    data = b"".join(b"GET /p/%03d.txt HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(100))
    with srv.conn(timeout=5) as c:
        c.send(data)
        for i in range(100):
            try:
                r = c.read_response()
            except TimeoutError:
                raise AssertionError(f"stalled after {i} of 100 responses")
            assert r is not None, f"closed after {i} responses"
            assert r[0] == 200 and r[2] == files[f"p/{i:03d}.txt"], f"response {i} out of order"


def test_pipelining_mixed(make_server):
    srv = make_server(files={"a.txt": "AAAA", "b.txt": "BB"})
    data = (b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
            b"HEAD /b.txt HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
            b"GET /b.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    with srv.conn() as c:
        c.send(data)
        assert c.read_response()[0::2] == (200, b"AAAA")
        st, h, _, _ = c.read_response(head=True)
        assert st == 200 and h["content-length"] == "2"
        assert c.read_response()[0] == 404
        assert c.read_response()[0] == 405
        assert c.read_response()[0::2] == (200, b"BB")
        assert c.wait_closed(3) is not None
        assert c.buf == b""


def test_get_body_is_not_parsed_as_a_request(make_server):
    srv = make_server(files={"evil": "EVIL", "real.txt": "REAL"})
    smuggle = b"GET /evil HTTP/1.1\r\n\r\n"
    assert len(smuggle) == 22
    data = (b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\n" + smuggle +
            b"GET /real.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps, closed = exchange(srv, data)
    assert closed
    assert [r[0] for r in resps] == [200, 200]
    assert resps[0][2] == HELLO and resps[1][2] == b"REAL"


def test_get_body_in_the_brief(make_server):
    # the body (20 bytes) is "GET /evil HTTP/1.1\r\n", then an empty line would follow
    srv = make_server(files={"evil": "EVIL"})
    with srv.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nGET /evil HTTP/1.1\r\n\r\n")
        first = c.read_response()
        assert first[0] == 200 and first[2] == HELLO
        # the remaining "\r\n" is at most an empty line before the next request
        c.send(b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rest = []
        while (r := c.read_response()) is not None:
            rest.append(r)
        assert b"EVIL" not in b"".join(r[2] for r in rest)
        assert len(rest) == 1, [r[0] for r in rest]
        assert rest[0][0] in (200, 400)


def test_chunked_body_is_not_parsed_as_a_request(make_server):
    srv = make_server(files={"evil": "EVIL"})
    inner = b"GET /evil HTTP/1.1\r\nHost: x\r\n\r\n"
    data = (b"POST /HelloWorld.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n" +
            b"GET /HelloWorld.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps, closed = exchange(srv, data)
    assert closed
    assert all(b"EVIL" not in r[2] for r in resps)
    statuses = [r[0] for r in resps]
    # either the chunked body is read (405 for the POST, then the GET), or the request is
    # refused and the connection closed
    assert statuses in ([405, 200], [405], [400], [411], [501]), statuses


def test_unknown_transfer_encoding_is_refused(server):
    resps, closed = exchange(server, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                                     b"\r\nGET /evil HTTP/1.1\r\nHost: t\r\n\r\n")
    assert closed and len(resps) == 1 and resps[0][0] in (400, 501)


def test_absolute_form_target(server):
    with server.conn() as c:
        target = f"http://127.0.0.1:{server.port}/HelloWorld.html"
        c.send(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        r = c.read_response()
        assert r[0] == 200 and r[2] == HELLO


def test_request_split_byte_by_byte(server):
    data = b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n"
    with server.conn() as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.read_response()
        assert r[0] == 200 and r[2] == HELLO


def test_half_closed_client_gets_its_response(server):
    with server.conn() as c:
        c.send(b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r is not None and r[0] == 200 and r[2] == HELLO
        assert c.wait_closed(3) is not None


def test_garbage_after_valid_request(server):
    resps, closed = exchange(server, b"GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n"
                                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert closed
    assert [r[0] for r in resps] == [200, 400]


def test_tls_client_hello_on_http_port(server):
    resps, closed = exchange(server, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 60)
    assert closed
    assert [r[0] for r in resps] in ([], [400])


def test_error_then_server_still_fine(server):
    for data in (b"\x00" * 100, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5, b"\r\n" * 50):
        with server.conn(timeout=2) as c:
            c.send(data)
    with server.conn() as c:
        c.get("/HelloWorld.html")
        assert c.read_response()[2] == HELLO
