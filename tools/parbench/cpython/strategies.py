"""The CPython reference's strategies: setup() and close() lie outside the timing.

  cpython.sequential    one chunk in the caller's thread
  cpython.threads       a threading.Thread per worker per run
  cpython.processes.M   a multiprocessing.Process per worker per run; results come back
                        through a multiprocessing.Array (shared memory, one slot per
                        worker), created once per benchmark outside the timing
  cpython.thread_pool   ThreadPoolExecutor(W), created and warmed up outside the timing
  cpython.asyncio       asyncio.gather of W coroutines on one event loop, created outside the
                        timing: sleep_tasks awaits asyncio.sleep, so the W chunks' sleeps
                        overlap; a CPU-bound chunk runs whole, one after another
  cpython.process_pool.M
                        ProcessPoolExecutor(W), created and warmed up outside the timing;
                        the locked counter's Value and Lock reach its workers through the
                        pool initializer (they cannot be pickled into a task)
  cpython.mp_pool.M     uneven kernels: multiprocessing.Pool(W).map over the items with chunksize
                        ceil(n / W) (static halves); .dynamic.coarse, .dynamic and .dynamic.fine
                        with 4, 16 and 128 tasks per worker; .imap_unordered with .dynamic's
                        batches, results taken as they finish
M is the start method of the worker processes: one strategy per method the interpreter
offers (fork, spawn and forkserver on Linux; --start-methods picks some), with the
Array, Value, Lock and pool all made by that method's multiprocessing context.
Each run submits W balanced chunks (sizes differ by at most one).

A worker that raised, exited non-zero or returned a wrong total is a WorkerError that
names the worker and the cause. --inject-fault (tests only) makes worker 0 fail.
"""

import asyncio
import collections
import concurrent.futures
import functools
import multiprocessing
import os
import threading
import time
from typing import Optional

from .kernels import Counter, expected_total, locked_counter_chunk, sleep_tasks_chunk, split
from .sockets import socket_tasks_chunk, socket_tasks_coroutine

FAULT_EXIT_CODE = 3
POLL_S = 0.1  # how often a multiprocessing.Pool's caller looks for a dead worker while it waits

# Worker-side functions live at module top level so that spawn can pickle them.

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


def inject_crash(fault):
    """The test-only crash: "exit" (the process dies with FAULT_EXIT_CODE) or "raise"; nothing otherwise."""
    if fault == "exit":
        os._exit(FAULT_EXIT_CODE)
    if fault == "raise":
        raise RuntimeError("injected fault (--inject-fault=crash)")


def run_chunk(fn, begin, end, arg, fault=None):
    """Run one chunk, with the test-only fault injected when asked.

    fault: None; "exit" (the process dies with FAULT_EXIT_CODE); "raise" (the
    worker raises); "wrong" (the worker returns a result one too large).
    """
    inject_crash(fault)
    result = fn(begin, end, arg)
    if fault == "wrong":
        result += 1
    return result


def process_main(fn, begin, end, arg, fault, results, index):
    """Body of a cpython.processes worker: write the chunk result into its slot."""
    results[index] = run_chunk(fn, begin, end, arg, fault)


class WorkerError(Exception):
    """A worker failed: which one and why."""


def describe_exit(what, process):
    code = process.exitcode
    if code is not None and code < 0:
        return "%s (pid %s) was killed by signal %d" % (what, process.pid, -code)
    return "%s (pid %s) exited with code %s" % (what, process.pid, code)


