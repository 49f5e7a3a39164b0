# SPDX-License-Identifier: MIT
"""Compression (issue #4, SPEC §3): gzip and brotli for compressible types over 1 KiB, Accept-Encoding with q-values, brotli on ties; bodies compressed once per file and
encoding and kept in the file cache (per request with the cache off); precompressed
file.gz / file.br served as they are unless older than the file; Vary: Accept-Encoding on
every response of a compressible type; an ETag per encoding; HEAD with the compressed
length; ranges from the identity bytes; already compressed types and bodies that do not
shrink left alone. Bodies are decoded with Python's gzip module and the `brotli` command
(Debian package brotli) and compared byte for byte with the files; curl and requests act
as real clients."""
import gzip
import json
import os
import random
import shutil
import subprocess
import time

import pytest
import requests

from conftest import (BROTLI, Server, assert_clean_exit, basic_auth, decode, request,
                      request_then_ok, run_threads, unbrotli)

CURL = shutil.which("curl")
needs_brotli = pytest.mark.skipif(not BROTLI, reason="the brotli command (Debian package brotli) is not installed")

WORDS = ("static site server cache header request response gzip brotli encoding "
         "listing folder index about assets script style markup json fetch").split()


def text(n, seed=1):
    """n bytes of text that compresses well but not trivially (words and numbers)."""
    rnd = random.Random(seed)
    out, size = [], 0
    while size < n:
        w = f"{rnd.choice(WORDS)} {rnd.randrange(1000)}{' ' if rnd.random() < 0.9 else chr(10)}"
        out.append(w)
        size += len(w)
    return "".join(out).encode()[:n]


def noise(n, seed=2):
    """n bytes that no compressor can shrink."""
    return random.Random(seed).randbytes(n)


def brotli_file(data, quality=2):
    """data compressed by the brotli command (for precompressed files)."""
    if not BROTLI:
        pytest.skip("the brotli command (Debian package brotli) is not installed")
    r = subprocess.run([BROTLI, "-c", "-q", str(quality)], input=data, stdout=subprocess.PIPE,
                       timeout=10, check=True)
    return r.stdout


def vary_has_accept_encoding(headers):
    return "accept-encoding" in [v.strip().lower() for v in headers.get("vary", "").split(",")]


OK = b"ok"


# --- one server for the plain cases ---------------------------------------------------------

COMPRESSIBLE = ["html", "css", "js", "mjs", "json", "svg", "xml", "txt", "md", "csv", "wasm"]
PRECOMPRESSED_TYPES = ["png", "jpg", "jpeg", "gif", "webp", "zip", "gz", "woff2", "woff",
                       "mp4", "pdf"]
PAGE = text(8192, seed=3)

