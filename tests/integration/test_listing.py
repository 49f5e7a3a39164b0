# SPDX-License-Identifier: MIT
"""Directory listings (issue #4): what is listed, how names are escaped and linked, order,
JSON, breadcrumbs, the bound on entries, and listing off."""
import html.parser
import json
import os
import re
import threading
import time

import pytest

from conftest import request

# Names that break naive escaping or linking: each must show as itself and its link must
# fetch exactly that file.
HOSTILE = [
    "with space.txt",
    "<b>&\"'.txt",
    "#hash.txt",
    "q?x=1.txt",
    "100%.txt",
    "%41.txt",
    "a+b.txt",
    "semi;colon=1.txt",
    "javascript:alert(1).txt",
    "café ☕.txt",
]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SHOWN_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")


class Listing(html.parser.HTMLParser):
    """The rows, breadcrumbs, parent link and sort links of a listing page."""

    def __init__(self):
        super().__init__()
        self.rows = []       # {kind, href, name, size, bytes, time, time_iso}
        self.crumbs = []     # (text, href or None for the current one)
        self.sort_links = {}  # column class → (href, aria-sort)
        self.parent = None
        self._row = None
        self._td = None
        self._th = None
        self._in_crumbs = False
        self._crumb = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "tr" and "entry" in cls:
            self._row = {"kind": "dir" if "dir" in cls else "file", "href": None, "name": ""}
        elif tag == "tr" and "up" in cls:
            self._row = {"kind": "up"}
        elif tag == "td" and self._row is not None:
            self._td = cls[0] if cls else None
            if self._td == "size":
                self._row["bytes"] = a.get("data-bytes")
                self._text = []
        elif tag == "a" and self._row is not None and self._td == "name":
            if self._row["kind"] == "up":
                self.parent = a["href"]
            else:
                self._row["href"] = a["href"]
        elif tag == "span" and self._td == "name" and self._row is not None:
            self._text = []
        elif tag == "time" and self._row is not None:
            self._row["time_iso"] = a.get("datetime")
            self._text = []
        elif tag == "th":
            self._th = (cls[0] if cls else None, a.get("aria-sort"))
        elif tag == "a" and self._th:
            self.sort_links[self._th[0]] = (a["href"], self._th[1])
        elif tag == "nav" and "crumbs" in cls:
            self._in_crumbs = True
        elif self._in_crumbs and tag == "li":
            self._crumb = [None, []]
        elif self._in_crumbs and tag == "a" and self._crumb is not None:
            self._crumb[0] = a["href"]

    def handle_endtag(self, tag):
        text = "".join(self._text)
        if tag == "span" and self._td == "name" and self._row is not None:
            self._row["name"] = text
        elif tag == "td" and self._td == "size" and self._row is not None:
            self._row["size"] = text.strip()
        elif tag == "time" and self._row is not None:
            self._row["time"] = text
        if tag == "td":
            self._td = None
        elif tag == "th":
            self._th = None
        elif tag == "tr" and self._row is not None:
            if self._row["kind"] != "up":
                self.rows.append(self._row)
            self._row = None
        elif tag == "li" and self._crumb is not None:
            self.crumbs.append(("".join(self._crumb[1]).strip(), self._crumb[0]))
            self._crumb = None
        elif tag == "nav":
            self._in_crumbs = False

    def handle_data(self, data):
        self._text.append(data)
        if self._crumb is not None:
            self._crumb[1].append(data)


def parse(body):
    p = Listing()
    p.feed(body.decode())
    p.close()
    return p


def get_listing(srv, path, headers=()):
    status, hdrs, body = request(srv, path, headers)
    assert status == 200, (path, status, body[:300])
    assert hdrs["content-type"] == "text/html; charset=utf-8"
    return hdrs, body, parse(body)


def get_json(srv, path, headers=("Accept: application/json",)):
    status, hdrs, body = request(srv, path, headers)
    assert status == 200, (path, status, body[:300])
    assert hdrs["content-type"] == "application/json"
    return hdrs, json.loads(body)


