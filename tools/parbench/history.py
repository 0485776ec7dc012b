"""parbench-history: the history of main's benchmark runs in SQLite, and the change points in it.

  add       add one run (Google Benchmark JSON, one or more files of the same run) under a commit and machine
  detect    find change points per benchmark (E-divisive means on ranks, permutation test; parbench/changepoint.py)
            and report each with its commit, size and p; a trend plot per flagged benchmark (--plots)
  synthetic measure the detector on synthetic histories with known steps, drifts and outliers

The database (--db, default parbench-history.sqlite) is one file (parbench/history_db.py).
"""

import argparse
import os
import re
import sys

from . import cli, history_db, model

PROG = "parbench-history"


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 done (change points found or not), 2 usage or input error, "
                                  "3 detect found no history to look at, 70 internal error")
    sub = p.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    a = sub.add_parser("add", help="add a run")
    a.add_argument("--db", default="parbench-history.sqlite")
    a.add_argument("--commit", required=True, help="the commit the run measured")
    a.add_argument("--machine", default=None,
                   help="machine key (default: the host name in the JSON's context); CI passes the runner class")
    a.add_argument("--date", default=None, help="date of the run (default: the JSON's context date)")
    a.add_argument("json", nargs="+", help="the run's Google Benchmark JSON file(s)")
    d = sub.add_parser("detect", help="find change points")
    d.add_argument("--db", default="parbench-history.sqlite")
    d.add_argument("--machine", default=None, help="only this machine (default: every machine in the database)")
    d.add_argument("--filter", default=None, help="regex: only benchmarks whose name it matches")
    d.add_argument("--significance", type=float, default=0.01, help="permutation p at most this (default 0.01)")
    d.add_argument("--permutations", type=int, default=199, help="permutations per test (default 199)")
    d.add_argument("--min-segment", type=int, default=5, help="points on each side of a change (default 5)")
    d.add_argument("--min-size", type=float, default=0.0,
                   help="report only changes of at least this size, e.g. 0.05 (default: all)")
    d.add_argument("--out", default=None, help="also write the Markdown report here")
    d.add_argument("--plots", default=None, help="directory for a trend plot per flagged benchmark (PNG)")
    s = sub.add_parser("synthetic", help="detection and false-positive rates on synthetic histories")
    s.add_argument("--histories", type=int, default=200, help="histories per scenario (default 200)")
    s.add_argument("--length", type=int, default=100, help="points per history (default 100)")
    s.add_argument("--noise", type=float, default=0.03, help="sd of the log noise (default 0.03)")
    s.add_argument("--step", type=float, default=0.10, help="size of the steps (default 0.10)")
    s.add_argument("--outliers", type=float, default=0.05,
                   help="share of points slowed 1.5-3x (default 0.05)")
    s.add_argument("--significance", type=float, default=0.01)
    s.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.command == "detect":
        if not 0 < args.significance < 1 or args.permutations < 19 or args.min_segment < 2:
            p.error("--significance must be in (0, 1), --permutations at least 19, --min-segment at least 2")
        if args.filter is not None:
            try:
                args.filter_re = re.compile(args.filter)
            except re.error as e:
                p.error(f"--filter is not a regular expression: {e}")
    if args.command == "synthetic" and (args.histories < 1 or args.length < 20 or args.noise < 0):
        p.error("--histories must be at least 1, --length at least 20, --noise not negative")
    return args


def cmd_add(args):
    run = model.load(args.json)
    for note in run.partial_notes():  # added all the same: what finished is valid, and says so here
        cli.warn(PROG, note)
    ctx = run.contexts[0]
    machine = args.machine or str(ctx.get("host_name") or "unknown")
    date = args.date or str(ctx.get("date") or "")
    benchmarks = {name: ([s.real_time_ns for s in b.samples], b.errored) for name, b in run.benchmarks.items()
                  if b.samples or b.errored}
    if not benchmarks:
        raise cli.InputError(f"{args.json[0]}: no per-repetition results to add")
    con = _open(args.db)
    seq = history_db.add_run(con, args.commit, machine, date, ",".join(os.path.basename(p) for p in args.json),
                             benchmarks)
    print(f"{PROG}: added run {seq}: commit {args.commit}, machine {machine}, {len(benchmarks)} benchmarks "
          f"({len(history_db.runs(con, machine))} runs of {machine} in {args.db})")
    return cli.EXIT_OK


