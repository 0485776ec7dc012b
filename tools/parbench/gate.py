"""parbench-gate: a paired, sequential A/B regression gate between two bench_parallel binaries.

For every benchmark both binaries have (after --filter), rounds of one pair of runs: base and head run the same
group of benchmarks one after the other, in a random order, each in its own process, so that the two times of a
pair are seconds apart and the machine's slower drifts cancel in their ratio. After the rounds of a fixed schedule
the gate looks at the per-round log-ratios of each benchmark (tools/parbench/paired.py): a regression, an
improvement or no change closes a benchmark; the others get more rounds, up to the cap or the time budget, after
which they are undecided. Undecided benchmarks are reported, never passed or failed silently.

Writes (--out): gate.md (the summary, also on stdout), runs.jsonl (every run: round, side, times), verdicts.json.
"""

import json
import os
import random
import shlex
import sys
import time

from . import cli, gate_run, noise, paired

PROG = "parbench-gate"


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__,
                           formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
                           epilog="exit status: 0 no regression (undecided ones are listed, and fail only with "
                                  "--strict), 1 at least one regression, 2 usage or input error, 3 incomplete: nothing "
                                  "compared, a benchmark errored or missing in head (unless --allow-incomplete), "
                                  "or with --strict an undecided one, 70 internal error")
    p.add_argument("--base-bin", required=True, help="bench_parallel of the base")
    p.add_argument("--head-bin", required=True, help="bench_parallel of the head")
    p.add_argument("--filter", default="", help="--benchmark_filter for both sides (default: every benchmark)")
    p.add_argument("--profile", default="quick", help="--parbench_profile (default quick)")
    p.add_argument("--bench-flags", default="", help="more bench_parallel flags for both sides")
    p.add_argument("--base-flags", default="", help="bench_parallel flags for the base side only")
    p.add_argument("--head-flags", default="",
                   help="bench_parallel flags for the head side only, e.g. --parbench_test_slowdown=count:0.10")
    p.add_argument("--alpha", type=float, default=paired.Settings.alpha,
                   help="false-alarm budget of the whole gate, all benchmarks and looks (default 0.05)")
    p.add_argument("--threshold", type=float, default=paired.Settings.threshold,
                   help="'no change' needs the interval inside +-threshold (default 0.03)")
    p.add_argument("--min-effect", type=float, default=paired.Settings.min_effect,
                   help="smallest change called a regression or improvement (default 0.02)")
    p.add_argument("--alpha-eq", type=float, default=paired.Settings.alpha_eq,
                   help="chance of calling a change of at least threshold 'no change' (default 0.05)")
    p.add_argument("--looks", default=",".join(str(n) for n in paired.Settings.looks),
                   help="rounds after which the gate decides, the last is the cap (default 8,12,16,20)")
    p.add_argument("--method", choices=paired.METHODS, default=paired.Settings.method,
                   help="paired: signed ranks of the per-round log-ratios; fastest: the ratio of the fastest runs "
                        f"of each side with its exact sign-flip test (default {paired.Settings.method})")
    p.add_argument("--group", type=int, default=8, help="benchmarks per process (default 8)")
    p.add_argument("--max-minutes", type=float, default=15.0,
                   help="time budget: no new round after it (default 15); the look then taken is the last")
    p.add_argument("--realtime", action="store_true",
                   help="run bench_parallel as SCHED_FIFO (chrt --fifo 10; needs root or CAP_SYS_NICE) so that "
                        "other processes on a shared machine cannot preempt it")
    p.add_argument("--seed", type=int, default=None, help="seed of the run order (default: random)")
    p.add_argument("--out", default="gate-out", help="output directory (default gate-out)")
    p.add_argument("--repro", default=None,
                   help="command reproducing this gate: a failure message puts the benchmark's exact filter in "
                        "place of {filter}, or appends --filter=... (default: this parbench-gate command)")
    p.add_argument("--strict", action="store_true", help="undecided benchmarks fail the gate too (status 3)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="benchmarks that errored, or that base has and head lacks, do not fail the gate (else 3)")
    args = p.parse_args(argv)
    try:
        args.settings = paired.Settings.from_args(args)
    except ValueError as e:
        p.error(str(e))
    s = args.settings
    idle = s.idle_looks()
    if idle:
        cli.warn(PROG, f"the looks at {', '.join(map(str, idle))} rounds can decide no regression: with n pairs the "
                       f"smallest p is 2^(1-n), above alpha/looks = {s.alpha / len(s.looks):.3g} "
                       f"(they can still find no change)")
    if args.group < 1 or not args.max_minutes > 0:
        p.error("--group must be at least 1 and --max-minutes positive")
    for side in ("base_bin", "head_bin"):
        path = getattr(args, side)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            p.error(f"--{side.replace('_', '-')}: not an executable file: {path}")
    return args


def pct(x):
    return f"{x * 100:+.1f}%"


def describe(v):
    """effect and interval of a verdict, e.g. '+10.2% (95% CI +8.0% … +12.5%)'."""
    if v.estimate is None:
        return "–"
    low, high = v.estimate.interval(0.95)
    return f"{pct(v.estimate.effect)} (95% CI {pct(low)} … {pct(high)})"


def repro_command(args, name):
    filt = gate_run.exact_filter([name])
    if args.repro and "{filter}" in args.repro:
        head, _, tail = args.repro.partition("{filter}")
        return head + shlex.quote(filt) + tail
    if args.repro:
        return f"{args.repro} {shlex.quote('--filter=' + filt)}"
    parts = [PROG, "--base-bin", args.base_bin, "--head-bin", args.head_bin, f"--filter={filt}"]
    for flag in ("bench_flags", "base_flags", "head_flags"):
        if getattr(args, flag):
            parts.append(f"--{flag.replace('_', '-')}={getattr(args, flag)}")
    if args.realtime:
        parts.append("--realtime")
    if args.method != paired.Settings.method:
        parts.append(f"--method={args.method}")
    if args.profile != "quick":
        parts.append(f"--profile={args.profile}")
    return " ".join(shlex.quote(p) for p in parts)


def summary(args, verdicts, rounds, wall, missing, new, problems=(), runner=None):
    order = [paired.REGRESSION, paired.UNDECIDED, paired.ERRORED, paired.IMPROVEMENT, paired.NO_CHANGE]
    count = {k: sum(v.verdict == k for v in verdicts.values()) for k in order}
    s = args.settings
    head = "**REGRESSION**" if count[paired.REGRESSION] else "no regression"
    lines = [f"## parbench-gate: {head}", "",
             f"{len(verdicts)} benchmarks, at most {rounds} rounds each, {wall / 60:.1f} min: "
             + ", ".join(f"{count[k]} {k}" for k in order) + ".", "",
             *([noise.sentence(runner, "measured before the rounds"), ""] if runner else []),
             "Paired rounds (base and head seconds apart, random order); "
             + ("ratio of the fastest head run to the fastest base run, exact sign-flip test of it; "
                if s.method == "fastest" else
                "Wilcoxon signed-rank test on the log-ratios, Hodges–Lehmann effect; ")
             + f"Benjamini–Hochberg "
             f"over the benchmarks at alpha {s.alpha:g} split over {len(s.looks)} looks (rounds "
             f"{', '.join(map(str, s.looks))}); regression: significant and at least {s.min_effect:.0%} slower; "
             f"no change: {100 * (1 - 2 * s.alpha_eq / len(s.looks)):.0f}% interval inside ±{s.threshold:.0%}.", ""]
    for kind, title in ((paired.REGRESSION, "Regressions"), (paired.UNDECIDED, "Undecided at the cap"),
                        (paired.ERRORED, "Errored (a run of the benchmark failed on a side)"),
                        (paired.IMPROVEMENT, "Improvements")):
        names = [n for n, v in verdicts.items() if v.verdict == kind]
        if not names:
            continue
        lines += [f"### {title}", "", "| benchmark | effect (95% CI) | q | rounds |", "|---|---|---|---|"]
        for n in names:
            v = verdicts[n]
            q = f"{v.q:.2g}" if v.q is not None else "–"
            lines.append(f"| `{n}` | {describe(v)} | {q} | {v.rounds} |")
        lines.append("")
        if kind == paired.REGRESSION:
            lines += ["Reproduce one locally:", ""] + [f"    {repro_command(args, n)}" for n in names[:5]] + [""]
    if problems:
        lines += [f"### Runs that gave no result ({len(problems)})", ""] + [f"- {p}" for p in problems[:20]] + [""]
    if missing or new:
        lines += [f"Only in base (not compared): {len(missing)}; only in head: {len(new)}."]
        lines += [f"- base only: `{n}`" for n in missing[:20]] + [f"- head only: `{n}`" for n in new[:20]] + [""]
    rows = [f"| `{n}` | {v.verdict} | {describe(v)} | {v.rounds} |" for n, v in verdicts.items()]
    lines += ["<details><summary>All benchmarks</summary>", "", "| benchmark | verdict | effect (95% CI) | rounds |",
              "|---|---|---|---|", *rows, "", "</details>", ""]
    return "\n".join(lines)


def partial_verdicts(names, settings, finished):
    """The verdicts of the rounds in `finished`, the last taken as the final look; (verdicts, rounds)."""
    if not finished:
        return {n: paired.Verdict(paired.UNDECIDED) for n in names}, 0
    played = []

    def replay(r, open_names):
        played.append(r)
        return finished[r]
    verdicts, _, rounds = paired.sequential(names, settings, replay, lambda: len(played) == len(finished))
    return verdicts, rounds


def main(argv):
    cli.stop_on_signals()
    args = parse_args(argv)
    if args.realtime:
        problem = gate_run.check_realtime()
        if problem:
            raise cli.InputError(f"--realtime: {problem}")
    common = gate_run.gate_flags(args.profile, args.bench_flags.split())
    listing = common + ([f"--benchmark_filter={args.filter}"] if args.filter else [])
    try:
        base_names = gate_run.list_benchmarks(args.base_bin, listing + args.base_flags.split())
        head_names = gate_run.list_benchmarks(args.head_bin, listing + args.head_flags.split())
    except gate_run.RunError as e:
        raise cli.InputError(str(e)) from None
    head_set, base_set = set(head_names), set(base_names)
    names = [n for n in base_names if n in head_set]
    missing = [n for n in base_names if n not in head_set]
    new = [n for n in head_names if n not in base_set]
    if not names:
        print(f"{PROG}: nothing to compare: no benchmark in common"
              + (f" matching --filter {args.filter!r}" if args.filter else ""), file=sys.stderr)
        return cli.EXIT_INCOMPLETE
    out_dir = cli.ensure_dir(os.path.abspath(args.out), "--out")
    runner = noise.probe()              # how noisy the runner is, before the rounds: in gate.md and noise.json
    cli.write_text(os.path.join(out_dir, "noise.json"), json.dumps(runner, indent=1, sort_keys=True) + "\n")
    rng = random.Random(args.seed)
    runs_path = os.path.join(out_dir, "runs.jsonl")
    if os.path.exists(runs_path):
        os.remove(runs_path)                 # this gate's runs only
    recorder = gate_run.Recorder(runs_path)
    sides = {"base": (args.base_bin, common + args.base_flags.split()),
             "head": (args.head_bin, common + args.head_flags.split())}
    start = time.monotonic()
    budget = args.max_minutes * 60
    problems = []

    def measure(r, open_names):
        got: dict = {}
        for g, group in enumerate(gate_run.groups(open_names, args.group)):
            order = ["base", "head"] if rng.random() < 0.5 else ["head", "base"]
            for position, side in enumerate(order):
                binary, flags = sides[side]
                started = time.time()
                left = budget - (time.monotonic() - start)  # --max-minutes bounds the process in flight too
                probes: dict = {}
                try:
                    results, wall, status, problem = gate_run.run_group(binary, group, flags,
                                                                        timeout=max(1.0, left),
                                                                        realtime=args.realtime, counters=probes)
                except gate_run.RunError as e:
                    raise cli.InputError(f"round {r + 1}, {side}: {e}") from None
                recorder.write({"round": r, "group": g, "arm": side, "position": position, "start": started,
                                "wall_s": wall, "status": status, "problem": problem,
                                "loadavg": os.getloadavg()[0], "results": results, "probes": probes})
                if problem:
                    problems.append(f"round {r + 1}, {side} ({binary}) on {len(group)} benchmarks from "
                                    f"{group[0]}: {problem}")
                    print(f"{PROG}: {problems[-1]}", file=sys.stderr)
                got[side] = {**got.get(side, {}), **results}
        print(f"{PROG}: round {r + 1}: {len(open_names)} benchmarks open, "
              f"{(time.monotonic() - start) / 60:.1f} min", file=sys.stderr)
        return {n: (got["base"][n], got["head"][n]) if got["base"].get(n) and got["head"].get(n) else None
                for n in open_names}

    finished = []  # each finished round's measurements, to give partial verdicts if a signal stops the gate

    def measure_recorded(r, open_names):
        finished.append(measure(r, open_names))
        return finished[-1]

    stopped = None
    try:
        verdicts, _, rounds = paired.sequential(names, args.settings, measure_recorded,
                                                lambda: time.monotonic() - start >= budget)
    except cli.Stopped as e:
        stopped = e
        verdicts, rounds = partial_verdicts(names, args.settings, finished)
    finally:
        recorder.close()
    wall = time.monotonic() - start
    text = summary(args, verdicts, rounds, wall, missing, new, problems, runner)
    if stopped:
        text = (f"**Stopped by {stopped}** after {rounds} finished rounds: the verdicts are those rounds' (the "
                f"last taken as the final look).\n\n" + text)
    cli.write_text(os.path.join(out_dir, "gate.md"), text, "--out")
    report = {n: {"verdict": v.verdict, "effect": v.estimate.effect if v.estimate else None,
                  "ci95": list(v.estimate.interval(0.95)) if v.estimate else None, "q": v.q, "rounds": v.rounds}
              for n, v in verdicts.items()}
    cli.write_text(os.path.join(out_dir, "verdicts.json"), json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(text)
    if stopped:
        print(f"{PROG}: stopped by {stopped} after {rounds} finished rounds; partial verdicts in {out_dir}",
              file=sys.stderr)
        return 128 + stopped.signum
    regressions = [n for n, v in verdicts.items() if v.verdict == paired.REGRESSION]
    for n in regressions:
        v = verdicts[n]
        print(f"{PROG}: REGRESSION {n}: {describe(v)}, q = {v.q:.2g}, after {v.rounds} rounds; reproduce: "
              f"{repro_command(args, n)}", file=sys.stderr)
    undecided = [n for n, v in verdicts.items() if v.verdict == paired.UNDECIDED]
    incomplete = [n for n, v in verdicts.items() if v.verdict == paired.ERRORED] + missing
    if undecided:
        print(f"{PROG}: {len(undecided)} benchmarks undecided at the cap (listed in {out_dir}/gate.md)"
              + ("; --strict: they fail the gate" if args.strict else "; they do not fail the gate"),
              file=sys.stderr)
    if incomplete:
        print(f"{PROG}: {len(incomplete)} benchmarks errored or missing in head (listed in {out_dir}/gate.md)"
              + ("; --allow-incomplete: they do not fail the gate" if args.allow_incomplete
                 else "; the gate is incomplete"), file=sys.stderr)
    if regressions:
        return cli.EXIT_REGRESSION
    if (incomplete and not args.allow_incomplete) or (undecided and args.strict):
        return cli.EXIT_INCOMPLETE
    return cli.EXIT_OK


def entry_point():
    sys.exit(cli.run(PROG, main))