SITE = {
    "ok.txt": OK,
    "page.html": PAGE,
    "small.txt": text(1023, seed=4),
    "kib.txt": text(1024, seed=5),
    "kib1.txt": text(1025, seed=5),
    "noise.txt": noise(4096),
    "noise.js": noise(64 * 1024, seed=6),
    **{f"f.{ext}": text(6000, seed=10 + i) for i, ext in enumerate(COMPRESSIBLE)},
    # compressible bytes under names of compressed formats: the name decides
    **{f"c.{ext}": text(6000, seed=40 + i) for i, ext in enumerate(PRECOMPRESSED_TYPES)},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("compression")
    root = work / "www"
    root.mkdir()
    for rel, data in SITE.items():
        (root / rel).write_bytes(data)
    srv = Server(work, root).start()
    yield srv
    assert_clean_exit(*srv.stop())


@pytest.mark.parametrize("ext", COMPRESSIBLE)
def test_compressible_types_get_gzip_and_brotli(site, ext):
    data = SITE[f"f.{ext}"]
    for ae, want in (("gzip", "gzip"), ("br", "br"), (None, None)):
        st, h, body = request_then_ok(site, f"/f.{ext}", [f"Accept-Encoding: {ae}"] if ae else [])
        assert st == 200, (ext, ae, st)
        assert h.get("content-encoding") == want, (ext, ae, h)
        assert vary_has_accept_encoding(h), (ext, ae, h)
        assert int(h["content-length"]) == len(body)
        if want:
            assert len(body) < len(data)
        assert decode(h, body) == data, (ext, ae)


def test_one_kib_is_the_floor(site):
    """SPEC §3: over 1 KiB. Exactly 1024 bytes stays identity, 1025 is compressed."""
    for path, want in (("/small.txt", None), ("/kib.txt", None), ("/kib1.txt", "gzip")):
        st, h, body = request_then_ok(site, path, ["Accept-Encoding: gzip"])
        assert st == 200 and h.get("content-encoding") == want, (path, h)
        assert vary_has_accept_encoding(h), (path, h)
        assert decode(h, body) == SITE[path[1:]]


NEGOTIATION = [
    ("gzip", "gzip"),
    ("br", "br"),
    ("gzip, br", "br"),                       # a tie: brotli
    ("br, gzip", "br"),
    ("gzip;q=1.0, br;q=1", "br"),
    ("br;q=0.5, gzip", "gzip"),
    ("gzip;q=0.8, br;q=0.9", "br"),
    ("gzip ; q=0.5 , br ; q=0.4", "gzip"),
    ("br;q=0, gzip", "gzip"),                 # q=0 refuses
    ("gzip;q=0", None),
    ("gzip;q=0.000, br;q=0", None),
    ("gzip;q=0.001", "gzip"),
    ("*", "br"),
    ("*;q=0.5, gzip", "gzip"),
    ("*, br;q=0", "gzip"),
    ("*;q=0", None),
    ("x-gzip", "gzip"),
    ("GZIP", "gzip"),
    ("Br", "br"),
    ("deflate, compress", None),
    ("identity", None),
    ("deflate, gzip;q=0.9, zstd", "gzip"),
    ("", None),
]


@pytest.mark.parametrize("accept,want", NEGOTIATION, ids=[a or "empty" for a, _ in NEGOTIATION])
def test_accept_encoding_negotiation(site, accept, want):
    st, h, body = request_then_ok(site, "/page.html", [f"Accept-Encoding: {accept}"])
    assert st == 200
    assert h.get("content-encoding") == want, (accept, h)
    assert vary_has_accept_encoding(h)
    assert decode(h, body) == PAGE


@pytest.mark.parametrize("ext", PRECOMPRESSED_TYPES)
def test_already_compressed_types_are_never_encoded(site, ext):
    data = SITE[f"c.{ext}"]
    for method in ("GET", "HEAD"):
        st, h, body = request_then_ok(site, f"/c.{ext}", ["Accept-Encoding: br, gzip, *"], method)
        assert st == 200 and "content-encoding" not in h, (ext, method, h)
        assert int(h["content-length"]) == len(data)
        assert body == (data if method == "GET" else b"")


@pytest.mark.parametrize("path", ["/noise.txt", "/noise.js"])
def test_a_body_that_does_not_shrink_is_sent_as_is(site, path):
    data = SITE[path[1:]]
    for ae in ("gzip", "br", "br, gzip"):
        for _ in range(2):  # when made and when found in the cache
            st, h, body = request_then_ok(site, path, [f"Accept-Encoding: {ae}"])
            assert st == 200 and "content-encoding" not in h, (path, ae, h)
            assert vary_has_accept_encoding(h)
            assert body == data


def test_vary_on_every_response_of_a_compressible_type(site):
    _, h, _ = request_then_ok(site, "/page.html")
    etag, last_modified = h["etag"], h["last-modified"]
    cases = {
        "identity": ("GET", [], 200),
        "gzip": ("GET", ["Accept-Encoding: gzip"], 200),
        "br": ("GET", ["Accept-Encoding: br"], 200),
        "head": ("HEAD", ["Accept-Encoding: gzip"], 200),
        "304 etag": ("GET", [f"If-None-Match: {etag}"], 304),
        "304 date": ("GET", ["Accept-Encoding: gzip", f"If-Modified-Since: {last_modified}"], 304),
        "206": ("GET", ["Accept-Encoding: gzip", "Range: bytes=0-9"], 206),
    }
    for name, (method, headers, status) in cases.items():
        st, h, _ = request_then_ok(site, "/page.html", headers, method)
        assert st == status, (name, st)
        assert vary_has_accept_encoding(h), (name, h)
    for path in ("/small.txt", "/noise.txt"):  # too small, does not shrink: Vary all the same
        assert vary_has_accept_encoding(request_then_ok(site, path, ["Accept-Encoding: gzip"])[1]), path


def etags(srv, path):
    """The ETag of the identity, gzip and brotli representations."""
    out = {}
    for ae in ("identity", "gzip", "br"):
        st, h, _ = request_then_ok(srv, path, [f"Accept-Encoding: {ae}"])
        assert st == 200
        assert h.get("content-encoding", "identity") == ae
        out[ae] = h["etag"]
    return out


def test_each_encoding_has_its_own_etag(site):
    tags = etags(site, "/page.html")
    ident = tags["identity"]
    assert ident.startswith('"') and ident.endswith('"')
    assert tags["gzip"] == ident[:-1] + '-gzip"'
    assert tags["br"] == ident[:-1] + '-br"'
    # and each is stable
    assert etags(site, "/page.html") == tags


def test_if_none_match_with_the_encodings_etag_is_304(site):
    tags = etags(site, "/page.html")
    for ae, tag in (("gzip", tags["gzip"]), ("br", tags["br"]), ("identity", tags["identity"]),
                    ("gzip", f"W/{tags['gzip']}"), ("gzip", f'"x", {tags["gzip"]}')):
        st, h, body = request_then_ok(site, "/page.html", [f"Accept-Encoding: {ae}", f"If-None-Match: {tag}"])
        assert st == 304 and body == b"", (ae, tag, st)
        assert h["etag"] == tags[ae], (ae, h)
        assert vary_has_accept_encoding(h)
    # another representation's tag does not match the one selected: the whole body
    for ae, tag in (("gzip", tags["identity"]), ("gzip", tags["br"]), ("br", tags["gzip"]),
                    ("identity", tags["gzip"])):
        st, h, body = request_then_ok(site, "/page.html", [f"Accept-Encoding: {ae}", f"If-None-Match: {tag}"])
        assert st == 200 and h["etag"] == tags[ae], (ae, tag, st, h)
        assert decode(h, body) == PAGE


@pytest.mark.parametrize("ae", ["gzip", "br", "identity"])
def test_head_gives_the_length_of_what_get_sends(site, ae):
    hdrs = [f"Accept-Encoding: {ae}"]
    _, g, body = request_then_ok(site, "/f.js", hdrs)
    st, h, hbody = request_then_ok(site, "/f.js", hdrs, "HEAD")
    assert st == 200 and hbody == b""
    assert h.get("content-encoding") == g.get("content-encoding")
    assert h.get("content-encoding", "identity") == ae
    assert int(h["content-length"]) == int(g["content-length"]) == len(body)
    assert h["etag"] == g["etag"]


@pytest.mark.parametrize("ae", ["gzip", "br", "gzip, br", "*"])
def test_ranges_come_from_the_identity_bytes(site, ae):
    request_then_ok(site, "/page.html", [f"Accept-Encoding: {ae}"])  # the variant exists by now
    ident = request_then_ok(site, "/page.html")[1]["etag"]
    for spec, start, end in (("0-99", 0, 99), ("1000-", 1000, len(PAGE) - 1), ("-50", len(PAGE) - 50, len(PAGE) - 1)):
        st, h, body = request_then_ok(site, "/page.html", [f"Accept-Encoding: {ae}", f"Range: bytes={spec}"])
        assert st == 206, (spec, st, h)
        assert "content-encoding" not in h, (spec, h)
        assert h["content-range"] == f"bytes {start}-{end}/{len(PAGE)}"
        assert h["etag"] == ident
        assert body == PAGE[start:end + 1]
    # If-Range with the identity ETag: still the range
    st, h, body = request_then_ok(site, "/page.html", [f"Accept-Encoding: {ae}", "Range: bytes=10-19",
                                                 f"If-Range: {ident}"])
    assert (st, body, h.get("content-encoding")) == (206, PAGE[10:20], None)


def test_compression_off(make_server):
    srv = make_server(files={"ok.txt": OK, "page.html": PAGE}, args=["--no-gzip"])
    for ae in ("gzip", "br", "*"):
        st, h, body = request_then_ok(srv, "/page.html", [f"Accept-Encoding: {ae}"])
        assert st == 200 and "content-encoding" not in h and body == PAGE


# --- real clients ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/page.html", "/f.js", "/f.json"])
def test_requests_gets_gzip_and_decodes_it(site, path):
    r = requests.get(site.url(path), timeout=5)  # Accept-Encoding: gzip, deflate
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.content == SITE[path[1:]]


@pytest.mark.skipif(not CURL, reason="curl not installed")
@pytest.mark.parametrize("path", ["/page.html", "/f.css", "/f.svg"])
def test_curl_compressed_gets_brotli(site, path, tmp_path):
    version = subprocess.run([CURL, "-V"], stdout=subprocess.PIPE, text=True).stdout
    if "brotli" not in version.lower():
        pytest.skip("this curl has no brotli")
    out, head = tmp_path / "body", tmp_path / "head"
    subprocess.run([CURL, "-sS", "--compressed", "-o", str(out), "-D", str(head), site.url(path)],
                   check=True, timeout=10)
    headers = head.read_text().lower()
    assert "content-encoding: br" in headers, headers  # curl offers deflate, gzip, br (zstd)
    assert out.read_bytes() == SITE[path[1:]]


# --- compressed once, kept in the cache ------------------------------------------------------

def cache_stats(srv):
    st, h, body = request(srv, "/api/stats", [f"Authorization: {basic_auth()}"])
    assert st == 200, (st, body[:200])
    return json.loads(body)["cache"]


def test_compressed_once_per_file_and_encoding(make_admin_server):
    """Each encoding of a file is made on its first request and kept with the file's cache
    entry: the cache grows by exactly the compressed length once, never again."""
    data = text(200 * 1024, seed=7)
    srv = make_admin_server(files={"ok.txt": OK, "app.js": data})
    request(srv, "/app.js")
    request(srv, "/ok.txt")
    before = cache_stats(srv)
    bodies = {}
    for ae in ("gzip", "br"):
        st, h, body = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])
        assert st == 200 and h["content-encoding"] == ae
        after = cache_stats(srv)
        assert after["bytes"] - before["bytes"] == len(body), (ae, before, after, len(body))
        assert after["entries"] == before["entries"]
        before = after
        for _ in range(5):
            st, h, again = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])
            assert again == body
        assert cache_stats(srv)["bytes"] == before["bytes"], ae
        bodies[ae] = body
    assert gzip.decompress(bodies["gzip"]) == data and unbrotli(bodies["br"]) == data