def _open(path):
    try:
        return history_db.connect(path)
    except history_db.HistoryError as e:
        raise cli.InputError(str(e)) from None


def cmd_detect(args):
    if not os.path.exists(args.db):
        raise cli.InputError(f"{args.db}: no such database (create it with '{PROG} add')")
    from . import changepoint
    con = _open(args.db)
    machines = [args.machine] if args.machine else history_db.machines(con)
    lines = ["## parbench-history: change points", ""]
    flagged, looked = [], 0
    for machine in machines:
        series = history_db.series(con, machine)
        for name, points in series.items():
            if args.filter is not None and not args.filter_re.search(name):
                continue
            looked += 1
            values = [v for _, v in points]
            for cp in changepoint.detect(values, args.significance, args.min_segment, args.permutations):
                if abs(cp.size) >= args.min_size:
                    flagged.append((machine, name, points, cp))
    if looked == 0:
        print(f"{PROG}: no history to look at in {args.db}"
              + (f" for machine {args.machine}" if args.machine else "")
              + (f" matching {args.filter!r}" if args.filter else ""), file=sys.stderr)
        return cli.EXIT_INCOMPLETE
    lines.append(f"{looked} benchmark histories on {len(machines)} machine(s); E-divisive means on ranks, "
                 f"permutation p <= {args.significance:g} ({args.permutations} permutations), at least "
                 f"{args.min_segment} points a side: {len(flagged)} change points.")
    lines.append("")
    if flagged:
        lines += ["| machine | benchmark | commit | point | size | p |", "|---|---|---|---|---|---|"]
        for machine, name, points, cp in flagged:
            lines.append(f"| {machine} | `{name}` | `{points[cp.index][0][:12]}` | {cp.index + 1} of {len(points)} "
                         f"| {cp.size * 100:+.1f}% | {cp.p:.3g} |")
        lines.append("")
    if args.plots and flagged:
        lines += _plots(args.plots, flagged)
    text = "\n".join(lines)
    print(text)
    if args.out:
        cli.write_text(args.out, text + "\n")
    return cli.EXIT_OK


def _plots(directory, flagged):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["Plots skipped: matplotlib is not installed (apt-get install python3-matplotlib)."]
    cli.ensure_dir(os.path.abspath(directory), "--plots")
    by_series: dict = {}
    for machine, name, points, cp in flagged:
        by_series.setdefault((machine, name), (points, []))[1].append(cp)
    written = []
    for (machine, name), (points, cps) in by_series.items():
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot(range(len(points)), [v for _, v in points], marker=".", lw=0.8, color="tab:blue")
        for cp in cps:
            ax.axvline(cp.index - 0.5, color="tab:red", ls="--", lw=1)
            ax.annotate(f"{points[cp.index][0][:8]}\n{cp.size * 100:+.1f}%, p={cp.p:.2g}", (cp.index, 1),
                        xycoords=("data", "axes fraction"), va="top", fontsize=7, color="tab:red")
        ax.set_xlabel("run of main (commit order)")
        ax.set_ylabel("real time (ns)")
        ax.set_title(f"{name} ({machine})", fontsize=8)
        fig.tight_layout()
        path = os.path.join(directory, re.sub(r"[^A-Za-z0-9._-]+", "_", f"{machine}_{name}") + ".png")
        cli.save_figure(fig, path, dpi=100)
        plt.close(fig)
        written.append(path)
    return [f"Trend plots: {len(written)} in {directory}", ""]


def cmd_synthetic(args):
    from . import changepoint
    rates = changepoint.synthetic_rates(args.histories, args.length, args.noise, args.step, args.outliers,
                                        args.significance, args.seed)
    print(f"{args.histories} histories of {args.length} points per scenario, log noise sd {args.noise:g}, "
          f"{args.outliers:.0%} outliers slowed 1.5-3x, steps of {args.step:.0%}, significance {args.significance:g}")
    for line in rates:
        print(line)
    return cli.EXIT_OK


def main(argv):
    args = parse_args(argv)
    try:
        import numpy  # noqa: F401
    except ImportError:
        if args.command != "add":
            raise cli.InputError("needs numpy (apt-get install python3-numpy; run with /usr/bin/python3)") from None
    return {"add": cmd_add, "detect": cmd_detect, "synthetic": cmd_synthetic}[args.command](args)


def entry_point():
    sys.exit(cli.run(PROG, main))
