# SPDX-License-Identifier: MIT
"""The admin dashboard and its authentication: HTTP Basic, the login form and its signed
session cookie (attributes, tampering, logout ending the session on the server — also
after SIGHUP and a restart — and a password change invalidating sessions),
5 failed logins a minute → 429, cross-site POSTs → 403, and passwords kept out of the
logs."""
import os
import re
import signal
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, ADMIN_USER, basic_auth, request, wait_log

COOKIE = "mica_session"


def login(srv, user=ADMIN_USER, password=ADMIN_PASSWORD, headers=None):
    return requests.post(srv.url("/login"), data={"user": user, "password": password},
                         headers=headers or {}, allow_redirects=False, timeout=10)


def session_cookie(resp):
    """(value, attributes lowercased → value) of the mica_session Set-Cookie header."""
    header = resp.headers.get("Set-Cookie", "")
    assert header.startswith(COOKIE + "="), header
    parts = [p.strip() for p in header.split(";")]
    value = parts[0].split("=", 1)[1]
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return value, attrs


def with_cookie(srv, path, value):
    return requests.get(srv.url(path), headers={"Cookie": f"{COOKIE}={value}"},
                        allow_redirects=False, timeout=5)


@pytest.fixture
def srv(make_admin_server):
    return make_admin_server()


# --- HTTP Basic ----------------------------------------------------------------------------

def test_admin_needs_credentials(srv):
    r = requests.get(srv.url("/admin"), timeout=5)
    assert r.status_code == 401
    assert re.match(r'Basic realm="[^"]+"', r.headers["WWW-Authenticate"]), r.headers
    assert r.headers.get("Cache-Control") == "no-store"
    assert "requests-total" not in r.text