def names(rows):
    return [r["name"] for r in rows]


def test_every_name_shown_escaped_and_linked(make_server):
    files = {f"docs/{n}": f"content of {n}" for n in HOSTILE}
    files["docs/sub dir/inner.txt"] = "inner"
    files["docs/a&b <dir>/x.txt"] = "x"
    srv = make_server(bare=True, files=files)
    hdrs, body, page = get_listing(srv, "/docs/")
    assert hdrs["vary"] == "Accept, Accept-Encoding"
    assert hdrs["cache-control"] == "no-cache"
    assert sorted(names(page.rows)) == sorted(HOSTILE + ["sub dir", "a&b <dir>"])
    # HTML escaping: the dangerous bytes never appear raw in the page.
    assert b"<b>&" not in body and b"<dir>" not in body
    assert "&lt;b&gt;&amp;&quot;&#39;.txt".encode() in body
    for row in page.rows:
        href = row["href"]
        assert re.fullmatch(r"[A-Za-z0-9\-._~%/]+", href), href  # every other byte encoded
        status, _, got = request(srv, href)
        assert status == 200, (row["name"], href, status)
        if row["kind"] == "file":
            assert got == f"content of {row['name']}".encode(), href
            assert not href.endswith("/")
        else:
            assert href.endswith("/")
            assert parse(got).rows, href  # a listing of that folder


def test_folders_first_then_files(make_server):
    srv = make_server(bare=True, files={"d/a.txt": "a", "d/zz/x": "x", "d/B/x": "x",
                                        "d/c.txt": "c", "d/0.txt": "0"})
    _, _, page = get_listing(srv, "/d/")
    assert [(r["kind"], r["name"]) for r in page.rows] == [
        ("dir", "B"), ("dir", "zz"), ("file", "0.txt"), ("file", "a.txt"), ("file", "c.txt")]
    dirs = [r for r in page.rows if r["kind"] == "dir"]
    assert all(r["size"] == "—" for r in dirs)


def test_dotfiles_hidden(make_server):
    srv = make_server(bare=True, files={"d/.env": "SECRET", "d/.git/config": "x",
                                        "d/.hidden.txt": "h", "d/seen.txt": "s",
                                        ".well-known/x": "x", "visible.txt": "v"})
    _, body, page = get_listing(srv, "/d/")
    assert names(page.rows) == ["seen.txt"]
    assert b".env" not in body and b".git" not in body and b".hidden" not in body
    _, doc = get_json(srv, "/d/")
    assert [e["name"] for e in doc["entries"]] == ["seen.txt"]
    # The root lists no dotfolder either, not even .well-known.
    _, _, root = get_listing(srv, "/")
    assert names(root.rows) == ["d", "visible.txt"]


def test_symlinks_outside_hidden_inside_listed(make_server, tmp_path):
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOPSECRET")
    (tmp_path / "outside-dir").mkdir()
    srv = make_server(bare=True, start=False,
                      files={"d/real.txt": "real", "d/realdir/in.txt": "in", "top.txt": "top",
                             ".env": "SECRET=1", ".git/config": "[core]"},
                      symlinks={"d/to-etc": "/etc", "d/to-passwd": "/etc/passwd",
                                "d/to-outside": str(outside),
                                "d/to-outside-dir": str(tmp_path / "outside-dir"),
                                "d/up-and-out": "../../../outside-secret.txt",
                                "d/broken": "nowhere.txt", "d/loop": "loop",
                                "d/alias.txt": "real.txt", "d/aliasdir": "realdir",
                                "d/to-top.txt": "../top.txt", "d/env.txt": "../.env",
                                "d/gitlink": "../.git"})
    srv.start()
    _, body, page = get_listing(srv, "/d/")
    assert [(r["kind"], r["name"]) for r in page.rows] == [
        ("dir", "aliasdir"), ("dir", "realdir"),
        ("file", "alias.txt"), ("file", "real.txt"), ("file", "to-top.txt")]
    for hidden in (b"to-etc", b"to-passwd", b"to-outside", b"up-and-out", b"broken", b"loop",
                   b"env.txt", b"gitlink"):
        assert hidden not in body
    # a link is no way in to a dotfile (SPEC §4): as if it were not there
    for path in ("/d/env.txt", "/d/gitlink/config", "/d/gitlink/"):
        status, _, got = request(srv, path)
        assert status == 404 and b"SECRET" not in got and b"[core]" not in got, (path, status)
    rows = {r["name"]: r for r in page.rows}
    assert rows["alias.txt"]["bytes"] == "4"  # the target's size, not the link's
    assert request(srv, rows["to-top.txt"]["href"])[2] == b"top"
    assert request(srv, rows["aliasdir"]["href"])[0] == 200
    _, doc = get_json(srv, "/d/?format=json")
    assert {e["name"] for e in doc["entries"]} == set(rows)


