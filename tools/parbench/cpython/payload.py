"""The payload kernel (issue 25's "moving the data"), as include/parbench/kernels/payload.hpp defines it, and the
strategies that move its data the way Python programs do.

The caller holds n doubles (B = 8n bytes) in an array.array('d'): element i is splitmix64(i % 4096) >> 44, an
integer below 2^20. A run reduces them, sum = Σ (2i + 1) in[i], and transforms each into the caller's output
array, out[i] = f(in[i]): f is `units` steps of a 64-bit linear congruential generator (Knuth's MMIX constants)
started from the value, then >> 11, an exact double. The work of a run is fixed (--payload-work chain steps,
spread over the n elements, at least one each, as bench_parallel's payload{.work} does), so a sweep of B shows
what moving the data costs. The total is (sum, checksum), the checksum Σ (2i + 1) out[i] of the output the
caller holds after the run, both modulo 2^64: a chunk's output that did not reach its place changes it. The
checksum is taken outside the timing (in CPython it would cost as much as the work; C++ takes it inside).
payload.numpy is the same kernel on a numpy array (NumpyData), registered where the interpreter imports numpy.

How the data moves (cpython.<strategy>):
  sequential, threads, thread_pool   the chunks read the caller's input and write its output in place (memoryview
                                     slices or numpy views, no copy)
  processes.M                        a process per worker per run: its chunk is an argument of the Process, which
                                     a fork's child inherits (copy-on-write) and spawn and forkserver pickle to it;
                                     the output comes back pickled through a pipe
  process_pool.M                     each task's input slice is pickled to a ProcessPoolExecutor worker and its
                                     output pickled back, then copied into place
  mp_pool.M                          the same through multiprocessing.Pool.map, one task per worker
  process_pool.shared_memory.M       zero copy: the caller holds input and output in multiprocessing.shared_memory
                                     blocks that the pool's workers attach once (initializer); a task is (begin,
                                     end) and returns its sum
"""

import array
import collections
import concurrent.futures
import typing
from multiprocessing import shared_memory

from .kernels import MASK64, splitmix64
from .strategies import (START_METHODS, ProcessStrategy, Strategy, WorkerError, describe_exit, inject_crash,
                         run_in_threads, warmup_task)

PERIOD = 4096
LCG_A = 6364136223846793005
LCG_C = 1442695040888963407
_PERIOD_VALUES = [float(splitmix64(r) >> 44) for r in range(PERIOD)]


def value_at(i):
    """Element i of the caller's input: an integer below 2^20, as a double."""
    return _PERIOD_VALUES[i % PERIOD]


def transform(x, units):
    """f(x): `units` chain steps from the integer x, the top 53 bits as a double."""
    v = int(x)
    for _ in range(units):
        v = (v * LCG_A + LCG_C) & MASK64
    return float(v >> 11)


