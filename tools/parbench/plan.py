"""parbench-plan: which benchmarks the next pass should measure again, within a time budget.

Usage: parbench-plan --budget-seconds S RUN.json [MORE.json ...]

After a first pass over every configuration, the rest of a profile's time goes where it decides something:
1. at the sizes a recommendation is made for (each kernel's smallest and largest n), the configurations a
   recommendation weighs (report.candidates_at) whose speedup interval is too wide (estimate.Estimate.wide) or
   whose two sides have no state of the CPUs in common yet (estimate.matched_speedup), and,
   where the point is undecided, every one whose interval reaches the best's; first, at the largest n (the
   headline answers), the contenders at as many workers as CPUs: those whose interval reaches the highest lower
   end (estimate.decide's anchor), which may win or tie, flagged ones too, together with any contender whose
   speedup rests on fewer than CONTENDER_SAMPLES repetitions a side (an interval from a handful of repetitions
   can look narrow by chance);
   then the rest of the largest n's and the smallest n's;
2. then, at every other n, each speedup up to as many workers as CPUs whose interval is too wide: too few
   repetitions are what makes a speedup move between two runs (notebook/busy_machine.md), so more of them are
   what narrows its interval.
Within each of these, the cheapest points come first (then the narrowest): a pass measures as many undecided
points as it can, and a point whose runs are long (a payload of 64 MiB) gets what is left, as does one whose
interval no eight repetitions will narrow enough (a contended lock 10x wide on a busy machine), rather than
taking a pass that would otherwise narrow several headline speedups.
Each chosen benchmark, and the baseline at its n, is measured again, as long as the estimated time fits the
budget and the filter fits bench_parallel's limit on its length; the report reads every pass's repetitions
together. Given the files of every pass so far, it plans the next one: src/run_benchmarks.cmake asks again after
each pass until nothing is undecided or the budget is spent.

Prints nothing when nothing needs measuring or nothing fits; else two lines for bench_parallel:
``--benchmark_filter=REGEX`` and ``--benchmark_repetitions=R``. Exit status: 0, 2 usage or input error.
"""

import re
import sys

from . import cli, estimate, model
from .model import baseline_of, config_label, hardware_threads, index_kernels, is_baseline
from .report import candidates_at
from .stats import speedup_estimate

PROG = "parbench-plan"
REPETITIONS = 8            # repetitions of every benchmark a later pass measures
CONTENDER_SAMPLES = 12     # repetitions a side (in the state compared) a contender at the largest n rests on
OVERHEAD_S = 0.008         # Google Benchmark's own cost per repetition (setup, reporting), besides the timed runs
START_S = 0.03             # per benchmark: finding its iteration count before the first repetition
PASS_START_S = 3.0         # per pass: bench_parallel's start (warm-up, registering the matrix) and its end
SHARE = 0.85               # of the budget the plan fills: its costs are estimates
MIN_TIME_S = 0.005         # the default profile' --benchmark_min_time (src/options.cpp)
MAX_FILTER = 8192          # the longest --benchmark_filter bench_parallel takes (src/options.hpp max_filter_length)


def seconds_per_repetition(bench, min_time=MIN_TIME_S):
    """What one more repetition of this benchmark costs: Google Benchmark runs it for at least the min time (and
    at least one run), plus its own overhead. A run is taken to last its median so far, not its fastest: on a busy
    machine most runs are slower than the fastest, and a plan on the fastest overran its budget."""
    return max((bench.median_ns() or 0.0) * 1e-9, min_time) * 1.4 + OVERHEAD_S


def wanted(kernels, hw):
    """[(priority, kernel, n, {(strategy, workers), ...})]: what to measure again, most wanted first: at each
    kernel's largest n the contenders (the headline answers), then the rest of the points a recommendation is
    made at (the largest n, the smallest), then every other wide speedup."""
    out = []
    for kernel, by_n in kernels.items():
        sizes = sorted(by_n)
        for n in sizes:
            cells = by_n[n]
            recommended = n in (sizes[0], sizes[-1])
            candidates = candidates_at(kernel, cells, "native", hw) if recommended else {}
            speedups = _speedups(cells, hw)
            chosen = _recommendation_wants(cells, candidates)
            chosen |= {key for key, e in speedups.items() if e.wide}
            contenders = _contenders(candidates, speedups) if n == sizes[-1] else {}
            chosen |= {key for key, e in contenders.items() if e.samples < CONTENDER_SAMPLES}
            chosen = {key for key in chosen if not is_baseline(key[0])}
            headline = {key for key in chosen & set(contenders) if key[1] == hw}
            for tier, part in ((0, headline), (1 if recommended else 2, chosen - headline)):
                if part:
                    out.append(((tier, _cost(cells, _with_baselines(part)), max(_width(cells, key) for key in part)),
                                kernel, n, part))
    return sorted(out, key=lambda item: item[0])


