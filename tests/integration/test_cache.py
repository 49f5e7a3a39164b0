# SPDX-License-Identifier: MIT
"""The file cache (issue #4) as GET /api/stats reports it: "cache": {hits, misses, entries,
bytes}. A repeated request is a hit, also once the entry has been checked against the
file again; files above cache.max_file_bytes keep only their metadata; bytes stay within
cache.max_bytes however many files are asked for, compressed variants included; eviction
is least recently used; cache.enabled false holds nothing. (That the cache follows
changes to the files is in test_resources.py.)"""
import json
import random
import time

from conftest import basic_auth, request, run_threads

KIB = 1024


def body(n, seed):
    """n bytes of text that gzip and brotli shrink to about a third."""
    rnd = random.Random(seed)
    return "".join(f"{rnd.randrange(10 ** 6):06d} {rnd.choice('abcdefgh')} "
                   for _ in range(n // 9 + 1)).encode()[:n]


def stats(srv):
    st, h, data = request(srv, "/api/stats", [f"Authorization: {basic_auth()}"])
    assert st == 200, (st, data[:200])
    cache = json.loads(data)["cache"]
    assert set(cache) >= {"hits", "misses", "entries", "bytes"}, cache
    return cache


def get(srv, path, ae=None):
    st, h, data = request(srv, path, [f"Accept-Encoding: {ae}"] if ae else [])
    assert st == 200, (path, st)
    return h, data


def delta(before, after):
    return {k: after[k] - before[k] for k in ("hits", "misses", "entries", "bytes")}


def test_first_request_misses_then_hits(make_admin_server):
    data = body(10 * KIB, 1)
    srv = make_admin_server(files={"a.txt": data})
    s0 = stats(srv)
    assert get(srv, "/a.txt")[1] == data
    s1 = stats(srv)
    d = delta(s0, s1)
    assert (d["misses"], d["hits"], d["entries"]) == (1, 0, 1), d
    assert len(data) <= d["bytes"] <= len(data) + 4 * KIB, d  # the content and a little metadata
    for _ in range(3):
        assert get(srv, "/a.txt")[1] == data
    d = delta(s1, stats(srv))
    assert d == {"hits": 3, "misses": 0, "entries": 0, "bytes": 0}, d
    # after its second of trust the entry is checked against the file: still a hit
    time.sleep(1.1)
    s2 = stats(srv)
    assert get(srv, "/a.txt")[1] == data
    assert delta(s2, stats(srv)) == {"hits": 1, "misses": 0, "entries": 0, "bytes": 0}
    # HEAD and a range are answered from the same entry
    request(srv, "/a.txt", method="HEAD")
    st, _, part = request(srv, "/a.txt", ["Range: bytes=0-9"])
    assert (st, part) == (206, data[:10])
    d = delta(s2, stats(srv))
    assert (d["hits"], d["misses"]) == (3, 0), d


def test_a_changed_file_is_a_miss(make_admin_server):
    srv = make_admin_server(files={"a.txt": "one"})
    get(srv, "/a.txt")
    (srv.root / "a.txt").write_text("second")
    time.sleep(1.1)
    s0 = stats(srv)
    assert get(srv, "/a.txt")[1] == b"second"
    d = delta(s0, stats(srv))
    assert (d["misses"], d["hits"], d["entries"]) == (1, 0, 0), d


def test_files_above_max_file_bytes_keep_only_metadata(make_admin_server):
    big, small = body(64 * KIB, 2), body(8 * KIB, 3)
    srv = make_admin_server(files={"big.txt": big, "small.txt": small},
                            config={"cache": {"max_file_bytes": 16 * KIB}})
    s0 = stats(srv)
    assert get(srv, "/big.txt")[1] == big
    s1 = stats(srv)
    d = delta(s0, s1)
    assert (d["misses"], d["entries"]) == (1, 1) and 0 < d["bytes"] < 4 * KIB, d
    assert get(srv, "/big.txt")[1] == big  # the metadata is used: a hit
    s2 = stats(srv)
    assert delta(s1, s2)["hits"] == 1
    assert get(srv, "/small.txt")[1] == small
    assert delta(s2, stats(srv))["bytes"] >= len(small)


def test_the_cache_off_holds_nothing(make_admin_server):
    data = body(10 * KIB, 4)
    srv = make_admin_server(files={"a.txt": data}, config={"cache": {"enabled": False}})
    for ae in (None, "gzip", "br"):
        for _ in range(2):
            h, got = get(srv, "/a.txt", ae)
            assert h.get("content-encoding") == ae
    s = stats(srv)
    assert (s["hits"], s["entries"], s["bytes"]) == (0, 0, 0), s


def many_files(n, size, seed=0):
    return {f"f{i:03d}.txt": body(size, seed * 1000 + i) for i in range(n)}


def test_bytes_stay_within_max_bytes(make_admin_server):
    max_bytes = 256 * KIB
    files = many_files(200, 4 * KIB)
    srv = make_admin_server(files=files, config={"cache": {"max_bytes": max_bytes}})
    s0 = stats(srv)
    for i, (name, data) in enumerate(sorted(files.items())):
        assert get(srv, "/" + name)[1] == data
        if i % 25 == 24:
            s = stats(srv)
            assert s["bytes"] <= max_bytes, (i, s)
    s = stats(srv)
    d = delta(s0, s)
    assert d["misses"] == 200
    assert 0 < s["entries"] < 200 and s["bytes"] <= max_bytes, s
    # what the entries hold is (at most) what bytes says
    assert s["entries"] * 4 * KIB <= s["bytes"] + 1, s


def dense(n, seed):
    """n printable bytes that gzip and brotli shrink only to about 85 %."""
    rnd = random.Random(seed)
    return bytes(rnd.randrange(33, 127) for _ in range(n))


def test_bytes_stay_within_max_bytes_with_compressed_variants(make_admin_server):
    """gzip and brotli variants are charged to the cache too: clients asking for each
    file in each encoding must not take bytes past max_bytes."""
    max_bytes = 256 * KIB
    files = {f"f{i:03d}.txt": dense(4 * KIB, i) for i in range(60)}
    srv = make_admin_server(files=files, config={"cache": {"max_bytes": max_bytes}})
    worst = {"bytes": 0}
    for name, data in sorted(files.items()):
        for ae in (None, "gzip", "br"):
            h, got = get(srv, "/" + name, ae)
            assert h.get("content-encoding") == ae
            s = stats(srv)
            if s["bytes"] > worst["bytes"]:
                worst = dict(s, at=f"{name} {ae or 'identity'}")
    assert worst["bytes"] <= max_bytes, (
        f"cache.max_bytes {max_bytes}: /api/stats said bytes {worst['bytes']} "
        f"({worst['entries']} entries) after GET /{worst['at']}, asking for 60 files of "
        f"4 KiB each without Accept-Encoding, then with gzip, then with br")


def test_least_recently_used_are_evicted_first(make_admin_server):
    """A hot file asked for between cold ones survives a stream of cold files that evicts
    the first of them; the last file asked for is still there."""
    files = many_files(300, 4 * KIB, seed=2)
    names = sorted(files)
    hot, cold = names[0], names[1:]
    srv = make_admin_server(files=files, config={"cache": {"max_bytes": 256 * KIB}})
    get(srv, "/" + hot)
    for i, name in enumerate(cold):
        get(srv, "/" + name)
        if i % 4 == 3:
            get(srv, "/" + hot)

    def hit(name):
        s0 = stats(srv)
        assert get(srv, "/" + name)[1] == files[name]
        d = delta(s0, stats(srv))
        assert d["hits"] + d["misses"] == 1, d
        return d["hits"] == 1

    assert hit(hot), "the file asked for every few requests was evicted"
    assert hit(cold[-1]), "the file asked for last was evicted"
    assert not hit(cold[0]), "the first cold file survived 298 others in a 256 KiB cache"


def test_concurrent_requests_keep_the_counts(make_admin_server):
    """Hits and misses add up to the requests made, from every worker."""
    files = many_files(20, 2 * KIB, seed=3)
    srv = make_admin_server(files=files, args=["--threads", "4"])
    s0 = stats(srv)
    errors = []

    def client(seed):
        rnd = random.Random(seed)
        with srv.conn() as c:
            for _ in range(50):
                name = rnd.choice(sorted(files))
                c.get("/" + name)
                st, _, data, _ = c.read_response()
                if st != 200 or data != files[name]:
                    errors.append((name, st))

    errors += run_threads(8, client, timeout=30)
    assert not errors, errors[:5]
    d = delta(s0, stats(srv))
    assert d["hits"] + d["misses"] == 400, d
    assert 20 <= d["misses"] <= 20 + 8, d  # one per file, a few more when workers race
    assert d["entries"] == 20
