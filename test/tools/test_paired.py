#!/usr/bin/python3
"""Tests of the paired gate's statistics (tools/parbench/paired.py) on fixtures with known answers.

Run: /usr/bin/python3 test/tools/test_paired.py   (ctest: tools.Paired)
"""

import itertools
import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from parbench import paired  # noqa: E402


def brute_force_p(d):
    """Two-sided signed-rank p by enumerating every sign assignment (no ties, no zeros)."""
    ranks = {x: r for r, x in enumerate(sorted(d, key=abs), 1)}
    t_obs = sum(ranks[x] for x in d if x > 0)
    n = len(d)
    le = ge = 0
    for signs in itertools.product((0, 1), repeat=n):
        t = sum(r for r, s in zip(range(1, n + 1), signs) if s)
        le += t <= t_obs
        ge += t >= t_obs
    return min(1.0, 2 * min(le, ge) / 2 ** n)


def pairs_from_log_ratios(d, base=1000.0):
    return [(base, base * math.exp(x)) for x in d]


class SignedRankTests(unittest.TestCase):
    def test_null_distribution(self):
        for n in range(1, 11):
            cdf = paired.signed_rank_cdf(n)
            top = n * (n + 1) // 2
            self.assertEqual(len(cdf), top + 1)
            self.assertAlmostEqual(cdf[-1], 1.0)
            self.assertAlmostEqual(cdf[0], 2.0 ** -n)
            for t in range(top):  # symmetric about n(n+1)/4: P(T <= t) = P(T >= top - t)
                self.assertAlmostEqual(cdf[t], 1 - (cdf[top - t - 1] if top - t - 1 >= 0 else 0.0))

    def test_p_matches_enumeration(self):
        rng = random.Random(7)
        for n in (3, 5, 8, 10):
            for _ in range(20):
                d = [rng.gauss(0.02, 0.05) for _ in range(n)]
                self.assertAlmostEqual(paired.estimate(d).p, brute_force_p(d), places=12)

    def test_all_one_sign(self):
        e = paired.estimate([0.1, 0.2, 0.15, 0.12, 0.11, 0.13])
        self.assertAlmostEqual(e.p, 2 / 64)

    def test_hodges_lehmann(self):
        # Walsh averages of 1, 2, 3: 1, 1.5, 2, 2, 2.5, 3 -> median 2
        e = paired.estimate([1.0, 2.0, 3.0])
        self.assertAlmostEqual(e.hl, 2.0)
        self.assertAlmostEqual(e.effect, math.expm1(2.0))
        # one outlier moves the estimate by little, unlike a mean
        e = paired.estimate([0.10, 0.11, 0.09, 0.10, 0.12, 0.08, 3.0])
        self.assertLess(abs(e.effect - math.expm1(0.10)), 0.02)

    def test_interval_is_the_set_the_test_does_not_reject(self):
        rng = random.Random(11)
        for n in (7, 9, 12, 16):
            d = [rng.gauss(0.05, 0.04) for _ in range(n)]
            e = paired.estimate(d)
            for level in (0.9, 0.95, 0.99):
                low, high = e.interval(level)
                self.assertLess(low, e.effect)
                self.assertGreater(high, e.effect)
                for theta in [x / 1000 for x in range(-100, 200)]:
                    shifted = paired.estimate([x - math.log1p(theta) for x in d])
                    inside = low < theta < high
                    if min(abs(theta - low), abs(theta - high)) < 1e-6:
                        continue
                    # inside the interval <=> the test at 1 - level does not reject
                    self.assertEqual(inside, shifted.p > 1 - level, (n, level, theta, shifted.p))

    def test_interval_infinite_when_too_few_pairs(self):
        e = paired.estimate([0.1, 0.2, 0.3, 0.4, 0.5])   # smallest two-sided p at n = 5 is 1/16
        self.assertEqual(e.interval(0.95), (-1.0, math.inf))
        self.assertNotEqual(e.interval(0.90), (-1.0, math.inf))

    def test_needs_two_pairs(self):
        with self.assertRaises(ValueError):
            paired.estimate([0.1])


class BenjaminiHochbergTests(unittest.TestCase):
    def test_step_up(self):
        p = {"a": 0.01, "b": 0.02, "c": 0.03, "d": 0.04, "e": 0.2}
        self.assertEqual(paired.bh_rejected(p, 0.05), {"a", "b", "c", "d"})
        p = {"a": 0.001, "b": 0.04, "c": 0.041, "d": 0.5}
        self.assertEqual(paired.bh_rejected(p, 0.05), {"a"})
        # step-up: a later p under its line rescues earlier ones above theirs
        p = {"a": 0.02, "b": 0.03, "c": 0.035}
        self.assertEqual(paired.bh_rejected(p, 0.05), {"a", "b", "c"})
        self.assertEqual(paired.bh_rejected({}, 0.05), set())

    def test_adjusted(self):
        q = paired.bh_adjusted({"a": 0.01, "b": 0.04, "c": 0.03})
        self.assertAlmostEqual(q["a"], 0.03)
        self.assertAlmostEqual(q["c"], 0.04)
        self.assertAlmostEqual(q["b"], 0.04)


