"""The report's *Moving the data* section: what process strategies pay per byte of a payload kernel's data.

bench_parallel's ``payload`` kernel (include/parbench/kernels/payload.hpp) runs a fixed amount of work over n
doubles the caller holds, B = 8n bytes, and brings B bytes of output back. Threads share the data; every process
strategy moves it (``MOVED`` says how much of it crosses per run). Against ``thread_pool`` at the same W and B:

- the cost per byte moved: how much more time the process strategy takes over thread_pool as B grows, per byte it
  moves, ``(extra(B_max) - extra(B_min)) / (moved(B_max) - moved(B_min))`` where extra is the difference of the
  two fastest repetitions' times, so that what both pay whatever B (start-up, dispatch, the work) cancels; the
  interval takes the time intervals' ends crosswise;
- the crossover B: the size above which the process strategy stops paying against the threads, the bracket
  between the last measured B where it is not slower than them beyond both time intervals and the first B from
  which it is at every larger B (point estimates alone cross and recross 1 where the two tie), against
  ``thread_pool`` and against ``gil_threads``, the model of threads under CPython's interpreter lock, the
  comparison a Python program faces;
- the CPU per byte moved: the same growth in the CPU time of the whole process tree (``tree_cpu_s``, median of the
  repetitions) over thread_pool's, per byte moved: what moving the data burns, workers and caller together, whether
  or not it overlaps the work;
- beside the cost per byte, a pipe's own: ``overhead/ipc/pipe/bytes:B/one_way`` at the largest B where the run has
  it (bench_parallel measures the pipe at the payload's sizes), its time per byte, and the cost and the CPU per
  byte moved as multiples of it.
"""

import re

from .markdown import format_time_ns
from .markdown import table as md_table
from .model import suite_of

KERNELS = ("payload",)
ELEMENT_BYTES = 8  # a double
THREADS = ("thread_pool", "gil_threads")
PIPE_RE = re.compile(r"^overhead/ipc/pipe/bytes:(?P<bytes>\d+)/one_way(/|$)")

# What a strategy moves per run, in payload sizes B: both directions (input out to the workers, output back), the
# output alone (processes.cow inherits the input), or both but for the chunk the caller runs itself ("share":
# (W - 1) / W of it).
MOVED = {
    "processes.pipe": (2, False), "processes.shm": (2, False), "processes.spawn": (2, False),
    "processes.forkserver": (2, False), "processes.cow": (1, False),
    "process_pool": (2, True), "process_pool.spawn": (2, True), "process_pool.forkserver": (2, True),
    "process_pool.executor": (2, False), "process_pool.executor.spawn": (2, False),
    "process_pool.executor.forkserver": (2, False), "mpi": (2, True),
}


def moved_bytes(strategy, workers, n):
    """Bytes a strategy moves per run at n elements; None for a strategy that shares the data."""
    if strategy not in MOVED:
        return None
    directions, share = MOVED[strategy]
    b = n * ELEMENT_BYTES * directions
    return b * (workers - 1) / workers if share else float(b)


def format_bytes(b):
    """4 KiB, 1.5 MiB, 64 MiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            v = b / size
            return f"{v:.0f} {unit}" if abs(v - round(v)) < 0.05 else f"{v:.1f} {unit}"
    return f"{b:.0f} B"


def times(by_n, strategy, workers):
    """{n: time Estimate} of one configuration, where usable."""
    out = {}
    for n, cells in by_n.items():
        bench = cells.get((strategy, workers))
        t = bench.time_estimate() if bench is not None and bench.usable else None
        if t is not None and t.value > 0:
            out[n] = t
    return out


def ends(proc, ref, strategy, workers):
    """(smallest n, largest n, bytes moved more at the largest than at the smallest) over the sizes both of
    {n: ...} proc and ref have; None without two sizes or without a growth of the bytes moved."""
    common = sorted(set(proc) & set(ref))
    if len(common) < 2:
        return None
    lo, hi = common[0], common[-1]
    span = moved_bytes(strategy, workers, hi) - moved_bytes(strategy, workers, lo)
    return (lo, hi, span) if span > 0 else None


def per_byte(proc, ref, strategy, workers):
    """(value, low, high) in ns per byte moved, from the smallest and largest n both have; None without two."""
    e = ends(proc, ref, strategy, workers)
    if e is None:
        return None
    lo, hi, span = e
    value = ((proc[hi].value - ref[hi].value) - (proc[lo].value - ref[lo].value)) / span
    low = ((proc[hi].low - ref[hi].high) - (proc[lo].high - ref[lo].low)) / span
    high = ((proc[hi].high - ref[hi].low) - (proc[lo].low - ref[lo].high)) / span
    return value, low, high


def cpus(by_n, strategy, workers):
    """{n: CPU seconds of the process tree per run, median of the repetitions} of one configuration, where recorded."""
    out = {}
    for n, cells in by_n.items():
        bench = cells.get((strategy, workers))
        v = bench.counter_median("tree_cpu_s") if bench is not None and bench.usable else None
        if v is not None:
            out[n] = v
    return out


def cpu_per_byte(proc, ref, strategy, workers):
    """ns of CPU per byte moved, from {n: CPU seconds per run} of the strategy and of thread_pool at the smallest and
    largest n both have; None without two."""
    e = ends(proc, ref, strategy, workers)
    if e is None:
        return None
    lo, hi, span = e
    return ((proc[hi] - ref[hi]) - (proc[lo] - ref[lo])) * 1e9 / span


def resolved_slower(p, r):
    """Whether time p is slower than time r beyond both intervals."""
    return p.low > r.high


def crossover_text(proc, ref):
    """The B from which proc is slower than ref beyond the intervals at every larger B measured, in words: the
    bracket between the last size where it was not and the first from which it is; "" without common sizes."""
    common = sorted(set(proc) & set(ref))
    if not common:
        return ""
    first = len(common)
    while first > 0 and resolved_slower(proc[common[first - 1]], ref[common[first - 1]]):
        first -= 1
    if first == len(common):
        return f"never (up to {format_bytes(common[-1] * ELEMENT_BYTES)})"
    if first == 0:
        return f"≤ {format_bytes(common[0] * ELEMENT_BYTES)} (slower at every B)"
    return f"{format_bytes(common[first - 1] * ELEMENT_BYTES)} – {format_bytes(common[first] * ELEMENT_BYTES)}"


def pipe_per_byte(others):
    """{message bytes: ns per byte} of overhead/ipc/pipe one way, from each size's fastest repetition."""
    out = {}
    for bench in others:
        m = PIPE_RE.match(bench.name)
        if m is None or not bench.usable:
            continue
        size = int(m.group("bytes"))
        t = bench.time_estimate()
        if t is not None and t.value > 0 and size > 0:
            out[size] = t.value / size
    return out


