"""Data for measuring the paired gate's error rates, and gates simulated from it.

collect(): rounds of interleaved runs of one binary in several *arms*, e.g. plain twice ('A', 'A2') and with a
slowdown injected by --parbench_test_slowdown ('B10', 'B5'). In each round, every group of benchmarks runs once in
every arm, the arms in a random order, so that each arm's run of a benchmark is seconds from the others'.
"""

import os
import random
import re
import statistics
import sys
import time

from . import cli, gate_run, paired


def collect(binary, names, arms, rounds, group_size, record_path, seed=1, common_flags=(), log=None,
            realtime=False):
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
                    probes: dict = {}
                    results, wall, status, problem = gate_run.run_group(binary, group,
                                                                        [*common_flags, *arms[arm]],
                                                                        realtime=realtime, counters=probes)
                    rec.write({"round": r, "group": g, "arm": arm, "position": position, "start": started,
                               "wall_s": wall, "status": status, "problem": problem,
                               "loadavg": os.getloadavg()[0], "results": results, "probes": probes})
                    if problem and log:
                        log(f"round {r + 1}, group {g}, arm {arm}: {problem}")
            if log:
                log(f"round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}")
    finally:
        rec.close()


class Pool:
    """Recorded runs by (round, arm): the times of each benchmark and an estimate of what each run cost."""

    def __init__(self, records, process_overhead_s=0.03):
        self.times: dict = {}    # (round, arm) -> name -> ns or None
        self.cost = {}           # name -> seconds one run of it takes, on average (its group's wall / size)
        self.process_overhead_s = process_overhead_s
        self.group_size = 1
        costs: dict = {}
        loads: list = []
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


def simulate(pool, settings, base_arms, head_arms, gates, seed=1, names=None, budget_s=None):
    """Replay `gates` sequential gates on resampled rounds of the pool.

    Each gate draws a random order of the pool's rounds (without replacement) and a base and a head arm per gate
    (different arms when both lists hold the same ones, as for A/A). A gate stops at the budget, at its last look,
    or when the pool's rounds run out, whichever comes first. Returns a list of (verdicts, rounds, wall_s).
    """
    rng = random.Random(seed)
    names = list(names or pool.names)
    cap = min(settings.looks[-1], len(pool.rounds))   # fewer rounds in the pool: a gate ends when they do
    results = []
    for _ in range(gates):
        order = rng.sample(pool.rounds, cap)
        base = rng.choice(base_arms)
        head = rng.choice([a for a in head_arms if a != base])
        wall = [0.0]

        def measure(r, open_names, order=order, base=base, head=head, wall=wall):
            wall[0] += pool.round_wall_s(open_names)
            a, b = pool.times[(order[r], base)], pool.times[(order[r], head)]
            return {n: (a[n], b[n]) if a.get(n) and b.get(n) else None for n in open_names}

        rounds_run = [0]

        def measure_counted(r, open_names, measure=measure, rounds_run=rounds_run):
            rounds_run[0] += 1
            return measure(r, open_names)

        def out_of_time(wall=wall, rounds_run=rounds_run):
            return (budget_s is not None and wall[0] >= budget_s) or rounds_run[0] >= cap

        verdicts, _, rounds = paired.sequential(names, settings, measure_counted, out_of_time)
        results.append((verdicts, rounds, wall[0]))
    return results


# ------------------------------------------------------------------------------------------ command line

PROG = "parbench-gate-rates"


def _pct(hits, total):
    return f"{hits}/{total} = {100.0 * hits / total:.2f}%" if total else "n/a"


COLLECT_HELP = ("Record interleaved rounds of one bench_parallel in the arms A and A2 (plain) and slowNN (with "
                "--parbench_test_slowdown=KERNELS:0.NN), for 'parbench-gate-rates paired'.")
PAIRED_HELP = ("Error rates and wall time of parbench-gate, from gates replayed on resampled rounds of records written "
               "by 'parbench-gate-rates collect'. Each gate draws its rounds in a random order without replacement; "
               "gates share rounds, so the rates are estimates, not independent binomials.")


def add_collect_arguments(p):
    """The options of 'parbench-gate-rates collect', on its subparser p."""
    p.add_argument("--bin", required=True, help="bench_parallel")
    p.add_argument("--filter", default="", help="--benchmark_filter of the benchmarks to record")
    p.add_argument("--profile", default="quick")
    p.add_argument("--slowdown", type=float, action="append", default=[],
                   help="a fraction to inject in an arm of its own (repeatable), e.g. 0.10 and 0.05")
    p.add_argument("--kernels", default="*", help="KERNEL of --parbench_test_slowdown (default *: every kernel)")
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--group", type=int, default=8, help="benchmarks per process, as the gate (default 8)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--realtime", action="store_true", help="runs as SCHED_FIFO, as parbench-gate --realtime")
    p.add_argument("--out", required=True, help="record file (JSON lines; appended to)")


