"""Results the report must not recommend from: the checks that keep a report from misleading.

A result is *flagged* when it cannot be what it claims:
- implausible speedup: more than PLAUSIBLE_OVER_CPUS x min(W, CPUs) for a kernel whose work is computing, which
  parallelism alone cannot give (a different amount of work can);
- one worker faster than sequential beyond both intervals: the same loop on one CPU, so the difference is
  different work or a disturbance, not a strategy's merit.
A result whose interval is too wide to decide (estimate.WIDE) is not flagged but left undecided by the
recommendation (estimate.decide), which says so. The spread of repetitions (cv) is shown, never used to decide:
on a busy machine it measures the machine, and the estimator (estimate.py) does not rest on it.
"""

import statistics
from dataclasses import dataclass

from .model import baseline_of, is_baseline
from .stats import speedup_estimate

PLAUSIBLE_OVER_CPUS = 1.1  # a speedup may exceed min(W, CPUs) by this factor (timer and cache effects), no more
# Kernels whose work is waiting (and their variants, socket_tasks.delay_*): W workers may wait W times as fast, on
# any number of CPUs.
WAITING_KERNELS = ("sleep_tasks", "socket_tasks")


def is_waiting(kernel):
    """Whether a kernel's work is waiting rather than computing: sleep_tasks, socket_tasks.*."""
    return any(kernel == k or kernel.startswith(k + ".") for k in WAITING_KERNELS)


def cv(bench):
    """Coefficient of variation of a benchmark's repetition times; None when measured once."""
    times = [s.real_time_ns for s in bench.samples]
    if len(times) >= 2:
        mean = statistics.fmean(times)
        return statistics.stdev(times) / mean if mean > 0 else None
    if "mean" in bench.aggregates and "stddev" in bench.aggregates and bench.aggregates["mean"][0] > 0:
        return bench.aggregates["stddev"][0] / bench.aggregates["mean"][0]
    return None


def format_cv(bench):
    value = cv(bench)
    return "spread unknown (one repetition)" if value is None else f"± {value * 100:.1f}%"


@dataclass(frozen=True)
class Flag:
    kind: str    # "noisy", "noisy baseline", "implausible"
    why: str


def flags_at(kernel, cells, hw):
    """{(strategy, workers): [Flag]} for the flagged configurations at one kernel and n."""
    out = {}
    for (strategy, workers), bench in cells.items():
        if not bench.usable or is_baseline(strategy):
            continue
        found = []
        s = speedup_estimate(cells, strategy, workers)
        if s is not None:
            bound = PLAUSIBLE_OVER_CPUS * min(workers, hw) if hw else None
            if workers > 1 and not is_waiting(kernel) and bound is not None and s.value > bound:
                found.append(Flag("implausible", f"{s.value:.2f}× with {workers} worker(s) on {hw} CPUs: "
                                                 f"parallelism gives at most about {min(workers, hw)}×"))
            if workers == 1 and s.low > 1:
                found.append(Flag("implausible", f"one worker {s.text()} faster than `{baseline_of(strategy)}`, "
                                                 "beyond both intervals"))
        if found:
            out[(strategy, workers)] = found
    return out
