"""The CPython reference's sizes (default, --quick, --seed-sizes) and benchmark names."""

import collections
import multiprocessing

from .kernels import KERNELS
from .payload import PAYLOAD_STRATEGIES
from .strategies import START_METHODS, STRATEGIES


def strategies_for(kind):
    """The strategies, by name, that run a kind of kernel (the payload kernel has classes of its own)."""
    return PAYLOAD_STRATEGIES if kind == "payload" else STRATEGIES


# workers: None = --workers (or its default); a list = these counts unless --workers is given; a dict = only the
# strategies it names, each with its counts unless --workers is given (the scale cases).
Case = collections.namedtuple("Case", "kernel n workers")

SCALE = {"cpython.threads": [1000], "cpython.thread_pool": [4], "cpython.asyncio": [1000]}
DEFAULT_CASES = [  # the seeds' cases: chosen so that `--workers 1,2` takes about a minute on 2 cores
    Case("count", 4_000_000, None),
    Case("count", 100_000, None),
    Case("sum_range", 4_000_000, None),
    Case("random_max", 250_000, None),
    Case("locked_counter.coarse", 1_000_000, None),
    Case("sleep_tasks", 20, None),
    # Issue 25's uneven work at bench_parallel's default sizes (bench/matrix.cpp).
    Case("uneven.triangular", 4096, None),
    Case("uneven.heavy_tail", 65536, None),
    # Issue 26's sockets at bench_parallel's default sizes (bench/sockets.cpp: the sockets family, then scale:
    # 1,000 tasks, all in flight under threads and asyncio, 4 at a time under the thread pool).
    # Issue 25's payload: n doubles the caller holds, B = 8n bytes from 4 KiB to 16 MiB, at a fixed work per run
    # (--payload-work): pure-Python work per element, so past 2^20 elements (one chain step each) it grows with B.
    Case("payload", 1 << 9, None),
    Case("payload", 1 << 13, None),
    Case("payload", 1 << 17, None),
    Case("payload", 1 << 21, None),
    # payload.numpy (where numpy imports): numpy's loops cost ~1 ns an element, so B reaches 256 MiB at
    # bench_parallel's work per run, 2^25 steps.
] + [Case("payload.numpy", 1 << e, None) for e in (9, 13, 17, 21, 25) if "payload.numpy" in KERNELS] + [
    Case("socket_tasks.delay_0us", 64, None),
    Case("socket_tasks.delay_1000us", 64, None),
    Case("sleep_tasks", 1000, SCALE),
    Case("socket_tasks.delay_1000us", 1000, SCALE),
]
QUICK_CASES = [
    Case("count", 20_000, None),
    Case("sum_range", 20_000, None),
    Case("random_max", 5_000, None),
    Case("locked_counter.coarse", 20_000, None),
    Case("sleep_tasks", 4, None),
    Case("uneven.triangular", 256, None),
    Case("uneven.heavy_tail", 1024, None),
    Case("payload", 1 << 6, None),
    Case("payload", 1 << 12, None),
] + [Case("payload.numpy", 1 << e, None) for e in (6, 12) if "payload.numpy" in KERNELS] + [
    Case("socket_tasks.delay_0us", 8, None),
    Case("socket_tasks.delay_1000us", 8, None),
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


def default_methods(kind):
    """The start methods a kind of kernel runs when --start-methods is not given: every one for the seeds'
    kernels; the interpreter's default for the others (issues 25 and 26), whose pools start outside the timing."""
    return START_METHODS if kind == "seed" else [multiprocessing.get_start_method()]


def build_benchmarks(cases, workers, methods=None, default_workers=(1,)):
    """Every (case, strategy, W) of a strategy that runs the case's kind of kernel; sequential once per case with
    workers 1; process strategies only for the start methods in `methods` (None: default_methods)."""
    benches = []
    for case in cases:
        kind = KERNELS[case.kernel].kind
        kind_methods = methods if methods is not None else default_methods(kind)
        for strategy, cls in strategies_for(kind).items():
            if kind not in cls.kinds:
                continue
            method = getattr(cls, "method", None)
            if method is not None and method not in kind_methods:
                continue
            if isinstance(case.workers, dict):
                if strategy not in case.workers:
                    continue
                counts = workers or case.workers[strategy]
            else:
                counts = workers or case.workers or default_workers
            if strategy == "cpython.sequential":
                counts = [1]
            for w in counts:
                benches.append(Bench(bench_name(case.kernel, strategy, w, case.n),
                                     case.kernel, strategy, w, case.n))
    return benches