def test_fifo_and_unservable_names_hidden(make_server):
    srv = make_server(bare=True, files={"d/ok.txt": "ok"}, start=False)
    os.mkfifo(srv.root / "d" / "pipe")
    for raw in (b"ctl\x01.txt", b"back\\slash.txt", b"del\x7f.txt"):
        with open(os.path.join(os.fsencode(srv.root / "d"), raw), "wb") as f:
            f.write(b"x")
    srv.start()
    _, body, page = get_listing(srv, "/d/")
    assert names(page.rows) == ["ok.txt"]
    assert b"pipe" not in body


def test_invalid_utf8_name_shown_replaced_and_linked_exactly(make_server):
    srv = make_server(bare=True, start=False)
    (srv.root / "d").mkdir()
    with open(os.path.join(os.fsencode(srv.root / "d"), b"caf\xe9.txt"), "wb") as f:
        f.write(b"latin-1")
    srv.start()
    _, _, page = get_listing(srv, "/d/")
    assert names(page.rows) == ["caf\ufffd.txt"]
    assert page.rows[0]["href"] == "/d/caf%E9.txt"
    assert request(srv, "/d/caf%E9.txt")[2] == b"latin-1"
    _, doc = get_json(srv, "/d/")  # still valid JSON (json.loads would have failed)
    assert doc["entries"][0]["name"] == "caf\ufffd.txt"
    assert doc["entries"][0]["href"] == "/d/caf%E9.txt"


def sort_server(make_server):
    """Files and folders whose name, size and time orders all differ."""
    srv = make_server(bare=True, start=False, files={
        "d/file10": b"x" * 300, "d/file2": b"x" * 100, "d/Alpha": b"x" * 200,
        "d/zdir/x": "x", "d/adir/x": "x"})
    base = time.time() - 3600
    for name, offset in (("file10", 1), ("Alpha", 2), ("file2", 3), ("zdir", 4), ("adir", 5)):
        os.utime(srv.root / "d" / name, (base + offset, base + offset))
    return srv.start()


@pytest.mark.parametrize("query,want", [
    ("", ["adir", "zdir", "Alpha", "file2", "file10"]),
    ("?sort=name&order=asc", ["adir", "zdir", "Alpha", "file2", "file10"]),
    ("?sort=name&order=desc", ["zdir", "adir", "file10", "file2", "Alpha"]),
    # Folders have no size: by name, whichever the order.
    ("?sort=size", ["adir", "zdir", "file2", "Alpha", "file10"]),
    ("?sort=size&order=desc", ["adir", "zdir", "file10", "Alpha", "file2"]),
    ("?sort=time&order=asc", ["zdir", "adir", "file10", "Alpha", "file2"]),
    ("?sort=time&order=desc", ["adir", "zdir", "file2", "Alpha", "file10"]),
    # Unknown values are the defaults, never an error.
    ("?sort=owner&order=sideways", ["adir", "zdir", "Alpha", "file2", "file10"]),
    ("?sort=&order=", ["adir", "zdir", "Alpha", "file2", "file10"]),
    ("?order=desc&sort", ["zdir", "adir", "file10", "file2", "Alpha"]),
], ids=["default", "name-asc", "name-desc", "size-asc", "size-desc", "time-asc",
        "time-desc", "invalid", "empty", "name-desc-bare"])
