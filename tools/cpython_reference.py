#!/usr/bin/env python3
"""CPython reference run of the seeds' experiments, written as Google Benchmark JSON.

The seed posts (docs/seeds.md describes each; "seed 001" below is its "Seed 001" section)
measured threading, multiprocessing and concurrent.futures on their authors' machines.
This script runs the same experiments under the interpreter that
runs it, on this machine, with the kernels and totals of parbench's C++ kernels, and
writes the JSON shape of Google Benchmark 1.7.1's JSON reporter, so that a report tool
can put CPython beside C++.

Standard library only (and tools/parbench/schema.py and cli.py, the JSON format and command
line the tools share, which are standard library only too); runs under any CPython 3.8+.

Kernels (one chunk [begin, end) of a range [0, n) per worker):
  count                  a while loop incrementing a local counter (seed 001); total n
  sum_range              sum of i (seed 003); total n(n-1)/2, exact Python ints
  random_max             splitmix64(i) mapped to [0, 1), materialised into a list, then
                         max (seed 002); lists hold at most 5,000,000 values (the seed's
                         list size), longer chunks go in consecutive blocks; oracle: the
                         same loop run once serially, outside the timing
  locked_counter.coarse  a shared counter incremented n times, each worker holding one
                         lock for its whole chunk (seed 000); threads share a plain
                         object under a threading.Lock, processes a multiprocessing.Value
                         ('q', synchronised as in the seed) under a multiprocessing.Lock
  sleep_tasks            n tasks sleeping --sleep-ms each and returning i+1 (seed 004);
                         total n(n+1)/2

Strategies:
  cpython.sequential    one chunk in the caller's thread
  cpython.threads       a threading.Thread per worker per run
  cpython.processes.M   a multiprocessing.Process per worker per run; results come back
                        through a multiprocessing.Array (shared memory, one slot per
                        worker), created once per benchmark outside the timing
  cpython.thread_pool   ThreadPoolExecutor(W), created and warmed up outside the timing
  cpython.process_pool.M
                        ProcessPoolExecutor(W), created and warmed up outside the timing;
                        the locked counter's Value and Lock reach its workers through the
                        pool initializer (they cannot be pickled into a task)
M is the start method of the worker processes: one strategy per method the interpreter
offers (fork, spawn and forkserver on Linux; --start-methods picks some), with the
Array, Value, Lock and pool all made by that method's multiprocessing context.
Each run submits W balanced chunks (sizes differ by at most one).

Timing follows Google Benchmark with UseRealTime(): iterations grow until a batch takes
--min-time, the mean wall time per iteration of the last batch is reported, and with
--repetitions the first repetition's iteration count is reused. Pools are created and
warmed up again for each repetition. --interleave runs the repetitions in shuffled
rounds, which spreads a noisy machine's slow phases over all benchmarks. cpu_time is the calling
thread's CPU time (GB's default timer), which misses workers: read real_time.

Every run checks its total against the expected one. A wrong total, a worker that
raised, or a process that exited non-zero makes the benchmark an error entry
(error_occurred, real_time 0) and the script exits 1: a crashed run is never a time.
Exit status: 0 all benchmarks ran and checked, 1 some errored, 2 bad arguments.
"""

import argparse
import collections
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import random
import re
import socket
import sys
import threading
import time

from parbench import cli, schema  # standard library only, like this script (tools/parbench/)

MASK64 = (1 << 64) - 1
TWO_POW_MINUS_53 = 2.0 ** -53
RANDOM_MAX_BLOCK = 5_000_000  # seed 002's list length
FAULT_EXIT_CODE = 3
MAX_ITERATIONS = 1_000_000_000
TIME_UNIT = "ms"


# ---------------------------------------------------------------- kernels
# Chunk functions live at module top level so that spawn could pickle them.
# Signature: fn(begin, end, arg) -> chunk result.


def count_chunk(begin, end, arg):
    """Seed 001's loop: increment a local counter once per element."""
    count = 0
    remaining = end - begin
    while count < remaining:
        count += 1
    return count


def sum_range_chunk(begin, end, arg):
    """Seed 003's loop: add every index."""
    total = 0
    for i in range(begin, end):
        total += i
    return total


