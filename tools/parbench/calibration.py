"""parbench-calibration: do two runs agree within their intervals?

Usage: parbench-calibration --first RUN1.json [MORE.json ...] --second RUN2.json [MORE.json ...]

For every kernel, n, strategy and worker count up to the CPUs measured in both runs, it checks whether the second
run's speedup estimate lies inside the first run's interval, and the other way round, and prints the share of
each, the median width of the intervals (high / low - 1) and the comparisons that missed. Two runs of the same
binary on the same machine minutes apart should agree in about 95% of the comparisons if the intervals are
honest (docs/tools.md, "Speedups on a busy machine"). Exit status: 0, or 2 on bad input.
"""

import statistics
import sys

from . import cli, model
from .model import hardware_threads, index_kernels, is_baseline
from .stats import speedup_estimate

PROG = "parbench-calibration"


def estimates(run):
    """{(kernel, n, strategy, workers): Estimate} at W <= CPUs, baselines left out."""
    kernels, _ = index_kernels(run)
    hw = hardware_threads(run)
    out = {}
    for kernel, by_n in kernels.items():
        for n, cells in by_n.items():
            for (strategy, workers), bench in cells.items():
                if is_baseline(strategy) or not bench.usable or (hw is not None and workers > hw):
                    continue
                e = speedup_estimate(cells, strategy, workers)
                if e is not None:
                    out[(kernel, n, strategy, workers)] = e
    return out


def compare(first, second):
    """(inside first, inside second, misses, widths) over the keys both have: the share of the second run's
    estimates inside the first's intervals, and the other way round."""
    keys = sorted(set(first) & set(second), key=str)
    if not keys:
        return None
    in_first = sum(first[k].contains(second[k].value) for k in keys) / len(keys)
    in_second = sum(second[k].contains(first[k].value) for k in keys) / len(keys)
    misses = [(k, first[k], second[k]) for k in keys
              if not (first[k].contains(second[k].value) and second[k].contains(first[k].value))]
    widths = [e.high / e.low - 1 for e in list(first.values()) + list(second.values()) if e.low > 0]
    return in_first, in_second, misses, widths, len(keys)


def _text(e):
    """An estimate with three significant digits, so that a speedup of 0.004 is not printed as 0.00."""
    return f"{e.value:.3g}× [{e.low:.3g}, {e.high:.3g}]"


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description="Whether a second run's speedups lie inside a first run's "
                                                  "intervals, and the other way round.")
    p.add_argument("--first", nargs="+", required=True, metavar="JSON", help="the first run's files")
    p.add_argument("--second", nargs="+", required=True, metavar="JSON", help="the second run's files")
    p.add_argument("--misses", type=int, default=10, metavar="K", help="list at most K misses (default 10)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    result = compare(estimates(model.load(args.first)), estimates(model.load(args.second)))
    if result is None:
        raise model.schema.InputError("the two runs have no speedup in common")
    in_first, in_second, misses, widths, count = result
    print(f"{count} speedups (W <= CPUs) in both runs")
    print(f"second run inside the first's intervals: {in_first * 100:.1f}%")
    print(f"first run inside the second's intervals: {in_second * 100:.1f}%")
    print(f"median interval width: {statistics.median(widths) * 100:.1f}% (high / low - 1)")
    for (kernel, n, strategy, workers), a, b in misses[:args.misses]:
        print(f"  miss: {kernel} n={n:,} {strategy} ×{workers}: {_text(a)} then {_text(b)}")
    if len(misses) > args.misses:
        print(f"  ... and {len(misses) - args.misses} more")
    return cli.EXIT_OK


def entry_point():
    """tools/parbench-calibration."""
    sys.exit(cli.run(PROG, main))