def _check_collect(p, args):
    if args.rounds < 1 or args.group < 1 or any(not 0 < f <= 10 for f in args.slowdown):
        p.error("--rounds and --group must be positive, --slowdown in (0, 10]")


def add_paired_arguments(p):
    """The options of 'parbench-gate-rates paired', on its subparser p."""
    p.add_argument("records", nargs="+", help="record files of 'collect' (their rounds are pooled)")
    p.add_argument("--gates", type=int, default=200)
    p.add_argument("--names", default=None, help="regex: simulate gates over these benchmarks only")
    p.add_argument("--slowed", default=r"^(?!overhead/|gil/)",
                   help="regex of the benchmarks the slowdown arms slow (default: every kernel benchmark)")
    p.add_argument("--alpha", type=float, default=paired.Settings.alpha)
    p.add_argument("--alpha-eq", type=float, default=paired.Settings.alpha_eq)
    p.add_argument("--threshold", type=float, default=paired.Settings.threshold)
    p.add_argument("--min-effect", type=float, default=paired.Settings.min_effect)
    p.add_argument("--looks", default=",".join(map(str, paired.Settings.looks)))
    p.add_argument("--max-minutes", type=float, default=15.0, help="the gate's time budget (default 15)")
    p.add_argument("--method", choices=paired.METHODS, default=paired.Settings.method,
                   help="how the gate estimates and tests each benchmark, as parbench-gate --method (default "
                        f"{paired.Settings.method})")
    p.add_argument("--seed", type=int, default=1)


def _check_paired(p, args):
    try:
        args.settings = paired.Settings.from_args(args)
    except ValueError as e:
        p.error(str(e))
    if args.gates < 1:
        p.error("--gates must be positive")
    try:
        args.names_re = re.compile(args.names) if args.names else None
        args.slowed_re = re.compile(args.slowed)
    except re.error as e:
        p.error(f"not a regular expression: {e}")


def main_collect(p, args):
    """'parbench-gate-rates collect' with its parsed arguments; p is its subparser (for usage errors)."""
    _check_collect(p, args)
    cli.output_path(args.out)   # before listing and running anything
    flags = gate_run.gate_flags(args.profile)   # the gate's own runs
    try:
        names = gate_run.list_benchmarks(
            args.bin, flags + ([f"--benchmark_filter={args.filter}"] if args.filter else []))
    except gate_run.RunError as e:
        raise cli.InputError(str(e)) from None
    if not names:
        print(f"{PROG} collect: no benchmark matched", file=sys.stderr)
        return cli.EXIT_INCOMPLETE
    arms: dict[str, list] = {"A": [], "A2": []}
    for f in args.slowdown:
        arms[f"slow{f:g}"] = [f"--parbench_test_slowdown={args.kernels}:{f:g}"]
    print(f"{PROG} collect: {len(names)} benchmarks, arms {', '.join(arms)}, {args.rounds} rounds -> {args.out}",
          file=sys.stderr)
    if args.realtime and gate_run.check_realtime():
        raise cli.InputError(f"--realtime: {gate_run.check_realtime()}")
    collect(args.bin, names, arms, args.rounds, args.group, args.out, args.seed, flags,
            log=lambda m: print(f"{PROG} collect: {m}", file=sys.stderr), realtime=args.realtime)
    return cli.EXIT_OK


def load_pool(paths):
    """Pool the records of several files; each file's rounds are kept apart (a round is a file's round)."""
    records = []
    for k, path in enumerate(paths):
        for rec in gate_run.read_records(path):
            records.append({**rec, "round": k * 1_000_000 + rec["round"]})
    return Pool(records)


def _wall(values):
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return f"median {pick(0.5) / 60:.1f} min, 90th percentile {pick(0.9) / 60:.1f}, max {values[-1] / 60:.1f}"


