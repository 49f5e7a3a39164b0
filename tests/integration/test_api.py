# SPDX-License-Identifier: MIT
"""The JSON API: /api/status (public), /api/stats and /api/submissions (admin only: 401
JSON with WWW-Authenticate without credentials), their keys and figures, filtering and
paging of submissions, 400 for bad parameters, 404 JSON for unknown /api/ paths, 405 JSON
with Allow for a wrong method, and 404 for every admin route when no admin is configured."""
import calendar
import json
import re
import time

import pytest
import requests

from conftest import REPO, basic_auth, parse_responses, raw_request, request

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
HELLO = (REPO / "www" / "HelloWorld.html").read_bytes()


def epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def auth_headers():
    return {"Authorization": basic_auth()}


def get_json(srv, path, auth=True, status=200):
    r = requests.get(srv.url(path), headers=auth_headers() if auth else {}, timeout=5)
    assert r.status_code == status, (path, r.status_code, r.text[:200])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    return r.json()


def stats(srv):
    return get_json(srv, "/api/stats")


def assert_json_error(r, status):
    assert r.status_code == status, (r.status_code, r.text[:200])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body


@pytest.fixture
def srv(make_admin_server):
    return make_admin_server(args=["--threads", "3"])


# --- /api/status ---------------------------------------------------------------------------