def test_sort(make_server, query, want):
    srv = sort_server(make_server)
    _, _, page = get_listing(srv, "/d/" + query)
    assert names(page.rows) == want
    sep = "&" if query else "?"
    _, doc = get_json(srv, "/d/" + query + sep + "format=json", headers=())
    assert [e["name"] for e in doc["entries"]] == want


def test_sort_links_toggle(make_server):
    srv = sort_server(make_server)
    _, _, page = get_listing(srv, "/d/")
    assert page.sort_links == {"name": ("?sort=name&order=desc", "ascending"),
                               "size": ("?sort=size&order=desc", "none"),
                               "time": ("?sort=time&order=desc", "none")}
    _, _, page = get_listing(srv, "/d/?sort=size&order=desc")
    assert page.sort_links["size"] == ("?sort=size&order=asc", "descending")
    assert page.sort_links["name"] == ("?sort=name&order=asc", "none")
    # Every link works relative to the folder.
    for href, _ in page.sort_links.values():
        assert request(srv, "/d/" + href)[0] == 200


def test_sizes_and_times(make_server):
    srv = make_server(bare=True, start=False, files={
        "d/empty": b"", "d/small": b"x" * 1023, "d/kib": b"x" * 1229,
        "d/mib": b"x" * (3 << 20)})
    os.utime(srv.root / "d" / "kib", (1795654923, 1795654923))  # 2026-11-26T01:02:03Z
    srv.start()
    _, _, page = get_listing(srv, "/d/")
    rows = {r["name"]: r for r in page.rows}
    assert {n: r["size"] for n, r in rows.items()} == {
        "empty": "0 B", "small": "1023 B", "kib": "1.2 KiB", "mib": "3 MiB"}
    assert rows["mib"]["bytes"] == str(3 << 20)
    assert rows["kib"]["time_iso"] == "2026-11-26T01:02:03Z"
    assert rows["kib"]["time"] == "2026-11-26 01:02"
    assert all(SHOWN_TIME.match(r["time"]) and ISO_UTC.match(r["time_iso"]) for r in page.rows)


def test_json_by_accept_and_by_query(make_server):
    files = {f"docs/{n}": f"content of {n}" for n in HOSTILE}
    files["docs/sub/x"] = "x"
    srv = make_server(bare=True, files=files)
    want = ["sub"] + sorted(HOSTILE, key=lambda n: n.lower())
    for path, headers in (("/docs/", ("Accept: application/json",)),
                          ("/docs/?format=json", ()),
                          ("/docs/?format=json", ("Accept: text/html",)),
                          ("/docs/", ("Accept: text/html;q=0.5, application/json",))):
        hdrs, doc = get_json(srv, path, headers)
        assert hdrs["vary"] == "Accept, Accept-Encoding" and hdrs["cache-control"] == "no-cache"
        assert doc["path"] == "/docs/"
        assert doc["count"] == len(want) and doc["more"] == 0
        assert {e["name"] for e in doc["entries"]} == set(want)
        assert doc["entries"][0] == {"name": "sub", "type": "dir", "size": None,
                                     "modified": doc["entries"][0]["modified"],
                                     "href": "/docs/sub/"}
        for e in doc["entries"][1:]:
            assert e["type"] == "file"
            assert e["size"] == len(f"content of {e['name']}".encode())
            assert ISO_UTC.match(e["modified"])
            assert request(srv, e["href"])[2] == f"content of {e['name']}".encode()
    # Browsers and curl get HTML; ?format=html beats Accept.
    for path, headers in (("/docs/", ("Accept: text/html,application/xhtml+xml,*/*;q=0.8",)),
                          ("/docs/", ("Accept: */*",)), ("/docs/", ()),
                          ("/docs/?format=html", ("Accept: application/json",))):
        get_listing(srv, path, headers)


