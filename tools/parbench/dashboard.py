"""parbench-dashboard: a static site of main's benchmark history, one trend chart per benchmark.

Reads the run files of the data branch (parbench-publish restore --export DIR, or any directory of them: every
runs/**/*.json is checked as parbench/history_data.py describes) and writes one self-contained index.html: inline
SVG, style and script, so that it opens from file:// with no server and no network (a Content-Security-Policy
forbids any fetch). Per benchmark, for each machine, the median time of every run in commit order with its
interval (distribution-free, from the order statistics of the run's repetitions), each point a link to its
commit; points from a runner its noise probe found noisy are drawn hollow in orange; the change points found by
parbench-history's detector (E-divisive means on ranks, permutation test) are dashed red lines with their size.
The page filters by search words, kernel, strategy and "only with change points".
"""

import argparse
import glob
import html
import math
import os
import sys
from math import comb

from . import cli, dashboard_page, history_data, markdown, model, noise

PROG = "parbench-dashboard"
W, H, LEFT, RIGHT, TOP, BOTTOM = 560, 220, 62, 10, 14, 26
COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 written, 2 usage or input error (a damaged run file included), "
                                  "3 no run in --data, 70 internal error")
    p.add_argument("--data", required=True, help="directory holding runs/<machine>/*.json")
    p.add_argument("--out", default="site", help="output directory (default site): index.html")
    p.add_argument("--commit-url", default=None,
                   help="link of a commit, {commit} replaced by its id, e.g. https://github.com/O/R/commit/{commit} "
                        "(default: from $GITHUB_SERVER_URL and $GITHUB_REPOSITORY, else no links)")
    p.add_argument("--title", default="parbench: benchmark history")
    p.add_argument("--filter", type=cli.regex, default=None, help="only benchmarks whose name this regex matches")
    p.add_argument("--significance", type=cli.fraction, default=0.01, help="change point p at most (default 0.01)")
    p.add_argument("--permutations", type=int, default=199, help="permutations per test (default 199)")
    p.add_argument("--min-segment", type=int, default=5, help="points on each side of a change (default 5)")
    args = p.parse_args(argv)
    if args.permutations < 19 or args.min_segment < 2:
        p.error("--permutations must be at least 19 and --min-segment at least 2")
    if args.commit_url is None and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        args.commit_url = f"{server}/{os.environ['GITHUB_REPOSITORY']}/commit/{{commit}}"
    return args


def load_runs(directory):
    if not os.path.isdir(directory):
        raise cli.InputError(f"--data {directory}: no such directory")
    runs = []
    for path in sorted(glob.glob(os.path.join(directory, "runs", "**", "*.json"), recursive=True)):
        try:
            with open(path, encoding="utf-8") as f:
                runs.append(history_data.parse_run(f.read(), path))
        except (OSError, UnicodeDecodeError) as e:
            raise cli.InputError(f"{path}: cannot read ({e})") from None
        except history_data.DataError as e:
            raise cli.InputError(str(e)) from None
    return sorted(runs, key=history_data.order_key)