class DecideTests(unittest.TestCase):
    settings = paired.Settings(looks=(8, 12))

    def noisy(self, rng, shift, sd, n):
        return pairs_from_log_ratios([math.log1p(shift) + rng.gauss(0, sd) for _ in range(n)])

    def test_verdicts(self):
        rng = random.Random(5)
        data = {
            "slower": self.noisy(rng, 0.10, 0.01, 12),
            "faster": self.noisy(rng, -0.10, 0.01, 12),
            "same": self.noisy(rng, 0.0, 0.003, 12),
            "noisy": self.noisy(rng, 0.0, 0.30, 12),
            "tiny": self.noisy(rng, 0.01, 0.001, 12),   # significant but under min_effect: no change
            "errored": None,
        }
        v = paired.decide(data, self.settings, 0)
        self.assertEqual(v["slower"].verdict, paired.REGRESSION)
        self.assertEqual(v["faster"].verdict, paired.IMPROVEMENT)
        self.assertEqual(v["same"].verdict, paired.NO_CHANGE)
        self.assertEqual(v["noisy"].verdict, paired.OPEN)
        self.assertEqual(v["tiny"].verdict, paired.NO_CHANGE)
        self.assertEqual(v["errored"].verdict, paired.ERRORED)
        low, high = v["slower"].estimate.interval(0.95)
        self.assertTrue(0.05 < low < 0.10 < high < 0.15)
        self.assertLessEqual(v["slower"].q, self.settings.alpha)
        # at the last look an open benchmark is undecided, decided ones keep their verdict
        last = paired.decide(data, self.settings, 1, v)
        self.assertEqual(last["noisy"].verdict, paired.UNDECIDED)
        self.assertEqual(last["slower"].verdict, paired.REGRESSION)

    def test_regression_interval_excludes_zero_no_change_inside_threshold(self):
        rng = random.Random(9)
        for _ in range(50):
            data = {f"b{i}": self.noisy(rng, rng.choice((0.0, 0.03, 0.08)), 0.02, 12) for i in range(10)}
            for v in paired.decide(data, self.settings, 1).values():
                if v.verdict == paired.REGRESSION:
                    self.assertGreater(v.estimate.interval(0.95)[0], 0)
                if v.verdict == paired.NO_CHANGE:
                    low, high = v.estimate.interval(0.95)
                    self.assertTrue(-self.settings.threshold < low and high < self.settings.threshold)

    def test_idle_looks(self):
        # alpha 0.05 over 4 looks: 0.0125 per look; 2^(1-n) <= 0.0125 from n = 8 on
        self.assertEqual(paired.Settings(looks=(6, 7, 8, 12)).idle_looks(), [6, 7])
        self.assertEqual(paired.Settings().idle_looks(), [])

    def test_settings_check(self):
        self.assertIsNone(paired.Settings().check())
        self.assertIsNotNone(paired.Settings(looks=(9, 6)).check())
        self.assertIsNotNone(paired.Settings(looks=(2,)).check())
        self.assertIsNotNone(paired.Settings(alpha=0).check())


