"""How disturbed the machine was during a run, from the counters bench_parallel records with every repetition.

Each repetition of a matrix benchmark times a fixed probe loop on every CPU before and after it (``probe_ns``: the
slowest reading, ``probe_best_ns``: the fastest), and records the number of other processes ready to run as it
began (``others_running``), the share of CPU time the hypervisor stole during it (``steal_pct``) and when it ran
(``at_s``, seconds into the run). A sample counts as disturbed when a CPU's probe took more than SLOW_PROBE times
the run's calm probe (estimate.calm_reference: that CPU was slowed, typically by another machine's thread on its
sibling hyperthread), another process was ready to run, or steal exceeded STEAL_PCT. The CPU state of each sample
(estimate.state_of: calm, slow or neither) is what the speedups are matched by. ``warmed`` (newer files) says
whether one untimed run came just before the repetition's timed ones.
"""

from dataclasses import dataclass, field

from . import estimate

SLOW_PROBE = estimate.CALM
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
    calm: int = 0                                    # samples with every CPU calm (estimate.state_of)
    all_slow: int = 0                                # samples held back by a slowed CPU (state "slow")
    warm_known: int = 0                              # samples that say whether a warm-up run preceded them
    warmed: int = 0                                  # ... and of those, the ones it did (counter warmed = 1)


def summarize(run):
    """Summary over every sample that carries the counters, None when none does."""
    rows = [(s.round[0], s.counters, s.state) for b in run.benchmarks.values() for s in b.samples
            if "probe_ns" in s.counters and s.counters["probe_ns"] > 0]
    if not rows:
        return None
    reference = run.calm_probe or estimate.calm_reference(c.get("probe_best_ns") or c["probe_ns"]
                                                          for _, c, _ in rows)
    out = Summary(passes=len({f for f, _, _ in rows}))
    for file_index, c, state in rows:
        out.calm += state == "calm"
        out.all_slow += state == "slow"
        slow = c["probe_ns"] > SLOW_PROBE * reference
        others = c.get("others_running", 0) >= 1
        steal = c.get("steal_pct", 0) > STEAL_PCT
        hit = slow or others or steal
        out.samples += 1
        if "warmed" in c:
            out.warm_known += 1
            out.warmed += c["warmed"] == 1
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
    warm = ""
    if summary.warm_known:
        warm = (f" {summary.warmed} of the {summary.warm_known} repetitions that say followed one untimed run of "
                "their own (counter `warmed`: W ≥ 2 and runs under 20 ms), so that their workers' CPUs were awake "
                "when timing began.")
    return (f"{pct(summary.disturbed)} of {summary.samples} repetitions ran while the machine was disturbed: a "
            f"CPU's probe slower than {SLOW_PROBE}× the calm one in {pct(summary.slow_probe)} (held back by a "
            f"slowed CPU throughout in {pct(summary.all_slow)}, every CPU calm in {pct(summary.calm)}), another "
            f"process ready to run in {pct(summary.others)}, steal above {STEAL_PCT:.0f}% in {pct(summary.steal)}. "
            f"By minute of the first pass: {when}. Repetitions are interleaved at random; a speedup compares "
            "repetitions taken in one state of the CPUs (calm where both sides have some, else slow), so a "
            "disturbed stretch costs precision (wider intervals) rather than bias." + warm)
