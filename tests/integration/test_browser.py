# SPDX-License-Identifier: MIT
"""A real browser: Debian's headless Chromium loads a directory listing. The DOM it built
must hold one row per entry with its name, size and link; laid out in a phone's width the
rows must fit the screen with size and time under the name, in a desktop's width beside it;
and a phone-sized screenshot must be drawn. Skipped only when /usr/bin/chromium is absent (scripts/install-deps.sh test puts it
there)."""
import json
import os
import re
import struct
import subprocess
import zlib

import pytest

from test_listing import parse

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")

FILES = {
    "docs/readme.txt": b"r" * 1229,
    "docs/with space.txt": b"s" * 10,
    "docs/<b>&\"'.txt": b"h",
    "docs/café ☕.txt": b"c" * (3 << 20),
    "docs/file2": b"2",
    "docs/file10": b"10",
    "docs/photos/a.jpg": b"x",
    "docs/quarterly-report-of-the-infrastructure-team-2026-final-v2.pdf": b"p" * 5000,
}
WANT = [  # (kind, name, href, size) in the default order
    ("dir", "photos", "/docs/photos/", "—"),
    ("file", "<b>&\"'.txt", "/docs/%3Cb%3E%26%22%27.txt", "1 B"),
    ("file", "café ☕.txt", "/docs/caf%C3%A9%20%E2%98%95.txt", "3 MiB"),
    ("file", "file2", "/docs/file2", "1 B"),
    ("file", "file10", "/docs/file10", "2 B"),
    ("file", "quarterly-report-of-the-infrastructure-team-2026-final-v2.pdf",
     "/docs/quarterly-report-of-the-infrastructure-team-2026-final-v2.pdf", "4.9 KiB"),
    ("file", "readme.txt", "/docs/readme.txt", "1.2 KiB"),
    ("file", "with space.txt", "/docs/with%20space.txt", "10 B"),
]


def chromium(tmp_path, *args):
    """Runs headless Chromium with a fresh profile; returns its stdout."""
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args]
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout


def png_pixels(data):
    """(width, height, rows of bytes) of an 8-bit RGB or RGBA PNG, filters undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def test_rendered_dom_has_every_row(make_server, tmp_path):
    srv = make_server(bare=True, files=FILES)
    dom = chromium(tmp_path, "--dump-dom", srv.url("/docs/"))
    page = parse(dom)
    got = [(r["kind"], r["name"], r["href"], r["size"]) for r in page.rows]
    assert got == WANT
    assert page.parent == "/"
    assert [href for _, href in page.crumbs] == ["/", None]
    assert b"Index of /docs/" in dom


# A page of the test's own (the listing itself needs no JavaScript) that loads the listing
# in frames of a phone's and a desktop's width and writes where the cells were laid out.
PROBE = """<!doctype html><meta charset="utf-8">
<script>
function measure(frame) {
  var d = frame.contentDocument, out = [];
  d.querySelectorAll("tr.entry").forEach(function (tr) {
    var box = function (sel) {
      var r = tr.querySelector(sel).getBoundingClientRect();
      return [r.left, r.top, r.right, r.bottom];
    };
    out.push({name: box("td.name"), size: box("td.size"), time: box("td.time")});
  });
  var res = {width: frame.clientWidth, scroll: d.documentElement.scrollWidth, rows: out};
  document.getElementById("out-" + frame.id).textContent = JSON.stringify(res);
}
</script>
<iframe id="phone" src="/docs/" style="width:390px;height:844px;border:0" onload="measure(this)"></iframe>
<iframe id="desk" src="/docs/" style="width:1280px;height:800px;border:0" onload="measure(this)"></iframe>
<pre id="out-phone"></pre><pre id="out-desk"></pre>
"""


def layout(dom, frame):
    m = re.search(rb'<pre id="out-' + frame.encode() + rb'">([^<]*)</pre>', dom)
    assert m and m.group(1), f"no measurements for {frame}: {dom[-500:]!r}"
    return json.loads(m.group(1))


def test_layout_on_phone_and_desktop(make_server, tmp_path):
    srv = make_server(bare=True, files=dict(FILES, **{"probe.html": PROBE}))
    dom = chromium(tmp_path, "--window-size=1400,1800", "--dump-dom", srv.url("/probe.html"))
    phone, desk = layout(dom, "phone"), layout(dom, "desk")
    assert len(phone["rows"]) == len(desk["rows"]) == len(WANT)
    # Phone: nothing wider than the screen, every cell inside it, and each row's size and
    # time stacked under its name rather than squeezed beside it.
    assert phone["scroll"] <= phone["width"] == 390
    for row in phone["rows"]:
        for cell in row.values():
            assert 0 <= cell[0] and cell[2] <= 390, row
        assert row["size"][1] >= row["name"][3] - 1, row
        assert row["time"][1] >= row["name"][3] - 1, row
    # Desktop: a table, the three cells side by side on one line.
    assert desk["scroll"] <= desk["width"] == 1280
    for row in desk["rows"]:
        assert row["name"][2] <= row["size"][0] + 1 and row["size"][2] <= row["time"][0] + 1, row
        assert abs(row["size"][1] - row["name"][1]) < 2, row


def test_phone_screenshot(make_server, tmp_path):
    srv = make_server(bare=True, files=FILES)
    shot = tmp_path / "phone.png"
    chromium(tmp_path, "--window-size=390,844", f"--screenshot={shot}",
             "--hide-scrollbars", srv.url("/docs/"))
    data = shot.read_bytes()
    assert len(data) > 5000, len(data)
    width, height, bpp, rows = png_pixels(data)
    assert (width, height) == (390, 844)
    # Something was drawn: many colours (text, icons, borders), not a blank page.
    colours = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 2)}
    assert len(colours) > 20, len(colours)