def test_status_is_public(srv):
    before = time.time()
    r = requests.get(srv.url("/api/status"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"
    j = r.json()
    assert j["status"] == "OK"
    assert j["version"] == "0.1.0"
    assert isinstance(j["uptime_s"], int) and 0 <= j["uptime_s"] <= 10
    assert ISO_Z.fullmatch(j["started_at"]), j["started_at"]
    assert before - 15 <= epoch(j["started_at"]) <= time.time() + 1
    assert list(j)[:4] == ["status", "version", "uptime_s", "started_at"]


def test_status_without_admin(server):
    assert get_json(server, "/api/status", auth=False)["status"] == "OK"


def test_status_head(srv):
    with srv.conn() as c:
        c.get("/api/status", method="HEAD")
        status, headers, body, _ = c.read_response(head=True)
        assert status == 200 and int(headers["content-length"]) > 0 and body == b""


# --- authentication of the admin endpoints -------------------------------------------------

@pytest.mark.parametrize("path", ["/api/stats", "/api/submissions", "/api/submissions?limit=5"])
def test_admin_endpoints_need_credentials(srv, path):
    r = requests.get(srv.url(path), timeout=5)
    assert_json_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Basic"), r.headers["WWW-Authenticate"]
    assert 'realm="' in r.headers["WWW-Authenticate"]
    r = requests.get(srv.url(path), headers={"Authorization": basic_auth(password="wrong")},
                     timeout=5)
    assert_json_error(r, 401)
    r = requests.get(srv.url(path), headers={"Authorization": basic_auth(user="root")},
                     timeout=5)
    assert_json_error(r, 401)


# --- /api/stats ----------------------------------------------------------------------------

def test_stats_keys_and_types(srv):
    for _ in range(3):
        assert request(srv, "/HelloWorld.html")[0] == 200
    assert request(srv, "/missing-file")[0] == 404
    before = time.time()
    j = stats(srv)
    for key in ("requests_total", "bytes_sent", "active_connections", "threads", "uptime_s"):
        assert isinstance(j[key], int) and j[key] >= 0, (key, j[key])
    assert j["threads"] == 3
    assert j["active_connections"] >= 1  # this very request
    assert j["requests_total"] >= 5
    assert j["bytes_sent"] >= 3 * len(HELLO)
    by = j["responses_by_status"]
    assert isinstance(by, dict)
    for k, v in by.items():
        assert re.fullmatch(r"[1-5]\d\d", k) and isinstance(v, int) and v > 0, (k, v)
    assert by["200"] >= 3 and by["404"] >= 1
    assert isinstance(j["top_paths"], list)  # its content: test_top_paths_reflect_requests
    for e in j["top_paths"]:
        assert set(e) >= {"path", "count"} and isinstance(e["path"], str)
        assert isinstance(e["count"], int) and e["count"] > 0
    assert ISO_Z.fullmatch(j["last_request_at"]), j["last_request_at"]
    assert before - 3 <= epoch(j["last_request_at"]) <= time.time() + 1
    r = requests.get(srv.url("/api/stats"), headers=auth_headers(), timeout=5)
    assert r.headers.get("Cache-Control") == "no-store"


def test_requests_total_grows(srv):
    n1 = stats(srv)["requests_total"]
    for _ in range(10):
        assert request(srv, "/HelloWorld.html")[0] == 200
    n2 = stats(srv)["requests_total"]
    assert n2 - n1 == 11, (n1, n2)  # ten pages and the second /api/stats itself


def test_bytes_and_statuses_grow(srv):
    s1 = stats(srv)
    for _ in range(4):
        assert request(srv, "/nope-%d" % _)[0] == 404
    assert request(srv, "/HelloWorld.html")[0] == 200
    s2 = stats(srv)
    assert s2["responses_by_status"].get("404", 0) - s1["responses_by_status"].get("404", 0) == 4
    assert s2["bytes_sent"] - s1["bytes_sent"] >= len(HELLO)


def test_top_paths_reflect_requests(make_admin_server):
    # Several workers; the requests land on whichever accepts them. The figures must cover
    # every worker within a few seconds (the dashboard polls every 2 s), however quiet the
    # other workers are afterwards: here the polling is done on one kept-alive connection.
    srv = make_admin_server(args=["--threads", "4"])
    poll = requests.Session()
    poll.headers["Authorization"] = basic_auth()
    assert poll.get(srv.url("/api/stats"), timeout=5).status_code == 200
    want = {"/HelloWorld.html": 25, "/style.css": 12, "/contact.html": 3}
    for path, n in want.items():
        for _ in range(n):
            assert request(srv, path)[0] == 200
    deadline = time.monotonic() + 3.0
    while True:
        j = poll.get(srv.url("/api/stats"), timeout=5).json()
        counts = {e["path"]: e["count"] for e in j["top_paths"]}
        series = sum(j["requests_per_second"]) if "requests_per_second" in j else None
        done = all(counts.get(p, 0) >= n for p, n in want.items())
        if (done and (series is None or series >= 40)) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert done, f"top_paths after 3 s: {j['top_paths']} (requests_total {j['requests_total']})"
    top = j["top_paths"]
    paths = [e["path"] for e in top]
    assert paths.index("/HelloWorld.html") < paths.index("/style.css") < paths.index("/contact.html")
    assert [e["count"] for e in top] == sorted((e["count"] for e in top), reverse=True)
    # the dashboard's chart: requests per second must account for those 40 requests too
    if series is not None:
        assert series >= 40, f"requests_per_second sums to {series} after 40 requests"


# --- /api/submissions ----------------------------------------------------------------------

def submit(srv, form, **fields):
    r = requests.post(srv.url(f"/forms/{form}"), data=dict(fields, _redirect="/ok"),
                      allow_redirects=False, timeout=5)
    assert r.status_code == 303, r.status_code


def test_submissions_newest_first_filter_and_paging(srv):
    for i in range(7):
        submit(srv, "alpha", n=str(i))
        if i % 2 == 0:
            submit(srv, "beta", n=str(i))
    everything = get_json(srv, "/api/submissions")["submissions"]
    assert len(everything) == 11
    ids = [s["id"] for s in everything]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 11
    for s in everything:
        assert set(s) >= {"id", "form", "created_at", "client_ip", "user_agent", "fields", "files"}
        assert ISO_Z.fullmatch(s["created_at"]) and s["client_ip"] == "127.0.0.1"
        assert s["files"] == [] and isinstance(s["fields"], dict)
    assert everything[0]["form"] == "beta" and everything[0]["fields"] == {"n": "6"}
    assert everything[1]["form"] == "alpha" and everything[1]["fields"] == {"n": "6"}

    alpha = get_json(srv, "/api/submissions?form=alpha")["submissions"]
    assert [s["fields"]["n"] for s in alpha] == ["6", "5", "4", "3", "2", "1", "0"]
    assert {s["form"] for s in alpha} == {"alpha"}
    beta = get_json(srv, "/api/submissions?form=beta")["submissions"]
    assert [s["fields"]["n"] for s in beta] == ["6", "4", "2", "0"]
    assert get_json(srv, "/api/submissions?form=gamma")["submissions"] == []

    # pages of 3 through alpha with before=
    got, before = [], None
    for _ in range(5):
        q = "/api/submissions?form=alpha&limit=3" + (f"&before={before}" if before else "")
        page = get_json(srv, q)["submissions"]
        assert len(page) <= 3
        if not page:
            break
        got += page
        before = page[-1]["id"]
    assert [s["id"] for s in got] == [s["id"] for s in alpha]
    # before= alone: strictly older ids
    mid = everything[5]["id"]
    older = get_json(srv, f"/api/submissions?before={mid}")["submissions"]
    assert [s["id"] for s in older] == ids[6:]
    assert get_json(srv, "/api/submissions?limit=1")["submissions"][0]["id"] == ids[0]
    assert len(get_json(srv, "/api/submissions?limit=500")["submissions"]) == 11


def test_submissions_list_files(srv):
    r = requests.post(srv.url("/forms/up"), data={"a": "1", "_redirect": "/"},
                      files={"doc": ("notes.txt", b"12345")}, allow_redirects=False, timeout=5)
    assert r.status_code == 303
    [s] = get_json(srv, "/api/submissions?form=up")["submissions"]
    assert s["fields"] == {"a": "1"}
    [f] = s["files"]
    assert f["field"] == "doc" and f["name"] == "notes.txt" and f["size"] == 5


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "limit=-1", "limit=",
                                   "limit=1.5", "before=abc", "before=0", "before=-3",
                                   "form=" + "x" * 100])
