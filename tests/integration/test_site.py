# SPDX-License-Identifier: MIT
"""What static-site users ask for (issue #4): clean URLs (/about → about.html), the SPA
fallback (spa_fallback), headers by path (config "headers": globs → extra headers on 2xx
and 3xx responses), CORS preflight answered from those rules, and the defaults:
Cache-Control: no-cache on HTML, validators (ETag, Last-Modified) on every file."""
import email.utils
import gzip
import json
import os

import pytest

from conftest import raw_request, request

T = 1700000000
T_HTTP = "Tue, 14 Nov 2023 22:13:20 GMT"

ABOUT = b"<!doctype html><title>About</title><p>about us</p>"
GUIDE = b"<!doctype html><title>Guide</title><p>the guide</p>"
SHELL = b"<!doctype html><title>App</title><div id=app></div>" + b"<!-- padding -->" * 100
APP_JS = b"console.log('app');\n"


def head_pairs(srv, path, headers=(), method="GET"):
    """(status, [(name lowercased, value)], body) with repeated header lines kept."""
    extra = "".join(h + "\r\n" for h in headers)
    data = raw_request(srv, f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                            f"{extra}\r\n".encode())
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    pairs = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        pairs.append((k.strip().lower(), v.strip()))
    return int(lines[0].split()[1]), pairs, body


def values(pairs, name):
    return [v for k, v in pairs if k == name]


# --- clean URLs ------------------------------------------------------------------------------

CLEAN = {"about.html": ABOUT, "docs/guide.html": GUIDE, "notes.txt": b"notes",
         "contact.htm": b"<p>htm</p>", "plain": b"a file named plain", "plain.html": b"<p>no</p>",
         "team/index.html": b"<p>team</p>", "team.html": b"<p>team page</p>",
         "big.html": b"<!doctype html><p>" + b"clean urls compress too " * 200}


@pytest.fixture
def clean(make_server):
    return make_server(files=CLEAN, bare=True)


@pytest.mark.parametrize("path,file", [
    ("/about", "about.html"),
    ("/about.html", "about.html"),
    ("/about?ref=nav", "about.html"),
    ("/docs/guide", "docs/guide.html"),
    ("/docs/guide.html", "docs/guide.html"),
    ("/%61bout", "about.html"),
    ("/docs/../about", "about.html"),
    ("/plain", "plain"),  # a file named "plain" exists: it wins
])
def test_clean_urls_serve_the_html_file(clean, path, file):
    st, h, body = request(clean, path)
    assert st == 200, (path, st)
    assert body == CLEAN[file]
    ctype = "text/html; charset=utf-8" if file.endswith(".html") else "application/octet-stream"
    assert h["content-type"] == ctype
    assert h["etag"] and h["last-modified"]
    if file.endswith(".html"):
        assert h["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/about/", "/nope", "/notes", "/contact", "/docs/guide/",
                                  "/about.txt"])
def test_clean_urls_only_add_html_to_a_missing_name(clean, path):
    assert request(clean, path)[0] == 404, path


def test_a_folder_wins_over_its_html_twin(clean):
    st, h, _ = request(clean, "/team")
    assert st == 301 and h["location"] == "/team/"
    assert request(clean, "/team/")[2] == b"<p>team</p>"
    assert request(clean, "/team.html")[2] == b"<p>team page</p>"


def test_clean_url_head_conditional_range_and_gzip(clean):
    st, h, body = request(clean, "/about", method="HEAD")
    assert (st, body, int(h["content-length"])) == (200, b"", len(ABOUT))
    assert request(clean, "/about", [f"If-None-Match: {h['etag']}"])[0] == 304
    st, _, part = request(clean, "/about", ["Range: bytes=0-8"])
    assert (st, part) == (206, ABOUT[:9])
    st, h, body = request(clean, "/big", ["Accept-Encoding: gzip"])
    assert st == 200 and h["content-encoding"] == "gzip" and "Accept-Encoding" in h["vary"]
    assert gzip.decompress(body) == CLEAN["big.html"]


def test_clean_urls_off(make_server):
    srv = make_server(files=CLEAN, bare=True, config={"clean_urls": False})
    assert request(srv, "/about")[0] == 404
    assert request(srv, "/docs/guide")[0] == 404
    assert request(srv, "/about.html")[2] == ABOUT