class Strategy:
    """One way of running a workload: setup() and close() lie outside the timing."""

    name: Optional[str] = None
    fault_kind = "raise"  # how --inject-fault=crash shows in this strategy
    kinds = frozenset(["seed", "uneven", "socket"])  # the kinds of kernel it runs (Kernel.kind)

    def __init__(self, kernel, n, workers, param, fault):
        # param: what each chunk of a kernel without shared state gets (sleep_tasks' sleep, the echo server's
        # (port, timeout), set before each setup() by the benchmark that starts the server).
        self.kernel, self.n, self.workers, self.param = kernel, n, workers, param
        self.chunks = split(n, workers)
        self.fault = {"crash": self.fault_kind, "wrong": "wrong"}.get(fault)

    def fault_for(self, index):
        return self.fault if index == 0 else None

    def thread_arg(self):
        """Per-run argument for in-process workers: fresh counter state or sleep time."""
        if self.kernel.shared:
            return (threading.Lock(), Counter())
        return self.param

    def total(self, results, arg):
        combined = self.kernel.combine(results)
        if self.kernel.shared:
            combined += arg[1].value
        return combined

    def expected(self):
        """The total every run must give."""
        return expected_total(self.kernel, self.n, self.param)

    def setup(self):
        pass

    def run(self):
        raise NotImplementedError

    def finish(self, total):
        """The run's total as checked, from what run() returned: outside the timing."""
        return total

    def close(self):
        pass


class Sequential(Strategy):
    name = "cpython.sequential"

    def run(self):
        arg = self.thread_arg()
        result = run_chunk(self.kernel.chunk, 0, self.n, arg, self.fault_for(0))
        return self.total([result], arg)


