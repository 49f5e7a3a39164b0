# SPDX-License-Identifier: MIT
"""*.tpl.html pages in the root, rendered by the Mustache engine: the request's query.*,
form.* and request.*, server.*, user and now; escaping, sections, inverted sections,
comments, set delimiters, partials from templates_dir (recursion bounded); a broken
template gives 500 and one error.log line naming file and line; an edited template is
recompiled within about a second; the shipped hello.tpl.html."""
import calendar
import re
import shutil
import time

import requests

from conftest import REPO, basic_auth, request, wait_log

FIELDS = ("q", "q_raw", "q_amp", "method", "path", "ip", "ua", "version", "uptime",
          "requests_total", "now", "form_a", "user")
PROBE = ("[q={{query.x}}]\n[q_raw={{{query.x}}}]\n[q_amp={{& query.x}}]\n"
         "[method={{request.method}}]\n[path={{request.path}}]\n[ip={{request.ip}}]\n"
         "[ua={{request.user_agent}}]\n[version={{server.version}}]\n"
         "[uptime={{server.uptime}}]\n[requests_total={{server.requests_total}}]\n"
         "[now={{now}}]\n[form_a={{form.a}}]\n[user={{user}}]\n")


def figures(body):
    if isinstance(body, bytes):
        body = body.decode()
    return dict(re.findall(r"\[(\w+)=([^\]]*)\]", body))


def iso_to_epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def with_templates(make_server, templates, **kw):
    """A server whose templates_dir is a copy of the shipped one plus `templates`."""
    srv = make_server(start=False, **kw)
    tdir = srv.workdir / "templates"
    shutil.copytree(REPO / "templates", tdir)
    for name, text in templates.items():
        (tdir / name).write_text(text)
    srv.templates = str(tdir)
    return srv.start()


