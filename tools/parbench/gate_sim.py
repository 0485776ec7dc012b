"""Data for measuring the paired gate's error rates, and gates simulated from it.

collect(): rounds of interleaved runs of one binary in several *arms*, e.g. plain twice ('A', 'A2') and with a
slowdown injected by --parbench_test_slowdown ('B10', 'B5'). In each round, every group of benchmarks runs once in
every arm, the arms in a random order, so that each arm's run of a benchmark is seconds from the others'.
"""

import os
import random
import time

from . import gate_run


def collect(binary, names, arms, rounds, group_size, record_path, seed=1, common_flags=(), log=None):
    """Run `rounds` rounds; arms maps an arm's name to its extra flags. Appends records to record_path."""
    rng = random.Random(seed)
    rec = gate_run.Recorder(record_path)
    try:
        for r in range(rounds):
            for g, group in enumerate(gate_run.groups(names, group_size)):
                order = list(arms)
                rng.shuffle(order)
                for position, arm in enumerate(order):
                    started = time.time()
                    results, wall, status, problem = gate_run.run_group(binary, group,
                                                                        [*common_flags, *arms[arm]])
                    rec.write({"round": r, "group": g, "arm": arm, "position": position, "start": started,
                               "wall_s": wall, "status": status, "problem": problem,
                               "loadavg": os.getloadavg()[0], "results": results})
                    if problem and log:
                        log(f"round {r + 1}, group {g}, arm {arm}: {problem}")
            if log:
                log(f"round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}")
    finally:
        rec.close()


class Pool:
    """Recorded runs by (round, arm): the times of each benchmark and an estimate of what each run cost."""

    def __init__(self, records, process_overhead_s=0.03):
        self.times = {}          # (round, arm) -> name -> ns or None
        self.cost = {}           # name -> seconds one run of it takes, on average (its group's wall / size)
        self.process_overhead_s = process_overhead_s
        self.group_size = 1
        costs, loads = {}, []
        for rec in records:
            self.times.setdefault((rec["round"], rec["arm"]), {}).update(rec["results"])
            size = len(rec["results"]) or 1
            self.group_size = max(self.group_size, size)
            per = max(0.0, float(rec.get("wall_s", 0.0)) - process_overhead_s) / size
            for name in rec["results"]:
                costs.setdefault(name, []).append(per)
            if isinstance(rec.get("loadavg"), (int, float)):
                loads.append(rec["loadavg"])
        self.cost = {n: sum(v) / len(v) for n, v in costs.items()}
        self.loads = sorted(loads)
        arms = {arm for _, arm in self.times}
        self.arms = sorted(arms)
        # Rounds where every arm ran every benchmark: the only ones a simulated gate draws from.
        rounds = {r for r, _ in self.times}
        self.names = sorted(self.cost)
        self.rounds = sorted(r for r in rounds if all(
            (r, arm) in self.times and all(n in self.times[(r, arm)] for n in self.names) for arm in arms))

    def round_wall_s(self, names):
        """Estimated wall time of one gate round over these benchmarks: both sides, groups of group_size."""
        processes = 2 * -(-len(names) // self.group_size)
        return 2 * sum(self.cost[n] for n in names) + processes * self.process_overhead_s


def simulate(pool, settings, base_arms, head_arms, gates, seed=1, names=None, max_rounds=None,
             budget_s=None):
    """Replay `gates` sequential gates on resampled rounds of the pool.

    Each gate draws a random order of the pool's rounds (without replacement) and a base and a head arm per gate
    (different arms when both lists hold the same ones, as for A/A). Returns a list of (verdicts, rounds, wall_s).
    """
    import random

    from . import paired
    rng = random.Random(seed)
    names = list(names or pool.names)
    cap = settings.looks[-1]
    if len(pool.rounds) < cap:
        raise ValueError(f"the pool has {len(pool.rounds)} complete rounds, a gate needs up to {cap}")
    results = []
    for _ in range(gates):
        order = rng.sample(pool.rounds, max_rounds or cap)
        base = rng.choice(base_arms)
        head = rng.choice([a for a in head_arms if a != base])
        wall = [0.0]

        def measure(r, open_names, order=order, base=base, head=head, wall=wall):
            wall[0] += pool.round_wall_s(open_names)
            a, b = pool.times[(order[r], base)], pool.times[(order[r], head)]
            return {n: (a[n], b[n]) if a.get(n) and b.get(n) else None for n in open_names}

        def out_of_time(wall=wall):
            return budget_s is not None and wall[0] >= budget_s

        verdicts, _, rounds = paired.sequential(names, settings, measure, out_of_time)
        results.append((verdicts, rounds, wall[0]))
    return results
