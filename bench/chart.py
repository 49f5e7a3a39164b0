#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the `make bench` chart as a self-contained SVG (no external tools or fonts).

    chart.py DATA.tsv OUT.svg "SUBTITLE"

DATA.tsv has one line per bar: scenario label (a "|" splits it into two lines), server, value
(requests per server CPU-second relative to nginx; "n/a" or empty = no bar). The chart shows
grouped bars per scenario, one colour per server, on a log2 scale from the dashed line at 1
(nginx) up (better) or down (worse), the value on each bar.
"""
import math
import sys
from html import escape

COLOURS = {"mica": "#2b6cb0", "lighttpd": "#dd8a1f", "fixed": "#8a8f98"}
FALLBACK = ["#38a169", "#b83280", "#319795"]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: chart.py DATA.tsv OUT.svg SUBTITLE")
    data_path, out_path, subtitle = sys.argv[1:]
    groups, servers, values = [], [], {}
    with open(data_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            label, server, value = parts[:3]
            if label not in groups:
                groups.append(label)
            if server not in servers:
                servers.append(server)
            try:
                values[(label, server)] = float(value)
            except ValueError:
                pass
    if not groups:
        sys.exit("chart.py: no data")

    # A log2 scale: ratios from below 1 to 40 and more must all stay readable. Bars start at 1
    # (nginx) and go up (better) or down (worse).
    lo_v = min([1.0] + [v for v in values.values() if v > 0])
    hi_v = max([1.0] + list(values.values()))
    lo = 2.0 ** math.floor(math.log2(min(lo_v, 0.5)))
    hi = 2.0 ** math.ceil(math.log2(hi_v * 1.3))   # room for the value above the tallest bar

    n_bars = len(servers)
    bar_w = 22 if n_bars <= 3 else 16
    group_w = n_bars * bar_w + 26
    left, right, top_pad, bottom = 64, 20, 78, 92
    plot_w = group_w * len(groups)
    width = max(left + plot_w + right, 800)   # the title needs that much
    plot_h = 320
    height = top_pad + plot_h + bottom

    def y(v):
        v = max(v, lo)
        return top_pad + plot_h - (math.log2(v) - math.log2(lo)) / (math.log2(hi) - math.log2(lo)) * plot_h

    out = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">')
    add(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    add(f'<text x="{left}" y="26" font-size="17" font-weight="bold" fill="#1a202c">'
        'Requests per server CPU-second, relative to nginx (higher is better)</text>')
    add(f'<text x="{left}" y="46" font-size="12" fill="#4a5568">{escape(subtitle)}</text>')
    # legend
    lx = left
    for i, s in enumerate(servers + ["nginx"]):
        if s == "nginx":
            add(f'<line x1="{lx}" y1="62" x2="{lx + 22}" y2="62" stroke="#c53030" '
                'stroke-width="1.5" stroke-dasharray="5,3"/>')
            add(f'<text x="{lx + 28}" y="66" fill="#1a202c">nginx = 1</text>')
            break
        colour = COLOURS.get(s, FALLBACK[i % len(FALLBACK)])
        add(f'<rect x="{lx}" y="55" width="14" height="14" fill="{colour}"/>')
        add(f'<text x="{lx + 19}" y="66" fill="#1a202c">{escape(s)}</text>')
        lx += 34 + 8 * len(s)
    # grid and y axis: one line per power of two
    e = int(math.log2(lo))
    while 2.0 ** e <= hi * 1.0001:
        v = 2.0 ** e
        yy = y(v)
        add(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#e2e8f0" stroke-width="1"/>')
        add(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" fill="#4a5568">{v:g}</text>')
        e += 1
    add(f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#4a5568" stroke-width="1"/>')
    add(f'<text transform="translate(18,{top_pad + plot_h / 2:.0f}) rotate(-90)" '
        'text-anchor="middle" fill="#4a5568">× nginx (log scale)</text>')
    # bars
    for g, label in enumerate(groups):
        gx = left + g * group_w + 13
        for i, s in enumerate(servers):
            val = values.get((label, s))
            if val is None:
                continue
            colour = COLOURS.get(s, FALLBACK[i % len(FALLBACK)])
            x = gx + i * bar_w
            y0, y1 = sorted((y(val), y(1.0)))
            add(f'<rect x="{x}" y="{y0:.1f}" width="{bar_w - 3}" height="{max(y1 - y0, 1):.1f}" '
                f'fill="{colour}"><title>{escape(s)}: {val:.2f}</title></rect>')
            tx = x + (bar_w - 3) / 2 + 4
            if val >= 1:
                add(f'<text transform="translate({tx:.1f},{y0 - 4:.1f}) rotate(-90)" '
                    f'font-size="10.5" fill="#1a202c">{val:.2f}</text>')
            else:
                add(f'<text transform="translate({tx:.1f},{y1 + 4:.1f}) rotate(-90)" text-anchor="end" '
                    f'font-size="10.5" fill="#1a202c">{val:.2f}</text>')
        for k, part in enumerate(label.split("|")):
            add(f'<text x="{gx + (n_bars * bar_w - 3) / 2:.1f}" y="{top_pad + plot_h + 18 + 15 * k}" '
                f'text-anchor="middle" fill="#1a202c">{escape(part)}</text>')
    # nginx reference line, drawn over the bars
    add(f'<line x1="{left}" y1="{y(1):.1f}" x2="{left + plot_w}" y2="{y(1):.1f}" stroke="#c53030" '
        'stroke-width="1.5" stroke-dasharray="5,3"/>')
    add(f'<text x="{left + 4}" y="{height - 14}" font-size="11" fill="#4a5568">'
        'Medians over interleaved rounds of one run of make bench (bench/run.sh); '
        'see docs/benchmarks.md for the method and the absolute figures.</text>')
    add("</svg>")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