# --- SPA fallback ----------------------------------------------------------------------------

BROWSER_ACCEPT = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SPA = {"index.html": SHELL, "app.js": APP_JS, "about.html": ABOUT, "assets/logo.svg": b"<svg/>",
       "docs/readme.txt": b"readme"}


@pytest.fixture
def spa(make_server):
    return make_server(files=SPA, bare=True, config={"spa_fallback": "index.html"})


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/settings", "/users/42/edit",
                                  "/dashboard?tab=2", "/docs/missing"])
@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "Accept: text/html"])
def test_spa_routes_get_the_shell(spa, path, accept):
    st, h, body = request(spa, path, [accept])
    assert st == 200, (path, st)
    assert body == SHELL
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["cache-control"] == "no-cache"
    assert h["etag"] and h["last-modified"]


def test_spa_head_and_conditional(spa):
    st, h, body = request(spa, "/dashboard", [BROWSER_ACCEPT], method="HEAD")
    assert (st, body, int(h["content-length"])) == (200, b"", len(SHELL))
    _, idx, _ = request(spa, "/index.html")
    assert h["etag"] == idx["etag"]
    st, h, _ = request(spa, "/dashboard", [BROWSER_ACCEPT, f"If-None-Match: {idx['etag']}"])
    assert st == 304
    st, h, body = request(spa, "/dashboard", [BROWSER_ACCEPT, "Accept-Encoding: gzip"])
    assert (st, h.get("content-encoding")) == (200, "gzip")
    assert gzip.decompress(body) == SHELL


@pytest.mark.parametrize("path,headers,status", [
    ("/missing.js", [BROWSER_ACCEPT], 404),         # an asset: its 404
    ("/assets/missing.png", [BROWSER_ACCEPT], 404),
    ("/api/x", [BROWSER_ACCEPT], 404),              # the API's 404
    ("/api/users/1", ["Accept: text/html"], 404),
    ("/dashboard", [], 404),                        # no Accept
    ("/dashboard", ["Accept: */*"], 404),
    ("/dashboard", ["Accept: application/json"], 404),
])
def test_spa_fallback_leaves_misses_that_are_not_pages(spa, path, headers, status):
    st, h, body = request(spa, path, headers)
    assert st == status, (path, headers, st)
    assert body != SHELL


def test_spa_fallback_never_hides_a_file(spa):
    for path, want in (("/app.js", APP_JS), ("/about", ABOUT), ("/about.html", ABOUT),
                       ("/assets/logo.svg", b"<svg/>"), ("/", SHELL)):
        st, _, body = request(spa, path, [BROWSER_ACCEPT])
        assert (st, body) == (200, want), path
    st, h, _ = request(spa, "/docs", [BROWSER_ACCEPT])
    assert st == 301 and h["location"] == "/docs/"


def test_spa_fallback_is_only_for_get_and_head(spa):
    st, h, _ = request(spa, "/dashboard", [BROWSER_ACCEPT, "Content-Length: 0"], method="POST")
    assert st == 405


def test_spa_fallback_is_off_by_default(make_server):
    srv = make_server(files=SPA, bare=True)
    assert request(srv, "/dashboard", [BROWSER_ACCEPT])[0] == 404


def test_spa_fallback_to_a_missing_file_is_404(make_server):
    srv = make_server(files={"app.js": APP_JS}, bare=True, config={"spa_fallback": "index.html"})
    assert request(srv, "/dashboard", [BROWSER_ACCEPT])[0] == 404


# --- headers by path -------------------------------------------------------------------------

IMMUTABLE = "max-age=31536000, immutable"
RULES = {
    "/assets/*": {"Cache-Control": IMMUTABLE},
    "/api/*": {"Access-Control-Allow-Origin": "*"},
    "/docs/*": {"Cache-Control": "max-age=60", "X-Frame-Options": "DENY"},
    "/fonts/*": {"Access-Control-Allow-Origin": "https://app.example",
                 "Access-Control-Allow-Methods": "GET"},
    "*.json": {"X-Json": "yes"},
}
SITE = {"index.html": SHELL, "app.js": APP_JS, "assets/app.js": APP_JS,
        "assets/css/site.css": b"body{}", "assets/page.html": b"<p>asset page</p>",
        "assets/sub/index.html": b"<p>sub</p>",
        "docs/guide.html": GUIDE, "fonts/a.woff2": b"wOF2", "data/x.json": b"{}",
        "style.css": b"p{}", "logo.png": b"\x89PNG\r\n\x1a\n", "notes.txt": b"notes",
        "page.html": ABOUT}