def test_compression_with_the_cache_off(make_server):
    data = text(50 * 1024, seed=8)
    srv = make_server(files={"ok.txt": OK, "app.js": data, "noise.txt": noise(8192)},
                      config={"cache": {"enabled": False}})
    for ae in ("gzip", "br", "gzip, br"):
        for _ in range(2):
            st, h, body = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])
            assert st == 200 and h.get("content-encoding") == ("gzip" if ae == "gzip" else "br"), h
            assert vary_has_accept_encoding(h)
            assert decode(h, body) == data
            hst, hh, _ = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"], "HEAD")
            assert int(hh["content-length"]) == len(body) and hh["etag"] == h["etag"]
        st, h, body = request_then_ok(srv, "/noise.txt", [f"Accept-Encoding: {ae}"])
        assert "content-encoding" not in h and body == noise(8192)
    st, h, body = request_then_ok(srv, "/app.js", ["Accept-Encoding: gzip", "Range: bytes=5-9"])
    assert (st, h.get("content-encoding"), body) == (206, None, data[5:10])


def test_a_large_compressible_file_is_compressed(make_server):
    """A 1.5 MiB JavaScript bundle (larger than cache.max_file_bytes, 1 MiB by default) is
    a compressible type of at least 1 KiB like any other."""
    data = text(1536 * 1024, seed=9)
    srv = make_server(files={"ok.txt": OK, "bundle.js": data})
    for ae in ("gzip", "br"):
        st, h, body = request_then_ok(srv, "/bundle.js", [f"Accept-Encoding: {ae}"])
        assert st == 200 and vary_has_accept_encoding(h)
        assert h.get("content-encoding") == ae, \
            f"Accept-Encoding: {ae} for a {len(data)}-byte .js: sent uncompressed ({len(body)} bytes)"
        assert decode(h, body) == data


