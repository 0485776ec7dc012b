"""The statistics of the paired, sequential A/B gate (tools/parbench-gate; docs/tools.md, "parbench-gate").

Data: per benchmark, rounds of one *pair* (base time a, head time b) measured seconds apart, the order of the two
runs drawn at random in each round. The per-round log-ratio d = ln(b / a) cancels whatever drifts slower than a
pair (machine load, thermal state); random order makes d symmetric about 0 when base and head are the same
program, which is what keeps the test's false alarms at their nominal rate.

Per benchmark, the effect is exp(HL) - 1, HL the Hodges-Lehmann estimate of the shift of d (the median of the
Walsh averages): head time relative to base, +0.10 is 10% slower. It is tested with the exact Wilcoxon
signed-rank test (two-sided) and its interval is the test's exact one. Ranks, not means: on a loaded 2-vCPU VM one
run in a few is slowed several-fold by other processes, and such outliers would inflate a t-test's variance (or,
unpaired, its mean) while they move a rank statistic by one rank. Under A/A, random order makes d exactly
symmetric, so the signed-rank test's false-alarm rate is its nominal one whatever the distribution.

The gate looks at the data after the rounds of a fixed schedule; with L looks, each spends alpha / L (Bonferroni
over looks, valid however the looks depend on each other), and within a look Benjamini-Hochberg over all the
gate's benchmarks controls the false discoveries among them. When no benchmark
differs (an A/A gate), that bounds the chance of any false alarm in the whole gate by alpha.

Verdicts, first match wins, at each look for each benchmark still open:
  regression / improvement  rejected by BH at alpha / L, and |effect| >= min_effect (the direction gives which)
  no change                 the 1 - 2 * alpha_eq / L confidence interval lies inside +-threshold (an equivalence
                            test, TOST: a change of at least threshold is called "no change" at most alpha_eq of
                            the time over all looks)
  open                      anything else: more rounds; at the last look it is "undecided" (at the cap)
The reported interval is the 95% one; a regression's always excludes 0, a no change's always lies inside
+-threshold.

The fastest method (Settings.method "fastest", docs/tools.md): the effect is instead the ratio of the fastest head
time to the fastest base time, the estimator of every speedup (estimate.ratio_estimate), because on a shared
machine the noise only adds time, so the fastest runs of each side are the ones the other programs did not
disturb, while a pair's log-ratio carries whatever disturbed either of its runs. Its test is the exact sign-flip
(permutation) test of that ratio: random order makes the two runs of an A/A pair exchangeable, so swapping them
gives every one of the 2^n assignments the same chance, and for a ratio above 1, P(ratio >= observed) works out
to 2^-(1 + k), k the base runs other than its fastest that are faster than the fastest head run (each must stay
on the base side; the rest may go either way): the two-sided p is 2^(1 - c), c the base runs faster than the
fastest head run (the other way round for a ratio below 1). Its interval is the set of ratios rho that the
same test of (a, b / rho) does not reject: [fastest head / c-th fastest base, c-th fastest head / fastest base],
c the smallest count with 2^-c <= (1 - level) / 2 (6 at 95%). The looks, Benjamini-Hochberg and the verdicts are
the same as above; it needs nothing beyond random order either.

Standard library only; every function here is pure.
"""

import functools
import math
from dataclasses import dataclass

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no change"
UNDECIDED = "undecided"
OPEN = "open"
ERRORED = "errored"
METHODS = ("paired", "fastest")   # the per-pair log-ratios' signed ranks; the ratio of the fastest runs


