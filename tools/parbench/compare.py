"""parbench-compare: is HEAD slower than BASE? A regression gate over two Google Benchmark JSON files.

Benchmarks are matched by name. For each one present in both, the per-repetition values of the chosen metric
are compared with a one-sided Mann-Whitney U test (alternative: HEAD is worse) and with a minimum effect on the
ratio of medians. A benchmark is a regression only when the difference is both significant (p <= alpha) and
material (worse by at least the threshold). See --help for the exit statuses.
"""

import math
import os
import sys
from dataclasses import dataclass, field

from . import cli, model, schema
from .markdown import format_time_ns
from .stats import METRICS, compare_one, smallest_p

PROG = "parbench-compare"
RECOMMENDED_REPETITIONS = 9


class CompareError(schema.InputError):
    """Input that cannot be compared (exit 2)."""


def metric_values(bench, metric):
    """Per-repetition values, or None when some repetition lacks the metric (e.g. no speedup counter)."""
    if metric == "real_time":
        return [s.real_time_ns for s in bench.samples]
    values = [s.counters.get(metric) for s in bench.samples]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return values


@dataclass
class Comparison:
    rows: list
    new: list            # names in head only
    missing: list        # names in base only
    errored: list        # (name, side, messages)
    no_metric: list      # names lacking the metric on a side
    min_reps: int
    lost_metric: list = field(default_factory=list)  # of no_metric, those that have it in base but not in head

    def not_compared_in_head(self):
        """What base asked for that head did not deliver: {"errored": [...], "missing": [...], "without the
        metric": [...]}, empty lists left out. New benchmarks that errored in head count as errored too."""
        parts = {"errored": [n for n, side, _ in self.errored if "head" in side], "missing": list(self.missing),
                 "without the metric": list(self.lost_metric)}
        return {k: v for k, v in parts.items() if v}

    def summary(self):
        """'3 errored in head, 1 missing in head' for not_compared_in_head(); '' when complete."""
        return ", ".join(f"{len(v)} {k} in head" for k, v in self.not_compared_in_head().items())


def split_names(base_run, head_run):
    base, head = base_run.benchmarks, head_run.benchmarks
    common = [n for n in base if n in head]
    return common, [n for n in head if n not in base], [n for n in base if n not in head]


def errored_sides(name, base_b, head_b):
    sides = [side for side, b in (("base", base_b), ("head", head_b)) if b.errored]
    messages = list(dict.fromkeys(m for b in (base_b, head_b) for _, m in b.errors))
    return (name, " and ".join(sides), messages) if sides else None


def check_repetitions(too_few):
    """Refuse, with the reason, benchmarks that cannot be tested: under 2 repetitions on a side."""
    if not too_few:
        return
    name, nb, nh, aggregates_only = too_few[0]
    hint = (" (the file holds aggregates only: rerun without --benchmark_report_aggregates_only)"
            if aggregates_only else " (use --benchmark_repetitions=9 or tools/ab-bench.sh --rounds 9)")
    more = f" and {len(too_few) - 1} more" if len(too_few) > 1 else ""
    raise CompareError(f"need at least 2 repetitions per benchmark on each side; {name} has {nb} in base and "
                       f"{nh} in head{more}{hint}")


def compare(base_run, head_run, metric, alpha, threshold, mannwhitneyu):
    common, new, missing = split_names(base_run, head_run)
    if not common:
        raise CompareError("base and head have no benchmark name in common: nothing to compare "
                           "(wrong files, or a different --benchmark_filter?)")
    rows, errored, no_metric, lost_metric, too_few = [], [], [], [], []
    for name in common:
        b, h = base_run.benchmarks[name], head_run.benchmarks[name]
        err = errored_sides(name, b, h)
        if err:
            errored.append(err)
            continue
        bv, hv = metric_values(b, metric), metric_values(h, metric)
        if bv is None or hv is None:
            no_metric.append(name)
            if bv is not None:
                lost_metric.append(name)
        elif len(bv) < 2 or len(hv) < 2:
            too_few.append((name, len(bv), len(hv), not (b.samples and h.samples)))
        else:
            rows.append(compare_one(name, bv, hv, metric, alpha, threshold, mannwhitneyu))
    check_repetitions(too_few)
    min_reps = min((min(len(r.base), len(r.head)) for r in rows), default=0)
    errored += [(n, "head", [m for _, m in head_run.benchmarks[n].errors]) for n in new
                if head_run.benchmarks[n].errored]
    return Comparison(rows, new, missing, errored, no_metric, min_reps, lost_metric)