def test_concurrent_clients_get_correct_bodies(make_server):
    """Eight clients asking for many files in every encoding at once, with a cache small
    enough to evict all the time: every body decodes to its file."""
    files = {f"f{i}.js": text(3000 + 97 * i, seed=100 + i) for i in range(40)}
    srv = make_server(files={"ok.txt": OK, **files}, args=["--threads", "4"],
                      config={"cache": {"max_bytes": 64 * 1024}})
    errors, seen = [], {}

    def client(seed):
        rnd = random.Random(seed)
        with srv.conn(timeout=10) as c:
            for _ in range(60):
                name = rnd.choice(sorted(files))
                ae = rnd.choice(["gzip", "br", "identity", "br, gzip"])
                c.get(f"/{name}", [f"Accept-Encoding: {ae}"])
                st, h, body, _ = c.read_response()
                if st != 200 or int(h["content-length"]) != len(body):
                    errors.append((name, ae, st, h))
                seen[(name, h.get("content-encoding"), body)] = h

    errors += run_threads(8, client, timeout=60)
    assert not errors, errors[:5]
    for (name, _, body), h in seen.items():  # each distinct body once
        assert decode(h, body) == files[name], (name, h)


# --- precompressed files ---------------------------------------------------------------------

T = 1700000000


def precompressed_server(make_server, files, mtimes, **kw):
    """A server whose files get the given mtimes (seconds, or (seconds, ns offset))."""
    srv = make_server(files={"ok.txt": OK, **files}, start=False, **kw)
    for rel, t in mtimes.items():
        ns = T * 10**9 + t * 10**9 if isinstance(t, int) else T * 10**9 + t[0] * 10**9 + t[1]
        os.utime(srv.root / rel, ns=(ns, ns))
    return srv.start()


