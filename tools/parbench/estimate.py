"""Times and speedups that hold on a busy machine: the estimator every tool uses, and its interval.

A benchmark's *samples* are its per-repetition times. bench_parallel takes them interleaved at random with every
other benchmark's (``--benchmark_enable_random_interleaving``), so a strategy's samples and its baseline's are
spread over the same stretch of the run and meet the same moments of the machine.

On a shared machine the noise is one-sided: another program, a slow episode of the CPUs or the hypervisor only
ever adds time to a run. The median of such samples moves with the share of disturbed runs, which changes from
minute to minute; the fastest runs do not. So a benchmark's time is estimated by its fastest sample, and a
speedup by the ratio of two fastest samples: baseline minimum over strategy minimum. docs/tools.md gives the
measurements that chose it over the median, lower quantiles and ratios of paired samples.

The interval is where a second run of the same command would put the estimate: a prediction interval, which
is what "the answer holds" means to a user who runs it again. What moves a fastest sample between runs was
measured (notebook/busy_machine.md): two halves of one run disagree as much as two runs minutes apart, so the
spread is the sampling of too few repetitions, not a difference between processes. Where the fastest samples
lie close together, a rerun finds about the same fastest one; where only one sample reached a low time, a rerun
may not reach it (the upper end: the K-th fastest, K = 2, or 3 from 8 samples on), or may go as far below this
run's fastest as the K-th lies above it (the lower end: the gap reflected). A relative floor (FLOOR) covers what
moves even when the samples agree (alignment, frequency). The rule is checked by calibration, not derived
(docs/results.md, "Speedups on a busy machine"); the second pass (plan.py) measures again what is too wide.

Everything here is plain arithmetic on lists of floats, without scipy, so that every tool imports it.
"""

import math
from dataclasses import dataclass

FLOOR = 0.03          # relative half-width every interval has at least
WIDE = 1.3            # an interval whose upper end exceeds its lower end by more than this is too wide to decide


def order_k(count):
    """Which fastest sample bounds the interval: the 2nd, or the 3rd from 8 samples on (1 for one sample)."""
    if count >= 8:
        return 3
    return 2 if count >= 2 else 1


@dataclass(frozen=True)
class Estimate:
    """A time or a speedup: the point estimate, its interval [low, high], and how many samples it rests on."""
    value: float
    low: float
    high: float
    samples: int

    @property
    def wide(self):
        """Too wide to decide a comparison: the upper end more than WIDE times the lower."""
        return self.low <= 0 or self.high / self.low > WIDE

    def contains(self, x):
        return self.low <= x <= self.high

    def text(self, unit="×", digits=2):
        return f"{self.value:.{digits}f}{unit} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _clean(samples):
    return sorted(x for x in samples if isinstance(x, (int, float)) and math.isfinite(x) and x > 0)


def time_estimate(samples):
    """The undisturbed time of a benchmark from its sample times (any unit); None without a usable sample.

    value: the fastest sample; high: the K-th fastest plus FLOOR; low: the fastest divided by the K-th's ratio to
    it (the gap reflected below) less FLOOR."""
    xs = _clean(samples)
    if not xs:
        return None
    k = order_k(len(xs))
    return Estimate(xs[0], xs[0] * (xs[0] / xs[k - 1]) * (1 - FLOOR), xs[k - 1] * (1 + FLOOR), len(xs))


def speedup_estimate(baseline_samples, samples):
    """Baseline time over this time, from the two lists of sample times; None where either has none.

    The interval divides the ends of the two time intervals crosswise: the lowest speedup the data allow is the
    fastest baseline over the slow end of this benchmark's interval, and the other way round."""
    return speedup_of(time_estimate(baseline_samples), time_estimate(samples))


def speedup_of(b, t):
    """Baseline time estimate b over time estimate t, the intervals' ends crosswise; None where either is None."""
    if b is None or t is None:
        return None
    return Estimate(b.value / t.value, b.low / t.high, b.high / t.low, min(b.samples, t.samples))


def ratio_estimate(base_samples, head_samples):
    """Head time over base time (> 1: head is slower), for comparing two builds or two runs."""
    return speedup_estimate(head_samples, base_samples)


# ------------------------------------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class Decision:
    """The answer at one point: a winner, a tie, or undecided, with the reason."""
    kind: str              # "winner" | "tie" | "undecided"
    best: str = ""         # the label with the highest estimate
    members: tuple = ()    # winner: (best,); tie: every label tied with the best
    why: str = ""


def decide(candidates):
    """Who is fastest among {label: Estimate of its speedup} (higher is better).

    The anchor is the candidate whose lower end is highest: the one surely fastest by the most.
    - undecided: no candidate, or the anchor's interval is too wide (Estimate.wide): nothing is known well enough;
    - winner: no other candidate's interval reaches the anchor's lower end;
    - tie: otherwise, the anchor and every candidate whose interval reaches its lower end, best estimate first
      (a wide interval among them is a candidate the data cannot separate from the anchor, so it ties)."""
    usable = {label: e for label, e in candidates.items() if e is not None}
    if not usable:
        return Decision("undecided", why="nothing measured")
    anchor = max(usable, key=lambda label: (usable[label].low, usable[label].value, label))
    a = usable[anchor]
    best = max(usable, key=lambda label: (usable[label].value, label))
    if a.wide:
        return Decision("undecided", best, why=f"even the best-known interval (`{anchor}`, {a.low:.2f}–{a.high:.2f}) "
                                               "is too wide")
    members = sorted((label for label, e in usable.items() if e.high >= a.low),
                     key=lambda label: (-usable[label].value, label))
    if members == [anchor]:
        return Decision("winner", anchor, (anchor,))
    return Decision("tie", members[0], tuple(members), why="their intervals overlap")