def against_pipe(cost, pipe, b, cpu=None):
    """The cost per byte moved as a multiple of a pipe's at message size b, and the CPU per byte moved as one where
    given: "1.32× of 0.412 ns; CPU 2.10×"; "" where the run has no pipe of that size."""
    ref = pipe.get(b)
    if ref is None:
        return ""
    text = f"{cost / ref:.2f}× of {ref:.3f} ns"
    return text + f"; CPU {cpu / ref:.2f}×" if cpu is not None else text


def rows_for(by_n, pipe):
    """One row per process strategy and worker count that has thread_pool beside it."""
    rows = []
    configs = sorted({c for cells in by_n.values() for c in cells
                      if suite_of(c[0]) == "native" and c[0] in MOVED})
    for strategy, workers in configs:
        proc = times(by_n, strategy, workers)
        ref = times(by_n, "thread_pool", workers)
        cost = per_byte(proc, ref, strategy, workers)
        if cost is None:
            continue
        largest = max(set(proc) & set(ref))
        gil = times(by_n, "gil_threads", workers)
        cpu = cpu_per_byte(cpus(by_n, strategy, workers), cpus(by_n, "thread_pool", workers), strategy, workers)
        rows.append([f"`{strategy}`", workers, format_bytes(largest * ELEMENT_BYTES),
                     format_bytes(moved_bytes(strategy, workers, largest)),
                     format_time_ns(proc[largest].value - ref[largest].value),
                     f"{cost[0]:.3f} [{cost[1]:.3f}, {cost[2]:.3f}]",
                     f"{1.0 / cost[0]:.2f}" if cost[0] > 0 else "–",
                     f"{cpu:.3f}" if cpu is not None else "",
                     against_pipe(cost[0], pipe, largest * ELEMENT_BYTES, cpu),
                     crossover_text(proc, ref), crossover_text(proc, gil)])
    return rows


def md_payload(kernels, others=()):
    """The section; [] where the run has no payload kernel with thread_pool and a process strategy. others: the
    run's benchmarks outside the matrix, where overhead/ipc/pipe is."""
    pipe = pipe_per_byte(others)
    lines = []
    for kernel in KERNELS:
        if kernel not in kernels:
            continue
        rows = rows_for(kernels[kernel], pipe)
        if rows:
            lines += [f"#### {kernel}", ""] + md_table(
                ["strategy", "workers", "largest B", "moved per run there", "extra time over thread_pool there",
                 "ns per byte moved [interval]", "GB/s", "CPU ns per byte moved", "÷ a pipe's ns per byte at largest B",
                 "stops paying against thread_pool at B", "against gil_threads"], rows) + [""]
    if not lines:
        return []
    return ["## Moving the data", "",
            "The `payload` kernel: fixed work over B bytes of doubles the caller holds, B bytes of output back. "
            "Threads share the data; each process strategy moves it (both ways; `processes.cow` the output only; "
            "a pool whose caller runs chunk 0, and `mpi`, all but the caller's chunk). Cost per byte moved: the "
            "growth of its time over `thread_pool`'s from the smallest to the largest B, per byte moved (what "
            "both pay at every B cancels); GB/s is its inverse. CPU per byte moved: the same growth in the CPU "
            "time of the whole process tree (median), which counts what moving the data burns even where it "
            "overlaps the work. Beside them, as multiples of each, a pipe's own time per byte for one message of "
            "the largest B (`overhead/ipc/pipe/bytes:B/one_way`, where the run has it). "
            "Crossover: between the last B where the strategy is not slower than the threads beyond both time "
            "intervals and the first from which it is at every larger B (*never*: not up to the largest B).",
            ""] + lines