def splitmix64_unit(i):
    """The value of index i: splitmix64(i) mapped to [0, 1) (C++ kernel's generator)."""
    z = (i + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return (z >> 11) * TWO_POW_MINUS_53


def random_max_chunk(begin, end, arg):
    """Seed 002: materialise the values into a list, then max; empty range gives 0.0.

    splitmix64 is inlined (same arithmetic as splitmix64_unit) because a call per
    element would double the cost and measure calls instead of the seed's work.
    """
    best = 0.0
    for block_begin in range(begin, end, RANDOM_MAX_BLOCK):
        values = []
        append = values.append
        for i in range(block_begin, min(end, block_begin + RANDOM_MAX_BLOCK)):
            z = (i + 0x9E3779B97F4A7C15) & MASK64
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            z ^= z >> 31
            append((z >> 11) * TWO_POW_MINUS_53)
        best = max(best, max(values))
    return best


def locked_counter_chunk(begin, end, state):
    """Seed 000: hold the lock for the whole chunk, increment the shared counter.

    The counter carries the total; the chunk result is 0 so that combine() can add
    results and counter alike (and a fault can still add to the result).
    """
    lock, counter = state
    with lock:
        for _ in range(begin, end):
            counter.value += 1
    return 0


def sleep_tasks_chunk(begin, end, sleep_s):
    """Seed 004: each task sleeps, then returns its index + 1."""
    total = 0
    for i in range(begin, end):
        time.sleep(sleep_s)
        total += i + 1
    return total


class Counter:
    """The threads' shared counter: a plain object, like seed 000's global int."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


_POOL_COUNTER = None  # (Lock, Value) installed in process-pool workers


def install_pool_counter(lock, value):
    """Process-pool initializer: synchronised objects reach workers only this way."""
    global _POOL_COUNTER
    _POOL_COUNTER = (lock, value)


def pool_locked_counter_chunk(begin, end, arg):
    """locked_counter.coarse inside a process-pool worker, on the installed counter."""
    return locked_counter_chunk(begin, end, _POOL_COUNTER)


def warmup_task(seconds):
    """Keeps a pool worker busy so that every worker gets started."""
    time.sleep(seconds)
    return os.getpid()


def run_chunk(fn, begin, end, arg, fault=None):
    """Run one chunk, with the test-only fault injected when asked.

    fault: None; "exit" (the process dies with FAULT_EXIT_CODE); "raise" (the
    worker raises); "wrong" (the worker returns a result one too large).
    """
    if fault == "exit":
        os._exit(FAULT_EXIT_CODE)
    if fault == "raise":
        raise RuntimeError("injected fault (--inject-fault=crash)")
    result = fn(begin, end, arg)
    if fault == "wrong":
        result += 1
    return result


def process_main(fn, begin, end, arg, fault, results, index):
    """Body of a cpython.processes worker: write the chunk result into its slot."""
    results[index] = run_chunk(fn, begin, end, arg, fault)


def combine_sum(results):
    return sum(results)


def combine_max(results):
    return max([0.0] + list(results))


Kernel = collections.namedtuple(
    "Kernel", "name chunk combine typecode shared closed_form")

KERNELS = collections.OrderedDict((k.name, k) for k in [
    Kernel("count", count_chunk, combine_sum, "q", False, lambda n, s: n),
    Kernel("sum_range", sum_range_chunk, combine_sum, "q", False,
           lambda n, s: n * (n - 1) // 2),
    Kernel("random_max", random_max_chunk, combine_max, "d", False, None),
    Kernel("locked_counter.coarse", locked_counter_chunk, combine_sum, "q", True,
           lambda n, s: n),
    Kernel("sleep_tasks", sleep_tasks_chunk, combine_sum, "q", False,
           lambda n, s: n * (n + 1) // 2),
])

_ORACLE_CACHE = {}


def expected_total(kernel, n, sleep_s):
    """Closed form where there is one; else the serial loop, run once and cached."""
    if kernel.closed_form is not None:
        return kernel.closed_form(n, sleep_s)
    key = (kernel.name, n)
    if key not in _ORACLE_CACHE:
        _ORACLE_CACHE[key] = kernel.chunk(0, n, None)
    return _ORACLE_CACHE[key]


def split(n, parts):
    """[0, n) in `parts` chunks whose sizes differ by at most one (empty when parts > n)."""
    base, extra = divmod(n, parts)
    chunks, begin = [], 0
    for i in range(parts):
        end = begin + base + (1 if i < extra else 0)
        chunks.append((begin, end))
        begin = end
    return chunks


# ---------------------------------------------------------------- strategies


class WorkerError(Exception):
    """A worker failed: which one and why."""


def describe_exit(what, process):
    code = process.exitcode
    if code is not None and code < 0:
        return "%s (pid %s) was killed by signal %d" % (what, process.pid, -code)
    return "%s (pid %s) exited with code %s" % (what, process.pid, code)


class Strategy:
    """One way of running a workload: setup() and close() lie outside the timing."""

    name = None
    fault_kind = "raise"  # how --inject-fault=crash shows in this strategy

    def __init__(self, kernel, n, workers, sleep_s, fault):
        self.kernel, self.n, self.workers, self.sleep_s = kernel, n, workers, sleep_s
        self.chunks = split(n, workers)
        self.fault = {"crash": self.fault_kind, "wrong": "wrong"}.get(fault)

    def fault_for(self, index):
        return self.fault if index == 0 else None

    def thread_arg(self):
        """Per-run argument for in-process workers: fresh counter state or sleep time."""
        if self.kernel.shared:
            return (threading.Lock(), Counter())
        return self.sleep_s

    def total(self, results, arg):
        combined = self.kernel.combine(results)
        if self.kernel.shared:
            combined += arg[1].value
        return combined

    def setup(self):
        pass

    def run(self):
        raise NotImplementedError

    def close(self):
        pass


class Sequential(Strategy):
    name = "cpython.sequential"

    def run(self):
        arg = self.thread_arg()
        result = run_chunk(self.kernel.chunk, 0, self.n, arg, self.fault_for(0))
        return self.total([result], arg)


def thread_main(fn, begin, end, arg, fault, results, errors, index):
    """Body of a cpython.threads worker: keep the result or the exception for the caller."""
    try:
        results[index] = run_chunk(fn, begin, end, arg, fault)
    except BaseException as exc:  # reported in the caller, never swallowed
        errors[index] = exc


class Threads(Strategy):
    name = "cpython.threads"

    def run(self):
        arg = self.thread_arg()
        results = [None] * self.workers
        errors = [None] * self.workers
        threads = [threading.Thread(
            target=thread_main,
            args=(self.kernel.chunk, b, e, arg, self.fault_for(i), results, errors, i))
            for i, (b, e) in enumerate(self.chunks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, exc in enumerate(errors):
            if exc is not None:
                raise WorkerError("thread worker %d raised %s: %s"
                                  % (i, type(exc).__name__, exc))
        return self.total(results, arg)


class ProcessStrategy(Strategy):
    """A strategy whose workers are processes started by one start method (fork, spawn or
    forkserver): start_method() makes the concrete class, named <name>.<method>."""

    fault_kind = "exit"
    method = None

    @classmethod
    def start_method(cls, method):
        return type("%s_%s" % (cls.__name__, method), (cls,),
                    {"name": "%s.%s" % (cls.name, method), "method": method})

    @property
    def context(self):
        return multiprocessing.get_context(self.method)


class Processes(ProcessStrategy):
    name = "cpython.processes"

    def setup(self):
        ctx = self.context
        self.results = ctx.Array(self.kernel.typecode, self.workers, lock=False)
        if self.kernel.shared:
            self.arg = (ctx.Lock(), ctx.Value("q", 0))
        else:
            self.arg = self.sleep_s
        if self.kernel.typecode == "q":
            biggest = expected_total(self.kernel, self.n, self.sleep_s)
            if biggest >= 1 << 63:
                raise WorkerError("n too large for the int64 result slots")

    def run(self):
        for i in range(self.workers):
            self.results[i] = 0
        if self.kernel.shared:
            self.arg[1].value = 0
        procs = [self.context.Process(
            target=process_main,
            args=(self.kernel.chunk, b, e, self.arg, self.fault_for(i), self.results, i))
            for i, (b, e) in enumerate(self.chunks)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        for i, p in enumerate(procs):
            if p.exitcode != 0:
                raise WorkerError(describe_exit("process worker %d" % i, p))
        return self.total(list(self.results), self.arg)


class ThreadPool(Strategy):
    name = "cpython.thread_pool"

    def setup(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        warm = [self.pool.submit(warmup_task, 0.02) for _ in range(self.workers)]
        for f in warm:
            f.result()

    def run(self):
        arg = self.thread_arg()
        futures = [self.pool.submit(run_chunk, self.kernel.chunk, b, e, arg, self.fault_for(i))
                   for i, (b, e) in enumerate(self.chunks)]
        return self.total(self.collect(futures), arg)

    def collect(self, futures):
        results = []
        for i, f in enumerate(futures):
            try:
                results.append(f.result())
            except Exception as exc:
                raise WorkerError("%s task %d raised %s: %s"
                                  % (self.name, i, type(exc).__name__, exc)) from None
        return results

    def close(self):
        self.pool.shutdown(wait=True)


class ProcessPool(ProcessStrategy, ThreadPool):
    name = "cpython.process_pool"

    def setup(self):
        ctx = self.context
        self.counter = (ctx.Lock(), ctx.Value("q", 0))
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=install_pool_counter,
            initargs=self.counter)
        warm = [self.pool.submit(warmup_task, 0.05) for _ in range(self.workers)]
        for f in warm:
            f.result()
        # Private, read only to name a dead worker's exit code in error messages.
        self.processes = list((getattr(self.pool, "_processes", None) or {}).values())

    def run(self):
        if self.kernel.shared:
            self.counter[1].value = 0
            fn, arg = pool_locked_counter_chunk, None
        else:
            fn, arg = self.kernel.chunk, self.sleep_s
        try:
            # A worker that dies before the last chunk is submitted breaks the pool, and
            # submit() itself raises BrokenProcessPool: the same fault as a failed future.
            futures = []
            for i, (b, e) in enumerate(self.chunks):
                try:
                    futures.append(self.pool.submit(run_chunk, fn, b, e, arg, self.fault_for(i)))
                except concurrent.futures.process.BrokenProcessPool as exc:
                    raise WorkerError("%s submitting task %d raised %s: %s"
                                      % (self.name, i, type(exc).__name__, exc)) from None
            results = self.collect(futures)
        except WorkerError as err:
            raise WorkerError("%s%s" % (err, self.dead_workers())) from None
        return self.total(results, self.counter)

    def dead_workers(self):
        """Exit codes of the pool's workers, read once the pool has reaped them all.

        A worker's death breaks the pool: its manager thread fails every future, then
        terminates and joins every worker. The futures fail before the joins, so the
        exit codes are not known yet when collect() raises; shutting the pool down
        waits for that thread, after which every exit code is set (no polling, no
        deadline: the answer does not depend on how loaded the machine is).
        """
        self.pool.shutdown(wait=True)
        dead = [describe_exit("pool worker %d" % i, p)
                for i, p in enumerate(self.processes) if p.exitcode not in (None, 0)]
        return "; " + "; ".join(dead) if dead else ""


# Every start method this interpreter offers (fork, spawn, forkserver on Linux), each its own
# strategy, so that a process figure is always compared with one started the same way.
START_METHODS = multiprocessing.get_all_start_methods()
STRATEGIES = collections.OrderedDict(
    (s.name, s) for s in [Sequential, Threads]
    + [Processes.start_method(m) for m in START_METHODS] + [ThreadPool]
    + [ProcessPool.start_method(m) for m in START_METHODS])


# ---------------------------------------------------------------- sizes and names

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


# ---------------------------------------------------------------- measuring


class RunError(Exception):
    """A benchmark run that must be reported as an error, after `iterations` tries."""

    def __init__(self, message, iterations):
        super().__init__(message)
        self.iterations = iterations


def time_batch(strategy, expected, iterations):
    """Run `iterations` runs; real and calling-thread CPU seconds. Checks every total."""
    real = cpu = 0.0
    for i in range(iterations):
        c0, t0 = time.thread_time(), time.perf_counter()
        try:
            total = strategy.run()
        except Exception as exc:
            text = str(exc) if isinstance(exc, WorkerError) else \
                "%s: %s" % (type(exc).__name__, exc)
            raise RunError(text, i + 1) from None
        t1, c1 = time.perf_counter(), time.thread_time()
        real += t1 - t0
        cpu += c1 - c0
        if total != expected:
            raise RunError("wrong total: got %r, expected %r" % (total, expected), i + 1)
    return real, cpu


def measure(strategy, expected, min_time, iterations=None):
    """Google Benchmark's iteration growth (1.7.1 PredictNumItersNeeded)."""
    if iterations is not None:
        return (iterations,) + time_batch(strategy, expected, iterations)
    iters = 1
    while True:
        real, cpu = time_batch(strategy, expected, iters)
        if real >= min_time or iters >= MAX_ITERATIONS:
            return iters, real, cpu
        multiplier = min_time * 1.4 / max(real, 1e-9)
        if real / max(min_time, 1e-9) <= 0.1:
            multiplier = 10.0
        iters = min(MAX_ITERATIONS, max(int(round(multiplier * iters)), iters + 1))


def iteration_entry(bench, family, instance, repetitions, index, iters, real, cpu):
    counters = {"items_per_second": bench.n * iters / real if real > 0 else 0.0}
    return schema.iteration_entry(bench.name, family, instance, repetitions, index, iters, real, cpu,
                                  TIME_UNIT, counters)


def error_entry(bench, family, instance, repetitions, index, iters, message):
    return schema.error_entry(bench.name, family, instance, repetitions, index, iters, message, TIME_UNIT)


class BenchmarkRun:
    """One benchmark's repetitions: each sets its strategy up, measures, closes it."""

    def __init__(self, bench, family, instance, args):
        self.bench, self.family, self.instance = bench, family, instance
        self.repetitions, self.min_time = args.repetitions, args.min_time
        kernel = KERNELS[bench.kernel]
        sleep_s = args.sleep_ms / 1e3
        self.strategy = STRATEGIES[bench.strategy](kernel, bench.n, bench.workers,
                                                   sleep_s, args.inject_fault)
        self.expected = expected_total(kernel, bench.n, sleep_s)
        self.runs, self.iterations = [], None

    def repetition(self, rep, log):
        bench = self.bench
        ids = (bench, self.family, self.instance, self.repetitions, rep)
        try:
            self.strategy.setup()
        except Exception as exc:
            message = "setup failed: %s: %s" % (type(exc).__name__, exc)
            self.runs.append(error_entry(*ids, 0, message))
            log("%-72s ERROR %s" % (bench.name, message))
            return
        try:
            iters, real, cpu = measure(self.strategy, self.expected, self.min_time,
                                       self.iterations)
            self.iterations = iters
            self.runs.append(iteration_entry(*ids, iters, real, cpu))
            log("%-72s %12.3f %s %8d" % (bench.name, self.runs[-1]["real_time"], TIME_UNIT, iters))
        except RunError as err:
            self.runs.append(error_entry(*ids, err.iterations, str(err)))
            log("%-72s ERROR %s" % (bench.name, err))
        finally:
            self.strategy.close()

    def entries(self):
        runs = sorted(self.runs, key=lambda r: r["repetition_index"])
        return runs + schema.aggregate_entries(runs, ["items_per_second"])


def schedule(runners, repetitions, interleave):
    """(runner, repetition) in GB's order: all repetitions of a benchmark together, or
    with --interleave, one round per repetition in a shuffled order, so that a slow
    phase of a noisy machine spreads over all benchmarks instead of hitting one."""
    if not interleave:
        return [(r, rep) for r in runners for rep in range(repetitions)]
    order = []
    for rep in range(repetitions):
        round_ = list(runners)
        random.shuffle(round_)
        order.extend((r, rep) for r in round_)
    return order


# ---------------------------------------------------------------- context and CLI


def mhz_per_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("cpu mhz"):
                    return int(round(float(line.split(":")[1])))
    except (OSError, ValueError, IndexError):
        pass
    return 0


def context(args):
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return collections.OrderedDict([
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("host_name", socket.gethostname()),
        ("executable", os.path.abspath(sys.argv[0])),
        ("num_cpus", os.cpu_count() or 0),
        ("mhz_per_cpu", mhz_per_cpu()),
        ("cpu_scaling_enabled", False),
        ("caches", []),
        ("load_avg", load),
        ("library_build_type", "release"),
        ("python_version", platform.python_version()),
        ("python_implementation", platform.python_implementation()),
        ("python_executable", sys.executable),
        ("switch_interval", sys.getswitchinterval()),
        ("hardware_threads", os.cpu_count() or 0),
        ("usable_cpus", usable),
        ("multiprocessing_start_method", multiprocessing.get_start_method()),
        ("multiprocessing_start_methods", list(args.start_methods)),
        ("processes_results_channel", "multiprocessing.Array"),
        ("min_time", args.min_time),
        ("interleaved_repetitions", args.interleave),
        ("sleep_ms", args.sleep_ms),
    ])


def positive_int_list(text):
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers, got %r" % text)
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("worker counts must be integers >= 1, got %r" % text)
    return values


def start_method_list(text):
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in START_METHODS]
    if not methods or unknown:
        raise argparse.ArgumentTypeError("start methods must be among %s, got %r"
                                         % (",".join(START_METHODS), text))
    return list(dict.fromkeys(methods))