def units_for(work, n):
    """Chain steps per element: the run's work spread over n elements, at least one each."""
    return max(1, work // max(1, n))


def run_payload(src, dst, begin, units):
    """Elements begin .. begin + len(src) - 1: src's values reduced and transformed into dst; the weighted sum."""
    total = 0
    weight = 2 * begin + 1
    for j, x in enumerate(src):
        v = int(x)
        total += v * (weight + 2 * j)
        for _ in range(units):
            v = (v * LCG_A + LCG_C) & MASK64
        dst[j] = float(v >> 11)
    return total & MASK64


def checksum(values):
    """Σ (2i + 1) values[i] modulo 2^64, the values as integers."""
    total = 0
    for i, x in enumerate(values):
        total += int(x) * (2 * i + 1)
    return total & MASK64


_EXPECTED: dict = {}


def expected(n, units):
    """(sum, checksum) of a run over n elements, per residue of the period (as payload::expected)."""
    key = (n, units)
    if key not in _EXPECTED:
        total = out = 0
        for r in range(min(PERIOD, n)):
            q = (n - r + PERIOD - 1) // PERIOD
            weight = q * (2 * r + 1) + PERIOD * q * (q - 1)
            total += int(_PERIOD_VALUES[r]) * weight
            out += int(transform(_PERIOD_VALUES[r], units)) * weight
        _EXPECTED.clear()
        _EXPECTED[key] = (total & MASK64, out & MASK64)
    return _EXPECTED[key]


def fill_input(buffer, n):
    """The caller's input, written into `buffer` (n doubles)."""
    whole, rest = divmod(n, PERIOD)
    period = array.array("d", _PERIOD_VALUES)
    view: typing.Any = buffer  # an array.array('d') or a memoryview of doubles
    for k in range(whole):
        view[k * PERIOD:(k + 1) * PERIOD] = period
    view[whole * PERIOD:n] = period[:rest]


def faulty(total, fault):
    """The test-only "wrong" fault on a chunk's sum: one too large."""
    return (total + 1) & MASK64 if fault == "wrong" else total


class ArrayData:
    """payload: the caller's doubles in an array.array('d'), a Python loop over the elements."""

    name = "array"
    work = (1 << 14, 1 << 20)  # chain steps a run: --quick, default

    def warm(self):
        pass

    def zeros(self, n):
        return array.array("d", bytes(8 * n))

    def on_buffer(self, buffer, n):
        """n doubles on a shared memory block's buffer."""
        return buffer.cast("d")[:n]

    def fill(self, data, n):
        fill_input(data, n)

    def view(self, data, begin, end):
        """Elements [begin, end) in place, for in-process workers."""
        return memoryview(data)[begin:end]

    def ship(self, data, begin, end):
        """What a pool task carries: the slice, pickled by the pool."""
        return data[begin:end]

    def run(self, src, dst, begin, units):
        return run_payload(src, dst, begin, units)

    def checksum(self, data):
        return checksum(data)


class NumpyData(ArrayData):
    """payload.numpy: the caller's doubles in a numpy array, each step over a whole chunk at once (numpy's loops
    release the GIL, so threads run them in parallel). Registered only where the interpreter imports numpy."""

    name = "numpy"
    work = (1 << 12, 1 << 25)  # bench_parallel's payload{.work} in its default profile

    @property
    def np(self):
        import numpy
        return numpy

    def warm(self):
        self.np.zeros(1)

    def zeros(self, n):
        return self.np.zeros(n)

    def on_buffer(self, buffer, n):
        return self.np.ndarray((n,), dtype=self.np.float64, buffer=buffer)

    def fill(self, data, n):
        data[:] = self.np.resize(self.np.array(_PERIOD_VALUES), n)

    def view(self, data, begin, end):
        return data[begin:end]

    def run(self, src, dst, begin, units):
        np = self.np
        v = src.astype(np.uint64)
        weights = np.arange(2 * begin + 1, 2 * (begin + len(src)) + 1, 2, dtype=np.uint64)
        total = int(np.multiply(v, weights).sum(dtype=np.uint64))  # modulo 2^64, as uint64 arithmetic wraps
        a, c = np.uint64(LCG_A), np.uint64(LCG_C)
        for _ in range(units):
            np.multiply(v, a, out=v)
            np.add(v, c, out=v)
        np.right_shift(v, np.uint64(11), out=v)
        dst[:] = v
        return total

    def checksum(self, data):
        np = self.np
        weights = np.arange(1, 2 * len(data) + 1, 2, dtype=np.uint64)
        return int(np.multiply(data.astype(np.uint64), weights).sum(dtype=np.uint64))


DATA = {d.name: d for d in (ArrayData(), NumpyData())}


def default_work(data, quick):
    """A payload kernel's work per run when --payload-work is not given."""
    return DATA[data].work[0 if quick else 1]


def warmup_data(data, seconds):
    """Starts a pool worker and loads its data's module (numpy), so that no timed run does."""
    DATA[data].warm()
    return warmup_task(seconds)


class Payload(Strategy):
    """In-process: the caller's arrays, read and written in place."""

    kinds = frozenset(["payload"])
    input: typing.Any  # the caller's arrays: array.array('d'), or memoryviews of shared memory
    output: typing.Any
    pool: typing.Any

    def __init__(self, kernel, n, workers, param, fault):
        super().__init__(kernel, n, workers, param, fault)
        self.data = DATA[kernel.data]
        self.units = units_for(param, n)

    def setup(self):
        self.input = self.data.zeros(self.n)
        self.data.fill(self.input, self.n)
        self.output = self.data.zeros(self.n)

    def chunk_task(self, index):
        b, e = self.chunks[index]
        fault = self.fault_for(index)
        inject_crash(fault)
        d = self.data
        return faulty(d.run(d.view(self.input, b, e), d.view(self.output, b, e), b, self.units), fault)

    def finish(self, total):
        return (total & MASK64, self.data.checksum(self.output))

    def expected(self):
        return expected(self.n, self.units)


class PayloadSequential(Payload):
    name = "cpython.sequential"

    def run(self):
        self.chunks = [(0, self.n)]
        return self.chunk_task(0)


class PayloadThreads(Payload):
    name = "cpython.threads"

    def run(self):
        return sum(run_in_threads([lambda i=i: self.chunk_task(i) for i in range(self.workers)]))


class PayloadThreadPool(Payload):
    name = "cpython.thread_pool"

    def setup(self):
        super().setup()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        for f in [self.pool.submit(warmup_task, 0.02) for _ in range(self.workers)]:
            f.result()

    def run(self):
        futures = [self.pool.submit(self.chunk_task, i) for i in range(self.workers)]
        total = 0
        for i, f in enumerate(futures):
            try:
                total += f.result()
            except Exception as exc:
                raise WorkerError("%s task %d raised %s: %s" % (self.name, i, type(exc).__name__, exc)) from None
        return total

    def close(self):
        self.pool.shutdown(wait=True)


def shipped_chunk(data, src, begin, units, fault):
    """A pool task: the chunk's input arrives pickled; (sum, output) goes back pickled."""
    inject_crash(fault)
    d = DATA[data]
    out = d.zeros(len(src))
    return faulty(d.run(src, out, begin, units), fault), out


class ProcessPayload(ProcessStrategy, Payload):
    """Workers in other processes: a pool made and warmed up outside the timing, its workers' exit codes named when
    one dies."""

    fault_kind = "exit"

    def make_pool(self, **kwargs):
        self.pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context,
                                                           **kwargs)
        for f in [self.pool.submit(warmup_data, self.data.name, 0.05) for _ in range(self.workers)]:
            f.result()
        self.processes = list((getattr(self.pool, "_processes", None) or {}).values())

    def run_tasks(self, fn, tasks):
        """Submits fn(*task) for every task, then collects the results in order. A worker that dies breaks the
        pool (submit() itself raises once it has): the error names the task and, once the pool has reaped its
        workers, the dead ones' exit codes."""
        futures: list = []
        try:
            for task in tasks:
                futures.append(self.pool.submit(fn, *task))
            return [f.result() for f in futures]
        except Exception as exc:
            i = len(futures) if len(futures) < len(tasks) else next(i for i, f in enumerate(futures) if f.exception())
            self.pool.shutdown(wait=True)
            dead = "".join("; " + describe_exit("pool worker %d" % w, p) for w, p in enumerate(self.processes)
                           if p.exitcode not in (None, 0))
            raise WorkerError("%s task %d raised %s: %s%s" % (self.name, i, type(exc).__name__, exc, dead)) from None

    def close(self):
        self.pool.shutdown(wait=True)