def median_interval(values, level=0.95):
    """(median, low, high, coverage): the order-statistic interval for the median, the narrowest whose coverage
    is at least level, or min..max (with its smaller coverage) when there are too few values."""
    xs = sorted(values)
    n = len(xs)
    mid = (xs[(n - 1) // 2] + xs[n // 2]) / 2
    if n == 1:
        return mid, mid, mid, 0.0
    best = (xs[0], xs[-1], 1 - 2 * 0.5 ** n)
    for k in range(1, n // 2 + 1):          # interval x_(k) .. x_(n-k+1), 1-based
        coverage = sum(comb(n, i) for i in range(k, n - k + 1)) / 2 ** n
        if coverage < level:
            break
        best = (xs[k - 1], xs[n - k], coverage)
    return (mid, *best)


def classify(name):
    kid = model.parse_kernel_name(name)
    if kid:
        return kid.kernel, kid.strategy
    parts = name.split("/")
    return parts[0], (parts[1] if len(parts) > 2 else "")


def series(runs, pattern):
    """{benchmark: {machine: [point]}} with a point per run that has a usable result, in history order."""
    out: dict = {}
    for index, run in enumerate(runs):
        for name, b in run["benchmarks"].items():
            if b["errored"] or not b["ns"] or (pattern and not pattern.search(name)):
                continue
            mid, low, high, coverage = median_interval(b["ns"])
            out.setdefault(name, {}).setdefault(run["machine"], []).append({
                "index": index, "commit": run["commit"], "date": run["date"], "value": mid, "low": low,
                "high": high, "coverage": coverage, "n": len(b["ns"]), "noise": run["noise"],
                "noisy": bool(run["noise"] and run["noise"].get("noisy"))})
    return out


def changepoints(points, args):
    try:
        from . import changepoint
    except ImportError:
        return None
    return changepoint.detect([p["value"] for p in points], args.significance, args.min_segment, args.permutations)


def _ticks(lo, hi, count=4):
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def chart(name, by_machine, n_runs, args, commit_url):
    values = [v for pts in by_machine.values() for p in pts for v in (p["low"], p["high"])]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or hi * 0.05
    lo, hi = max(0.0, lo - pad), hi + pad

    def x(i):
        return LEFT + (W - LEFT - RIGHT) * (i + 0.5) / max(n_runs, 1)

    def y(v):
        return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))

    e = html.escape
    svg = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{e(name)}: time per run">',
           f'<line class="axis" x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}"/>',
           f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}"/>']
    for t in _ticks(lo, hi):
        svg.append(f'<line class="grid" x1="{LEFT}" y1="{y(t):.1f}" x2="{W - RIGHT}" y2="{y(t):.1f}"/>'
                   f'<text class="tick" x="{LEFT - 4}" y="{y(t) + 3:.1f}" text-anchor="end">'
                   f'{e(markdown.format_time_ns(t))}</text>')
    for t in _ticks(0, n_runs - 1, 6):
        if float(t).is_integer():
            svg.append(f'<text class="tick" x="{x(t):.1f}" y="{H - BOTTOM + 14}" text-anchor="middle">'
                       f'{int(t) + 1}</text>')
    svg.append(f'<text class="tick" x="{W - RIGHT}" y="{H - 2}" text-anchor="end">run of main (commit order)</text>')
    found, meta = 0, []
    for m, (machine, points) in enumerate(sorted(by_machine.items())):
        colour = COLOURS[m % len(COLOURS)]
        cps = changepoints(points, args)
        for cp in cps or []:
            found += 1
            p, before = points[cp.index], points[cp.index - 1]
            cx = (x(before["index"]) + x(p["index"])) / 2
            svg.append(f'<g class="changepoint" data-commit="{p["commit"]}" data-run="{p["index"]}">'
                       f'<title>change point on {e(machine)}: {cp.size * 100:+.1f}% from commit {p["commit"][:12]} '
                       f'(p = {cp.p:.2g})</title><line x1="{cx:.1f}" y1="{TOP}" x2="{cx:.1f}" y2="{H - BOTTOM}"/>'
                       f'<text x="{cx + 3:.1f}" y="{TOP + 9}">{cp.size * 100:+.1f}% {p["commit"][:7]}</text></g>')
        path = " ".join(f'{"M" if i == 0 else "L"}{x(p["index"]):.1f},{y(p["value"]):.1f}'
                        for i, p in enumerate(points))
        svg.append(f'<path class="trend" stroke="{colour}" d="{path}"/>')
        for p in points:
            tip = (f'{p["commit"][:12]} · {p["date"]} · {machine}\n{markdown.format_time_ns(p["value"])} '
                   f'(median of {p["n"]}; interval {markdown.format_time_ns(p["low"])} … '
                   f'{markdown.format_time_ns(p["high"])}, {p["coverage"]:.0%})\n{noise.describe(p["noise"])}')
            mark = (f'<g class="point{" noisy" if p["noisy"] else ""}" data-commit="{p["commit"]}">'
                    f'<title>{e(tip)}</title>'
                    f'<line class="interval" stroke="{colour}" x1="{x(p["index"]):.1f}" y1="{y(p["low"]):.1f}" '
                    f'x2="{x(p["index"]):.1f}" y2="{y(p["high"]):.1f}"/>'
                    f'<circle cx="{x(p["index"]):.1f}" cy="{y(p["value"]):.1f}" r="2.6" fill="{colour}"/></g>')
            if commit_url:
                mark = f'<a href="{e(commit_url.replace("{commit}", p["commit"]))}" target="_blank">{mark}</a>'
            svg.append(mark)
        last = points[-1]
        noisy = sum(p["noisy"] for p in points)
        meta.append(f'<span style="color:{colour}">■</span> {e(machine)}: {len(points)} runs, latest '
                    f'{e(markdown.format_time_ns(last["value"]))}'
                    + (f", {noisy} from noisy runners" if noisy else "")
                    + (", change points not computed (numpy missing)" if cps is None else
                       f", {len(cps)} change point{'s' * (len(cps) != 1)}"))
    svg.append("</svg>")
    kernel, strategy = classify(name)
    return (f'<section class="chart" data-name="{e(name)}" data-kernel="{e(kernel)}" data-strategy="{e(strategy)}" '
            f'data-changepoints="{found}"><h2>{e(name)}</h2><p class="meta">{"; ".join(meta)}</p>'
            + "".join(svg) + "</section>"), kernel, strategy


