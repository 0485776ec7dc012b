"""parbench-report: Markdown tables, crossovers, winner tallies and PNG plots from bench_parallel JSON.

Usage: parbench-report [--out DIR/report.md] [--plots-dir DIR] [--no-plots] RUN.json [MORE.json ...]

Inputs are Google Benchmark JSON files written by bench_parallel and, optionally, by the CPython reference
script (strategies named cpython.*). Exit status: 0 report written, 2 usage or input error (a file that is
not Google Benchmark JSON is refused with a one-line message on stderr), 70 internal error.
"""

import os
import sys

from . import cli, cost, disturbance, estimate, flags, model, payload, uneven
from .markdown import format_number, format_speedup, format_time_ns
from .markdown import table as md_table
from .model import (SUITE_TITLES, baseline_of, config_label, hardware_threads, index_kernels, is_baseline,
                    sizes_for, suite_of, suites_in)
from .stats import crossover_for, speedup_estimate, winner_tally

PROG = "parbench-report"
TIE_SHOWN = 5   # a tie names its five best members, then says how many more


# --------------------------------------------------------------------------------------------- markdown

def cell_text(cells, strategy, workers, flagged=()):
    """The time estimate, then the speedup with its interval: ``24.1 ms · 1.96× [1.91, 2.01]``."""
    bench = cells.get((strategy, workers))
    if bench is None:
        return ""
    if bench.errored:
        return "**error**"
    t = bench.time_estimate()
    if t is None:
        return ""
    s = speedup_estimate(cells, strategy, workers)
    mark = " ⚑" if (strategy, workers) in flagged else ""
    gain = f" · {format_estimate(s)}" if s is not None and not is_baseline(strategy) else ""
    return format_time_ns(t.value) + gain + mark


def format_estimate(e):
    """A speedup and its interval, as the console and the report print it."""
    return f"{format_speedup(e.value)} [{format_speedup(e.low)[:-1]}, {format_speedup(e.high)[:-1]}]"


def md_context(run):
    lines = ["## Inputs", ""]
    rows = []
    for path, ctx in zip(run.paths, run.contexts):
        rows.append([f"`{os.path.basename(path)}`", ctx.get("host_name", "?"), ctx.get("date", "?"),
                     ctx.get("hardware_threads", ctx.get("num_cpus", "?")), ctx.get("compiler", "?"),
                     ctx.get("build_type", "?"), ctx.get("parbench_version", "?"),
                     ctx.get("parbench_profile", "?")])
    lines += md_table(["file", "host", "date", "hardware threads", "compiler", "build", "parbench",
                       "profile"], rows)
    for path, ctx in zip(run.paths, run.contexts):
        note = model.schema.partial_note(f"`{os.path.basename(path)}`", ctx)
        if note:
            lines += ["", f"**Warning:** {note}."]
    hosts = {str(ctx.get("host_name")) for ctx in run.contexts}
    if len(hosts) > 1:
        lines += ["", f"**Warning:** the inputs come from {len(hosts)} different hosts; "
                      "comparisons across them are not like for like."]
    return lines + [""]


def md_kernel_tables(kernel, by_n, hw):
    lines = []
    for n in sorted(by_n):
        cells = by_n[n]
        flagged = flags.flags_at(kernel, cells, hw)
        workers = sorted({w for _, w in cells})
        strategies = sorted({s for s, _ in cells}, key=lambda s: (suite_of(s) != "native", not is_baseline(s), s))
        header = ["strategy \\ workers"] + [f"{w}†" if hw and w > hw else str(w) for w in workers]
        rows = [[f"`{s}`"] + [cell_text(cells, s, w, flagged) for w in workers] for s in strategies]
        lines += [f"#### {kernel}, n = {n:,}", ""] + md_table(header, rows) + [""]
    return lines


def md_crossovers(by_n):
    rows = []
    configs = sorted({c for cells in by_n.values() for c in cells if not is_baseline(c[0])},
                     key=lambda c: (suite_of(c[0]) != "native", c[0], c[1]))
    for strategy, workers in configs:
        rows.append([f"`{strategy}`", workers, f"`{baseline_of(strategy)}`",
                     crossover_for(by_n, strategy, workers).text()])
    if not rows:
        return []
    return ["#### Crossover: smallest n at which a strategy beats sequential", "",
            "Interpolated in log space between the measured sizes; *never* means not at any measured n.",
            ""] + md_table(["strategy", "workers", "baseline", "crossover n"], rows) + [""]


