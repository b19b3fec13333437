#!/usr/bin/env python3
"""The HTML report of scripts/bench.sh --report DIR.

Usage:
  report_html.py DIR RESULTS.jsonl HEADER.txt TABLE.md   write DIR/index.html
                                        and the pictures as DIR/*.png
  report_html.py --check DIR/index.html exit 1 unless the report holds the
                                        CPU picture and one picture per
                                        scenario of DIR/results.jsonl, each a
                                        PNG embedded in the page

The page is self-contained (pictures embedded as data: URLs), so it can be
mailed or archived alone; the PNGs beside it are the same pictures, for
docs/PERFORMANCE.md. Pictures (matplotlib, drawn without a display):
  cpu.png           CPU per request per scenario: loophttp, nginx and the
                    bare loop (floor) as bars, all rounds together (the
                    table's figure), with each round as a dot and their
                    range as a whisker; the bulk
                    (1 GiB) scenarios in CPU seconds per GiB instead; for
                    large files wrk's CPU stacked on the server's (the
                    machine's work: on loopback the kernel does part of
                    both ends' TCP work in whichever task sends)
  scenario-NAME.png per scenario, latency percentiles p50 ... p99.9 (the
                    median of the rounds); for the file scenarios also the
                    throughput wrk received over time, every round
  latency.png,      the same two kinds of picture for all scenarios at a
  throughput.png    glance, small and side by side (docs/PERFORMANCE.md
                    shows cpu.png, latency.png and throughput.png)
"""

import base64
import html
import json
import re
import statistics
import sys

import matplotlib
import matplotlib.ticker

SERVERS = ("loophttp", "nginx", "floor")
COLOURS = {"loophttp": "#1f77b4", "nginx": "#2ca02c", "floor": "#999999"}
PERCENTILES = ("50", "75", "90", "99", "99.9")
MIB = 1024 * 1024
GIB = 1024 ** 3
# A throughput sample up to this long after the run's end still counts.
SAMPLE_SLACK_S = 0.15


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    scenarios = []
    for r in rows:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    return rows, scenarios


def runs_of(rows, scenario, server):
    return sorted((r for r in rows if r["scenario"] == scenario and r["server"] == server),
                  key=lambda r: r["round"])


def cpu_per_unit(r):
    """CPU µs per request, or for a bulk body CPU seconds per GiB; None
    when the run finished nothing."""
    secs = r["cpu_ticks"] / r["clk_tck"]
    if r.get("kind") == "bulk":
        return secs / (r["wrk"]["bytes"] / GIB) if r["wrk"]["bytes"] else None
    return secs * 1e6 / r["wrk"]["requests"] if r["wrk"]["requests"] else None


