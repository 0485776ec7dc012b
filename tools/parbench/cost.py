"""The cost view: the CPU each configuration burns for its speedup, from the tree_cpu_s and utilisation counters.

bench_parallel records with every matrix benchmark the CPU seconds per run of its whole process tree (all threads,
reaped children, a pool's live workers; ``tree_cpu_s``) and ``utilisation``, that CPU over wall time × W. At each
kernel's largest n the report sets beside the speedup:

- the CPU per run as a multiple of the sequential loop's (the work itself costs about 1×);
- the speedup per CPU-second, normalised so that the sequential loop scores 1: speedup ÷ that multiple. W workers
  that split the work without extra CPU score W; a strategy that wins wall time by keeping idle cores spinning
  scores less than its speedup;
- the burn beyond the work, (CPU − the sequential loop's CPU) ÷ wall time, in percent of one CPU: what waiting,
  spinning, starting and copying cost. ``overhead/idle/<strategy>/workers:W`` (``idle_cpu_pct``, the same unit)
  stands beside it where the run has it: the burn of workers that have parked between runs;
- the CPU each strategy burns while idle, as a share of its idle thread-time: (CPU − the sequential loop's CPU) ÷
  (W × wall − the sequential loop's CPU), 0 for workers that sleep while they wait, 1 for workers that spin
  (``thread_pool.spin``), shown where idle thread-time is at least a tenth of W × wall (an uneven kernel's static
  halves; elsewhere the quotient is noise over a small number) and where runs last 10 ms or more (in shorter ones
  the CPU clock reads a spinning thread's time up to a scheduler tick late). Beside it, the same share from
  ``overhead/idle``: ``idle_cpu_pct`` ÷ (100 × (W − 1)), per worker other than the caller, who sleeps there.
"""

import re
import statistics

from . import schema
from .markdown import format_number, format_speedup, format_time_ns
from .markdown import table as md_table
from .model import is_baseline, suite_of
from .stats import speedup_estimate

IDLE_RE = re.compile(r"^overhead/idle/(?P<strategy>[^/]+)/workers:(?P<workers>\d+)")


def idle_pct(others):
    """{(strategy, workers): idle_cpu_pct} from the overhead/idle family's benchmarks."""
    out = {}
    for bench in others:
        m = IDLE_RE.match(bench.name)
        if m is None:
            continue
        value = bench.counter_median("idle_cpu_pct")
        if value is not None:
            out[(m.group("strategy"), int(m.group("workers")))] = value
    return out


# Idle thread-time below this share of W × wall is too small to divide by.
MIN_IDLE_SHARE = 0.1
# A benchmark whose runs (the median) are shorter than this is not read: the CPU clock of a thread that is still
# running counts its time only up to its last scheduler tick, so in runs of a few ms a spinning worker reads far
# below its burn.
MIN_IDLE_RUN_NS = 1e7


def idle_share(cpu, wall_s, workers, base_cpu):
    """One repetition's share of idle thread-time that burned CPU, or None where there is too little idle time."""
    if base_cpu is None or cpu is None or workers < 2 or wall_s <= 0:
        return None
    capacity = workers * wall_s
    idle_time = capacity - base_cpu
    if idle_time < MIN_IDLE_SHARE * capacity:
        return None
    return (cpu - base_cpu) / idle_time


def idle_burned(bench, workers, base_cpu):
    """The median over repetitions of idle_share (each repetition's CPU with its own wall time); from the median
    CPU and time where only aggregates were written. None where no repetition had idle time enough, or where the
    benchmark's runs (its median) last less than MIN_IDLE_RUN_NS."""
    median = bench.median_ns()
    if median is None or median < MIN_IDLE_RUN_NS:
        return None
    if bench.samples:
        shares = [v for sample in bench.samples
                  if schema.finite(sample.counters.get("tree_cpu_s"))
                  and (v := idle_share(sample.counters["tree_cpu_s"], sample.real_time_ns * 1e-9, workers,
                                       base_cpu)) is not None]
        return statistics.median(shares) if shares else None
    return idle_share(bench.counter_median("tree_cpu_s"), median * 1e-9, workers, base_cpu)