def test_submissions_bad_parameters_400(srv, query):
    r = requests.get(srv.url("/api/submissions?" + query), headers=auth_headers(), timeout=5)
    assert_json_error(r, 400)


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/x", "/api/", "/api", "/api/stats/extra", "/api/status.json",
                                  "/api/x?y=1"])
def test_unknown_api_path_404_json(srv, path):
    assert_json_error(requests.get(srv.url(path), timeout=5), 404)
    assert_json_error(requests.get(srv.url(path), headers=auth_headers(), timeout=5), 404)


@pytest.mark.parametrize("raw,status", [
    (b"GET /api/status HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n", 400),
    (b"GET /api/status HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400),
    (b"BREW /api/status HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    (b"GET /api/status HTTP/2.0\r\nHost: t\r\n\r\n", 505),
])
def test_requests_refused_before_routing_are_json_on_the_api(srv, raw, status):
    """SPEC: /api/* errors are JSON, also for a request the parser refused."""
    data = raw_request(srv, raw)
    got, headers, body = parse_responses(data)[0]
    assert got == status
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)
    # elsewhere the same refusal is a page
    data = raw_request(srv, raw.replace(b"/api/status", b"/HelloWorld.html"))
    assert parse_responses(data)[0][1]["content-type"].startswith("text/html")


@pytest.mark.parametrize("method,path", [("POST", "/api/stats"), ("POST", "/api/status"),
                                         ("DELETE", "/api/submissions"), ("PUT", "/api/status")])
def test_wrong_method_405_json_with_allow(srv, method, path):
    r = requests.request(method, srv.url(path), headers=auth_headers(), data=b"", timeout=5)
    assert_json_error(r, 405)
    allow = [m.strip() for m in r.headers["Allow"].split(",")]
    assert "GET" in allow and "HEAD" in allow and method not in allow, allow


# --- no admin configured -------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("GET", "/api/stats"), ("GET", "/api/submissions"),
                                         ("GET", "/admin"), ("GET", "/login"),
                                         ("POST", "/login"), ("POST", "/logout")])
def test_no_admin_configured_404(server, method, path):
    data = {"user": "admin", "password": "x"} if method == "POST" else None
    for headers in ({}, {"Authorization": basic_auth()}):
        r = requests.request(method, server.url(path), data=data, headers=headers,
                             allow_redirects=False, timeout=5)
        assert r.status_code == 404, (method, path, r.status_code)
        assert "WWW-Authenticate" not in r.headers
        assert "Set-Cookie" not in r.headers
        if path.startswith("/api/"):
            assert_json_error(r, 404)