def run_in_threads(tasks):
    """Runs each of `tasks` (callables without arguments) on a thread of its own and returns their results in
    order; the first task that raised is reported as a WorkerError that names the worker and the exception."""
    results = [None] * len(tasks)
    errors: list = [None] * len(tasks)

    def main(i):
        try:
            results[i] = tasks[i]()
        except BaseException as exc:  # reported in the caller, never swallowed
            errors[i] = exc
    threads = [threading.Thread(target=main, args=(i,)) for i in range(len(tasks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, exc in enumerate(errors):
        if exc is not None:
            raise WorkerError("thread worker %d raised %s: %s" % (i, type(exc).__name__, exc))
    return results


class Threads(Strategy):
    name = "cpython.threads"

    def run(self):
        arg = self.thread_arg()
        return self.total(run_in_threads([
            lambda b=b, e=e, i=i: run_chunk(self.kernel.chunk, b, e, arg, self.fault_for(i))
            for i, (b, e) in enumerate(self.chunks)]), arg)


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
    kinds = frozenset(["seed"])

    def setup(self):
        ctx = self.context
        self.results = ctx.Array(self.kernel.typecode, self.workers, lock=False)
        if self.kernel.shared:
            self.arg = (ctx.Lock(), ctx.Value("q", 0))
        else:
            self.arg = self.param
        if self.kernel.typecode == "q":
            biggest = expected_total(self.kernel, self.n, self.param)
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
        self.pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
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


async def sleep_tasks_coroutine(begin, end, sleep_s):
    """sleep_tasks' chunk for an event loop: each sleep gives the thread away."""
    total = 0
    for i in range(begin, end):
        await asyncio.sleep(sleep_s)
        total += i + 1
    return total


# The chunks that wait, as coroutines; the others run whole, one after another, as under asyncio.
COROUTINES = {sleep_tasks_chunk: sleep_tasks_coroutine, socket_tasks_chunk: socket_tasks_coroutine}


async def chunk_coroutine(fn, begin, end, arg, fault):
    if fn in COROUTINES and fault is None:
        return await COROUTINES[fn](begin, end, arg)
    return run_chunk(fn, begin, end, arg, fault)


class Asyncio(Strategy):
    name = "cpython.asyncio"
    kinds = frozenset(["seed", "socket"])

    def setup(self):
        self.loop = asyncio.new_event_loop()

    def run(self):
        arg = self.thread_arg()

        async def gather():
            return await asyncio.gather(
                *[chunk_coroutine(self.kernel.chunk, b, e, arg, self.fault_for(i))
                  for i, (b, e) in enumerate(self.chunks)], return_exceptions=True)

        results = self.loop.run_until_complete(gather())
        for i, r in enumerate(results):
            if isinstance(r, BaseException):
                raise WorkerError("%s task %d raised %s: %s"
                                  % (self.name, i, type(r).__name__, r)) from None
        return self.total(results, arg)

    def close(self):
        self.loop.close()


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
            fn, arg = self.kernel.chunk, self.param
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


def faulty_item(item, fault, i):
    """An uneven kernel's item under the test-only fault, which item 0 carries."""
    if i != 0:
        return item(i)
    inject_crash(fault)
    return item(i) + (1 if fault == "wrong" else 0)


def map_batch(fn, items):
    """A batch of items, each through fn: what Pool.map's chunks do in the worker (its mapstar)."""
    return [fn(i) for i in items]


class MpPool(ProcessStrategy):
    """multiprocessing.Pool(W), created and warmed up outside the timing, mapping an uneven kernel's cost over the
    items, `chunksize` items per task: tasks wait in one queue and each worker takes the next as it finishes one.
    The plain variant is static halves (chunksize ceil(n / W): one task per worker); the dynamic ones cut [0, n) into
    4, 16 or 128 tasks per worker, as thread_pool.dynamic.coarse, .dynamic and .fine do in C++; imap_unordered takes
    .dynamic's chunksize and consumes the results as they finish."""

    name = "cpython.mp_pool"
    kinds = frozenset(["uneven"])
    chunks_per_worker = 1
    unordered = False

    @property
    def chunksize(self):
        tasks = self.workers * self.chunks_per_worker
        return max(1, -(-self.n // tasks))

    def setup(self):
        self.pool = self.context.Pool(self.workers)
        warm = [self.pool.apply_async(warmup_task, (0.05,)) for _ in range(self.workers)]
        for r in warm:
            r.get()
        # Private, read only to notice a dead worker: Pool replaces it and would wait for its task forever.
        self.processes = list(getattr(self.pool, "_pool", None) or [])

    def run(self):
        # The kernel's own item function when no fault is asked for: one call per item, as a program's would be.
        fn = self.kernel.item if self.fault is None else functools.partial(faulty_item, self.kernel.item, self.fault)
        try:
            if self.unordered:
                # imap_unordered(fn, items, chunksize > 1) returns a plain generator, which cannot wait with a
                # timeout; the same batches mapped at chunksize 1 give an iterator that can.
                results = []
                c = self.chunksize
                it = self.pool.imap_unordered(functools.partial(map_batch, fn),
                                              [range(b, min(self.n, b + c)) for b in range(0, self.n, c)])
                while True:
                    try:
                        results.extend(it.next(POLL_S))
                    except StopIteration:
                        break
                    except multiprocessing.TimeoutError:
                        self.check_workers()
            else:
                pending = self.pool.map_async(fn, range(self.n), self.chunksize)
                while not pending.ready():
                    pending.wait(POLL_S)
                    self.check_workers()
                results = pending.get()
        except WorkerError:
            raise
        except Exception as exc:
            raise WorkerError("%s task raised %s: %s" % (self.name, type(exc).__name__, exc)) from None
        return self.total(results, None)

    def check_workers(self):
        for i, p in enumerate(self.processes):
            if p.exitcode is not None:
                raise WorkerError("%s: %s" % (self.name, describe_exit("pool worker %d" % i, p)))

    def close(self):
        self.pool.terminate()
        self.pool.join()


def mp_pool_variant(suffix, per_worker, unordered=False):
    return type("MpPool_" + suffix.replace(".", "_"), (MpPool,),
                {"name": "cpython.mp_pool." + suffix, "chunks_per_worker": per_worker, "unordered": unordered})


MP_POOLS = [MpPool, mp_pool_variant("dynamic.coarse", 4), mp_pool_variant("dynamic", 16),
            mp_pool_variant("dynamic.fine", 128), mp_pool_variant("imap_unordered", 16, True)]

# Every start method this interpreter offers (fork, spawn, forkserver on Linux), each its own
# strategy, so that a process figure is always compared with one started the same way.
START_METHODS = multiprocessing.get_all_start_methods()
STRATEGIES = collections.OrderedDict(
    (s.name, s) for s in [Sequential, Threads]
    + [Processes.start_method(m) for m in START_METHODS] + [ThreadPool, Asyncio]
    + [ProcessPool.start_method(m) for m in START_METHODS]
    + [cls.start_method(m) for cls in MP_POOLS for m in START_METHODS])