def page(runs, args):
    data = series(runs, args.filter)
    sections, kernels, strategies = [], set(), set()
    for name in sorted(data):
        text, kernel, strategy = chart(name, data[name], len(runs), args, args.commit_url)
        sections.append(text)
        kernels.add(kernel)
        if strategy:
            strategies.add(strategy)
    e = html.escape
    machines = sorted({r["machine"] for r in runs})
    noisy_runs = sum(bool(r["noise"] and r["noise"].get("noisy")) for r in runs)

    def options(label, values):
        items = "".join(f'<option value="{e(v)}">{e(v)}</option>' for v in sorted(values))
        return f'<option value="">{label}</option>{items}'

    first, last = runs[0], runs[-1]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(args.title)}</title><style>{dashboard_page.STYLE}</style></head>
<body><header><h1>{e(args.title)}</h1>
<p class="summary">{len(runs)} runs of main, {e(first["commit"][:7])} ({e(first["commit_time"][:10])}) to
{e(last["commit"][:7])} ({e(last["commit_time"][:10])}); {len(sections)} benchmarks; machines:
{e(", ".join(machines))}; {noisy_runs} runs from a runner its noise probe found noisy.</p>
<form id="filters" onsubmit="return false"><input id="q" type="search" placeholder="search benchmark names"
aria-label="search"><select id="kernel" aria-label="kernel">{options("all kernels", kernels)}</select>
<select id="strategy" aria-label="strategy">{options("all strategies", strategies)}</select>
<label><input id="changed" type="checkbox"> only with change points</label><span id="count"></span></form>
<p class="legend">Point: the run's median time, bar: its interval (order statistics of its repetitions; coverage
in the tooltip); <svg width="10" height="10" style="display:inline;width:10px"><circle class="key-noisy" cx="5"
cy="5" r="3.5"/></svg> hollow orange: a noisy runner (probe spread above {noise.NOISY_SPREAD:.0%} or steal above
{noise.NOISY_STEAL:.0%}); dashed red: a change point (p &le; {args.significance:g}). Click a point for its
commit.</p></header>
<main>
{chr(10).join(sections)}
</main>
<script>{dashboard_page.SCRIPT}</script>
</body></html>
"""


def main(argv):
    args = parse_args(argv)
    runs = load_runs(args.data)
    if not runs:
        print(f"{PROG}: no run in {args.data}/runs: nothing to draw", file=sys.stderr)
        return cli.EXIT_INCOMPLETE
    out = cli.ensure_dir(os.path.abspath(args.out), "--out")
    text = page(runs, args)
    cli.write_text(os.path.join(out, "index.html"), text)
    charts = text.count('<section class="chart"')
    print(f"{PROG}: wrote {os.path.join(args.out, 'index.html')}: {charts} charts from {len(runs)} runs")
    return cli.EXIT_OK


def entry_point():
    sys.exit(cli.run(PROG, main))