@dataclass(frozen=True)
class Settings:
    alpha: float = 0.05          # the gate's false-alarm budget (all benchmarks, all looks)
    alpha_eq: float = 0.05       # chance of calling a change >= threshold "no change", per benchmark
    threshold: float = 0.03      # "no change" means within +-threshold
    min_effect: float = 0.02     # a significant change smaller than this is not a regression
    looks: tuple = (8, 12, 16, 20)      # rounds after which the gate decides; the last is the cap
    method: str = "paired"       # METHODS: how a benchmark's effect is estimated and tested

    def check(self):
        """A one-line complaint about the settings, or None."""
        if not 0 < self.alpha < 1 or not 0 < self.alpha_eq < 0.5:
            return "alpha must be in (0, 1) and alpha_eq in (0, 0.5)"
        if not 0 < self.threshold < 1 or not 0 <= self.min_effect < 1:
            return "threshold must be in (0, 1) and min_effect in [0, 1)"
        if not self.looks or any(n < 3 for n in self.looks) or list(self.looks) != sorted(set(self.looks)):
            return "looks must be increasing round counts, each at least 3"
        if self.method not in METHODS:
            return f"method must be one of {', '.join(METHODS)}"
        return None

    @classmethod
    def from_args(cls, args):
        """Settings from a command line's --alpha, --alpha-eq, --threshold, --min-effect and --looks (a comma
        list of round counts); ValueError with a one-line complaint when they are not valid settings."""
        try:
            looks = tuple(int(x) for x in args.looks.split(","))
        except ValueError:
            raise ValueError(f"--looks takes round counts such as 6,9,12, got {args.looks!r}") from None
        settings = cls(args.alpha, args.alpha_eq, args.threshold, args.min_effect, looks,
                       getattr(args, "method", cls.method))
        problem = settings.check()
        if problem:
            raise ValueError(problem)
        return settings

    def idle_looks(self):
        """Looks too early for any rejection: with n pairs the signed-rank test's smallest two-sided p is
        2^(1-n), and a look spends only alpha / L (at best, when BH rejects every benchmark)."""
        return [n for n in self.looks if 2.0 ** (1 - n) > self.alpha / len(self.looks)]


@functools.lru_cache(maxsize=None)
def signed_rank_cdf(n):
    """P(T+ <= t) for t = 0 .. n(n+1)/2, T+ the Wilcoxon signed-rank statistic of n pairs under the null."""
    counts = [1]
    for rank in range(1, n + 1):  # each rank is in the positive set or not: convolve with {0, rank}
        grown = counts + [0] * rank
        for total, c in enumerate(counts):
            grown[total + rank] += c
        counts = grown
    cdf, running, all_ = [], 0, 2 ** n
    for c in counts:
        running += c
        cdf.append(running / all_)
    return tuple(cdf)


