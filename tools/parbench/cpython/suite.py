"""The CPython reference's sizes (default, --quick, --seed-sizes) and benchmark names."""

import collections

from .strategies import STRATEGIES

Case = collections.namedtuple("Case", "kernel n workers")  # workers: None = --workers

DEFAULT_CASES = [  # chosen so that `--workers 1,2` takes about a minute on 2 cores
    Case("count", 4_000_000, None),
    Case("count", 100_000, None),
    Case("sum_range", 4_000_000, None),
    Case("random_max", 250_000, None),
    Case("locked_counter.coarse", 1_000_000, None),
    Case("sleep_tasks", 20, None),
]
QUICK_CASES = [
    Case("count", 20_000, None),
    Case("sum_range", 20_000, None),
    Case("random_max", 5_000, None),
    Case("locked_counter.coarse", 20_000, None),
    Case("sleep_tasks", 4, None),
]
SEED_CASES = [  # the seeds' own sizes and worker counts
    Case("count", 200_000_000, [2]),            # seed 001: 2e8 on 2 threads/processes
    Case("count", 100_000, [1, 4]),             # seed 000: 1e5 on 4, and one thread
    Case("sum_range", 500_000_000, [2]),        # seed 003
    Case("random_max", 25_000_000, [5]),        # seed 002: 5 x 5e6 on 5 threads
    Case("locked_counter.coarse", 1_000_000, [2]),  # seed 000
    Case("sleep_tasks", 3, [3]),                # seed 004: 3 tasks x 3 s, pools of 3
]
SEED_SLEEP_MS = 3000.0

Bench = collections.namedtuple("Bench", "name kernel strategy workers n")


def bench_name(kernel, strategy, workers, n):
    return "%s/%s/workers:%d/n:%d/real_time" % (kernel, strategy, workers, n)


def build_benchmarks(cases, workers, methods=None):
    """Every (case, strategy, W); sequential once per case with workers 1; process
    strategies only for the start methods in `methods` (None: all)."""
    benches = []
    for case in cases:
        case_workers = case.workers if case.workers is not None and workers is None \
            else (workers or [1])
        for strategy, cls in STRATEGIES.items():
            method = getattr(cls, "method", None)
            if method is not None and methods is not None and method not in methods:
                continue
            counts = [1] if strategy == "cpython.sequential" else case_workers
            for w in counts:
                benches.append(Bench(bench_name(case.kernel, strategy, w, case.n),
                                     case.kernel, strategy, w, case.n))
    return benches
