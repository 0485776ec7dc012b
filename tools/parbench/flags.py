"""Results the report must not recommend from, and ties: the checks that keep a report from misleading.

A result is *flagged* when it cannot be what it claims:
- noisy: its repetitions spread more than NOISY_CV (bench_parallel labels these `noisy` too);
- implausible speedup: more than PLAUSIBLE_OVER_CPUS x min(W, CPUs) for a kernel whose work is computing, which
  parallelism alone cannot give (a different amount of work or a disturbed baseline can);
- one worker faster than sequential by more than the two results' spread: the same loop on one CPU, so the
  difference is noise or different work, not a strategy's merit;
- a noisy baseline: every speedup at that n inherits its error, so that n gives no recommendation.
Two configurations *tie* when one's median lies within the other's spread (median x (1 +- cv)).
"""

import statistics
from dataclasses import dataclass

from .model import baseline_of, is_baseline
from .stats import speedup

NOISY_CV = 0.05            # the same threshold as bench_parallel's `noisy` label
PLAUSIBLE_OVER_CPUS = 1.1  # a speedup may exceed min(W, CPUs) by this factor (timer and cache effects), no more
UNKNOWN_SPREAD = 0.05      # what "within its spread" means for a result measured once
SPREAD_FLOOR = 0.02        # one worker may beat sequential by this much whatever the spread (alignment, timers)
WAITING_KERNELS = {"sleep_tasks"}  # kernels whose work is waiting: W workers may wait W times as fast


def cv(bench):
    """Coefficient of variation of a benchmark's repetition times; None when measured once."""
    times = [s.real_time_ns for s in bench.samples]
    if len(times) >= 2:
        mean = statistics.fmean(times)
        return statistics.stdev(times) / mean if mean > 0 else None
    if "mean" in bench.aggregates and "stddev" in bench.aggregates and bench.aggregates["mean"][0] > 0:
        return bench.aggregates["stddev"][0] / bench.aggregates["mean"][0]
    return None


def spread_of(bench):
    value = cv(bench)
    return UNKNOWN_SPREAD if value is None else value


def format_cv(bench):
    value = cv(bench)
    return "spread unknown (one repetition)" if value is None else f"± {value * 100:.1f}%"


@dataclass(frozen=True)
class Flag:
    kind: str    # "noisy", "noisy baseline", "implausible"
    why: str


def flags_at(kernel, cells, hw):
    """{(strategy, workers): [Flag]} for the flagged configurations at one kernel and n."""
    out = {}
    for (strategy, workers), bench in cells.items():
        if not bench.usable:
            continue
        found = []
        c = cv(bench)
        if c is not None and c > NOISY_CV:
            kind = "noisy baseline" if is_baseline(strategy) else "noisy"
            why = f"repetitions spread {c * 100:.1f}% (cv), above {NOISY_CV * 100:.0f}%"
            if is_baseline(strategy):
                why += "; every speedup at this n inherits it, so this n gives no recommendation"
            found.append(Flag(kind, why))
        s = speedup(cells, strategy, workers)
        if s is not None and not is_baseline(strategy):
            bound = PLAUSIBLE_OVER_CPUS * min(workers, hw) if hw else None
            if workers > 1 and kernel not in WAITING_KERNELS and bound is not None and s > bound:
                found.append(Flag("implausible", f"{s:.2f}× with {workers} worker(s) on {hw} CPUs: parallelism "
                                                 f"gives at most about {min(workers, hw)}×"))
            base = cells.get((baseline_of(strategy), 1))
            tolerance = max(SPREAD_FLOOR, spread_of(bench) + (spread_of(base) if base else UNKNOWN_SPREAD))
            if workers == 1 and s > 1 + tolerance:
                found.append(Flag("implausible", f"one worker {s:.2f}× faster than `{baseline_of(strategy)}`, "
                                                 f"beyond the two results' spread (±{tolerance * 100:.1f}%)"))
        if found:
            out[(strategy, workers)] = found
    return out


def ties_with(best, others):
    """The configurations of others that tie with best: either median within the other's spread.

    best, others: (label, Benchmark). Returns labels."""
    label, bench = best
    t, s = bench.median_ns(), spread_of(bench)
    tied = []
    for other_label, other in others:
        u, r = other.median_ns(), spread_of(other)
        if other_label != label and u is not None and abs(t - u) <= max(t * s, u * r):
            tied.append(other_label)
    return tied