def _ranks(values):
    """Ranks 1..n of values, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@dataclass(frozen=True)
class Estimate:
    """Hodges-Lehmann estimate of the log-ratio with the Wilcoxon signed-rank test and its exact interval."""
    n: int
    hl: float          # median of the Walsh averages (d_i + d_j) / 2, i <= j
    walsh: tuple       # the sorted Walsh averages
    p: float           # two-sided exact signed-rank p of "no shift"

    @property
    def effect(self):
        """Head time relative to base: +0.10 is 10% slower."""
        return math.expm1(self.hl)

    def interval(self, level):
        """(low, high) of the effect at this two-sided confidence level (at least; the test is discrete).

        The interval holds every shift the signed-rank test at 1 - level does not reject: Walsh averages c and
        N + 1 - c of N, with c the largest count such that P(T+ < c) <= (1 - level) / 2. Infinite when n is too
        small for that level.
        """
        cdf = signed_rank_cdf(self.n)
        half = (1 - level) / 2
        c = 0
        while c < len(cdf) and cdf[c] <= half:   # cdf[c] = P(T+ <= c) = P(T+ < c + 1)
            c += 1
        if c == 0:
            return -1.0, math.inf
        return math.expm1(self.walsh[c - 1]), math.expm1(self.walsh[len(self.walsh) - c])


def log_ratios(pairs):
    """ln(b / a) of each (a, b) pair with both times positive."""
    return [math.log(b / a) for a, b in pairs if a and b and a > 0 and b > 0]


def estimate(d):
    """Hodges-Lehmann estimate, Walsh averages and two-sided exact signed-rank p of the log-ratios d."""
    n = len(d)
    if n < 2:
        raise ValueError("need at least 2 pairs")
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    m = len(walsh)
    hl = walsh[m // 2] if m % 2 else (walsh[m // 2 - 1] + walsh[m // 2]) / 2
    nonzero = [x for x in d if x != 0]
    k = len(nonzero)
    if k == 0:
        return Estimate(n, hl, tuple(walsh), 1.0)
    ranks = _ranks([abs(x) for x in nonzero])
    t_plus = sum(r for r, x in zip(ranks, nonzero) if x > 0)
    cdf = signed_rank_cdf(k)
    low = math.floor(t_plus + 1e-9)            # P(T+ <= t) and P(T+ >= t) (T+ is symmetric about k(k+1)/4)
    high = math.ceil(k * (k + 1) / 2 - t_plus - 1e-9)
    lower_tail = cdf[min(low, len(cdf) - 1)]
    upper_tail = cdf[min(high, len(cdf) - 1)]
    return Estimate(n, hl, tuple(walsh), min(1.0, 2 * min(lower_tail, upper_tail)))


def fastest_count(level):
    """c of the fastest method's interval at this two-sided level: the smallest count with 2^-c <= (1 - level) / 2."""
    half = (1 - level) / 2
    c = 1
    while 2.0 ** -c > half:
        c += 1
    return c


@dataclass(frozen=True)
class Fastest:
    """The ratio of the fastest head time to the fastest base time, with its exact sign-flip test and interval."""
    n: int
    base: tuple        # the base times, sorted
    head: tuple        # the head times, sorted
    p: float           # two-sided exact sign-flip p of "no change"

    @property
    def effect(self):
        """Head time relative to base: +0.10 is 10% slower."""
        return self.head[0] / self.base[0] - 1

    def interval(self, level):
        """(low, high) of the effect: the ratios the test at 1 - level does not reject; infinite when n is too small
        for that level."""
        c = fastest_count(level)
        if c > self.n:
            return -1.0, math.inf
        return self.head[0] / self.base[c - 1] - 1, self.head[c - 1] / self.base[0] - 1


def fastest_estimate(pairs):
    """The fastest method's estimate from (a, b) pairs with both times positive (at least 2)."""
    kept = [(a, b) for a, b in pairs if a and b and a > 0 and b > 0]
    if len(kept) < 2:
        raise ValueError("need at least 2 pairs")
    base, head = sorted(a for a, _ in kept), sorted(b for _, b in kept)
    if base[0] < head[0]:
        faster = sum(x < head[0] for x in base)    # base runs faster than the fastest head run
    elif head[0] < base[0]:
        faster = sum(x < base[0] for x in head)
    else:
        faster = 1
    return Fastest(len(kept), tuple(base), tuple(head), min(1.0, 2.0 ** (1 - faster)))


def method_estimate(pairs, method):
    """The estimate of `method` (METHODS) from (a, b) pairs: fastest_estimate or the log-ratios' estimate; None
    with fewer than 2 pairs whose times are both positive."""
    d = log_ratios(pairs)
    if len(d) < 2:
        return None
    return fastest_estimate(pairs) if method == "fastest" else estimate(d)


def bh_rejected(pvalues, q):
    """Benjamini-Hochberg at level q: the set of keys of pvalues (a dict) that are rejected."""
    ranked = sorted(pvalues.items(), key=lambda kv: kv[1])
    m = len(ranked)
    cut = 0
    for k, (_, p) in enumerate(ranked, 1):
        if p <= k * q / m:
            cut = k
    return {key for key, _ in ranked[:cut]}