def idle_per_worker(pct, workers):
    """overhead/idle's idle_cpu_pct as a share of the idle thread-time of the W − 1 workers beside the caller."""
    return None if pct is None or workers < 2 else pct / (100.0 * (workers - 1))


def cost_row(cells, strategy, workers, base_cpu, idle):
    """One table row, or None where the benchmark has no CPU counter or no time."""
    bench = cells[(strategy, workers)]
    cpu = bench.counter_median("tree_cpu_s")
    t = bench.time_estimate()
    if cpu is None or t is None or t.value <= 0:
        return None
    ratio = cpu / base_cpu if base_cpu else None
    s = 1.0 if is_baseline(strategy) else getattr(speedup_estimate(cells, strategy, workers), "value", None)
    per_cpu = s / ratio if s is not None and ratio else None
    beyond = 100.0 * (cpu - base_cpu) / (t.value * 1e-9) if base_cpu is not None else None
    util = bench.counter_median("utilisation")
    pct = idle.get((strategy, workers))
    idle_text = format_number(pct) if pct is not None else ""
    burned = idle_burned(bench, workers, base_cpu)
    parked = idle_per_worker(pct, workers)
    return [f"`{strategy}`", workers, format_time_ns(t.value), format_speedup(s) if s is not None else "",
            format_time_ns(cpu * 1e9), f"{ratio:.2f}×" if ratio is not None else "",
            format_speedup(per_cpu) if per_cpu is not None else "",
            f"{util:.2f}" if util is not None else "", f"{beyond:.0f}%" if beyond is not None else "", idle_text,
            f"{burned:.2f}" if burned is not None else "", f"{parked:.2f}" if parked is not None else ""]


def md_cost(kernels, others):
    """The report's section; [] where no benchmark has the counters (an older bench_parallel)."""
    idle = idle_pct(others)
    lines = []
    for kernel in sorted(kernels):
        by_n = kernels[kernel]
        n = max(by_n)
        cells = {k: b for k, b in by_n[n].items() if suite_of(k[0]) == "native" and b.usable}
        base = cells.get(("sequential", 1))
        base_cpu = base.counter_median("tree_cpu_s") if base is not None else None
        rows = [row for key in sorted(cells, key=lambda k: (not is_baseline(k[0]), k[0], k[1]))
                if (row := cost_row(cells, key[0], key[1], base_cpu, idle)) is not None]
        if rows:
            lines += [f"#### {kernel}, n = {n:,}", ""] + md_table(
                ["strategy", "workers", "time", "speedup", "CPU per run", "CPU ÷ sequential's",
                 "speedup per CPU", "utilisation", "burn beyond the work", "overhead/idle",
                 "idle time burned", "overhead/idle, per worker"], rows) + [""]
    if not lines:
        return []
    return ["## CPU cost", "",
            "At each kernel's largest n: the CPU of the whole process tree per run (threads, children, a pool's "
            "workers; the median repetition), its multiple of the sequential loop's, the speedup per CPU-second "
            "(speedup ÷ that multiple: W for W workers that add no CPU), utilisation (CPU ÷ (wall × W)) and "
            "the burn beyond the work ((CPU − sequential's) ÷ wall, % of one CPU), beside `overhead/idle`'s "
            "`idle_cpu_pct` for parked workers where the run has it. The CPU burned while idle: the share of the "
            "idle thread-time that burned CPU, (CPU − sequential's) ÷ (W × wall − sequential's), where idle "
            "thread-time is at least a tenth of W × wall and runs last 10 ms or more (0: workers sleep while "
            "they wait; 1: they spin), "
            "beside the same share from `overhead/idle` (`idle_cpu_pct` ÷ (100 × (W − 1)), the caller asleep).",
            ""] + lines