class PayloadProcessPool(ProcessPayload):
    name = "cpython.process_pool"

    def setup(self):
        super().setup()
        self.make_pool()

    def run(self):
        d = self.data
        results = self.run_tasks(shipped_chunk, [(d.name, d.ship(self.input, b, e), b, self.units, self.fault_for(i))
                                                 for i, (b, e) in enumerate(self.chunks)])
        total = 0
        for (b, e), (s, out) in zip(self.chunks, results):
            self.output[b:e] = out
            total += s
        return total


def shipped_task(task):
    return shipped_chunk(*task)


def process_payload(data, src, begin, units, fault, conn):
    """Body of a cpython.processes worker: its chunk came with the process (inherited by fork, pickled by spawn
    and forkserver); (sum, output) goes back pickled through its pipe."""
    conn.send(shipped_chunk(data, src, begin, units, fault))
    conn.close()


class PayloadProcesses(ProcessStrategy, Payload):
    """A process per worker per run, as cpython.processes does for the seeds' kernels: the chunk is an argument of
    the Process (a fork's child inherits it, copy-on-write; spawn and forkserver pickle it to the child), the
    result comes back pickled through a pipe."""

    name = "cpython.processes"
    fault_kind = "exit"

    def run(self):
        ctx, d = self.context, self.data
        procs, conns = [], []
        try:
            for i, (b, e) in enumerate(self.chunks):
                reader, writer = ctx.Pipe(duplex=False)
                p = ctx.Process(target=process_payload,
                                args=(d.name, d.ship(self.input, b, e), b, self.units, self.fault_for(i), writer))
                p.start()
                writer.close()  # the child's end: once the child is gone, recv() sees EOF
                procs.append(p)
                conns.append(reader)
            total = 0
            for i, ((b, e), conn) in enumerate(zip(self.chunks, conns)):
                try:
                    s, out = conn.recv()
                except EOFError:
                    procs[i].join()
                    raise WorkerError(describe_exit("process worker %d" % i, procs[i])) from None
                self.output[b:e] = out
                total += s
            return total
        finally:
            for conn in conns:
                conn.close()
            for p in procs:
                p.join()