def test_query_request_server_and_now(make_server):
    srv = make_server(files={"probe.tpl.html": PROBE})
    before = time.time()
    r = requests.get(srv.url("/probe.tpl.html"), params={"x": "<script>alert('x')&</script>"},
                     headers={"User-Agent": "probe-agent/1.0 <ua>"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    f = figures(r.text)
    assert set(f) == set(FIELDS), f
    # {{x}} escapes: the script is text, not markup; {{{x}}} and {{& x}} do not.
    assert "<script>" not in f["q"]
    assert f["q"] == "&lt;script&gt;alert(&#39;x&#39;)&amp;&lt;/script&gt;" or \
        f["q"] == "&lt;script&gt;alert(&#x27;x&#x27;)&amp;&lt;/script&gt;", f["q"]
    assert f["q_raw"] == f["q_amp"] == "<script>alert('x')&</script>"
    assert f["method"] == "GET"
    assert f["path"] == "/probe.tpl.html"
    assert f["ip"] == "127.0.0.1"
    assert f["ua"] == "probe-agent/1.0 &lt;ua&gt;"
    assert f["version"] == "0.1.0"
    assert re.fullmatch(r"(\d+ h )?(\d+ min )?\d+ s", f["uptime"]), f["uptime"]
    assert int(f["requests_total"]) >= 1
    assert before - 2 <= iso_to_epoch(f["now"]) <= time.time() + 1, f["now"]
    assert f["form_a"] == "" and f["user"] == ""
    # the page is dynamic: nobody may cache it
    assert r.headers.get("Cache-Control") == "no-store"


def test_requests_total_grows(make_server):
    srv = make_server(files={"probe.tpl.html": PROBE})
    n1 = int(figures(request(srv, "/probe.tpl.html")[2])["requests_total"])
    for _ in range(5):
        assert request(srv, "/HelloWorld.html")[0] == 200
    n2 = int(figures(request(srv, "/probe.tpl.html")[2])["requests_total"])
    assert n2 - n1 == 6, (n1, n2)


def test_sections_inverted_comments_delimiters(make_server):
    page = ("{{#query.show}}SHOWN:{{query.show}}{{/query.show}}"
            "{{^query.show}}HIDDEN{{/query.show}}|"
            "{{! a comment that never shows }}"
            "{{#request}}in-context:{{method}}{{/request}}|"
            "{{=<% %>=}}<% query.show %>{{not a tag}}<%={{ }}=%>|{{query.show}}")
    srv = make_server(files={"s.tpl.html": page})
    r = requests.get(srv.url("/s.tpl.html?show=yes"), timeout=5)
    assert r.status_code == 200
    assert r.text == "SHOWN:yes|in-context:GET|yes{{not a tag}}|yes"
    r = requests.get(srv.url("/s.tpl.html"), timeout=5)
    assert r.text == "HIDDEN|in-context:GET|{{not a tag}}|"


def test_sections_over_lists_from_a_posted_form(make_server):
    page = "{{#form.x}}[{{.}}]{{/form.x}}{{^form.y}}no-y{{/form.y}}|{{form.name}}"
    srv = make_server(files={"list.tpl.html": page})
    r = requests.post(srv.url("/list.tpl.html"), data="x=1&x=2&x=%3Ci%3E&name=Ada+L%2E",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 200
    assert r.text == "[1][2][&lt;i&gt;]no-y|Ada L."


def test_post_form_rendered(make_server):
    srv = make_server(files={"probe.tpl.html": PROBE})
    r = requests.post(srv.url("/probe.tpl.html?x=q"), data={"a": "<b>bold</b> & more"},
                      timeout=5)
    assert r.status_code == 200
    f = figures(r.text)
    assert f["method"] == "POST"
    assert f["form_a"] == "&lt;b&gt;bold&lt;/b&gt; &amp; more"
    assert f["q"] == "q"  # the query string is there too


def test_placeholders_by_their_own_name(make_admin_server):
    """{{username}} (the origin's example) is ?username=… or a posted field of that name;
    a field wins over the query; the built-in names cannot be taken by a client, not even
    `user` when nobody is signed in."""
    page = ("U=[{{username}}] V=[{{server.version}}] A=[{{#user}}admin{{/user}}] "
            "N=[{{now}}] M=[{{missing}}]")
    srv = make_admin_server(files={"u.tpl.html": page})
    status, _, body = request(srv, "/u.tpl.html?username=%3Cb%3EAda&user=x&server=y&now=z")
    assert status == 200
    text = body.decode()
    assert text.startswith("U=[&lt;b&gt;Ada] V=[0.") and "A=[]" in text and "M=[]" in text
    assert "N=[z]" not in text
    r = requests.post(srv.url("/u.tpl.html?username=query"), data={"username": "form"},
                      timeout=5)
    assert r.status_code == 200 and r.text.startswith("U=[form] ")
    status, _, body = request(srv, "/u.tpl.html?user=x", [f"Authorization: {basic_auth()}"])
    assert "A=[admin]" in body.decode()


def test_mica_pages_take_no_names_from_the_client(make_admin_server):
    """Only the site's *.tpl.html pages see query names at the top level: mica's own pages
    (listing, login, status, thanks) set names a link must never stand in for — a
    javascript: href on a listing, a fake login error, a spoofed version."""
    srv = make_admin_server(files={"sub/a.txt": "a"})
    evil = "javascript:alert(1)"
    status, _, body = request(srv, f"/sub/?parent={evil}&sort_name_href={evil}&entries=1"
                                   f"&href={evil}&name=Invoice")
    assert status == 200 and b"javascript:" not in body and b"Invoice" not in body
    status, _, body = request(srv, "/login?error=Your+account+is+locked")
    assert b"account is locked" not in body
    status, _, body = request(srv, "/status?version=9.9.9-evil&uptime=forever")
    assert b"9.9.9-evil" not in body and b"forever" not in body
    r = requests.post(srv.url("/forms/t"), data={"form_name": "spoofed", "id": "424242"},
                      timeout=5)
    assert r.status_code == 200 and "spoofed" not in r.text and "424242" not in r.text


def test_post_with_a_bad_escape_is_400(make_server):
    srv = make_server(files={"probe.tpl.html": PROBE})
    r = requests.post(srv.url("/probe.tpl.html"), data="a=%zz",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 400


def test_user_is_the_admin_when_authenticated(make_admin_server):
    srv = make_admin_server(files={"probe.tpl.html": PROBE})
    assert figures(request(srv, "/probe.tpl.html")[2])["user"] == ""
    status, _, body = request(srv, "/probe.tpl.html", [f"Authorization: {basic_auth()}"])
    assert status == 200 and figures(body)["user"] == srv.admin_user


def test_partials_from_templates_dir(make_server):
    # The issue: partials {{> name}} come from templates_dir, "name" → "name.html".
    srv = with_templates(make_server, {"greeting.html": "<p>Hi {{query.who}} ({{request.method}})</p>",
                                       "exact.txt": "EXACT"},
                         files={"p.tpl.html": "[{{> greeting}}][{{> exact.txt}}][{{> missing}}]"})
    r = requests.get(srv.url("/p.tpl.html?who=%3Cme%3E"), timeout=5)
    assert r.status_code == 200
    assert r.text == "[<p>Hi &lt;me&gt; (GET)</p>][EXACT][]", r.text


def test_partials_in_builtin_pages(make_server):
    # The built-in pages (here /status) take their partials from templates_dir too.
    srv = with_templates(make_server, {"status.html": "S[{{> foot}}]", "foot.html": "v{{version}}"})
    r = requests.get(srv.url("/status"), timeout=5)
    assert r.status_code == 200 and r.text == "S[v0.1.0]", r.text


def test_partial_recursion_is_bounded(make_server):
    # A partial that includes itself forever: an answer (not a crash, not a hang). The
    # partial is put both in templates_dir and the root so that wherever the engine looks,
    # the recursion is there.
    loop = "x{{> loop}}"
    srv = with_templates(make_server, {"loop.html": loop},
                         files={"loop.html": loop, "r.tpl.html": "{{> loop}}"})
    status, _, body = request(srv, "/r.tpl.html", timeout=10)
    assert status in (200, 500), status
    assert len(body) < 10 << 20
    assert request(srv, "/HelloWorld.html")[0] == 200  # still serving


def test_broken_template_500_and_one_log_line(make_server):
    page = "line one\nline two\n{{#never}} closed\nline four\n"
    srv = make_server(files={"broken.tpl.html": page})
    status, headers, body = request(srv, "/broken.tpl.html")
    assert status == 500
    assert b"{{" not in body and b"line one" not in body
    text = wait_log(srv, lambda t: "broken.tpl.html" in t, timeout=3)
    time.sleep(1.2)  # anything else would be flushed by now
    lines = [ln for ln in srv.log_text().splitlines() if "broken.tpl.html" in ln]
    assert len(lines) == 1, text
    assert re.search(r"broken\.tpl\.html:3\b", lines[0]), lines[0]
    assert "[error]" in lines[0], lines[0]
    # the server goes on
    assert request(srv, "/HelloWorld.html")[0] == 200


def test_broken_builtin_template_is_500_and_logged(make_server):
    srv = with_templates(make_server, {"status.html": "ok\n{{#a}}\n{{/b}}\n"})
    assert request(srv, "/status")[0] == 500
    text = wait_log(srv, lambda t: "status.html" in t, timeout=3)
    lines = [ln for ln in text.splitlines() if "status.html" in ln]
    assert len(lines) == 1 and re.search(r"status\.html:3\b", lines[0]), text


def test_edited_template_is_recompiled(make_server):
    srv = make_server(files={"e.tpl.html": "version one {{query.v}}"})
    assert requests.get(srv.url("/e.tpl.html?v=1"), timeout=5).text == "version one 1"
    # cached: the same output again
    assert requests.get(srv.url("/e.tpl.html?v=2"), timeout=5).text == "version one 2"
    (srv.root / "e.tpl.html").write_text("second version, longer: {{query.v}}!")
    t0 = time.monotonic()
    deadline = t0 + 1.3
    text = ""
    while time.monotonic() < deadline:
        text = requests.get(srv.url("/e.tpl.html?v=3"), timeout=5).text
        if text.startswith("second"):
            break
        assert text == "version one 3", text  # the old version until the change is seen
        time.sleep(0.05)
    assert text == "second version, longer: 3!", f"{text!r} after {time.monotonic() - t0:.2f} s"
    # a fix of a broken template is seen the same way
    (srv.root / "e.tpl.html").write_text("{{#oops}}")
    assert wait_for_status(srv, "/e.tpl.html", 500, 1.5)
    (srv.root / "e.tpl.html").write_text("fixed")
    assert wait_for_status(srv, "/e.tpl.html", 200, 1.5)
    assert requests.get(srv.url("/e.tpl.html"), timeout=5).text == "fixed"


def wait_for_status(srv, path, want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        status = request(srv, path)[0]
        if status == want or time.monotonic() >= deadline:
            return status == want
        time.sleep(0.05)


def test_missing_template_page_is_404(server):
    assert request(server, "/nope.tpl.html")[0] == 404


def test_status_still_renders(server):
    r = requests.get(server.url("/status"), timeout=5)
    assert r.status_code == 200
    assert re.search(r'<span id="uptime-s">\d+</span>', r.text)
    assert "{{" not in r.text


def test_shipped_hello_page(server):
    r = requests.get(server.url("/hello.tpl.html?username=Ada"), timeout=5)
    assert r.status_code == 200
    assert "Hello, Ada!" in r.text
    assert "{{" not in r.text
    assert "127.0.0.1" in r.text and "0.1.0" in r.text
    r = requests.get(server.url("/hello.tpl.html"), timeout=5)
    assert "Hello, stranger!" in r.text
    r = requests.get(server.url("/hello.tpl.html?username=%3Cb%3Ebold%3C/b%3E"), timeout=5)
    assert "<b>bold</b>" not in r.text and "&lt;b&gt;bold&lt;/b&gt;" in r.text
