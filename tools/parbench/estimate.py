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

A speedup compares repetitions taken in the same state of the CPUs. On a virtual machine a CPU's speed depends on
what runs beside it on the same physical core (another machine's thread on the sibling hyperthread halves a
throughput-bound loop, for seconds at a time), and each CPU has its own state. A one-worker run needs one CPU, a
two-worker run both, and a two-way static split runs at its slower CPU's speed, so the fastest repetitions of the
two often come from different states, and their ratio is not the speedup. bench_parallel times a probe on every
CPU before and after each repetition (``probe_ns``: the slowest reading, ``probe_best_ns``: the fastest) and runs
the baseline pinned, in turn on the slowest and the fastest CPU (``cpu``), so that it has repetitions in either
state; ``probe_bound_ns`` is the probe of the CPU that sets a repetition's pace (the baseline's own CPU; the
slowest where the workers cover every CPU). Against the run's calm probe a repetition is *calm* (every CPU it ran
on fast), *slow* (its pace-setting CPU slowed throughout) or neither, also where another program took its CPUs
for part of it (the ``utilisation`` counter below UTILISED of what its CPUs' probes allow, utilisation_floor, in
a run of SHARED_MIN_NS or longer). A
speedup is the ratio of the fastest repetitions where both sides have MATCH_CALM calm ones (then each side's
fastest ran calm: calm is the fast state, and nothing makes a run faster than it); else, where both have
MATCH_SLOW slow ones, the ratio of their medians (within a slow state a repetition can also be faster than its
state, when the neighbour pauses, so its noise is two-sided), its interval where a rerun's ratio of medians would
fall (median_ratio); else the fastest of all, as before, with an interval
widened to hold the ratio of the medians too where states were read but none is in common (unmatched_speedup).
A slow-state speedup is the one on CPUs that all ran at the slowed speed: for a static split that is what it
measures; a split that moves work to a faster CPU reads above it (up to W x the CPUs' speed ratio), and the
report says so.
notebook/busy_machine.md ("The slow state is a busy sibling", "The baseline on each CPU") has the measurements.

Everything here is plain arithmetic on lists of floats, without scipy, so that every tool imports it.
"""

import math
from dataclasses import dataclass, replace

FLOOR = 0.03          # relative half-width every interval has at least
WIDE = 1.3            # an interval whose upper end exceeds its lower end by more than this is too wide to decide
CALM = 1.3            # calm repetition: its slowest probe at most CALM x the run's calm probe
SLOW = 1.5            # slow repetition: its fastest probe at least SLOW x the run's calm probe
UTILISED = 0.9        # a repetition whose workers had their CPUs less than this share of its time was shared
SHARED_MIN_NS = 1e7   # ... read only where one run lasts this long: a shorter run's share is its workers' waking
CALM_QUANTILE = 0.05  # the run's calm probe: this quantile of every repetition's fastest probe
MATCH_CALM = 2        # calm repetitions each side needs for a calm speedup
MATCH_SLOW = 2        # slow repetitions each side needs for a slow-state speedup
T_975 = (0.0, 12.706, 4.303, 3.182, 2.776)   # Student's t, 97.5% quantile, by samples (degrees of freedom + 1)
PREDICT_Z = 1.96     # a median's ranks: the interval where the median itself lies (median_ratio turns two into a
#                      prediction of a rerun's ratio)


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
    state: str = ""       # speedups: "calm" or "slow" where both sides were measured in that state of the CPUs

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


def median_estimate(samples):
    """A benchmark's time in a state whose noise is two-sided: the median of its samples, the interval where the
    median lies with about 95%, plus FLOOR; None without a usable sample.

    From six samples on, the ranks PREDICT_Z standard errors either side of the middle. Below six even the whole
    range holds the median only 1 - 2^(1-m) of the time (50% for two samples, 94% for five), so there the interval
    is Student's t on the logs of the samples (T_975), at least the range: wide, as two or three samples are."""
    xs = _clean(samples)
    if not xs:
        return None
    m = len(xs)
    value = (xs[m // 2] + xs[(m - 1) // 2]) / 2
    if 2 <= m <= len(T_975):
        logs = [math.log(x) for x in xs]
        mean = sum(logs) / m
        half = T_975[m - 1] * math.sqrt(sum((v - mean) ** 2 for v in logs) / (m - 1) / m)
        low, high = min(xs[0], value * math.exp(-half)), max(xs[-1], value * math.exp(half))
    else:
        middle, ranks = (m - 1) / 2, PREDICT_Z * math.sqrt(m) / 2
        low = xs[max(0, math.floor(middle - ranks))]
        high = xs[min(m - 1, math.ceil(middle + ranks))]
    return Estimate(value, low * (1 - FLOOR), high * (1 + FLOOR), m)


def calm_reference(probes):
    """The run's calm probe: the CALM_QUANTILE quantile of the repetitions' fastest probes; None without one."""
    xs = _clean(probes)
    return xs[int(CALM_QUANTILE * (len(xs) - 1))] if xs else None


def utilisation_floor(probe_ns, probe_best_ns, workers=1):
    """The utilisation below which a repetition shared its CPUs with another program: UTILISED of what a static
    split over `workers` CPUs keeps busy when one CPU reads probe_ns and the others probe_best_ns (they finish
    their shares early and wait for the slowest): UTILISED where the CPUs were alike."""
    w = max(1, int(workers or 1))
    ratio = probe_best_ns / probe_ns if probe_ns and probe_best_ns else 1.0
    return UTILISED * (1 + (w - 1) * min(1.0, ratio)) / w


def state_of(probe_ns, probe_best_ns, reference, utilisation=None, probe_bound_ns=None, workers=1, run_ns=None):
    """'calm', 'slow' or '' for a repetition whose slowest, fastest and pace-setting probe read these (0 or None:
    not recorded; a file without probe_bound_ns: the fastest, every CPU slowed). A repetition whose process tree
    ran less than utilisation_floor of its time on its W CPUs (the ``utilisation`` counter) shared them with
    another program: neither. That is read only where one run (run_ns, its time per iteration; None: unknown)
    lasts SHARED_MIN_NS or more: in a shorter one the workers spend much of it starting or waking (a pool's
    dispatch at small n reads 0.4-0.8 on a quiet machine), so a low share says nothing about another program."""
    if not reference or not probe_ns or not probe_best_ns:
        return ""
    long_enough = run_ns is None or run_ns >= SHARED_MIN_NS
    if utilisation and long_enough and utilisation < utilisation_floor(probe_ns, probe_best_ns, workers):
        return ""
    if probe_ns <= CALM * reference:
        return "calm"
    if (probe_bound_ns or probe_best_ns) >= SLOW * reference:
        return "slow"
    return ""


def state_samples(pairs, state):
    """The times one side of a comparison in `state` rests on, from its [(time, state)]: for 'calm' every time,
    where MATCH_CALM of them are calm (then the fastest ran calm: see matched_speedup); for 'slow' the slow ones,
    where there are MATCH_SLOW; for '' every time. None where there are too few."""
    if state == "":
        return [t for t, _ in pairs]
    xs = [t for t, s in pairs if s == state]
    if state == "calm":
        return [t for t, _ in pairs] if len(_clean(xs)) >= MATCH_CALM else None
    return xs if len(_clean(xs)) >= MATCH_SLOW else None


def matched_speedup(baseline_pairs, pairs):
    """Baseline time over this time from [(time, state)] of each, compared in one state of the CPUs: where each
    side has MATCH_CALM calm repetitions, each side's fastest of all (time_estimate): the calm state is the fast
    one and noise only adds time, so a repetition faster than every calm one ran calm throughout, although a probe
    just before or after it caught a CPU slowed (a two-worker run needs both CPUs calm at four probes, and its
    calm-labelled repetitions can hold a slowed moment between them); else the slow ones' medians
    (median_estimate) where each has MATCH_SLOW, else every repetition's fastest (state ''), with the interval of
    unmatched_speedup where either side has a repetition in a state. None where either side has no usable
    sample."""
    calm_b, calm_t = state_samples(baseline_pairs, "calm"), state_samples(pairs, "calm")
    if calm_b is not None and calm_t is not None:
        return replace(speedup_estimate(calm_b, calm_t), state="calm")
    slow_b, slow_t = state_samples(baseline_pairs, "slow"), state_samples(pairs, "slow")
    if slow_b is not None and slow_t is not None:
        return replace(median_ratio(median_estimate(slow_b), median_estimate(slow_t)), state="slow")
    times_b, times_t = [t for t, _ in baseline_pairs], [t for t, _ in pairs]
    if any(s for _, s in baseline_pairs) or any(s for _, s in pairs):
        return unmatched_speedup(times_b, times_t)
    return speedup_estimate(times_b, times_t)


def unmatched_speedup(baseline_samples, samples):
    """A speedup whose two sides have no state of the CPUs in common: the fastest over the fastest, as where no
    probe was recorded, with an interval that also holds the ratio of the medians' intervals. The fastest
    repetitions of two sides may come from different states and their medians from different mixes of states:
    where the two disagree the data cannot tell which is the speedup, and the interval says so (a rerun that
    finds a state in common lands anywhere between them). None where either side has no usable sample."""
    e = speedup_estimate(baseline_samples, samples)
    if e is None:
        return None
    m = median_ratio(median_estimate(baseline_samples), median_estimate(samples))
    return replace(e, low=min(e.low, m.low), high=max(e.high, m.high))


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


def median_ratio(b, t):
    """Baseline median b over median t (median_estimate), with the interval where a rerun's ratio of the two
    medians would fall; None where either is None.

    Each side's interval holds its median with about 95%: its half-widths in log are PREDICT_Z standard errors.
    A rerun's ratio differs from this one by two draws of each side, so the interval's half-width in log is
    sqrt(2 (h_b^2 + h_t^2)), the lower end from the baseline's lower half and this one's upper half. For two
    equally spread sides that is the crosswise division of speedup_of; where one side is much wider than the
    other it is up to sqrt(2) times wider in log, since crosswise then holds a rerun's ratio less often than its
    sides hold their medians (test_estimate shows both)."""
    if b is None or t is None:
        return None
    value = b.value / t.value
    low = math.sqrt(2 * (math.log(b.value / b.low) ** 2 + math.log(t.high / t.value) ** 2))
    high = math.sqrt(2 * (math.log(b.high / b.value) ** 2 + math.log(t.value / t.low) ** 2))
    return Estimate(value, value * math.exp(-low), value * math.exp(high), min(b.samples, t.samples))


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