@needs_brotli
def test_precompressed_files_are_served_as_they_are(make_server):
    data = text(20000, seed=11)
    gz = gzip.compress(data, compresslevel=1, mtime=0)  # not what mica would make
    br = brotli_file(data, quality=1)
    srv = precompressed_server(make_server, {"app.js": data, "app.js.gz": gz, "app.js.br": br},
                               {"app.js": 0, "app.js.gz": 0, "app.js.br": 5})
    ident = request_then_ok(srv, "/app.js")[1]["etag"]
    for ae, want, file in (("gzip", "gzip", gz), ("br", "br", br), ("gzip, br", "br", br),
                           ("br;q=0.5, gzip", "gzip", gz)):
        for method in ("GET", "HEAD"):
            st, h, body = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"], method)
            assert st == 200 and h.get("content-encoding") == want, (ae, h)
            assert int(h["content-length"]) == len(file)
            assert h["etag"] == ident[:-1] + f'-{want}"'
            assert h["content-type"].startswith("text/javascript")
            assert vary_has_accept_encoding(h)
        assert body == b""
        assert request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])[2] == file, ae
    st, h, body = request_then_ok(srv, "/app.js", ["Accept-Encoding: gzip", f"If-None-Match: {ident[:-1]}-gzip\""])
    assert st == 304
    st, h, body = request_then_ok(srv, "/app.js", ["Accept-Encoding: br", "Range: bytes=100-199"])
    assert (st, h.get("content-encoding"), body) == (206, None, data[100:200])
    # the .gz itself is a gzip file like any other
    st, h, body = request_then_ok(srv, "/app.js.gz", ["Accept-Encoding: gzip"])
    assert (st, h["content-type"], h.get("content-encoding"), body) == (200, "application/gzip", None, gz)


@needs_brotli
def test_precompressed_files_older_than_the_file_are_ignored(make_server):
    data = text(20000, seed=12)
    stale = text(20000, seed=13)  # what the file said when these were made
    gz = gzip.compress(stale, mtime=0)
    br = brotli_file(stale)
    srv = precompressed_server(make_server, {"app.js": data, "app.js.gz": gz, "app.js.br": br},
                               {"app.js": 0, "app.js.gz": -60, "app.js.br": (0, -1000)})
    for ae in ("gzip", "br"):
        st, h, body = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])
        assert st == 200 and h["content-encoding"] == ae
        assert decode(h, body) == data, f"the older app.js.{ae.replace('gzip', 'gz')} was served"


@needs_brotli
def test_precompressed_files_with_the_cache_off(make_server):
    data = text(20000, seed=14)
    gz = gzip.compress(data, compresslevel=1, mtime=0)
    br = brotli_file(data, quality=1)
    srv = precompressed_server(make_server, {"app.js": data, "app.js.gz": gz, "app.js.br": br},
                               {"app.js": 0, "app.js.gz": 1, "app.js.br": 1},
                               config={"cache": {"enabled": False}})
    for ae, file in (("gzip", gz), ("br", br)):
        st, h, body = request_then_ok(srv, "/app.js", [f"Accept-Encoding: {ae}"])
        assert st == 200 and h.get("content-encoding") == ae, h
        assert decode(h, body) == data
        assert body == file, (f"with cache.enabled false, Accept-Encoding: {ae} got a body made "
                              f"on the fly ({len(body)} bytes), not app.js.{'gz' if ae == 'gzip' else 'br'} "
                              f"({len(file)} bytes)")