class PayloadMpPool(ProcessPayload):
    name = "cpython.mp_pool"

    def setup(self):
        super().setup()
        self.pool = self.context.Pool(self.workers)
        for r in [self.pool.apply_async(warmup_data, (self.data.name, 0.05)) for _ in range(self.workers)]:
            r.get()
        self.processes = list(getattr(self.pool, "_pool", None) or [])

    def run(self):
        d = self.data
        tasks = [(d.name, d.ship(self.input, b, e), b, self.units, self.fault_for(i))
                 for i, (b, e) in enumerate(self.chunks)]
        pending = self.pool.map_async(shipped_task, tasks, chunksize=1)
        while not pending.ready():
            pending.wait(0.1)
            for i, p in enumerate(self.processes):
                if p.exitcode is not None:
                    raise WorkerError("%s: %s" % (self.name, describe_exit("pool worker %d" % i, p)))
        try:
            results = pending.get()
        except Exception as exc:
            raise WorkerError("%s task raised %s: %s" % (self.name, type(exc).__name__, exc)) from None
        total = 0
        for (b, e), (s, out) in zip(self.chunks, results):
            self.output[b:e] = out
            total += s
        return total

    def close(self):
        self.pool.terminate()
        self.pool.join()


_SHARED: typing.Any = None  # (input view, output view, the blocks) in a shared_memory pool's worker


def attach_shared(data, n, input_name, output_name):
    """Pool initializer: attach the caller's blocks once. The worker only attaches; the caller unlinks."""
    global _SHARED
    d = DATA[data]
    blocks = [shared_memory.SharedMemory(name=input_name), shared_memory.SharedMemory(name=output_name)]
    _SHARED = (d, d.on_buffer(blocks[0].buf, n), d.on_buffer(blocks[1].buf, n), blocks)


def shared_chunk(begin, end, units, fault):
    """A shared_memory task: the chunk read and written in place in the caller's blocks; its sum back."""
    inject_crash(fault)
    d, src, dst, _ = _SHARED
    return faulty(d.run(d.view(src, begin, end), d.view(dst, begin, end), begin, units), fault)


class PayloadSharedMemory(ProcessPayload):
    name = "cpython.process_pool.shared_memory"

    def setup(self):
        size = max(1, 8 * self.n)
        self.blocks = [shared_memory.SharedMemory(create=True, size=size) for _ in range(2)]
        self.input, self.output = (self.data.on_buffer(b.buf, self.n) for b in self.blocks)
        self.data.fill(self.input, self.n)
        self.make_pool(initializer=attach_shared,
                       initargs=(self.data.name, self.n) + tuple(b.name for b in self.blocks))

    def run(self):
        return sum(self.run_tasks(shared_chunk, [(b, e, self.units, self.fault_for(i))
                                                 for i, (b, e) in enumerate(self.chunks)]))

    def close(self):
        super().close()
        if isinstance(self.input, memoryview):
            self.input.release()
            self.output.release()
        self.input = self.output = None  # a numpy array on a block must go before the block closes
        for block in self.blocks:
            block.close()
            block.unlink()


# The payload kernel's strategies, by name; process ones for every start method, as in strategies.STRATEGIES.
PAYLOAD_STRATEGIES = collections.OrderedDict(
    (s.name, s) for s in [PayloadSequential, PayloadThreads, PayloadThreadPool]
    + [cls.start_method(m) for cls in (PayloadProcesses, PayloadProcessPool, PayloadMpPool, PayloadSharedMemory)
       for m in START_METHODS])