def grid(plt, n, cols=4):
    """A figure of n small plots, `cols` a line; the spare cells blank."""
    lines = max(1, (n + cols - 1) // cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.2 * cols, 2.6 * lines), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat[:n]


def pooled_cpu(runs):
    """CPU per request (per GiB for bulk) over all the rounds together."""
    secs = sum(r["cpu_ticks"] / r["clk_tck"] for r in runs)
    if any(r.get("kind") == "bulk" for r in runs):
        nbytes = sum(r["wrk"]["bytes"] for r in runs)
        return secs / (nbytes / GIB) if nbytes else None
    reqs = sum(r["wrk"]["requests"] for r in runs)
    return secs * 1e6 / reqs if reqs else None


def pooled_wrk_cpu(runs):
    """wrk's own CPU in the unit of pooled_cpu, or None."""
    secs = sum(r.get("wrk_cpu_s", 0) for r in runs)
    if any(r.get("kind") == "bulk" for r in runs):
        nbytes = sum(r["wrk"]["bytes"] for r in runs)
        return secs / (nbytes / GIB) if nbytes else None
    reqs = sum(r["wrk"]["requests"] for r in runs)
    return secs * 1e6 / reqs if reqs else None


def cpu_figure(plt, rows, scenarios):
    fig, axes = grid(plt, len(scenarios))
    for ax, s in zip(axes, scenarios):
        names, figs, both = [], {}, {}
        big = any(r.get("big") for r in rows if r["scenario"] == s)
        for i, srv in enumerate(SERVERS):
            runs = runs_of(rows, s, srv)
            vals = [v for v in (cpu_per_unit(r) for r in runs) if v is not None]
            if not vals:
                continue
            names.append(srv)
            # The bar is the table's figure: all rounds' CPU over all their
            # requests (or bytes), so the two never disagree.
            m = figs[srv] = pooled_cpu(runs)
            x = len(names) - 1
            ax.bar(x, m, color=COLOURS[srv], width=0.6)
            ax.errorbar(x, m, yerr=[[max(0.0, m - min(vals))], [max(0.0, max(vals) - m)]], color="black", capsize=4, lw=1)
            ax.plot([x] * len(vals), vals, "o", color="black", ms=2.5)
            # Large files: on loopback the kernel does part of both ends'
            # TCP work in whichever task sends, so wrk's CPU is stacked on
            # the server's: the whole bar is the machine's work.
            w = pooled_wrk_cpu(runs) if big else None
            if w is not None:
                ax.bar(x, w, bottom=m, color=COLOURS[srv], alpha=0.3, hatch="//", width=0.6)
                both[srv] = m + w
        ax.set_xticks(range(len(names)), names, fontsize=8)
        bulk = any(r.get("kind") == "bulk" for r in rows if r["scenario"] == s)
        ax.set_ylabel("CPU s/GiB" if bulk else "CPU µs/request", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(bottom=0)
        title = s
        if figs.get("loophttp") and figs.get("nginx"):
            title += "  (L/N %.2f" % (figs["loophttp"] / figs["nginx"])
            if both.get("loophttp") and both.get("nginx"):
                title += ", with wrk %.2f" % (both["loophttp"] / both["nginx"])
            title += ")"
        ax.set_title(title, fontsize=9)
    fig.suptitle("Server CPU per request (bar: all rounds together, as in the table; dots: each round; "
                 "whisker: their range; large files: wrk's CPU stacked, hatched)", fontsize=10)
    fig.tight_layout()
    return fig


def small(ax, title):
    """Shrinks a plot's text for the at-a-glance grids."""
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.xaxis.label.set_size(7)
    ax.yaxis.label.set_size(7)
    if ax.get_legend():
        ax.get_legend().remove()


def latency_grid(plt, rows, scenarios):
    names = [s for s in scenarios if not all(r.get("kind") == "bulk" for r in rows if r["scenario"] == s)]
    fig, axes = grid(plt, len(names))
    for ax, s in zip(axes, names):
        latency_axes(ax, rows, s)
        small(ax, s)
    fig.suptitle("Latency percentiles per scenario, ms, log scale (blue loophttp, green nginx, grey bare loop)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def throughput_grid(plt, rows, scenarios):
    names = [s for s in scenarios if any(r.get("big") for r in rows if r["scenario"] == s)]
    fig, axes = grid(plt, len(names), cols=3)
    for ax, s in zip(axes, names):
        throughput_axes(ax, rows, s)
        small(ax, s)
    fig.suptitle("File scenarios: MiB/s received by wrk over each run, every round (blue loophttp, green nginx)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def latency_axes(ax, rows, s):
    xs = range(len(PERCENTILES))
    drawn = False
    for srv in SERVERS:
        runs = runs_of(rows, s, srv)
        ys = []
        for p in PERCENTILES:
            vals = [r["wrk"].get("percentiles_us", {}).get(p) for r in runs]
            vals = [v / 1000 for v in vals if v]
            ys.append(statistics.median(vals) if vals else float("nan"))
        if all(y != y for y in ys):  # all NaN: nothing finished
            continue
        ax.plot(xs, ys, "o-", color=COLOURS[srv], label=srv)
        drawn = True
    ax.set_xticks(list(xs), ["p" + p for p in PERCENTILES])
    ax.set_ylabel("latency, ms (log scale)")
    ax.set_title("latency percentiles (median of rounds)", fontsize=9)
    if drawn:
        ax.set_yscale("log")
        # Plain numbers (0.2, 5, 300), not powers of ten.
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v)
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no request finished within a run\n(a body larger than a run carries)",
                ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.grid(True, which="both", alpha=0.3)


def throughput_axes(ax, rows, s):
    for srv in SERVERS:
        for i, r in enumerate(runs_of(rows, s, srv)):
            samples = r.get("rx_series") or []
            # After the run's end wrk only closes its connections.
            end = r["wrk"]["duration_us"] / 1e6 + SAMPLE_SLACK_S
            ts, rates = [], []
            for (t0, b0), (t1, b1) in zip(samples, samples[1:]):
                if t0 < t1 <= end:
                    ts.append(t1)
                    rates.append((b1 - b0) / (t1 - t0) / MIB)
            if ts:
                ax.plot(ts, rates, color=COLOURS[srv], lw=1, alpha=0.8,
                        label=srv if i == 0 else None)
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("MiB/s received by wrk")
    ax.set_title("throughput over time (every round, 100 ms steps)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def scenario_figure(plt, rows, s):
    first = next(r for r in rows if r["scenario"] == s)
    big = first.get("big", False)
    fig, axes = plt.subplots(1, 2 if big else 1, figsize=(11 if big else 6, 3.4), squeeze=False)
    latency_axes(axes[0][0], rows, s)
    if big:
        throughput_axes(axes[0][1], rows, s)
    fig.suptitle("%s: %d connections, %s" % (s, first["conns"], first.get("kind", "plain")), fontsize=10)
    fig.tight_layout()
    return fig


# Colours kept per picture: lines and bars need few, and a palette PNG is
# a third of the size (the docs keep these pictures in git).
PALETTE_COLOURS = 64


def save(fig, path):
    """Writes the figure as a palette PNG; returns it base64-encoded."""
    from PIL import Image  # matplotlib's own dependency

    fig.savefig(path, format="png", dpi=80)
    with Image.open(path) as im:
        small = im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=PALETTE_COLOURS)
    small.save(path, optimize=True)
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def markdown_to_html(text):
    """The result tables (markdown pipes) as HTML tables, other lines as
    paragraphs: enough for benchlib.py's output."""
    out, table = [], []

    def close():
        if table:
            out.append("<table>" + "".join(table) + "</table>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            tag = "th" if not table else "td"
            table.append("<tr>" + "".join("<%s>%s</%s>" % (tag, html.escape(c), tag) for c in cells) + "</tr>")
            continue
        close()
        if line.strip():
            out.append("<p>%s</p>" % html.escape(line))
    close()
    return "\n".join(out)


STYLE = """body { font-family: sans-serif; margin: 1.5em; max-width: 1250px; }
pre { background: #f4f4f4; padding: .6em; overflow-x: auto; }
table { border-collapse: collapse; font-size: 11px; margin: .8em 0; }
td, th { border: 1px solid #ccc; padding: 2px 5px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: .5em 0 1.5em; }"""


def write(out_dir, results, header, table):
    matplotlib.use("Agg")  # no display: draw into files
    import matplotlib.pyplot as plt

    rows, scenarios = load(results)
    if not rows:
        sys.exit("no results to report")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>loophttp vs nginx: benchmark report</title>",
             "<style>%s</style></head><body>" % STYLE,
             "<h1>loophttp vs nginx: benchmark report</h1>",
             "<pre>%s</pre>" % html.escape(open(header).read())]
    fig = cpu_figure(plt, rows, scenarios)
    parts.append("<h2>CPU per request</h2>")
    parts.append('<img data-figure="cpu" alt="CPU per request per scenario" src="data:image/png;base64,%s">'
                 % save(fig, "%s/cpu.png" % out_dir))
    plt.close(fig)
    for name, title, draw in (("latency", "Latency at a glance", latency_grid),
                              ("throughput", "File throughput at a glance", throughput_grid)):
        fig = draw(plt, rows, scenarios)
        parts.append("<h2>%s</h2>" % title)
        parts.append('<img data-figure="%s" alt="%s" src="data:image/png;base64,%s">'
                     % (name, title, save(fig, "%s/%s.png" % (out_dir, name))))
        plt.close(fig)
    parts.append("<h2>Scenarios</h2>")
    for s in scenarios:
        fig = scenario_figure(plt, rows, s)
        png = save(fig, "%s/scenario-%s.png" % (out_dir, s))
        plt.close(fig)
        parts.append('<h3 id="%s">%s</h3>' % (html.escape(s), html.escape(s)))
        parts.append('<img data-scenario="%s" alt="%s: latency percentiles" src="data:image/png;base64,%s">'
                     % (html.escape(s), html.escape(s), png))
    parts.append("<h2>Tables</h2>")
    parts.append(markdown_to_html(open(table).read()))
    parts.append("</body></html>")
    with open("%s/index.html" % out_dir, "w") as f:
        f.write("\n".join(parts) + "\n")


def check(index):
    """The CI's check: one embedded PNG per scenario, and the CPU picture."""
    out_dir = index.rsplit("/", 1)[0] if "/" in index else "."
    _, scenarios = load("%s/results.jsonl" % out_dir)
    page = open(index).read()
    images = re.findall(r'<img data-(figure|scenario)="([^"]*)"[^>]*src="data:image/png;base64,([^"]+)"', page)
    seen = {}
    problems = []
    for kind, name, data in images:
        if not base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n"):
            problems.append("%s %s: not a PNG" % (kind, name))
        seen.setdefault((kind, html.unescape(name)), 0)
        seen[(kind, html.unescape(name))] += 1
    if seen.get(("figure", "cpu")) != 1:
        problems.append("the CPU picture is missing")
    for s in scenarios:
        if seen.get(("scenario", s)) != 1:
            problems.append("scenario %s: %d pictures, expected 1" % (s, seen.get(("scenario", s), 0)))
    extra = {n for k, n in seen if k == "scenario"} - set(scenarios)
    if extra:
        problems.append("pictures of unknown scenarios: %s" % ", ".join(sorted(extra)))
    if problems:
        sys.exit("report check failed:\n  " + "\n  ".join(problems))
    print("report check: %s holds the CPU picture and one picture for each of %d scenarios"
          % (index, len(scenarios)))


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        check(argv[2])
    elif len(argv) == 5:
        write(*argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