@pytest.fixture
def ruled(make_server):
    srv = make_server(files=SITE, bare=True, config={"headers": RULES}, start=False)
    for dirpath, _, names in os.walk(srv.root):
        for n in names:
            os.utime(os.path.join(dirpath, n), (T, T))
    return srv.start()


@pytest.mark.parametrize("path", ["/assets/app.js", "/assets/css/site.css", "/%61ssets/app.js",
                                  "/x/../assets/app.js"])
def test_rule_headers_on_matching_paths(ruled, path):
    st, pairs, body = head_pairs(ruled, path)
    assert st == 200
    assert values(pairs, "cache-control") == [IMMUTABLE], pairs
    assert values(pairs, "etag") and values(pairs, "last-modified") == [T_HTTP]


def test_a_rule_replaces_the_html_default(ruled):
    st, pairs, _ = head_pairs(ruled, "/assets/page.html")
    assert st == 200 and values(pairs, "cache-control") == [IMMUTABLE], pairs
    st, pairs, _ = head_pairs(ruled, "/docs/guide.html")
    assert values(pairs, "cache-control") == ["max-age=60"], pairs
    assert values(pairs, "x-frame-options") == ["DENY"]
    st, pairs, _ = head_pairs(ruled, "/page.html")  # no rule: the default
    assert values(pairs, "cache-control") == ["no-cache"], pairs
    assert not values(pairs, "x-frame-options")


def test_rule_headers_on_head_304_206_and_redirects(ruled):
    _, h, _ = request(ruled, "/assets/app.js")
    for method, headers, status in (("HEAD", [], 200), ("GET", [f"If-None-Match: {h['etag']}"], 304),
                                    ("GET", [f"If-Modified-Since: {T_HTTP}"], 304),
                                    ("GET", ["Range: bytes=0-3"], 206)):
        st, pairs, _ = head_pairs(ruled, "/assets/app.js", headers, method)
        assert st == status, (method, headers, st)
        assert values(pairs, "cache-control") == [IMMUTABLE], (method, headers, pairs)
    st, pairs, _ = head_pairs(ruled, "/assets/sub")
    assert st == 301 and values(pairs, "cache-control") == [IMMUTABLE], pairs


def test_no_rule_headers_on_errors(ruled):
    for path in ("/assets/missing.js", "/api/nope", "/docs/missing.html"):
        st, pairs, _ = head_pairs(ruled, path)
        assert st == 404, path
        names = {k for k, _ in pairs}
        assert not names & {"access-control-allow-origin", "x-frame-options"}, (path, pairs)
        assert IMMUTABLE not in values(pairs, "cache-control"), (path, pairs)
    st, pairs, _ = head_pairs(ruled, "/assets/app.js", ["Content-Length: 0"], "POST")
    assert st == 405 and IMMUTABLE not in values(pairs, "cache-control")


def test_rules_only_on_their_paths(ruled):
    for path in ("/app.js", "/style.css", "/logo.png", "/", "/notes.txt"):
        st, pairs, _ = head_pairs(ruled, path)
        assert st == 200, path
        names = {k for k, _ in pairs}
        assert not names & {"access-control-allow-origin", "x-frame-options", "x-json"}, (path, pairs)
        assert IMMUTABLE not in values(pairs, "cache-control"), (path, pairs)
    st, pairs, _ = head_pairs(ruled, "/data/x.json")
    assert values(pairs, "x-json") == ["yes"]


def test_cors_header_on_api_responses(ruled):
    st, h, body = request(ruled, "/api/status", ["Origin: https://site.example"])
    assert st == 200 and json.loads(body)["status"] == "OK"
    assert h["access-control-allow-origin"] == "*"
    st, pairs, _ = head_pairs(ruled, "/fonts/a.woff2", ["Origin: https://app.example"])
    assert st == 200 and values(pairs, "access-control-allow-origin") == ["https://app.example"]


PREFLIGHT = ["Origin: https://site.example", "Access-Control-Request-Method: GET"]