def md_tally(kernel, by_n):
    rows = []
    for n in sorted(by_n):
        for suite in suites_in({n: by_n[n]}):
            contestants = {config_label(s, w): b for (s, w), b in by_n[n].items() if suite_of(s) == suite}
            wins, rounds = winner_tally(contestants)
            if rounds:
                text = ", ".join(f"`{label}` {count}" for label, count in
                                 sorted(wins.items(), key=lambda kv: (-kv[1], kv[0])))
                rows.append([f"{n:,}", SUITE_TITLES[suite], rounds, text])
    if not rows:
        return []
    return ["#### Winner tally: fastest configuration in each repetition", ""] + \
        md_table(["n", "suite", "repetitions", "wins"], rows) + [""]


def candidates_at(kernel, cells, suite, hw):
    """{label: speedup Estimate} a recommendation may rest on at one n: usable and unflagged configurations of the
    suite, the baseline included (exactly 1×); none where the suite's baseline is missing. For a kernel that
    computes, only up to as many workers as CPUs: more cannot compute faster, and their wider intervals would
    leave the answer undecided for nothing."""
    flagged = flags.flags_at(kernel, cells, hw)
    base = baseline_of("cpython.x" if suite == "cpython" else "x")
    if (base, 1) not in cells or not cells[(base, 1)].usable:
        return {}
    out = {}
    for (s, w), b in cells.items():
        if hw and w > hw and not flags.is_waiting(kernel):
            continue
        if suite_of(s) == suite and b.usable and (s, w) not in flagged:
            e = speedup_estimate(cells, s, w)
            if e is not None:
                out[config_label(s, w)] = e
    return out


def decision_text(decision, candidates, base):
    """One recommendation, from estimate.decide's Decision."""
    def named(label):
        e = candidates[label]
        return f"`{label}`" if label == base else f"`{label}` {format_estimate(e)}"
    if decision.kind == "winner":
        return f"**{named(decision.best)}** wins"
    if decision.kind == "tie":
        # Surest first: by lower end, so that a wide interval whose point estimate is high does not lead the list.
        ordered = sorted(decision.members, key=lambda m: (-candidates[m].low, m))
        shown, rest = ordered[:TIE_SHOWN], len(decision.members) - TIE_SHOWN
        more = f" and {rest} more in the table" if rest > 0 else ""
        return "a tie: " + ", ".join(f"**{named(m)}**" for m in shown) + more + f" ({decision.why})"
    return f"undecided: {decision.why}" if decision.why else "undecided"


def recommendation(kernel, by_n, suite, hw=None):
    """The decision at the smallest and the largest n of a kernel, as one Markdown line; None without sizes."""
    sizes = sizes_for(by_n, suite)
    if not sizes:
        return None
    base = baseline_of("cpython.x" if suite == "cpython" else "x")
    parts = []
    for n in dict.fromkeys([sizes[0], sizes[-1]]):
        candidates = candidates_at(kernel, by_n[n], suite, hw)
        if not candidates:
            parts.append(f"at n = {n:,} undecided: no usable `{base}`")
            continue
        parts.append(f"at n = {n:,} " + decision_text(estimate.decide(candidates), candidates, base))
    return f"- **{kernel}** ({SUITE_TITLES[suite]}): " + "; ".join(parts) + "."


def md_answer(run, kernels):
    """The recommendations and the machine's disturbance: the report's first sections, and what --answer prints."""
    recommendations = recommendation_lines(kernels, run)
    return md_recommendations(run, recommendations) + md_disturbance(run, recommendations)


def md_recommendations(run, recommendations):
    hosts = ", ".join(sorted({str(c.get("host_name", "?")) for c in run.contexts}))
    lines = [f"## Recommendations for this machine ({hosts})", "",
             "Speedups over the sequential loop with their intervals (the fastest repetitions' ratio, see "
             "docs/tools.md). A winner's interval lies above every other's; where intervals overlap the "
             "configurations tie; where an interval is too wide to tell, the point is undecided. None rests on a "
             "flagged result.", ""]
    return lines + recommendations + [""]