def non_negative_float(text):
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, got %r" % text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a finite number >= 0, got %r" % text)
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an integer, got %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected an integer >= 1, got %r" % text)
    return value


def regex(text):
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError("bad regular expression %r: %s" % (text, exc))


def parse_args(argv):
    parser = cli.ArgumentParser(
        description="Run the seeds' experiments under CPython (threading, multiprocessing, "
                    "concurrent.futures) and write Google Benchmark JSON.")
    parser.add_argument("--out", metavar="FILE", help="write the JSON here (default stdout)")
    parser.add_argument("--filter", type=regex, metavar="REGEX",
                        help="run only benchmarks whose name matches (re.search)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true",
                       help="tiny sizes and --min-time 0.01 (a few seconds; for ctest)")
    sizes.add_argument("--seed-sizes", action="store_true",
                       help="the seeds' own sizes and worker counts (many minutes)")
    parser.add_argument("--workers", type=positive_int_list, metavar="W,W,...",
                        help="worker counts (default 1,2 and the CPU count)")
    parser.add_argument("--start-methods", type=start_method_list, metavar="M,M,...",
                        default=list(START_METHODS),
                        help="start methods of the process strategies (default: all this "
                             "interpreter offers: %s)" % ",".join(START_METHODS))
    parser.add_argument("--repetitions", type=positive_int, default=1,
                        help="repetitions per benchmark; >1 adds mean/median/stddev/cv")
    parser.add_argument("--min-time", type=non_negative_float, metavar="S",
                        help="seconds a batch of iterations must last (default 0.5)")
    parser.add_argument("--sleep-ms", type=non_negative_float, metavar="MS",
                        help="sleep per task of sleep_tasks (default 1; 3000 with --seed-sizes)")
    parser.add_argument("--interleave", action="store_true",
                        help="run the repetitions in shuffled rounds (like GB's "
                             "--benchmark_enable_random_interleaving)")
    parser.add_argument("--list", action="store_true", help="print the names and exit")
    parser.add_argument("--inject-fault", choices=["crash", "wrong"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.5
    if args.sleep_ms is None:
        args.sleep_ms = SEED_SLEEP_MS if args.seed_sizes else 1.0
    if args.workers is None and not args.seed_sizes:
        args.workers = [1, 2] if args.quick else sorted({1, 2, os.cpu_count() or 1})
    args.parser = parser
    return args


def selected_benchmarks(args):
    cases = SEED_CASES if args.seed_sizes else QUICK_CASES if args.quick else DEFAULT_CASES
    benches = build_benchmarks(cases, args.workers, args.start_methods)
    if args.filter is not None:
        benches = [b for b in benches if args.filter.search(b.name)]
    return benches


def family_indices(benches):
    """GB numbers families (kernel, strategy) and instances in order among those run."""
    families, counts, indices = {}, collections.Counter(), []
    for b in benches:
        family = families.setdefault((b.kernel, b.strategy), len(families))
        indices.append((family, counts[family]))
        counts[family] += 1
    return indices


def write_json(document, path):
    schema.check_document(document, path or "<stdout>")  # what the readers will check, checked before writing
    text = json.dumps(document, indent=2) + "\n"
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        cli.write_text(path, text)


def main(argv=None):
    args = parse_args(argv)
    benches = selected_benchmarks(args)
    if not benches:
        args.parser.error("no benchmark matches --filter %r" % args.filter.pattern)
    if args.list:
        for b in benches:
            print(b.name)
        return 0
    if args.out not in (None, "-"):
        try:  # before minutes of measuring, not after
            cli.output_path(args.out)
        except schema.InputError as err:
            args.parser.error(str(err))

    def log(line):
        print(line, file=sys.stderr, flush=True)

    runners = [BenchmarkRun(bench, family, instance, args)
               for bench, (family, instance) in zip(benches, family_indices(benches))]
    for runner, rep in schedule(runners, args.repetitions, args.interleave):
        runner.repetition(rep, log)
    document = collections.OrderedDict([("context", context(args)), ("benchmarks", [])])
    for runner in runners:
        document["benchmarks"].extend(runner.entries())
    write_json(document, args.out)
    errors = [e for e in document["benchmarks"] if e.get("error_occurred")]
    if errors:
        log("%d benchmark run(s) failed" % len(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("cpython_reference.py", main))