def test_precompressed_file_added_rebuilt_removed_is_seen_within_a_second(make_server):
    """app.js is cached with its content in memory; a precompressed app.js.gz that
    appears, is rebuilt (the original untouched) or goes away is seen on a request after at
    most about a second, like a change to the original."""
    data = text(20000, seed=16)
    srv = precompressed_server(make_server, {"app.js": data}, {"app.js": 0})
    made = request_then_ok(srv, "/app.js", ["Accept-Encoding: gzip"])[2]  # mica's own, now cached
    assert gzip.decompress(made) == data

    def body_becomes(want, what):
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            st, h, body = request_then_ok(srv, "/app.js", ["Accept-Encoding: gzip"])
            assert st == 200 and decode(h, body) == data
            if want(body):
                took = time.monotonic() - t0
                assert took <= 1.6, f"{what}: seen after {took:.2f} s"
                return
            time.sleep(0.05)
        raise AssertionError(f"{what}: not seen after 3 s")

    gz1 = gzip.compress(data, compresslevel=1, mtime=0)
    gz9 = gzip.compress(data, compresslevel=9, mtime=0)
    assert len({gz1, gz9, made}) == 3
    (srv.root / "app.js.gz").write_bytes(gz1)
    os.utime(srv.root / "app.js.gz", (T + 1, T + 1))
    body_becomes(lambda b: b == gz1, "app.js.gz added")
    (srv.root / "app.js.gz").write_bytes(gz9)
    os.utime(srv.root / "app.js.gz", (T + 2, T + 2))
    body_becomes(lambda b: b == gz9, "app.js.gz rebuilt")
    (srv.root / "app.js.gz").unlink()
    body_becomes(lambda b: b not in (gz1, gz9), "app.js.gz removed")


def large_precompressed(make_server):
    """A server with big.js (256 KiB) and big.js.gz too large for the cache's memory
    (max_file_bytes 16 KiB), so it is sent from its file; returns (srv, data, gz)."""
    data = text(256 * 1024, seed=15)
    gz = gzip.compress(data, compresslevel=9, mtime=0)
    srv = precompressed_server(make_server, {"big.js": data, "big.js.gz": gz},
                               {"big.js": 0, "big.js.gz": 1},
                               config={"cache": {"max_file_bytes": 16 * 1024}})
    st, h, body = request_then_ok(srv, "/big.js", ["Accept-Encoding: gzip"])
    assert (st, h.get("content-encoding"), body) == (200, "gzip", gz)
    return srv, data, gz


def test_a_large_precompressed_file_rebuilt(make_server):
    """big.js.gz rebuilt (another length) while big.js stays the same: the response must
    be the new file with its own length (or another correct encoding), never the old
    length over the new bytes."""
    srv, data, gz9 = large_precompressed(make_server)
    gz1 = gzip.compress(data, compresslevel=1, mtime=0)
    assert len(gz1) != len(gz9)
    (srv.root / "big.js.gz").write_bytes(gz1)
    os.utime(srv.root / "big.js.gz", (T + 2, T + 2))
    for _ in range(2):
        st, h, body = request_then_ok(srv, "/big.js", ["Accept-Encoding: gzip"])
        assert st == 200
        if h.get("content-encoding") == "gzip":
            assert body == gz1, (f"big.js.gz rebuilt ({len(gz9)} → {len(gz1)} bytes): got "
                                 f"Content-Length {h['content-length']}, a body that "
                                 f"{'is' if body == gz9 else 'is not'} the old file")
        else:
            assert decode(h, body) == data


def test_a_large_precompressed_file_removed(make_server):
    srv, data, _ = large_precompressed(make_server)
    (srv.root / "big.js.gz").unlink()
    st, h, body = request_then_ok(srv, "/big.js", ["Accept-Encoding: gzip"])
    assert st == 200, (f"big.js.gz removed, big.js unchanged: GET /big.js with gzip → {st}, "
                       f"Content-Encoding {h.get('content-encoding')}")
    assert decode(h, body) == data