def test_admin_with_basic(srv):
    r = requests.get(srv.url("/admin"), headers={"Authorization": basic_auth()}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers.get("Cache-Control") == "no-store"
    page = r.text
    assert "{{" not in page
    assert f"<strong>{ADMIN_USER}</strong>" in page
    for ident in ("requests-total", "active-connections", "threads", "uptime", "last-request",
                  "top-paths", "statuses", "submissions", "chart-line"):
        assert f'id="{ident}"' in page, ident
    m = re.search(r'id="requests-total">(\d+)<', page)
    assert m and int(m.group(1)) >= 1
    # self-contained: no external scripts, styles, fonts or images
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "@import" not in page and "url(http" not in page


@pytest.mark.parametrize("user,password", [(ADMIN_USER, "wrong"), ("root", ADMIN_PASSWORD),
                                           (ADMIN_USER, ""), (ADMIN_USER, ADMIN_PASSWORD + "x")])
def test_wrong_basic_credentials_401(srv, user, password):
    r = requests.get(srv.url("/admin"), headers={"Authorization": basic_auth(user, password)},
                     timeout=5)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_malformed_authorization_401(srv):
    for value in ("Basic", "Basic !!!notbase64", "Bearer abc", "Basic " + "A" * 5000):
        status, headers, _ = request(srv, "/admin", [f"Authorization: {value}"])
        assert status in (401, 400, 431), (value[:20], status)


# --- the login form and its cookie ---------------------------------------------------------

def test_login_form(srv):
    r = requests.get(srv.url("/login"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = r.text
    assert re.search(r'<form[^>]*method="post"[^>]*action="/login"', page)
    assert re.search(r'<input[^>]*name="user"', page)
    assert re.search(r'<input[^>]*name="password"[^>]*type="password"', page)
    assert "{{" not in page


def test_login_sets_the_session_cookie(srv):
    r = login(srv)
    assert r.status_code == 303 and r.headers["Location"] == "/admin"
    value, attrs = session_cookie(r)
    assert value
    assert "httponly" in attrs
    assert attrs.get("samesite") == "Strict"
    assert attrs.get("path") == "/"
    assert attrs.get("max-age") == "43200"
    assert "secure" not in attrs  # plain HTTP: a Secure cookie would never come back
    assert r.headers.get("Cache-Control") == "no-store"
    # the cookie opens the dashboard and the API
    r = with_cookie(srv, "/admin", value)
    assert r.status_code == 200 and 'id="requests-total"' in r.text
    r = with_cookie(srv, "/api/stats", value)
    assert r.status_code == 200 and "requests_total" in r.json()
    assert with_cookie(srv, "/api/submissions", value).status_code == 200
    # a logged-in visitor of /login goes to the dashboard
    r = with_cookie(srv, "/login", value)
    assert r.status_code == 303 and r.headers["Location"] == "/admin"


def test_cookie_among_others(srv):
    value, _ = session_cookie(login(srv))
    r = requests.get(srv.url("/admin"), headers={"Cookie": f"a=1; {COOKIE}={value}; b=2"},
                     timeout=5)
    assert r.status_code == 200


def test_failed_login_shows_the_form_again(srv):
    r = login(srv, password="not it")
    assert r.status_code == 401
    assert "Set-Cookie" not in r.headers
    assert re.search(r'<input[^>]*name="password"', r.text)
    assert f'value="{ADMIN_USER}"' in r.text  # the user name is kept
    r = login(srv, user="<script>x</script>", password="no")
    assert r.status_code == 401 and "<script>x" not in r.text


def test_login_without_fields_400(srv):
    r = requests.post(srv.url("/login"), data={"user": ADMIN_USER}, allow_redirects=False,
                      timeout=5)
    assert r.status_code == 400 and "Set-Cookie" not in r.headers


def tampered(value):
    expiry, _, mac = value.partition(".")
    flip = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    later = str(int(expiry) + 86400) if expiry.isdigit() else expiry + "1"
    return [
        f"{expiry}.{flip}",                 # the signature changed
        f"{later}.{mac}",                   # the expiry pushed back, old signature
        f"{expiry}.",                       # no signature
        mac,                                # no expiry
        value + "x",
        value[:-2],
        "",
        "9999999999." + mac,
        "garbage",
    ]


def test_tampered_cookie_401(srv):
    value, _ = session_cookie(login(srv))
    assert "." in value, value
    for bad in tampered(value):
        r = with_cookie(srv, "/admin", bad)
        assert r.status_code == 401, (bad, r.status_code)
        r = with_cookie(srv, "/api/stats", bad)
        assert r.status_code == 401, (bad, r.status_code)


def test_cookie_from_another_server_401(make_admin_server, tmp_path):
    a = make_admin_server(data_dir=tmp_path / "a")
    b = make_admin_server(data_dir=tmp_path / "b")  # same user and password, another secret
    value, _ = session_cookie(login(a))
    assert with_cookie(a, "/admin", value).status_code == 200
    assert with_cookie(b, "/admin", value).status_code == 401


def test_logout_clears_the_cookie(srv):
    value, _ = session_cookie(login(srv))
    r = requests.post(srv.url("/logout"), headers={"Cookie": f"{COOKIE}={value}"},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    cleared, attrs = session_cookie(r)
    assert cleared == ""
    assert attrs.get("max-age") == "0" and attrs.get("path") == "/"
    assert "httponly" in attrs and attrs.get("samesite") == "Strict"
    # logout also works without a session (it just clears)
    r = requests.post(srv.url("/logout"), allow_redirects=False, timeout=5)
    assert r.status_code == 303 and r.headers["Location"] == "/login"


def logout(srv, value):
    return requests.post(srv.url("/logout"), headers={"Cookie": f"{COOKIE}={value}"},
                         allow_redirects=False, timeout=5)


def assert_refused(srv, value):
    # fresh connections, so that several workers answer
    for _ in range(6):
        assert with_cookie(srv, "/admin", value).status_code == 401
        assert with_cookie(srv, "/api/stats", value).status_code == 401
    assert with_cookie(srv, "/login", value).status_code == 200  # the form, not /admin


def test_logout_ends_that_session_on_the_server(make_admin_server):
    srv = make_admin_server()
    one, _ = session_cookie(login(srv))  # two browsers
    two, _ = session_cookie(login(srv))
    assert one != two
    assert with_cookie(srv, "/admin", one).status_code == 200
    r = logout(srv, one)
    assert r.status_code == 303 and session_cookie(r)[0] == ""
    # a copy of the logged-out cookie is refused; the other session goes on
    assert_refused(srv, one)
    assert with_cookie(srv, "/admin", two).status_code == 200
    assert with_cookie(srv, "/api/stats", two).status_code == 200
    # after a reload
    before = srv.log_text().count("SIGHUP: configuration reloaded")
    os.kill(srv.pid, signal.SIGHUP)
    text = wait_log(srv, lambda t: t.count("SIGHUP: configuration reloaded") > before)
    assert text.count("SIGHUP: configuration reloaded") > before, text
    assert_refused(srv, one)
    assert with_cookie(srv, "/admin", two).status_code == 200
    # after a restart on the same data_dir
    assert srv.stop()[0] == 0
    again = make_admin_server()
    assert again.data_dir == srv.data_dir
    assert_refused(again, one)
    assert with_cookie(again, "/admin", two).status_code == 200
    # and the second one can be ended there too
    assert logout(again, two).status_code == 303
    assert_refused(again, two)


def test_unreadable_revoked_list_ends_every_session(make_admin_server):
    srv = make_admin_server()
    value, _ = session_cookie(login(srv))
    assert with_cookie(srv, "/admin", value).status_code == 200
    assert srv.stop()[0] == 0
    (srv.data_dir / "session.revoked").write_text("not what mica wrote\n")
    again = make_admin_server()
    # one clear line, and no session from before is trusted (which were logged out is unknown)
    text = wait_log(again, lambda t: "session.revoked" in t)
    lines = [ln for ln in text.splitlines() if "session.revoked" in ln]
    assert len(lines) == 1 and "[error]" in lines[0] and "log in again" in lines[0], text
    assert with_cookie(again, "/admin", value).status_code == 401
    fresh, _ = session_cookie(login(again))
    assert with_cookie(again, "/admin", fresh).status_code == 200


def test_password_change_invalidates_sessions(make_admin_server):
    first = make_admin_server()
    value, _ = session_cookie(login(first))
    assert with_cookie(first, "/admin", value).status_code == 200
    code, _ = first.stop()
    assert code == 0
    # the same password after a restart: the session goes on
    same = make_admin_server()
    assert with_cookie(same, "/admin", value).status_code == 200
    assert same.stop()[0] == 0
    # a new password (same data_dir): every old session is gone
    changed = make_admin_server(password="a brand new password")
    assert with_cookie(changed, "/admin", value).status_code == 401
    assert with_cookie(changed, "/api/stats", value).status_code == 401
    assert login(changed).status_code == 401  # the old password no longer works
    r = login(changed, password="a brand new password")
    assert r.status_code == 303
    assert with_cookie(changed, "/admin", session_cookie(r)[0]).status_code == 200


# --- brute force and cross-site requests ---------------------------------------------------

def test_five_failures_then_429(srv):
    for i in range(5):
        r = login(srv, password=f"guess-{i}")
        assert r.status_code == 401, (i, r.status_code)
    r = login(srv)  # the right password, too late
    assert r.status_code == 429
    assert "Set-Cookie" not in r.headers
    assert int(r.headers["Retry-After"]) >= 1
    # Basic credentials are refused as well meanwhile, and so is a wrong one
    r = requests.get(srv.url("/admin"), headers={"Authorization": basic_auth()}, timeout=5)
    assert r.status_code == 429
    r = requests.get(srv.url("/api/stats"),
                     headers={"Authorization": basic_auth(password="x")}, timeout=5)
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("application/json")
    # the public site is not affected
    assert requests.get(srv.url("/HelloWorld.html"), timeout=5).status_code == 200


def test_wrong_basic_passwords_count_too(srv):
    for i in range(5):
        r = requests.get(srv.url("/admin"),
                         headers={"Authorization": basic_auth(password=f"g{i}")}, timeout=5)
        assert r.status_code == 401, (i, r.status_code)
    assert login(srv).status_code == 429


def test_four_failures_then_success_resets(srv):
    for i in range(4):
        assert login(srv, password=f"guess-{i}").status_code == 401
    assert login(srv).status_code == 303
    for i in range(4):
        assert login(srv, password=f"again-{i}").status_code == 401
    assert login(srv).status_code == 303


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"},
                                     {"Origin": "https://127.0.0.1"},
                                     {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_login_403(srv, headers):
    r = login(srv, headers=headers)
    assert r.status_code == 403, (headers, r.status_code)
    assert "Set-Cookie" not in r.headers


def test_cross_site_origin_with_another_port_403(srv):
    r = login(srv, headers={"Origin": f"http://127.0.0.1:{srv.port + 1 if srv.port < 65535 else 1}"})
    assert r.status_code == 403


def test_cross_site_logout_403(srv):
    value, _ = session_cookie(login(srv))
    r = requests.post(srv.url("/logout"), headers={"Cookie": f"{COOKIE}={value}",
                                                  "Origin": "http://evil.example"},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 403
    assert "Set-Cookie" not in r.headers
    assert with_cookie(srv, "/admin", value).status_code == 200


def test_same_origin_login_is_fine(srv):
    r = login(srv, headers={"Origin": f"http://127.0.0.1:{srv.port}",
                            "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin"
    value, _ = session_cookie(r)
    r = requests.post(srv.url("/logout"), headers={"Cookie": f"{COOKIE}={value}",
                                                  "Origin": f"http://127.0.0.1:{srv.port}"},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 303


# --- secrets stay out of the logs ----------------------------------------------------------

def test_passwords_never_logged(make_admin_server):
    srv = make_admin_server(start=False)
    access = srv.workdir / "access.log"
    srv.args += ["--access-log", str(access), "--log-level", "debug"]
    srv.start()
    wrong = "Wr0ng-Pa55word-Zebra"
    login(srv, password=wrong)
    login(srv, password=wrong + "2")
    assert login(srv).status_code == 303
    requests.get(srv.url("/admin"), headers={"Authorization": basic_auth(password=wrong + "3")},
                 timeout=5)
    requests.get(srv.url("/admin"), headers={"Authorization": basic_auth()}, timeout=5)
    login(srv, user=wrong + "4", password=ADMIN_PASSWORD)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if access.exists() and access.read_text().count("/login") >= 4 and "failed login" in \
                srv.log_text():
            break
        time.sleep(0.05)
    time.sleep(1.1)  # anything still buffered is flushed by now
    logs = {"error.log": srv.log_text(), "access.log": access.read_text()}
    assert "/login" in logs["access.log"], "the access log was not written: the test proves nothing"
    secrets = [wrong, ADMIN_PASSWORD, basic_auth().split()[1],
               basic_auth(password=wrong + "3").split()[1], "correct+horse", "Wr0ng-Pa55word"]
    for name, text in logs.items():
        for s in secrets:
            assert s not in text, f"{s!r} in {name}"


def test_access_log_names_the_admin(make_admin_server):
    srv = make_admin_server(start=False)
    access = srv.workdir / "access.log"
    srv.args += ["--access-log", str(access)]
    srv.start()
    value, _ = session_cookie(login(srv))
    paths = ["/admin", "/api/stats", "/api/submissions"]
    for path in paths:
        assert requests.get(srv.url(path), headers={"Authorization": basic_auth()},
                            timeout=5).status_code == 200
        assert with_cookie(srv, path, value).status_code == 200
    assert requests.get(srv.url("/HelloWorld.html"), timeout=5).status_code == 200

    def lines():
        return access.read_text().splitlines() if access.exists() else []
    deadline = time.monotonic() + 3
    while sum("HelloWorld" in ln for ln in lines()) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    for path in paths:
        got = [ln for ln in lines() if f'"GET {path} ' in ln]
        assert len(got) == 2, (path, got)
        for ln in got:
            # Common Log Format: host ident authuser [date] "request" status bytes
            assert ln.split(" ")[2] == ADMIN_USER, ln
    [hello] = [ln for ln in lines() if "HelloWorld" in ln]
    assert hello.split(" ")[2] == "-", hello
