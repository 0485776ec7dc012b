"""The report's statistics: speedup over the suite's baseline, crossover n, winner tally.

The regression gate's statistics are in paired.py (parbench-gate); this module needs no scipy.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from . import estimate
from .model import baseline_of

# --------------------------------------------------------------------------------------------- report


def speedup_estimate(cells, strategy, workers):
    """Baseline time over this time at the same kernel and n, with its interval (estimate.matched_speedup: the
    two compared in one state of the CPUs); None where either is unusable. The baseline's own is exactly 1.

    cells: {(strategy, workers): Benchmark} at one kernel and n.
    """
    base, this = cells.get((baseline_of(strategy), 1)), cells.get((strategy, workers))
    if base is None or this is None:
        return None
    if base is this:
        return estimate.Estimate(1.0, 1.0, 1.0, len(base.sample_times_ns()))
    if base.samples and this.samples:
        return estimate.matched_speedup(base.sample_states(), this.sample_states())
    return estimate.speedup_of(base.time_estimate(), this.time_estimate())


def speedup(cells, strategy, workers):
    """The point estimate of speedup_estimate, None where there is none."""
    e = speedup_estimate(cells, strategy, workers)
    return e.value if e is not None and math.isfinite(e.value) and e.value > 0 else None


@dataclass
class Crossover:
    kind: str          # "never" | "below" (faster at the smallest n compared) | "between" | "none" (no data)
    n: float | None = None  # crossover n: interpolated for "between", the smallest n for "below"
    holds: bool = True  # stays faster at every larger n measured
    n_max: int | None = None  # largest n compared

    def text(self):
        if self.kind == "none":
            return "– (no usable measurement)"
        if self.kind == "never":
            return f"never (up to n = {self.n_max:,})"
        mark = "" if self.holds else " (slower again at a larger n)"
        assert self.n is not None  # "below" and "between" always carry their n
        if self.kind == "below":
            return f"≤ {self.n:,} (faster at every n measured)" if self.holds else f"≤ {self.n:,}{mark}"
        return f"≈ {round(self.n):,}{mark}"


def find_crossover(points):
    """Smallest n at which a strategy beats its baseline, from [(n, time / baseline time)].

    Between the last losing and the first winning measured size, log(ratio) is interpolated linearly in
    log(n): time that scales like a power of n between two sizes is a straight line on a log-log plot, so
    this is the point where the two lines of the time-vs-n plot cross.
    """
    points = sorted((n, r) for n, r in points if n > 0 and r is not None and 0 < r < math.inf)
    if not points:
        return Crossover("none")
    n_max = points[-1][0]
    first = next((i for i, (_, r) in enumerate(points) if r < 1.0), None)
    if first is None:
        return Crossover("never", n_max=n_max)
    holds = all(r < 1.0 for _, r in points[first:])
    if first == 0:
        return Crossover("below", points[0][0], holds, n_max)
    (n0, r0), (n1, r1) = points[first - 1], points[first]
    x0, x1, y0, y1 = math.log(n0), math.log(n1), math.log(r0), math.log(r1)
    x = x0 + (0.0 - y0) * (x1 - x0) / (y1 - y0)
    return Crossover("between", math.exp(x), holds, n_max)


def crossover_for(by_n, strategy, workers):
    """Crossover of one configuration over the sizes of by_n: {n: cells}."""
    points = []
    for n, cells in by_n.items():
        s = speedup(cells, strategy, workers)
        if s is not None:
            points.append((n, 1.0 / s))
    return find_crossover(points)


def winner_tally(contestants):
    """Per round (file, repetition index): which contestant had the lowest time. -> (Counter, rounds).

    contestants: {label: Benchmark}. Errored benchmarks never take part; rounds with fewer than two
    contestants measured are not counted (nobody beat anybody).
    """
    by_round: dict[object, dict[str, float]] = defaultdict(dict)
    for label, bench in contestants.items():
        if bench.errored:
            continue
        for sample in bench.samples:
            by_round[sample.round][label] = sample.real_time_ns
    wins: Counter[str] = Counter()
    rounds = 0
    for times in by_round.values():
        if len(times) >= 2:
            wins[min(times, key=lambda label: (times[label], label))] += 1
            rounds += 1
    return wins, rounds