def main_paired(p, args):
    """'parbench-gate-rates paired' with its parsed arguments; p is its subparser (for usage errors)."""
    _check_paired(p, args)
    try:
        pool = load_pool(args.records)
    except gate_run.RunError as e:
        raise cli.InputError(str(e)) from None
    names = [n for n in pool.names if args.names_re is None or args.names_re.search(n)]
    if not names:
        print(f"{PROG} paired: no benchmark in the records" + (" matches --names" if args.names else ""),
              file=sys.stderr)
        return cli.EXIT_INCOMPLETE
    plain = [a for a in ("A", "A2") if a in pool.arms]
    slow_arms = [a for a in pool.arms if a not in ("A", "A2")]
    if len(plain) < 2:
        raise cli.InputError("the records need the arms A and A2 (plain runs) for A/A gates")
    if len(pool.rounds) < args.settings.looks[0]:
        raise cli.InputError(f"the records hold {len(pool.rounds)} complete rounds; the first look needs "
                             f"{args.settings.looks[0]}")
    if len(pool.rounds) < args.settings.looks[-1]:
        print(f"note: the records hold {len(pool.rounds)} complete rounds, fewer than the cap of "
              f"{args.settings.looks[-1]}: a gate that would go on stops there (its last look)")
    budget = args.max_minutes * 60
    s = args.settings
    loads = pool.loads
    print(f"{len(pool.rounds)} complete rounds, {len(names)} benchmarks, arms {', '.join(pool.arms)}; load average "
          f"during collection: median {statistics.median(loads):.1f} (min {loads[0]:.1f}, max {loads[-1]:.1f})"
          if loads else "")
    print(f"{args.gates} simulated gates per case, method {s.method}: looks at rounds {', '.join(map(str, s.looks))}, "
          f"alpha {s.alpha:g}, "
          f"threshold ±{s.threshold:.0%}, min effect {s.min_effect:.0%}, budget {args.max_minutes:g} min "
          f"(wall time estimated from the recorded runs, {pool.process_overhead_s * 1000:.0f} ms per process)")
    print()

    def count(results, kinds):
        return sum(v.verdict in kinds for verdicts, _, _ in results for v in verdicts.values())

    def decided(results):
        """Gates that decided anything within the budget: a regression, an improvement or a no change."""
        return sum(any(v.verdict in (paired.REGRESSION, paired.IMPROVEMENT, paired.NO_CHANGE)
                       for v in verdicts.values()) for verdicts, _, _ in results)

    aa = simulate(pool, s, plain, plain, args.gates, args.seed, names, budget_s=budget)
    alarms = {n: 0 for n in names}
    for verdicts, _, _ in aa:
        for n, v in verdicts.items():
            alarms[n] += v.verdict in (paired.REGRESSION, paired.IMPROVEMENT)
    worst = max(alarms.items(), key=lambda kv: kv[1])
    gates_alarmed = sum(any(v.verdict in (paired.REGRESSION, paired.IMPROVEMENT) for v in verdicts.values())
                        for verdicts, _, _ in aa)
    total = len(names) * args.gates
    print("A/A (base and head the same binary):")
    print(f"  false alarms per benchmark: {_pct(sum(alarms.values()), total)} "
          f"(regressions {count(aa, (paired.REGRESSION,))}, improvements {count(aa, (paired.IMPROVEMENT,))}); "
          f"worst benchmark {worst[1]}/{args.gates} ({worst[0]})")
    print(f"  gates with any false alarm: {_pct(gates_alarmed, args.gates)}")
    print(f"  verdicts: no change {_pct(count(aa, (paired.NO_CHANGE,)), total)}, undecided "
          f"{_pct(count(aa, (paired.UNDECIDED,)), total)}, errored {count(aa, (paired.ERRORED,))}")
    print(f"  rounds: median {statistics.median(r for _, r, _ in aa)}, wall time per gate: "
          f"{_wall([w for _, _, w in aa])}")
    print(f"  gates that decided anything within the budget: {_pct(decided(aa), args.gates)}")
    print(_every_round_line(pool, s, plain[0], plain[1], names, names))
    for arm in slow_arms:
        slowed = [n for n in names if args.slowed_re.search(n)]
        res = simulate(pool, s, plain, [arm], args.gates, args.seed + 1, names, budget_s=budget)
        det = {n: 0 for n in slowed}
        gates_det = 0
        for verdicts, _, _ in res:
            hit = False
            for n in slowed:
                if verdicts[n].verdict == paired.REGRESSION:
                    det[n] += 1
                    hit = True
            gates_det += hit
        fams: dict = {}
        for n in slowed:
            fams.setdefault(re.sub(r"/.*", "", n), []).append(det[n])
        print(f"\nA vs {arm} ({len(slowed)} of the benchmarks slowed):")
        print(f"  detected per benchmark: {_pct(sum(det.values()), len(slowed) * args.gates)}; per kernel: "
              + ", ".join(f"{k} {_pct(sum(v), len(v) * args.gates)}" for k, v in fams.items()))
        low = sorted(det.items(), key=lambda kv: kv[1])[:3]
        print("  least detected: " + ", ".join(f"{n} {c}/{args.gates}" for n, c in low))
        print(f"  gates that fail (any regression): {_pct(gates_det, args.gates)}; that decided anything within the "
              f"budget: {_pct(decided(res), args.gates)}")
        print(f"  verdicts of the slowed: regression {_pct(sum(det.values()), len(slowed) * args.gates)}, "
              f"undecided {sum(v[n].verdict == paired.UNDECIDED for v, _, _ in res for n in slowed)}, "
              f"no change {sum(v[n].verdict == paired.NO_CHANGE for v, _, _ in res for n in slowed)}; "
              f"wall time per gate: {_wall([w for _, _, w in res])}")
        print(_every_round_line(pool, s, plain[0], arm, names, slowed))
        # One slowed benchmark in an otherwise A/A gate: the hard case (no other regression lifts BH's line).
        alone = isolated(pool, s, plain, arm, slowed, args.gates, args.seed + 2, names, budget)
        print(f"  one benchmark slowed alone in an A/A gate: detected {_pct(alone, args.gates)}")
        # What the knob injected, per size: the Hodges-Lehmann effect over all recorded rounds.
        by_n: dict = {}
        for n in slowed:
            m = re.search(r"/n:(\d+)", n)
            d = paired.log_ratios([(pool.times[(r, "A")][n], pool.times[(r, arm)][n]) for r in pool.rounds])
            if m and len(d) >= 2:
                by_n.setdefault(int(m.group(1)), []).append(paired.estimate(d).effect)
        if by_n:
            print("  injected effect measured over all rounds (median over the benchmarks of each n): "
                  + ", ".join(f"n={k:,} {100 * statistics.median(v):+.1f}%" for k, v in sorted(by_n.items())))
    return cli.EXIT_OK


