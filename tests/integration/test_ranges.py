# SPDX-License-Identifier: MIT
"""Byte ranges (RFC 9110 §14): 206 with Content-Range and the exact bytes, from a small file
(held in the file cache) and from a large one (sent from the file); several ranges as
multipart/byteranges; 416 with Content-Range: bytes */SIZE; malformed ranges ignored;
If-Range with an ETag or a date; HEAD ignores Range."""
import os
import re
import time

import pytest

from conftest import REPO

HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()
MTIME = 1700000000
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"

SIZES = {"1KiB": 1024, "3MiB": 3 * 1024 * 1024}


@pytest.fixture(params=sorted(SIZES), scope="module")
def blob(request):
    return os.urandom(SIZES[request.param])


@pytest.fixture
def ranged(make_server, blob):
    """A server with /blob.bin; returns (srv, data, etag)."""
    srv = make_server(files={"blob.bin": blob}, start=False)
    os.utime(srv.root / "blob.bin", (MTIME, MTIME))
    srv.start()
    with srv.conn() as c:
        c.get("/blob.bin")
        status, headers, body, _ = c.read_response()
    assert status == 200 and body == blob
    assert headers["accept-ranges"] == "bytes"
    return srv, blob, headers["etag"]


def get(srv, headers=(), method="GET", path="/blob.bin", timeout=10):
    """One request, then a plain GET on the same connection (so a response whose framing
    is wrong is caught). Returns the first (status, headers, body)."""
    with srv.conn(timeout=timeout) as c:
        extra = "".join(h + "\r\n" for h in headers)
        c.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"
               "GET /HelloWorld.html HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        first = c.read_response(head=(method == "HEAD"))
        assert first is not None, "closed without a response"
        second = c.read_response()
        assert second is not None and second[0] == 200 and second[2] == HELLO, \
            f"the response after {first[0]} is garbled"
        return first[:3]


def assert_206(r, data, start, end):
    """A single-part 206 for bytes start..end (inclusive)."""
    status, headers, body = r
    assert status == 206, (status, headers)
    assert headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
    assert int(headers["content-length"]) == end - start + 1 == len(body)
    assert body == data[start:end + 1]
    assert not headers["content-type"].startswith("multipart/")


def assert_whole(r, data):
    status, headers, body = r
    assert status == 200, (status, headers)
    assert "content-range" not in headers
    assert int(headers["content-length"]) == len(data)
    assert body == data


def parse_byteranges(headers, body):
    """Splits a multipart/byteranges body: [(part headers, part bytes)]."""
    ctype = headers["content-type"]
    assert ctype.startswith("multipart/byteranges"), ctype
    m = re.search(r';\s*boundary="?([^";]+)"?', ctype)
    assert m, ctype
    delim = b"--" + m.group(1).encode()
    # preamble (possibly empty, possibly only CRLF), then the first delimiter
    first = body.find(delim)
    assert first >= 0 and body[:first] in (b"", b"\r\n"), body[:first + 80]
    rest = body[first + len(delim):]
    parts = []
    while True:
        if rest.startswith(b"--"):  # the close delimiter
            assert rest[2:] in (b"", b"\r\n"), rest[:80]
            return parts
        assert rest.startswith(b"\r\n"), rest[:80]
        end = rest.find(b"\r\n" + delim)
        assert end >= 0, "part without a following delimiter"
        part, rest = rest[2:end], rest[end + 2 + len(delim):]
        head, sep, data = part.partition(b"\r\n\r\n")
        assert sep, part[:200]
        ph = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.partition(b":")
            ph[k.strip().lower().decode()] = v.strip().decode()
        parts.append((ph, data))


def test_accept_ranges_on_get_and_head(ranged):
    srv, data, _ = ranged
    _, headers, _ = get(srv, method="HEAD")
    assert headers["accept-ranges"] == "bytes"
    assert int(headers["content-length"]) == len(data)


def test_first_100_bytes(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, ["Range: bytes=0-99"]), data, 0, 99)


def test_from_100_to_the_end(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, ["Range: bytes=100-"]), data, 100, len(data) - 1)


def test_last_50_bytes(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, ["Range: bytes=-50"]), data, len(data) - 50, len(data) - 1)