class SequentialTests(unittest.TestCase):
    def run_gate(self, shifts, sd, seed, settings=paired.Settings(looks=(6, 9, 12)), out_of_time=lambda: False,
                 outliers=0.0):
        rng = random.Random(seed)
        asked = []

        def measure(r, open_names):
            asked.append(list(open_names))
            out = {}
            for name in open_names:
                a = 1000.0 * math.exp(rng.gauss(0, 0.5))           # drift: common to both runs of a pair
                noise = rng.gauss(0, sd) if rng.random() >= outliers else rng.choice((-1, 1)) * 1.5
                out[name] = (a, a * (1 + shifts[name]) * math.exp(noise))
            return out
        verdicts, data, rounds = paired.sequential(list(shifts), settings, measure, out_of_time)
        return verdicts, asked, rounds

    def test_closes_clear_benchmarks_early(self):
        shifts = {"slow": 0.10, "same": 0.0, "fast": -0.10}
        verdicts, asked, rounds = self.run_gate(shifts, 0.005, 3)
        self.assertEqual(verdicts["slow"].verdict, paired.REGRESSION)
        self.assertEqual(verdicts["fast"].verdict, paired.IMPROVEMENT)
        self.assertEqual(verdicts["same"].verdict, paired.NO_CHANGE)
        self.assertLess(rounds, 12)                     # all closed before the cap
        self.assertEqual(len(asked), rounds)

    def test_undecided_at_cap_and_budget(self):
        verdicts, asked, rounds = self.run_gate({"noisy": 0.0}, 0.5, 4)
        self.assertEqual(verdicts["noisy"].verdict, paired.UNDECIDED)
        self.assertEqual(rounds, 12)
        calls = []
        verdicts, asked, rounds = self.run_gate({"noisy": 0.0}, 0.5, 4,
                                                out_of_time=lambda: calls.append(1) or len(calls) >= 4)
        self.assertEqual(rounds, 4)
        self.assertEqual(verdicts["noisy"].verdict, paired.UNDECIDED)

    def test_errored_benchmark_is_closed(self):
        def measure(r, open_names):
            return {n: (None if n == "bad" else (1.0, 1.0 + 0.001 * (r % 3 - 1))) for n in open_names}
        verdicts, data, rounds = paired.sequential(["bad", "good"], paired.Settings(looks=(6,)), measure)
        self.assertEqual(verdicts["bad"].verdict, paired.ERRORED)
        self.assertIsNone(data["bad"])
        self.assertEqual(len(data["good"]), 6)

    def test_aa_false_alarms_within_alpha(self):
        # 300 A/A gates of 20 benchmarks with heavy-tailed noise: at most alpha of them may raise any alarm.
        shifts = {f"b{i}": 0.0 for i in range(20)}
        alarmed = sum(any(v.verdict in (paired.REGRESSION, paired.IMPROVEMENT)
                          for v in self.run_gate(shifts, 0.05, seed, outliers=0.1)[0].values())
                      for seed in range(300))
        self.assertLessEqual(alarmed / 300, paired.Settings().alpha)

    def test_detects_a_slowdown_of_every_benchmark(self):
        shifts = {f"b{i}": 0.10 for i in range(10)}
        verdicts, _, _ = self.run_gate(shifts, 0.03, 21)
        self.assertEqual({v.verdict for v in verdicts.values()}, {paired.REGRESSION})


def brute_force_fastest_p(pairs):
    """Two-sided sign-flip p of the ratio of the fastest times, by enumerating every swap of the pairs."""
    observed = abs(math.log(min(b for _, b in pairs) / min(a for a, _ in pairs)))
    hits = 0
    for flips in itertools.product((0, 1), repeat=len(pairs)):
        base = [p[f] for p, f in zip(pairs, flips)]
        head = [p[1 - f] for p, f in zip(pairs, flips)]
        hits += abs(math.log(min(head) / min(base))) >= observed - 1e-12
    return hits / 2 ** len(pairs)


def episodes(rng, n, shift, calm=0.4, drift=0.0, bursts=0.0):
    """n pairs of one benchmark on a machine with slow episodes: each run is calm (time 1 with 1% noise) with
    probability calm, else slowed 1.5-3x (bimodal episodes); drift multiplies round r by 1 + drift * r / n (both
    runs of a pair), a burst (probability bursts) slows one run of a pair 5x. The head is slower by shift."""
    def run(scale):
        t = scale * math.exp(rng.gauss(0, 0.01))
        return t if rng.random() < calm else t * rng.uniform(1.5, 3.0)
    out = []
    for r in range(n):
        level = 1000.0 * (1 + drift * r / n)
        a, b = run(level), run(level * (1 + shift))
        if rng.random() < bursts:
            a, b = (a * 5, b) if rng.random() < 0.5 else (a, b * 5)
        out.append((a, b))
    return out