def every_round(pool, settings, base, head, names):
    """One look at every recorded round of each benchmark, with no budget: name -> the method's estimate, and the
    benchmarks that Benjamini-Hochberg at alpha / L rejects. What the method sees at most in these records."""
    estimates = {}
    for n in names:
        e = paired.method_estimate([(pool.times[(r, base)][n], pool.times[(r, head)][n]) for r in pool.rounds],
                                   settings.method)
        if e is not None:
            estimates[n] = e
    rejected = paired.bh_rejected({n: e.p for n, e in estimates.items()}, settings.alpha / len(settings.looks))
    return estimates, rejected


def _every_round_line(pool, settings, base, head, names, of):
    estimates, rejected = every_round(pool, settings, base, head, names)
    effects = [estimates[n].effect for n in of if n in estimates]
    if not effects:
        return "  every round at once: no benchmark with two pairs"
    middle, spread = statistics.median(effects), statistics.median(abs(x) for x in effects)
    return (f"  every round at once ({len(pool.rounds)}, no budget): effect median {100 * middle:+.1f}% (median "
            f"|effect| {100 * spread:.1f}%), rejected by BH at alpha/L {sum(n in rejected for n in of)}/{len(of)}")


def isolated(pool, settings, plain, arm, slowed, gates, seed, names, budget):
    """Gates where one slowed benchmark (drawn per gate) runs in the slow arm and every other in A/A."""
    rng = random.Random(seed)
    cap = min(settings.looks[-1], len(pool.rounds))
    hits = 0
    for _ in range(gates):
        order = rng.sample(pool.rounds, cap)
        base, head = rng.sample(plain, 2)
        target = rng.choice(slowed)
        wall, done = [0.0], [0]

        def measure(r, open_names, order=order, base=base, head=head, target=target, wall=wall, done=done):
            wall[0] += pool.round_wall_s(open_names)
            done[0] += 1
            a = pool.times[(order[r], base)]
            out = {}
            for n in open_names:
                b = pool.times[(order[r], arm if n == target else head)]
                out[n] = (a[n], b[n]) if a.get(n) and b.get(n) else None
            return out

        verdicts, _, rounds = paired.sequential(
            names, settings, measure, lambda wall=wall, done=done: wall[0] >= budget or done[0] >= cap)
        hits += verdicts[target].verdict == paired.REGRESSION
    return hits
