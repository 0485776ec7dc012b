"""Change points in one benchmark's history: E-divisive means on ranks, with a permutation test.

The history is one value per commit, in commit order (the median time of a run). Binary segmentation: in a
segment, the split that maximises the energy statistic of E-divisive means (Matteson and James, 2014; exponent 1)

    Q(tau) = tau (n - tau) / n * [ 2 mean|x_i - y_j| - mean|x_i - x_k| - mean|y_j - y_k| ]

(x the points before tau, y those from tau on) is a candidate. Its p-value is a permutation test: the share of
random orders of the segment whose best split scores at least as high, so it holds whatever the distribution of
the noise. A candidate with p <= the significance splits the segment, and both halves are searched again.

The statistic is computed on the ranks of the values within the segment, not the values: a history of a noisy
runner holds outliers (a run slowed several-fold), which would dominate |x - y| and hide a 10% step; a rank moves
by one place however far the outlier is.

The split is then moved, by at most 5 points, to where the absolute deviations from the medians of the two sides
are least (it places the step where the levels meet, which the energy statistic's maximum can miss by a few points
when outliers fall on one side). Each change point is reported with its index (the first point after the change),
p, and its size: the median of the segment after it over the median of the segment before it, minus 1.

Needs numpy.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChangePoint:
    index: int        # first point of the new level
    size: float       # median after / median before - 1
    p: float


def _rank(x):
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    return ranks


def _best_splits(batch, min_size):
    """Best split and its statistic for each row of batch (shape R x n): (taus, q_max)."""
    r, n = batch.shape
    d = np.abs(batch[:, :, None] - batch[:, None, :])              # R x n x n
    p = np.zeros((r, n + 1, n + 1))
    p[:, 1:, 1:] = d.cumsum(axis=1).cumsum(axis=2)                 # 2-D prefix sums
    taus = np.arange(min_size, n - min_size + 1)
    full = p[:, n, n][:, None]
    left = p[:, taus, taus]                                        # sum of d over [0, tau)^2
    top = p[:, taus, n]                                            # sum over [0, tau) x [0, n)
    cross = top - left
    right = full - 2 * top + left
    t = taus.astype(float)
    u = n - t
    q = t * u / n * (2 * cross / (t * u) - left / (t * (t - 1)) - right / (u * (u - 1)))
    best = np.argmax(q, axis=1)
    return taus[best], q[np.arange(r), best]


def test_segment(values, min_size=5, permutations=199, rng=None, give_up_above=1.0):
    """The best split of values (relative index) and its permutation p, or None when too short.

    Stops permuting once p is sure to exceed give_up_above (it then returns a p above it, not the exact one).
    """
    n = len(values)
    if n < 2 * min_size:
        return None
    rng = rng if rng is not None else np.random.default_rng(0)
    ranks = _rank(np.asarray(values, dtype=float))
    tau, q_obs = _best_splits(ranks[None, :], min_size)
    exceed, done, chunk = 0, 0, max(1, min(25, 4_000_000 // (n * n)))
    while done < permutations:
        k = min(chunk, permutations - done)
        batch = np.array([rng.permutation(ranks) for _ in range(k)])
        _, q = _best_splits(batch, min_size)
        exceed += int(np.sum(q >= q_obs[0] - 1e-9))
        done += k
        if (1 + exceed) / (1 + permutations) > give_up_above:
            break
    return int(tau[0]), (1 + exceed) / (1 + permutations)


def _refine(x, tau, min_size, window=5):
    """The split near tau (within window) with the least absolute deviation from the two sides' medians.

    The energy statistic's best split is a robust detector but, with outliers on one side, can sit a few points
    off the step; the least-absolute-deviation split places it where the two levels meet.
    """
    best, best_cost = tau, None
    for t in range(max(min_size, tau - window), min(len(x) - min_size, tau + window) + 1):
        left, right = x[:t], x[t:]
        cost = np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum()
        if best_cost is None or cost < best_cost - 1e-12:
            best, best_cost = t, cost
    return best


def detect(values, significance=0.01, min_size=5, permutations=199, seed=0):
    """Change points of a history (a sequence of positive numbers), sorted by index."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    found = []
    segments = [(0, len(values))]
    while segments:
        lo, hi = segments.pop()
        result = test_segment(values[lo:hi], min_size, permutations, rng, significance)
        if result is None:
            continue
        tau, p = result
        if p > significance:
            continue
        tau = _refine(np.log(values[lo:hi]), tau, min_size)
        found.append((lo + tau, p))
        segments += [(lo, lo + tau), (lo + tau, hi)]
    found.sort()
    out = []
    bounds = [0] + [i for i, _ in found] + [len(values)]
    for k, (index, p) in enumerate(found):
        before = np.median(values[bounds[k]:index])
        after = np.median(values[index:bounds[k + 2]])
        out.append(ChangePoint(index, float(after / before - 1), p))
    return out