def repetition_warnings(result, alpha):
    warnings = []
    if result.rows and result.min_reps < RECOMMENDED_REPETITIONS:
        warnings.append(f"only {result.min_reps} repetitions on a side for some benchmarks; "
                        f"{RECOMMENDED_REPETITIONS} or more are recommended for a stable verdict")
    unreachable = sorted({(len(r.base), len(r.head)) for r in result.rows
                          if smallest_p(len(r.base), len(r.head)) > alpha})
    for m, n in unreachable:
        warnings.append(f"with {m} and {n} repetitions the smallest attainable p-value is "
                        f"{smallest_p(m, n):.3g} > alpha {alpha}: no regression can be detected")
    return warnings


# --------------------------------------------------------------------------------------------- output

def fmt_value(value, metric):
    if metric == "real_time":
        return format_time_ns(value)
    return f"{value:.3g}{METRICS[metric][0]}"


def fmt_change(change):
    return "–" if change is None or math.isnan(change) else f"{change * 100:+.1f}%"


def fmt_p(p):
    return f"{p:.3g}" if p >= 0.001 else "<0.001"


def table(rows, metric):
    lines = ["| benchmark | base median | head median | change | p (head worse) | n base/head | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = f"**{r.verdict}**" if r.verdict == "REGRESSION" else r.verdict
        lines.append(f"| `{r.name}` | {fmt_value(r.base_median, metric)} | {fmt_value(r.head_median, metric)} | "
                     f"{fmt_change(r.change)} | {fmt_p(r.p_worse)} | {len(r.base)}/{len(r.head)} | {verdict} |")
    return lines


def name_list(title, names, note):
    if not names:
        return []
    return [f"### {title} ({len(names)})", "", note, ""] + [f"- `{n}`" for n in names] + [""]


def errored_section(errored):
    if not errored:
        return []
    lines = [f"### Errored benchmarks ({len(errored)})", "",
             "Failed runs (e.g. a wrong total): their times are meaningless and were not compared.", "",
             "| benchmark | errored in | error |", "|---|---|---|"]
    for name, side, messages in errored:
        lines.append(f"| `{name}` | {side} | {'; '.join(messages) or '(no message)'} |".replace("\n", " "))
    return lines + [""]


def describe(run, path):
    ctx = run.contexts[0]
    return f"`{os.path.basename(path)}` ({ctx.get('host_name', '?')}, {ctx.get('date', '?')})"


def result_line(result, args):
    """The verdict in words, after '**Result: ' (it closes the bold itself)."""
    regressions = sum(r.verdict == "REGRESSION" for r in result.rows)
    if regressions:
        return f"{regressions} regression(s)** out of {len(result.rows)} benchmarks compared."
    missed = result.summary()
    if not result.rows:
        return "nothing compared**: no benchmark had usable values on both sides" + (
            f" ({missed})." if missed else ".")
    if missed:
        allowed = " (allowed by --allow-incomplete)" if args.allow_incomplete else ""
        return (f"incomplete**{allowed}: no regression in {len(result.rows)} benchmarks compared, but not every "
                f"benchmark of base was compared: {missed}.")
    return f"no regression** in {len(result.rows)} benchmarks compared."


def render(result, args, base_run, head_run, warnings):
    regressions = [r for r in result.rows if r.verdict == "REGRESSION"]
    direction = "higher is better" if METRICS[args.metric][1] else "lower is better"
    lines = [f"## parbench A/B comparison: `{args.metric}` ({direction})", "",
             f"Base: {describe(base_run, args.base)} · head: {describe(head_run, args.head)}", "",
             f"Test: one-sided Mann–Whitney U (alternative: head worse), alpha = {args.alpha}; a regression "
             f"must also be at least {args.threshold * 100:g}% worse on the median.", ""]
    lines += [f"**Result: {result_line(result, args)}", ""]
    lines += [f"> Warning: {w}" for w in warnings] + ([""] if warnings else [])
    if regressions:
        lines += ["### Regressions", ""] + table(regressions, args.metric) + [""]
    lines += errored_section(result.errored)
    lines += name_list("Missing in head", result.missing, "In base only: removed or renamed, or failed to run.")
    lines += name_list("New in head", result.new, "In head only: nothing to compare with.")
    lines += name_list(f"Without `{args.metric}`", result.no_metric,
                       "These lack the metric in some repetition (speedup/efficiency need sequential in the "
                       "same run) and were not compared.")
    if result.rows:
        lines += ["### All compared benchmarks", "", "<details><summary>table</summary>", ""]
        lines += table(result.rows, args.metric) + ["", "</details>", ""]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- main

def parse_args(argv):
    p = cli.ArgumentParser(
        prog=PROG,
        formatter_class=cli.argparse.RawDescriptionHelpFormatter,
        description="Compare two Google Benchmark JSON files (BASE, HEAD) benchmark by benchmark and fail when "
                    "HEAD is significantly and materially worse.\n\n"
                    "Test: one-sided Mann-Whitney U on the per-repetition values (alternative: HEAD worse), "
                    "because the gate only\nfails on slowdowns; improvements are shown but never fail it. A "
                    "benchmark is a REGRESSION when\np <= alpha AND its median is worse by at least the "
                    "threshold.",
        epilog="exit status:\n"
               "  0  no regression, and every benchmark of BASE was compared (new benchmarks are reported)\n"
               "  1  at least one regression (or, with --strict, an errored or missing benchmark in HEAD)\n"
               "  2  usage or input error: unreadable or non-Google-Benchmark JSON, no benchmark in\n"
               "     common, fewer than 2 repetitions for a benchmark on either side, scipy missing\n"
               "  3  no regression, but fewer benchmarks were compared than BASE asked for: some errored in\n"
               "     HEAD, are missing from HEAD or lack the metric there (0 with --allow-incomplete), or\n"
               "     nothing at all was compared (3 even with --allow-incomplete)\n"
               "  70 internal error (a bug in this tool; one line on stderr)\n\n"
               "Fewer than 9 repetitions per side give a warning; with 3 or fewer the test cannot reach\n"
               "alpha = 0.05 and the tool says so.")
    p.add_argument("base", help="BASE JSON (e.g. the target branch), with per-repetition entries")
    p.add_argument("head", help="HEAD JSON (e.g. the pull request)")
    p.add_argument("--metric", choices=sorted(METRICS), default="real_time",
                   help="real_time (lower is better, default), speedup or efficiency (higher is better; "
                        "per-repetition counters)")
    p.add_argument("--alpha", type=cli.fraction, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--threshold", type=cli.fraction, default=0.10,
                   help="minimum relative worsening of the median to count, e.g. 0.10 = 10%% (default)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 (not 3) when a benchmark errored in HEAD or is missing from HEAD")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="exit 0 (not 3) when benchmarks errored in HEAD or are missing from HEAD but no regression "
                        "was found among those compared")
    p.add_argument("--out", metavar="FILE", help="also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY)")
    return p.parse_args(argv)