@pytest.mark.parametrize("path", ["/api/status", "/api/stats", "/forms/contact", "/api/anything"])
def test_cors_preflight_on_api_paths(make_server, path):
    """Every path under a rule that sets Access-Control-Allow-Origin answers a preflight,
    as static paths do whether or not a file is there."""
    rules = {"/api/*": {"Access-Control-Allow-Origin": "*"},
             "/forms/*": {"Access-Control-Allow-Origin": "*"}}
    srv = make_server(config={"headers": rules})
    st, pairs, body = head_pairs(srv, path, PREFLIGHT + ["Access-Control-Request-Headers: content-type"],
                                 "OPTIONS")
    assert st == 204, (path, st, pairs)
    assert body == b""
    assert values(pairs, "access-control-allow-origin") == ["*"], pairs
    methods = {m.strip() for v in values(pairs, "access-control-allow-methods") for m in v.split(",")}
    assert methods and methods <= {"GET", "HEAD", "POST", "OPTIONS"}, pairs
    assert ("POST" if path.startswith("/forms/") else "GET") in methods, pairs


def test_cors_preflight_on_static_files(ruled):
    st, pairs, body = head_pairs(ruled, "/fonts/a.woff2", PREFLIGHT, "OPTIONS")
    assert (st, body) == (204, b"")
    assert values(pairs, "access-control-allow-origin") == ["https://app.example"]
    # the rule's own Access-Control-Allow-Methods, once
    assert values(pairs, "access-control-allow-methods") == ["GET"], pairs


@pytest.mark.parametrize("path,headers", [
    ("/app.js", PREFLIGHT),                             # no rule for the path
    ("/assets/app.js", PREFLIGHT),                      # a rule, but no CORS in it
    ("/fonts/a.woff2", ["Origin: https://site.example"]),  # no Access-Control-Request-Method
    ("/fonts/a.woff2", ["Access-Control-Request-Method: GET"]),  # no Origin
])
def test_options_that_is_no_preflight_gets_a_plain_204(ruled, path, headers):
    st, pairs, body = head_pairs(ruled, path, headers, "OPTIONS")
    assert (st, body) == (204, b""), (path, headers, st)
    allow = {m.strip() for v in values(pairs, "allow") for m in v.split(",")}
    assert {"GET", "HEAD"} <= allow, pairs
    names = {k for k, _ in pairs}
    assert not names & {"access-control-allow-origin", "access-control-allow-methods"}, pairs


# --- defaults --------------------------------------------------------------------------------

DEFAULTS = {"index.html": SHELL, "page.html": ABOUT, "old.htm": b"<p>htm</p>", "app.js": APP_JS,
            "style.css": b"p{}", "logo.png": b"\x89PNG\r\n\x1a\n", "data.json": b"{}",
            "notes.txt": b"notes", "font.woff2": b"wOF2", "blob.bin": b"\x00\x01",
            "about.html": ABOUT}


@pytest.fixture
def plain(make_server):
    srv = make_server(files=DEFAULTS, bare=True, start=False)
    for name in DEFAULTS:
        os.utime(srv.root / name, (T, T))
    return srv.start()


@pytest.mark.parametrize("path", ["/", "/page.html", "/old.htm", "/about"])
def test_html_is_no_cache(plain, path):
    for method in ("GET", "HEAD"):
        st, pairs, _ = head_pairs(plain, path, method=method)
        assert st == 200 and values(pairs, "cache-control") == ["no-cache"], (path, method, pairs)


@pytest.mark.parametrize("path", ["/app.js", "/style.css", "/logo.png", "/data.json",
                                  "/notes.txt", "/font.woff2", "/blob.bin"])
def test_other_files_carry_no_cache_control(plain, path):
    st, pairs, _ = head_pairs(plain, path)
    assert st == 200 and not values(pairs, "cache-control"), (path, pairs)


@pytest.mark.parametrize("path", sorted("/" + n for n in DEFAULTS) + ["/", "/about"])
def test_validators_on_every_file(plain, path):
    st, h, _ = request(plain, path)
    assert st == 200
    assert h["last-modified"] == T_HTTP
    assert email.utils.parsedate_to_datetime(h["last-modified"]).timestamp() == T
    etag = h["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    assert request(plain, path, [f"If-None-Match: {etag}"])[0] == 304
    assert request(plain, path, [f"If-Modified-Since: {T_HTTP}"])[0] == 304
