"""parbench-gate-rates: measure parbench-compare's false-alarm and detection rates on this machine.

Input: rounds of one bench_parallel binary (one JSON file per round, one repetition each), some plain (--a) and
some with a known slowdown injected (--b, e.g. --parbench_test_slowdown=count:0.10), run interleaved.
It draws many gates of R rounds per side by resampling rounds without replacement and applies exactly the
compare tool's rule to each benchmark:
  false alarms  A vs A (disjoint rounds): share of benchmark comparisons called a REGRESSION, and share of gates
                with at least one;
  detection     A vs B, over the benchmarks whose name matches --slowed: share called a REGRESSION.
Resampled gates share rounds, so they are not independent: the rates are estimates, not exact binomials.
"""

import random
import sys

from . import cli, model, schema
from .stats import compare_one

PROG = "parbench-gate-rates"


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=cli.argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", nargs="+", required=True, help="rounds of the plain binary (JSON, one per round)")
    p.add_argument("--b", nargs="*", default=[], help="rounds with the injected slowdown")
    p.add_argument("--slowed", type=cli.regex, default="^count/",
                   help="regex of the benchmarks the slowdown applies to")
    p.add_argument("--rounds", type=cli.positive_int, default=9, help="rounds per side in one gate (default 9)")
    p.add_argument("--gates", type=cli.positive_int, default=200, help="resampled gates (default 200)")
    p.add_argument("--alpha", type=cli.fraction, default=0.05)
    p.add_argument("--threshold", type=cli.fraction, nargs="+", default=[0.10],
                   help="minimum effects to evaluate (default 0.10)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if len(args.a) < 2 * args.rounds:
        p.error(f"A/A needs at least {2 * args.rounds} --a rounds for disjoint sides of {args.rounds}")
    if args.b and len(args.b) < args.rounds:
        p.error(f"detection needs at least {args.rounds} --b rounds")
    return args


def rate(hits, total):
    return f"{hits}/{total} = {100.0 * hits / total:.2f}%" if total else "n/a"


def main(argv):
    if argv and argv[0] in ("collect", "paired"):   # the paired gate's rates: tools/parbench/gate_sim.py
        from . import gate_sim
        return (gate_sim.main_collect if argv[0] == "collect" else gate_sim.main_paired)(argv[1:])
    args = parse_args(argv)
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        raise schema.InputError("needs scipy (apt-get install python3-scipy; run with /usr/bin/python3)") from None
    a_runs = [model.load([p]) for p in args.a]
    b_runs = [model.load([p]) for p in args.b]
    for run in a_runs + b_runs:
        for note in run.partial_notes():
            cli.warn(PROG, note)

    def values(runs, name):
        out = []
        for run in runs:
            b = run.benchmarks.get(name)
            if b is None or b.errored or not b.samples:
                return None
            out += [s.real_time_ns for s in b.samples]
        return out

    names = [n for n in a_runs[0].benchmarks]
    rng = random.Random(args.seed)
    print(f"{len(args.a)} A rounds, {len(args.b)} B rounds, {len(names)} benchmarks, {args.gates} gates of "
          f"{args.rounds} vs {args.rounds} rounds, alpha {args.alpha}")
    for threshold in args.threshold:
        fa = fa_total = fa_gates = det = det_total = 0
        for _ in range(args.gates):
            picked = rng.sample(a_runs, 2 * args.rounds)
            base, head = picked[:args.rounds], picked[args.rounds:]
            gate_alarm = False
            for name in names:
                bv, hv = values(base, name), values(head, name)
                if bv is None or hv is None:
                    continue
                row = compare_one(name, bv, hv, "real_time", args.alpha, threshold, mannwhitneyu)
                fa_total += 1
                if row.verdict == "REGRESSION":
                    fa += 1
                    gate_alarm = True
            fa_gates += gate_alarm
            if b_runs:
                base = rng.sample(a_runs, args.rounds)
                head = rng.sample(b_runs, args.rounds)
                for name in names:
                    if not args.slowed.search(name):
                        continue
                    bv, hv = values(base, name), values(head, name)
                    if bv is None or hv is None:
                        continue
                    row = compare_one(name, bv, hv, "real_time", args.alpha, threshold, mannwhitneyu)
                    det_total += 1
                    det += row.verdict == "REGRESSION"
        print(f"threshold {threshold:.0%}: A/A false alarms per benchmark {rate(fa, fa_total)}; "
              f"gates with any false alarm {rate(fa_gates, args.gates)}"
              + (f"; detection of the slowdown ({args.slowed.pattern}) {rate(det, det_total)}" if b_runs else ""))
    return cli.EXIT_OK


def entry_point():
    """tools/parbench-gate-rates."""
    sys.exit(cli.run(PROG, main))
