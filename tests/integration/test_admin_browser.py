# SPDX-License-Identifier: MIT
"""A real browser on the admin dashboard: headless Chromium (Debian's, driven over the
DevTools protocol by cdp.py) logs in through the form, lands on /admin, and sees the
request count rise after requests are made (the page polls /api/stats every 2 s); the
chart and the top-paths table are drawn, and a screenshot is taken. Skipped only when
/usr/bin/chromium is absent."""
import json
import time

import pytest
import requests

import cdp
from conftest import ADMIN_PASSWORD, ADMIN_USER
from test_browser import png_pixels

pytestmark = pytest.mark.skipif(not cdp.available(), reason="no chromium")


def test_login_and_live_dashboard(make_admin_server, tmp_path):
    srv = make_admin_server()
    base = srv.url("/")[:-1]
    with cdp.Browser(width=1280, height=900, timeout=30) as b:
        b.goto(base + "/login")
        assert b.js("location.pathname") == "/login"
        assert b.js("document.querySelector('input[name=user]') !== null")
        b.js(f"document.querySelector('input[name=user]').value = {json.dumps(ADMIN_USER)}")
        b.js(f"document.querySelector('input[name=password]').value = {json.dumps(ADMIN_PASSWORD)}")
        b.js("document.querySelector('form[action=\"/login\"] button[type=submit]').click()")
        b.wait_js("location.pathname === '/admin' && document.readyState === 'complete' && "
                  "document.getElementById('requests-total') !== null", timeout=10)
        # the session cookie is HttpOnly: invisible to scripts
        assert "mica_session" not in b.js("document.cookie")
        # wait for the first poll of /api/stats to have filled the page ("—" until then)
        b.wait_js("document.getElementById('bytes-sent').textContent !== '\u2014'", timeout=10)
        first = int(b.js("document.getElementById('requests-total').textContent.trim()"))
        assert first >= 3  # /login, POST /login, /admin at least

        s = requests.Session()
        for i in range(20):
            assert s.get(srv.url("/HelloWorld.html" if i % 2 else "/style.css"),
                         timeout=5).status_code == 200
        t0 = time.monotonic()
        now = b.wait_js("(function () { var n = parseInt(document.getElementById("
                        "'requests-total').textContent, 10); return n >= %d ? n : 0; })()"
                        % (first + 20), timeout=10)
        assert now >= first + 20
        assert time.monotonic() - t0 < 10

        # give the next poll a chance to draw everything, then look at the picture
        try:
            b.wait_js("document.getElementById('chart-line').getAttribute('d').length > 0 && "
                      "document.querySelectorAll('#top-paths tr').length > 0", timeout=5)
        except TimeoutError:
            pass
        shot = tmp_path / "dashboard.png"
        b.screenshot(shot)
        state = b.js("JSON.stringify({live: document.getElementById('live').textContent, "
                     "d: document.getElementById('chart-line').getAttribute('d'), "
                     "top: Array.from(document.querySelectorAll('#top-paths tr td:first-child'))"
                     ".map(function (td) { return td.textContent; }), "
                     "statuses: document.querySelectorAll('#statuses tr').length})")
        state = json.loads(state)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000, len(data)
    width, height, bpp, rows = png_pixels(data)
    assert width == 1280 and height >= 600, (width, height)
    colours = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 2)}
    assert len(colours) > 20, len(colours)
    # the rest of the dashboard, filled from the same /api/stats answers
    assert state["live"] == "Live", state
    assert state["d"] and state["d"].startswith("M"), state
    assert state["top"] and all(p.startswith("/") for p in state["top"]), state
    assert state["statuses"] >= 1, state
