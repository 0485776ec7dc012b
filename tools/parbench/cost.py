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
  stands beside it where the run has it: the burn of workers that have parked between runs.
"""

import re

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
    idle_text = format_number(idle[(strategy, workers)]) if (strategy, workers) in idle else ""
    return [f"`{strategy}`", workers, format_time_ns(t.value), format_speedup(s) if s is not None else "",
            format_time_ns(cpu * 1e9), f"{ratio:.2f}×" if ratio is not None else "",
            format_speedup(per_cpu) if per_cpu is not None else "",
            f"{util:.2f}" if util is not None else "", f"{beyond:.0f}%" if beyond is not None else "", idle_text]


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
                 "speedup per CPU", "utilisation", "burn beyond the work", "overhead/idle"], rows) + [""]
    if not lines:
        return []
    return ["## CPU cost", "",
            "At each kernel's largest n: the CPU of the whole process tree per run (threads, children, a pool's "
            "workers; the median repetition), its multiple of the sequential loop's, the speedup per CPU-second "
            "(speedup ÷ that multiple: W for W workers that add no CPU), utilisation (CPU ÷ (wall × W)) and "
            "the burn beyond the work ((CPU − sequential's) ÷ wall, % of one CPU), beside `overhead/idle`'s "
            "`idle_cpu_pct` for parked workers where the run has it.", ""] + lines