def test_head_same_headers_no_body(make_server):
    srv = make_server(bare=True, files={"d/a.txt": "a", "d/b.txt": "bb"})
    for headers in ((), ("Accept: application/json",)):
        g_status, g, g_body = request(srv, "/d/", headers)
        h_status, h, h_body = request(srv, "/d/", headers, method="HEAD")
        assert g_status == h_status == 200
        assert h_body == b""
        for k in ("content-type", "content-length", "vary", "cache-control"):
            assert h[k] == g[k], k
        assert int(g["content-length"]) == len(g_body)


def test_folder_link_swapped_while_listed_is_never_500(make_server):
    """A folder link swapped between a plain folder and .git while it is being listed:
    every answer is the listing or 404, never a 500, never what .git holds."""
    srv = make_server(bare=True, files={"sub/a.txt": "a", ".git/config": "[core] secret"})
    link = srv.root / "ln"
    tmp = srv.root / "ln.tmp"
    link.symlink_to("sub")
    stop = threading.Event()

    def swap():
        i = 0
        while not stop.is_set() and i < 20000:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(".git" if i % 2 else "sub")
            os.replace(tmp, link)
            i += 1

    t = threading.Thread(target=swap, daemon=True)
    t.start()
    seen = {}
    try:
        with srv.conn(timeout=5) as c:
            for _ in range(400):
                c.get("/ln/")
                status, _, body = c.read_response()[:3]
                seen[status] = seen.get(status, 0) + 1
                assert b"secret" not in body and b"config" not in body
    finally:
        stop.set()
        t.join(5)
    assert set(seen) <= {200, 404}, seen


@pytest.mark.parametrize("how", ["config", "cli"])
def test_listing_off_is_403(make_server, how):
    """A folder without an index is 403 when listing is off; the root (SPEC §2) 404."""
    kw = {"config": {"directory_listing": False}} if how == "config" else {"args": ["--no-listing"]}
    srv = make_server(bare=True, files={"d/a.txt": "a"}, **kw)
    for path, headers, want in (("/d/", (), 403), ("/d/?format=json", (), 403),
                                ("/d/", ("Accept: application/json",), 403), ("/", (), 404)):
        status, _, body = request(srv, path, headers)
        assert status == want, path
        assert b"a.txt" not in body


def test_index_file_wins(make_server):
    srv = make_server(bare=True, files={"d/index.html": "the index", "d/a.txt": "a"})
    status, _, body = request(srv, "/d/")
    assert (status, body) == (200, b"the index")
    status, _, body = request(srv, "/d/?format=json")
    assert (status, body) == (200, b"the index")


def test_root_listed_without_index_or_default_page(make_server):
    srv = make_server(bare=True, files={"a.txt": "a", "sub/b.txt": "b"})
    _, body, page = get_listing(srv, "/")
    assert [(r["kind"], r["name"], r["href"]) for r in page.rows] == [
        ("dir", "sub", "/sub/"), ("file", "a.txt", "/a.txt")]
    assert page.parent is None
    assert page.crumbs == [("t", None)]  # the root is named by the Host header
    assert b"<h1>Index of /</h1>" in body
    # With the shipped www/ the root still gets its default page.
    srv2 = make_server()
    assert b"Index of" not in request(srv2, "/")[2]


def test_breadcrumbs_and_parent(make_server):
    srv = make_server(bare=True, files={"a b/c%d/é/x.txt": "x"})
    path = "/a%20b/c%25d/%C3%A9/"
    _, body, page = get_listing(srv, path)
    assert page.crumbs == [("t", "/"), ("a b", "/a%20b/"), ("c%d", "/a%20b/c%25d/"),
                           ("é", None)]
    assert "<h1>Index of /a b/c%d/é/</h1>".encode() in body
    assert page.parent == "/a%20b/c%25d/"
    for _, href in page.crumbs[:-1]:
        status, _, got = request(srv, href)
        assert status == 200, href
        assert parse(got).rows
    # One level down: the parent is the root.
    _, _, top = get_listing(srv, "/a%20b/")
    assert top.parent == "/"
    assert top.crumbs == [("t", "/"), ("a b", None)]