def recommendation_lines(kernels, run):
    hw = hardware_threads(run)
    lines = []
    for kernel in sorted(kernels):
        for suite in suites_in(kernels[kernel]):
            line = recommendation(kernel, kernels[kernel], suite, hw)
            if line:
                lines.append(line)
    return lines


def md_flagged(kernels, run):
    hw = hardware_threads(run)
    rows = []
    for kernel in sorted(kernels):
        for n in sorted(kernels[kernel]):
            for (strategy, workers), found in sorted(flags.flags_at(kernel, kernels[kernel][n], hw).items()):
                for flag in found:
                    rows.append([f"`{kernel}`", f"{n:,}", f"`{config_label(strategy, workers)}`", flag.kind,
                                 flag.why])
    lines = ["## Flagged results", ""]
    if not rows:
        return lines + ["None: no result is physically implausible.", ""]
    return lines + ["Marked ⚑ in the tables. No recommendation rests on these: an implausible result (a speedup "
                    f"above {flags.PLAUSIBLE_OVER_CPUS} × min(workers, CPUs) for a computing kernel, or one worker "
                    "beating `sequential` beyond both intervals) measures something other than parallelism.", ""] + \
        md_table(["kernel", "n", "configuration", "flag", "why"], rows) + [""]


def md_disturbance(run, recommendations):
    """How much of the run the machine was disturbed, when, and what was done about it."""
    stats_ = disturbance.summarize(run)
    lines = ["## The machine during the run", ""]
    if stats_ is None:
        return lines + ["Not recorded: these files have no `probe_ns` counters (an older bench_parallel).", ""]
    lines += [disturbance.describe(stats_), ""]
    if len(run.paths) > 1:
        again = sum(1 for b in run.benchmarks.values() if len({s.round[0] for s in b.samples}) > 1)
        later = len(run.paths) - 1
        lines += [f"{later} more pass{'es' if later > 1 else ''} after the first measured {again} benchmark(s) "
                  "again, those whose intervals were still too wide to decide (parbench-plan); their samples from "
                  "every pass are used.", ""]
    matched = _matched_states(run)
    if matched:
        total = sum(matched.values())
        lines += [f"Of the {total} speedups up to as many workers as CPUs, {matched.get('calm', 0)} compare "
                  f"repetitions with every CPU calm, {matched.get('slow', 0)} repetitions with every CPU slowed (their "
                  f"medians), and {matched.get('', 0)} had no state in common on both sides, so they compare the "
                  "fastest of all.", ""]
    undecided = [line for line in recommendations if "undecided" in line]
    lines += [f"{len(undecided)} of the recommendations below leave a point undecided; each says why.", ""]
    return lines


def _matched_states(run):
    """{state: count} of the speedups at W <= CPUs (estimate.matched_speedup), {} where no sample has a state."""
    if not any(s.state for b in run.benchmarks.values() for s in b.samples):
        return {}
    kernels, _ = index_kernels(run)
    hw = hardware_threads(run)
    out: dict[str, int] = {}
    for by_n in kernels.values():
        for cells in by_n.values():
            for strategy, workers in cells:
                if is_baseline(strategy) or (hw is not None and workers > hw):
                    continue
                e = speedup_estimate(cells, strategy, workers)
                if e is not None:
                    out[e.state] = out.get(e.state, 0) + 1
    return out


def md_others(others):
    rows = []
    for bench in others:
        if bench.errored:
            continue
        counters = ", ".join(f"{k}={format_number(v)}" for k, v in bench.counters_median().items())
        rows.append([f"`{bench.name}`", format_time_ns(bench.median_ns()), counters])
    if not rows:
        return []
    return ["## Other benchmarks (overhead, interpreter lock, ...)", "",
            "Median over repetitions."] + [""] + md_table(["benchmark", "time", "counters"], rows) + [""]


def md_errors(run):
    rows = []
    for bench in run.benchmarks.values():
        if bench.errored:
            total = len(bench.errors) + len(bench.samples)
            messages = "; ".join(dict.fromkeys(message for _, message in bench.errors))
            rows.append([f"`{bench.name}`", f"{len(bench.errors)} of {total}", messages])
    if not rows:
        return ["## Errored runs", "", "None.", ""]
    return ["## Errored runs", "",
            "These runs failed (for example a wrong total); their times are meaningless and appear in no "
            "table, tally or plot above.", ""] + md_table(["benchmark", "failed repetitions", "error"], rows) + [""]


