"""Measuring the CPython reference as Google Benchmark measures, and its JSON entries and context.

Timing follows Google Benchmark with UseRealTime(): iterations grow until a batch takes
--min-time, the mean wall time per iteration of the last batch is reported, and with
--repetitions the first repetition's iteration count is reused. Pools are created and
warmed up again for each repetition. --interleave runs the repetitions in shuffled
rounds, which spreads a noisy machine's slow phases over all benchmarks. cpu_time is the calling
thread's CPU time (GB's default timer), which misses workers: read real_time.

Every run checks its total against the expected one. A wrong total, a worker that
raised, or a process that exited non-zero makes the benchmark an error entry
(error_occurred, real_time 0): a crashed run is never a time.
"""

import collections
import datetime
import multiprocessing
import os
import platform
import random
import socket
import sys
import time

from .. import schema
from .kernels import KERNELS
from .payload import default_work
from .sockets import EchoServer, SocketTaskError
from .strategies import WorkerError
from .suite import strategies_for

MAX_ITERATIONS = 1_000_000_000
TIME_UNIT = "ms"


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
        total = strategy.finish(total)
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
        kernel = self.kernel = KERNELS[bench.kernel]
        self.server_fault, self.socket_timeout_ms = args.inject_server_fault, args.socket_timeout_ms
        param = (args.payload_work or default_work(kernel.data, args.quick)) if kernel.kind == "payload" \
            else args.sleep_ms / 1e3
        self.strategy = strategies_for(kernel.kind)[bench.strategy](kernel, bench.n, bench.workers,
                                                                    param, args.inject_fault)
        self.expected = self.strategy.expected()
        self.runs, self.iterations = [], None

    def start_server(self):
        """The echo server of a socket kernel, started for this repetition (None for other kernels); the chunks'
        parameter becomes its (port, timeout). --inject-server-fault (tests only) makes it refuse (stopped before
        the runs), stop answering (mute) or die at its first request."""
        if self.kernel.delay_us is None:
            return None
        fault = self.server_fault
        server = EchoServer(self.kernel.delay_us, fault if fault in ("mute", "die") else "echo",
                            self.socket_timeout_ms / 1e3)
        if fault == "refuse":
            server.stop()
        self.strategy.param = server.arg
        return server

    def repetition(self, rep, log):
        server = None
        try:
            server = self.start_server()
            self.measure_repetition(rep, log)
        except SocketTaskError as exc:
            ids = (self.bench, self.family, self.instance, self.repetitions, rep)
            self.runs.append(error_entry(*ids, 0, str(exc)))
            log("%-72s ERROR %s" % (self.bench.name, exc))
        finally:
            if server is not None:
                server.stop()

    def measure_repetition(self, rep, log):
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
    order: list = []
    for rep in range(repetitions):
        round_ = list(runners)
        random.shuffle(round_)
        order.extend((r, rep) for r in round_)
    return order


def mhz_per_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("cpu mhz"):
                    return int(round(float(line.split(":")[1])))
    except (OSError, ValueError, IndexError):
        pass
    return 0


def context(args, methods_run):
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
        # sys._is_gil_enabled() exists from 3.13; None where it does not (the GIL is then always on).
        ("python_gil_enabled", sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else None),
        ("switch_interval", sys.getswitchinterval()),
        ("hardware_threads", os.cpu_count() or 0),
        ("usable_cpus", usable),
        ("multiprocessing_start_method", multiprocessing.get_start_method()),
        ("multiprocessing_start_methods", list(methods_run)),
        ("processes_results_channel", "multiprocessing.Array"),
        ("min_time", args.min_time),
        ("interleaved_repetitions", args.interleave),
        ("sleep_ms", args.sleep_ms),
        ("socket_timeout_ms", args.socket_timeout_ms),
        ("payload_work", args.payload_work),
    ])