def bh_adjusted(pvalues):
    """BH-adjusted p-values (q-values): the smallest level at which each would be rejected."""
    ranked = sorted(pvalues.items(), key=lambda kv: kv[1])
    m = len(ranked)
    out, running = {}, 1.0
    for k in range(m, 0, -1):
        key, p = ranked[k - 1]
        running = min(running, p * m / k)
        out[key] = running
    return out


@dataclass
class Verdict:
    verdict: str
    estimate: Estimate | Fastest | None = None
    q: float | None = None   # BH-adjusted p at the look that decided (times the number of looks)
    rounds: int = 0          # pairs the verdict rests on


def decide(data, settings, look_index, previous=None, final=None):
    """One look of the gate (look_index counts from 0; final: no more rounds follow, by default the last look).

    data: name -> list of (a, b) pairs so far (for closed benchmarks, the pairs they were decided on; None or an
    empty list for an errored benchmark). previous: name -> Verdict of earlier looks (closed ones are kept).
    Returns name -> Verdict; open benchmarks get OPEN, or UNDECIDED at the last look.
    """
    previous = previous or {}
    looks = len(settings.looks)
    if not 0 <= look_index < looks:
        raise ValueError(f"look {look_index} outside the {looks} of the schedule")
    last = look_index == looks - 1 if final is None else final
    estimates: dict[str, Estimate | Fastest] = {}
    out = {}
    for name, pairs in data.items():
        got = method_estimate(pairs or [], settings.method)
        if pairs is None or got is None:
            out[name] = Verdict(ERRORED) if pairs is None else Verdict(UNDECIDED if last else OPEN)
            continue
        estimates[name] = got
    pvalues = {name: e.p for name, e in estimates.items()}
    q_level = settings.alpha / looks
    rejected = bh_rejected(pvalues, q_level)
    adjusted = bh_adjusted(pvalues)
    eq_level = 1 - 2 * settings.alpha_eq / looks
    for name, e in estimates.items():
        before = previous.get(name)
        if before is not None and before.verdict not in (OPEN, UNDECIDED):
            out[name] = before
            continue
        q = min(1.0, adjusted[name] * looks)
        if name in rejected and abs(e.effect) >= settings.min_effect:
            out[name] = Verdict(REGRESSION if e.effect > 0 else IMPROVEMENT, e, q, e.n)
            continue
        low, high = e.interval(eq_level)
        if -settings.threshold < low and high < settings.threshold:
            out[name] = Verdict(NO_CHANGE, e, q, e.n)
        else:
            out[name] = Verdict(UNDECIDED if last else OPEN, e, q, e.n)
    return out


def sequential(names, settings, measure_round, out_of_time=lambda: False):
    """Run a whole gate: rounds of pairs for the benchmarks still open, a look after each round of the schedule.

    measure_round(round_index, open_names) -> name -> (a, b), or None for a benchmark that errored (it is then
    closed as ERRORED). out_of_time() is asked after each round: when it says yes, the look taken then is the
    final one (it still spends only one look's alpha). Returns (verdicts, data, rounds run).
    """
    data: dict[str, list[tuple[float, float]] | None] = {name: [] for name in names}
    verdicts = {name: Verdict(OPEN) for name in names}
    look, rounds = 0, 0
    while look < len(settings.looks):
        open_names = [n for n in names if verdicts[n].verdict == OPEN]
        if not open_names:
            break
        measured = measure_round(rounds, open_names)
        rounds += 1
        for name in open_names:
            pair = measured.get(name)
            if pair is None:
                data[name] = None
                verdicts[name] = Verdict(ERRORED)
            else:
                series = data[name]
                assert series is not None  # only an errored benchmark's data is None, and it is closed
                series.append(pair)
        final = out_of_time()
        if rounds == settings.looks[look] or final:
            verdicts = decide(data, settings, look, verdicts, final=final or look == len(settings.looks) - 1)
            look += 1
            if final:
                break
    return verdicts, data, rounds