def render_markdown(run, kernels, others, plots, plot_note, answer):
    hw = hardware_threads(run)
    lines = ["# parbench report", ""] + md_context(run) + answer + md_flagged(kernels, run)
    lines += ["## Kernels", "",
              "Cells: time (the fastest repetition) · speedup over the suite's sequential loop at the same n "
              "[its interval]. "
              + (f"† marks more workers than the {hw} hardware threads (oversubscribed). " if hw else "")
              + "⚑: flagged (see *Flagged results*). **error**: failed run (see *Errored runs*).", ""]
    for kernel in sorted(kernels):
        by_n = kernels[kernel]
        lines += [f"### {kernel}", ""]
        lines += [f"![{title}]({path})" for title, path in plots.get(kernel, [])]
        lines += [""] if plots.get(kernel) else []
        lines += md_kernel_tables(kernel, by_n, hw) + md_crossovers(by_n) + md_tally(kernel, by_n)
    lines += (uneven.md_uneven(kernels) + payload.md_payload(kernels, others) + cost.md_cost(kernels, others)
              + md_others(others) + md_errors(run))
    if plot_note:
        lines += ["## Plots", "", plot_note, ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main

def parse_args(argv):
    p = cli.ArgumentParser(
        prog=PROG,
        description="Markdown tables (time and speedup per kernel, strategy, workers and n), crossover n, "
                    "winner tallies, a recommendation per kernel and PNG plots from bench_parallel JSON.",
        epilog="Exit status: 0 report written; 2 usage error or an input that is not Google Benchmark JSON "
               "(one line on stderr); 70 internal error. Plots need python3-matplotlib; without it the Markdown "
               "is still written and says the plots were skipped.")
    p.add_argument("inputs", nargs="+", metavar="JSON",
                   help="bench_parallel --benchmark_out files, optionally the CPython reference JSON")
    p.add_argument("--out", metavar="FILE", help="write Markdown here (default: stdout)")
    p.add_argument("--plots-dir", metavar="DIR", help="write PNGs here (default: the directory of --out; "
                                                      "without --out and --plots-dir no plots are written)")
    p.add_argument("--no-plots", action="store_true", help="do not draw plots")
    p.add_argument("--answer", action="store_true",
                   help="also print the recommendations and the machine's disturbance on stdout (with --out)")
    return p.parse_args(argv)


def make_plots(args, run, kernels):
    """-> (plots, note for the report or None)."""
    plots_dir = args.plots_dir or (os.path.dirname(os.path.abspath(args.out)) if args.out else None)
    if args.no_plots:
        return {}, "Plots not drawn (--no-plots)."
    if plots_dir is None:
        return {}, "Plots not written: pass --out FILE or --plots-dir DIR."
    md_dir = os.path.dirname(os.path.abspath(args.out)) if args.out else os.getcwd()
    try:
        from .plots import write_plots
        return write_plots(run, kernels, plots_dir, md_dir), None
    except ImportError:
        return {}, ("Plots skipped: matplotlib is not available to this Python "
                    "(on Debian: apt-get install python3-matplotlib).")
    except OSError as e:  # a full disk or a read-only directory: not a bug of the tool
        raise model.schema.InputError(f"cannot write plots in {plots_dir}: {e.strerror or e}") from None


def main(argv):
    args = parse_args(argv)
    run = model.load(args.inputs)
    if args.out:
        cli.output_path(args.out)
    for note in run.partial_notes():
        cli.warn(PROG, note)
    kernels, others = index_kernels(run)
    plots, note = make_plots(args, run, kernels)
    if note:
        print(f"{PROG}: {note}", file=sys.stderr)
    answer = md_answer(run, kernels)
    cli.emit(render_markdown(run, kernels, others, plots, note, answer) + "\n", args.out)
    if args.answer and args.out:
        print("\n".join(answer))
    return cli.EXIT_OK


def entry_point():
    """tools/parbench-report."""
    sys.exit(cli.run(PROG, main))