class FastestTests(unittest.TestCase):
    """The fastest method (paired.fastest_estimate): the ratio of the fastest runs and its sign-flip test."""

    def test_p_matches_enumeration(self):
        rng = random.Random(3)
        for _ in range(200):
            n = rng.randint(2, 10)
            pairs = [(rng.choice((1, 2)) * rng.uniform(1, 1.1), rng.choice((1, 2)) * rng.uniform(1, 1.1)
                      * rng.choice((1, 1.08))) for _ in range(n)]
            self.assertAlmostEqual(paired.fastest_estimate(pairs).p, brute_force_fastest_p(pairs), places=12)

    def test_effect_is_the_ratio_of_the_fastest(self):
        e = paired.fastest_estimate([(10.0, 22.0), (30.0, 11.5), (12.0, 40.0)])
        self.assertAlmostEqual(e.effect, 11.5 / 10.0 - 1)
        self.assertEqual(e.n, 3)
        # two base runs (10, 11) are faster than the fastest head run: p = 2^(1 - 2)
        e = paired.fastest_estimate([(10.0, 22.0), (11.0, 11.5), (12.0, 40.0)])
        self.assertAlmostEqual(e.p, 0.5)
        self.assertAlmostEqual(paired.fastest_estimate([(5.0, 5.0), (6.0, 7.0)]).p, 1.0)

    def test_interval_is_the_set_the_test_does_not_reject(self):
        rng = random.Random(13)
        for n in (7, 9, 12, 16):
            pairs = episodes(rng, n, 0.05)
            e = paired.fastest_estimate(pairs)
            for level in (0.9, 0.95, 0.99):
                low, high = e.interval(level)
                self.assertLessEqual(low, e.effect)
                self.assertGreaterEqual(high, e.effect)
                for theta in [x / 1000 for x in range(-300, 400)]:
                    if min(abs(theta - low), abs(theta - high)) < 1e-6:
                        continue
                    shifted = paired.fastest_estimate([(a, b / (1 + theta)) for a, b in pairs])
                    self.assertEqual(low < theta < high, shifted.p > 1 - level, (n, level, theta, shifted.p))

    def test_interval_infinite_when_too_few_pairs(self):
        e = paired.fastest_estimate([(1.0 + i / 10, 1.2 + i / 10) for i in range(5)])   # 95% needs 6 runs a side
        self.assertEqual(e.interval(0.95), (-1.0, math.inf))
        self.assertNotEqual(e.interval(0.90), (-1.0, math.inf))
        with self.assertRaises(ValueError):
            paired.fastest_estimate([(1.0, 2.0), (0, 2.0)])

    def test_settings(self):
        self.assertIsNone(paired.Settings(method="fastest").check())
        self.assertIsNotNone(paired.Settings(method="median").check())

    def test_decide_with_the_fastest_method(self):
        rng = random.Random(17)
        settings = paired.Settings(looks=(20,), method="fastest")
        data = {"slower": episodes(rng, 20, 0.10, calm=0.8), "faster": episodes(rng, 20, -0.10, calm=0.8),
                "same": episodes(rng, 20, 0.0, calm=0.9), "errored": None}
        v = paired.decide(data, settings, 0)
        self.assertEqual(v["slower"].verdict, paired.REGRESSION)
        self.assertEqual(v["faster"].verdict, paired.IMPROVEMENT)
        self.assertEqual(v["same"].verdict, paired.NO_CHANGE)
        self.assertEqual(v["errored"].verdict, paired.ERRORED)
        self.assertIsInstance(v["slower"].estimate, paired.Fastest)
        low, high = v["slower"].estimate.interval(0.95)
        self.assertTrue(0 < low < 0.10 < high, (low, high))

    def gates(self, method, shift, count, seed, benchmarks=20, **machine):
        """count sequential gates of `benchmarks` benchmarks, each slowed by shift, on the episodes machine."""
        settings = paired.Settings(method=method)
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            series = {f"b{i}": episodes(rng, settings.looks[-1], shift, **machine) for i in range(benchmarks)}
            verdicts, _, _ = paired.sequential(list(series), settings,
                                               lambda r, names: {n: series[n][r] for n in names})
            out.append(verdicts)
        return out

    def test_aa_false_alarms_within_alpha(self):
        # A/A gates on bimodal episodes, a drift and bursts: the test is exact, so at most alpha raise any alarm.
        for machine in ({}, {"drift": 0.5}, {"bursts": 0.2}, {"calm": 0.9}):
            alarmed = sum(any(v.verdict in (paired.REGRESSION, paired.IMPROVEMENT) for v in g.values())
                          for g in self.gates("fastest", 0.0, 150, 23, **machine))
            self.assertLessEqual(alarmed / 150, paired.Settings().alpha, machine)

    def test_decides_slowdowns_that_the_paired_method_cannot(self):
        # Bimodal episodes: a pair's log-ratio spreads over +-ln 3, the fastest runs of each side within 1%.
        # 10 gates of 20 benchmarks, every one slowed: how many regressions each method finds.
        for shift in (0.10, 0.05):
            found = {method: sum(v.verdict == paired.REGRESSION for g in self.gates(method, shift, 10, 29, calm=0.6)
                                 for v in g.values()) for method in paired.METHODS}
            self.assertGreaterEqual(found["fastest"], 0.9 * 10 * 20, (shift, found))
            self.assertLess(found["paired"], 0.1 * 10 * 20, (shift, found))


if __name__ == "__main__":
    unittest.main()
