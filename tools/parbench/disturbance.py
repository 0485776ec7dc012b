"""How disturbed the machine was during a run, from the counters bench_parallel records with every repetition.

Each repetition of a matrix benchmark starts with a fixed probe loop timed on the calling CPU (``probe_ns``), the
number of other processes ready to run at that moment (``others_running``), the share of CPU time the hypervisor
stole during the repetition (``steal_pct``) and when it ran (``at_s``, seconds into the run). A sample counts as
disturbed when its probe took more than SLOW_PROBE times the run's undisturbed probe (its 5th percentile: the
CPU was slower or shared), another process was ready to run, or steal exceeded STEAL_PCT.
"""

from dataclasses import dataclass, field

SLOW_PROBE = 1.3
STEAL_PCT = 5.0
BUCKET_S = 60.0


@dataclass
class Summary:
    samples: int = 0
    disturbed: int = 0
    slow_probe: int = 0
    others: int = 0
    steal: int = 0
    by_minute: dict = field(default_factory=dict)   # bucket start (s) -> (disturbed, samples)
    passes: int = 1


def _quantile(values, q):
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1)))]


def summarize(run):
    """Summary over every sample that carries the counters, None when none does."""
    rows = [(s.round[0], s.counters) for b in run.benchmarks.values() for s in b.samples
            if "probe_ns" in s.counters and s.counters["probe_ns"] > 0]
    if not rows:
        return None
    calm = _quantile([c["probe_ns"] for _, c in rows], 0.05)
    out = Summary(passes=len({f for f, _ in rows}))
    for file_index, c in rows:
        slow = c["probe_ns"] > SLOW_PROBE * calm
        others = c.get("others_running", 0) >= 1
        steal = c.get("steal_pct", 0) > STEAL_PCT
        hit = slow or others or steal
        out.samples += 1
        out.disturbed += hit
        out.slow_probe += slow
        out.others += others
        out.steal += steal
        if file_index == 0:
            bucket = int(c.get("at_s", 0) // BUCKET_S) * BUCKET_S
            d, n = out.by_minute.get(bucket, (0, 0))
            out.by_minute[bucket] = (d + hit, n + 1)
    return out


def describe(summary):
    """A paragraph for the report."""
    def pct(k):
        return f"{100.0 * k / summary.samples:.0f}%"
    when = ", ".join(f"{int(start // 60)}–{int(start // 60) + 1} min {100.0 * d / n:.0f}%"
                     for start, (d, n) in sorted(summary.by_minute.items()))
    return (f"{pct(summary.disturbed)} of {summary.samples} repetitions ran while the machine was disturbed: the "
            f"probe loop slower than {SLOW_PROBE}× its best in {pct(summary.slow_probe)}, another process ready to "
            f"run in {pct(summary.others)}, steal above {STEAL_PCT:.0f}% in {pct(summary.steal)}. By minute of the "
            f"first pass: {when}. Repetitions are interleaved at random and the estimates rest on the fastest ones, "
            "so a disturbed stretch costs precision (wider intervals) rather than bias.")