def test_folder_without_slash_redirects(make_server):
    srv = make_server(bare=True, files={"d/a.txt": "a"})
    status, hdrs, _ = request(srv, "/d?sort=size")
    assert status == 301
    assert hdrs["location"] == "/d/?sort=size"


def test_empty_folder(make_server):
    srv = make_server(bare=True, start=False)
    (srv.root / "empty").mkdir()
    srv.start()
    _, body, page = get_listing(srv, "/empty/")
    assert page.rows == [] and b"This folder is empty." in body
    _, doc = get_json(srv, "/empty/")
    assert doc == {"path": "/empty/", "count": 0, "more": 0, "entries": []}


def test_built_in_template_when_file_missing(make_server, tmp_path):
    empty = tmp_path / "no-templates"
    empty.mkdir()
    srv = make_server(bare=True, files={"d/<x>.txt": "x", "d/sub/y": "y"}, templates=empty)
    status, hdrs, body = request(srv, "/d/")
    assert status == 200 and hdrs["content-type"] == "text/html; charset=utf-8"
    assert b"&lt;x&gt;.txt" in body and b'href="/d/%3Cx%3E.txt"' in body
    assert b'href="/d/sub/"' in body


def test_at_most_10000_entries(make_server):
    srv = make_server(bare=True, start=False)
    d = srv.root / "big"
    d.mkdir()
    for i in range(10_005):
        (d / f"f{i}").write_bytes(b"")
    for i in range(3):
        (d / f".dot{i}").write_bytes(b"")  # not counted among the "more"
    srv.start()
    _, doc = get_json(srv, "/big/")
    assert doc["count"] == 10_000 and len(doc["entries"]) == 10_000
    assert doc["more"] == 5
    listed = [e["name"] for e in doc["entries"]]
    assert listed == sorted(listed, key=lambda n: int(n[1:]))  # natural order
    _, body, page = get_listing(srv, "/big/")
    assert len(page.rows) == 10_000
    assert "… and 5 more not listed" in html.unescape(body.decode())


def test_etag_and_304_follow_the_page(make_server):
    """A listing's ETag is a weak fingerprint of the page: the same page → 304 with
    If-None-Match, no body; the JSON form, another sort order, a new file or a file whose
    size changed → another ETag and the whole page."""
    srv = make_server(bare=True, files={"d/a.txt": "a", "d/b.txt": "bb"})
    st, h, body = request(srv, "/d/")
    assert st == 200 and body
    tag = h["etag"]
    assert re.fullmatch(r'W/"[0-9a-f]{16}"', tag), tag
    assert request(srv, "/d/")[1]["etag"] == tag  # stable while nothing changes
    st, h2, body = request(srv, "/d/", [f"If-None-Match: {tag}"])
    assert (st, body, h2["etag"]) == (304, b"", tag)
    assert "content-length" not in h2
    assert request(srv, "/d/", [f'If-None-Match: "x", {tag}'], method="HEAD")[0] == 304
    others = {request(srv, "/d/", ["Accept: application/json"])[1]["etag"],
              request(srv, "/d/?sort=size&order=desc")[1]["etag"]}
    assert tag not in others and len(others) == 2
    (srv.root / "d" / "c.txt").write_text("c")
    st, h3, body = request(srv, "/d/", [f"If-None-Match: {tag}"])
    assert st == 200 and b"c.txt" in body and h3["etag"] != tag
    (srv.root / "d" / "a.txt").write_text("a longer text")
    st, h4, _ = request(srv, "/d/", [f"If-None-Match: {h3['etag']}"])
    assert st == 200 and h4["etag"] != h3["etag"]