def synthetic_history(rng, length, noise, outliers, steps=(), drift=0.0):
    """Positive values around 1000: log-normal noise, steps (index, size) from index on, a linear drift of the
    given total size over the history, and a share of outliers slowed 1.5-3x."""
    x = rng.normal(0.0, noise, length)
    for index, size in steps:
        x[index:] += np.log1p(size)
    x += np.linspace(0.0, np.log1p(drift), length)
    values = 1000.0 * np.exp(x)
    hit = rng.random(length) < outliers
    values[hit] *= rng.uniform(1.5, 3.0, int(hit.sum()))
    return values


def synthetic_rates(histories, length, noise, step, outliers, significance=0.01, seed=1, min_size=5,
                    tolerance=2):
    """Lines describing the detector on synthetic histories: found steps, false change points, drifts.

    A step counts as found when a change point lies within `tolerance` points of it; any other change point is
    false (in the drift scenario there is no step: every change point is counted, none is false or true).
    """
    rng = np.random.default_rng(seed)
    lo, hi = 2 * min_size, length - 2 * min_size
    false_cp = points = 0
    for h in range(histories):
        found = detect(synthetic_history(rng, length, noise, outliers), significance, min_size, seed=h)
        false_cp += len(found)
        points += length
    steps_found = steps_total = step_false = 0
    for h in range(histories):
        index = int(rng.integers(lo, hi))
        size = step if h % 2 == 0 else -step / (1 + step)   # half slow-downs, half the matching speed-ups
        found = detect(synthetic_history(rng, length, noise, outliers, [(index, size)]), significance, min_size,
                       seed=h)
        near = [cp for cp in found if abs(cp.index - index) <= tolerance]
        steps_found += bool(near)
        steps_total += 1
        step_false += len(found) - min(1, len(near))
    two_found = two_total = 0
    for h in range(histories):
        a = int(rng.integers(lo, length // 2 - min_size))
        b = int(rng.integers(length // 2 + min_size, hi))
        found = detect(synthetic_history(rng, length, noise, outliers, [(a, step), (b, -step / (1 + step))]),
                       significance, min_size, seed=h)
        two_found += sum(any(abs(cp.index - t) <= tolerance for cp in found) for t in (a, b))
        two_total += 2
    drift_cps = []
    for h in range(histories):
        drift_cps.append(len(detect(synthetic_history(rng, length, noise, outliers, drift=step), significance,
                                    min_size, seed=h)))
    return [
        f"stationary: {false_cp} false change points in {points} points = {1000 * false_cp / points:.2f} per 1,000",
        f"one step of ±{step:.0%}: found {steps_found}/{steps_total} = {100 * steps_found / steps_total:.1f}% "
        f"(within {tolerance} points); {step_false} other change points in {steps_total * length} points "
        f"= {1000 * step_false / (steps_total * length):.2f} per 1,000",
        f"two steps (+{step:.0%} then back): found {two_found}/{two_total} = {100 * two_found / two_total:.1f}%",
        f"linear drift of {step:.0%} over the history, no step: change points per history: "
        f"none in {drift_cps.count(0)}, one in {drift_cps.count(1)}, more in "
        f"{sum(c > 1 for c in drift_cps)} of {histories}",
    ]