def load_scipy():
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        raise CompareError("scipy is not available to this Python (on Debian: apt-get install python3-scipy)") \
            from None
    return mannwhitneyu


def exit_status(result, args):
    if any(r.verdict == "REGRESSION" for r in result.rows):
        return cli.EXIT_REGRESSION
    incomplete = bool(result.not_compared_in_head())
    if args.strict and incomplete:
        return cli.EXIT_REGRESSION
    if not result.rows or (incomplete and not args.allow_incomplete):
        return cli.EXIT_INCOMPLETE
    return cli.EXIT_OK


def main(argv):
    args = parse_args(argv)
    base_run, head_run = model.load([args.base]), model.load([args.head])
    result = compare(base_run, head_run, args.metric, args.alpha, args.threshold, load_scipy())
    if args.out:
        cli.output_path(args.out)
    warnings = [note for run in (base_run, head_run) for note in run.partial_notes()]
    warnings += repetition_warnings(result, args.alpha)
    for w in warnings:
        cli.warn(PROG, w)
    text = render(result, args, base_run, head_run, warnings)
    sys.stdout.write(text)
    if args.out:
        cli.write_text(args.out, text)
    status = exit_status(result, args)
    if status == cli.EXIT_INCOMPLETE:
        print(f"{PROG}: " + result_line(result, args).replace("**", ""), file=sys.stderr)
    return status


def entry_point():
    """tools/parbench-compare."""
    sys.exit(cli.run(PROG, main))