def _with_baselines(chosen):
    """The chosen configurations and the baseline each is compared with, sorted."""
    return sorted(chosen | {(baseline_of(s), 1) for s, _ in chosen})


def _cost(cells, keys):
    """Seconds a pass spends measuring these configurations again (each one once)."""
    return sum(seconds_per_repetition(cells[key]) * REPETITIONS + START_S for key in set(keys) if key in cells)


def _recommendation_wants(cells, candidates):
    """Of the candidates a recommendation weighs ({label: speedup Estimate}, report.candidates_at), the
    configurations to measure again: where the point is undecided every one whose interval reaches the best's,
    and every wide or unmatched one."""
    if not candidates:
        return set()
    decision = estimate.decide(candidates)
    keys = {config_label(s, w): (s, w) for (s, w) in cells}
    chosen = set()
    if decision.kind == "undecided" and decision.best:
        best = candidates[decision.best]
        chosen |= {keys[label] for label, e in candidates.items() if e.high >= best.low}
    return chosen | {keys[label] for label, e in candidates.items() if e.wide or _unmatched(cells, keys[label], e)}


def _contenders(candidates, speedups):
    """Of the speedups ({(strategy, workers): Estimate}, _speedups), those the recommendation at this point hinges
    on: every one whose interval reaches the highest lower end of the candidates a recommendation weighs
    (estimate.decide's anchor), so that it may win or tie. Flagged ones too: a speedup flagged as above what W
    CPUs give, on a wide interval, is one more repetitions will tell."""
    if not candidates:
        return {}
    anchor = max(e.low for e in candidates.values())
    return {key: e for key, e in speedups.items() if e.high >= anchor}


def _unmatched(cells, key, e):
    """A speedup whose two sides have CPU states (estimate.state_of) but not enough repetitions in one of them:
    more repetitions may give it a matched comparison."""
    base = cells.get((baseline_of(key[0]), 1))
    states = [s.state for b in (base, cells.get(key)) if b is not None for s in b.samples]
    return e.state == "" and any(states)


def _speedups(cells, hw):
    """{(strategy, workers): speedup Estimate} of every usable configuration up to hw workers but the baselines."""
    out = {}
    for (s, w), bench in cells.items():
        if is_baseline(s) or not bench.usable or (hw is not None and w > hw):
            continue
        e = speedup_estimate(cells, s, w)
        if e is not None:
            out[(s, w)] = e
    return out


def _width(cells, key):
    e = speedup_estimate(cells, *key)
    return e.high / max(e.low, 1e-12) if e is not None else 1.0


def plan(run, budget_seconds):
    """-> (filter regex, repetitions) or None."""
    kernels, _ = index_kernels(run)
    hw = hardware_threads(run)
    patterns: list[str] = []
    spent, measured = PASS_START_S, set()
    for _, kernel, n, chosen in wanted(kernels, hw):
        cells = kernels[kernel][n]
        keys = _with_baselines(chosen)
        cost = _cost(cells, [key for key in keys if (kernel, n, key) not in measured])
        alternatives = "|".join(f"{re.escape(s)}/workers:{w}" for s, w in keys)
        pattern = f"^{re.escape(kernel)}/({alternatives})/n:{n}/"
        if spent + cost > SHARE * budget_seconds or len("|".join(patterns + [pattern])) > MAX_FILTER:
            continue
        spent += cost
        measured |= {(kernel, n, key) for key in keys}
        patterns.append(pattern)
    if not patterns:
        return None
    return "|".join(patterns), REPETITIONS


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description="Which benchmarks a second pass should measure again, within a "
                                                  "time budget: a filter and a repetition count for bench_parallel.")
    p.add_argument("inputs", nargs="+", metavar="JSON", help="every pass's bench_parallel --benchmark_out so far")
    p.add_argument("--budget-seconds", type=float, required=True, metavar="S",
                   help="seconds the next pass may take (0 or less: print nothing)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    run = model.load(args.inputs)
    result = plan(run, args.budget_seconds) if args.budget_seconds > 0 else None
    if result:
        print(f"--benchmark_filter={result[0]}")
        print(f"--benchmark_repetitions={result[1]}")
    return cli.EXIT_OK


def entry_point():
    """tools/parbench-plan."""
    sys.exit(cli.run(PROG, main))