def test_one_byte_ranges(ranged):
    srv, data, _ = ranged
    n = len(data)
    assert_206(get(srv, ["Range: bytes=0-0"]), data, 0, 0)
    assert_206(get(srv, [f"Range: bytes={n - 1}-{n - 1}"]), data, n - 1, n - 1)
    assert_206(get(srv, ["Range: bytes=-1"]), data, n - 1, n - 1)


def test_middle_range(ranged):
    srv, data, _ = ranged
    n = len(data)
    a, b = n // 3, 2 * n // 3
    assert_206(get(srv, [f"Range: bytes={a}-{b}"]), data, a, b)


@pytest.mark.parametrize("spec", ["10-{huge}", "10-{n}", "0-{n}"])
def test_end_beyond_the_size_is_clipped(ranged, spec):
    srv, data, _ = ranged
    n = len(data)
    value = spec.format(n=n, huge=10 ** 15)
    start = int(value.split("-")[0])
    assert_206(get(srv, [f"Range: bytes={value}"]), data, start, n - 1)


def test_suffix_longer_than_the_file_is_the_whole_file(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, [f"Range: bytes=-{len(data) * 2}"]), data, 0, len(data) - 1)


def test_unit_is_case_insensitive(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, ["Range: Bytes=0-9"]), data, 0, 9)


def check_multipart(r, data, spans):
    status, headers, body = r
    assert status == 206, (status, headers)
    assert "content-range" not in headers  # RFC 9110 §14.6: only in the parts
    assert int(headers["content-length"]) == len(body)
    parts = parse_byteranges(headers, body)
    assert len(parts) == len(spans), [p[0] for p in parts]
    for (ph, pdata), (start, end) in zip(parts, spans):
        assert ph["content-range"] == f"bytes {start}-{end}/{len(data)}", ph
        assert ph["content-type"] == "application/octet-stream", ph
        assert pdata == data[start:end + 1], (start, end, len(pdata))


def test_several_ranges_are_multipart(ranged):
    srv, data, _ = ranged
    n = len(data)
    r = get(srv, ["Range: bytes=0-9,20-29,-5"])
    check_multipart(r, data, [(0, 9), (20, 29), (n - 5, n - 1)])


def test_several_ranges_with_spaces_and_an_open_end(ranged):
    srv, data, _ = ranged
    n = len(data)
    r = get(srv, [f"Range: bytes=1-1, 500-599 , {n - 100}-"])
    check_multipart(r, data, [(1, 1), (500, 599), (n - 100, n - 1)])


def test_several_large_ranges(make_server):
    data = os.urandom(3 * 1024 * 1024)
    srv = make_server(files={"blob.bin": data})
    spans = [(0, 99999), (1048576, 1048576 + 65535), (3 * 1024 * 1024 - 70000, 3 * 1024 * 1024 - 1)]
    spec = ",".join(f"{a}-{b}" for a, b in spans)
    check_multipart(get(srv, [f"Range: bytes={spec}"]), data, spans)


def test_unsatisfiable_ones_are_left_out_of_a_set(ranged):
    srv, data, _ = ranged
    n = len(data)
    # RFC 9110 §14.1.1: a set is satisfiable when any of its ranges is
    assert_206(get(srv, [f"Range: bytes=0-9,{n + 10}-{n + 20}"]), data, 0, 9)


def test_unsatisfiable_is_416(make_server):
    data = os.urandom(1024)
    srv = make_server(files={"blob.bin": data})
    for spec in ("5000-", "1024-", "1024-2000", "5000-6000,7000-"):
        status, headers, body = get(srv, [f"Range: bytes={spec}"])
        assert status == 416, (spec, status)
        assert headers["content-range"] == "bytes */1024", (spec, headers)
        assert int(headers["content-length"]) == len(body)
        assert data[:16] not in body


def test_unsatisfiable_large_is_416(make_server):
    data = os.urandom(3 * 1024 * 1024)
    srv = make_server(files={"blob.bin": data})
    status, headers, _ = get(srv, [f"Range: bytes={len(data)}-"])
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}"


def test_range_on_empty_file_is_416(make_server):
    srv = make_server(files={"empty.bin": b""})
    status, headers, _ = get(srv, ["Range: bytes=0-"], path="/empty.bin")
    assert status == 416 and headers["content-range"] == "bytes */0"


@pytest.mark.parametrize("value", ["bytes=abc", "bytes=10-5", "bytes=-", "bytes=", "bytes=0-1-2",
                                   "bytes=x-1", "bytes", "0-99", "bytes=0-99;100-199",
                                   "bytes=1-2,3", "items=0-9", "bytes=0--9", "bytes=+1-5",
                                   "bytes=0x10-0x20", "bytes=99999999999999999999999-"])
def test_malformed_range_is_ignored(ranged, value):
    srv, data, _ = ranged
    assert_whole(get(srv, [f"Range: {value}"]), data)


def test_if_range_with_the_current_etag(ranged):
    srv, data, etag = ranged
    assert_206(get(srv, ["Range: bytes=0-99", f"If-Range: {etag}"]), data, 0, 99)


def test_if_range_with_a_weak_etag_is_whole(ranged):
    srv, data, etag = ranged
    # RFC 9110 §13.1.5: If-Range uses the strong comparison
    assert_whole(get(srv, ["Range: bytes=0-99", f"If-Range: W/{etag}"]), data)


def test_if_range_with_the_last_modified_date(ranged):
    srv, data, _ = ranged
    assert_206(get(srv, ["Range: bytes=-50", f"If-Range: {LAST_MODIFIED}"]),
               data, len(data) - 50, len(data) - 1)


@pytest.mark.parametrize("date", ["Tue, 14 Nov 2023 22:13:21 GMT", "Tue, 14 Nov 2023 22:13:19 GMT",
                                  "not a date"])
def test_if_range_with_another_date_is_whole(ranged, date):
    srv, data, _ = ranged
    assert_whole(get(srv, ["Range: bytes=0-99", f"If-Range: {date}"]), data)


def test_if_range_with_an_old_etag_is_whole(make_server):
    old_data = os.urandom(1024)
    srv = make_server(files={"blob.bin": old_data})
    _, headers, _ = get(srv)
    old = headers["etag"]
    new_data = os.urandom(1024)
    (srv.root / "blob.bin").write_bytes(new_data)
    deadline = time.monotonic() + 3
    while get(srv)[1]["etag"] == old and time.monotonic() < deadline:
        time.sleep(0.1)
    _, headers, body = get(srv)
    assert headers["etag"] != old and body == new_data
    # the client holds the first 100 bytes of the old file: it must get the whole new one
    assert_whole(get(srv, ["Range: bytes=100-", f"If-Range: {old}"]), new_data)
    assert_206(get(srv, ["Range: bytes=100-", f"If-Range: {headers['etag']}"]), new_data,
               100, 1023)


def test_range_on_head_is_200_headers_only(ranged):
    srv, data, _ = ranged
    status, headers, body = get(srv, ["Range: bytes=0-99"], method="HEAD")
    assert status == 200, status
    assert body == b""
    assert int(headers["content-length"]) == len(data)
    assert "content-range" not in headers


def test_range_with_if_none_match_is_304(ranged):
    srv, _, etag = ranged
    status, headers, body = get(srv, ["Range: bytes=0-99", f"If-None-Match: {etag}"])
    assert status == 304 and body == b"" and "content-range" not in headers


def test_range_on_a_404_is_404(ranged):
    srv, _, _ = ranged
    status, headers, _ = get(srv, ["Range: bytes=0-9"], path="/missing.bin")
    assert status == 404 and "content-range" not in headers


def test_pipelined_ranges(ranged):
    srv, data, _ = ranged
    n = len(data)
    specs = [(0, 99), (n - 100, n - 1), (7, 7), (n // 2, min(n - 1, n // 2 + 4095))]
    with srv.conn(timeout=10) as c:
        c.send(b"".join(b"GET /blob.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=%d-%d\r\n\r\n" % s
                        for s in specs))
        for a, b in specs:
            status, headers, body, _ = c.read_response()
            assert status == 206 and body == data[a:b + 1]
            assert headers["content-range"] == f"bytes {a}-{b}/{n}"
