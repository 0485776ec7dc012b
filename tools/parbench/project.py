"""parbench-project: the mpi strategy's time and speedup at cluster scale, from a LogGP-style model.

One run of the mpi strategy with W ranks over n items (docs/mpi.md, "How a run works") is a broadcast of a
64-byte command from rank 0, a chunk of ceil(n/W) items on every rank, and a reduction of 16-byte outcomes to
rank 0. Both collectives are binomial trees of ceil(log2 W) rounds; a round sends one small message, which costs
the network's one-way latency L plus its bytes over the bandwidth B (LogGP's L + (m-1)G, the overheads folded
into L as the ping-pong measures them). The collectives also cost a fixed software time o per run, whatever W:

    T_mpi(n, W) = o + ceil(log2 W) * (2 L + 80 B^-1) + a + t * ceil(n / W)        T_seq(n) = a + t * n

where a + t n is the kernel's own time, measured sequentially (a: its fixed cost per chunk, t: per item). The
crossover n, below which W ranks do not pay, is where T_mpi = T_seq (a cancels). The model holds for kernels
whose ranks share nothing; the locked counters (.coarse, .fine, .atomic) go through rank 0's window per item or
per chunk and are left out.

A kernel's time is one line only roughly: random_max's per item is several times higher once its buffer leaves
the caches than while it fits, so a line through its smallest and largest n puts its fixed cost too low and
under-predicts small chunks. --check therefore takes the kernel's time at a chunk of m items from every
sequential n measured, piecewise linear between them (below the smallest, the line through the two smallest),
and adds the strategy's own cost for the kernel, measured at W = 1 (mpi at W = 1 less sequential less dispatch at
W = 1, at the smallest n). A locked counter's run adds two epochs on rank 0's window (zeroing it before, reading
it after), and their cost depends on W, because the MPI library may serve a window of one rank and a window of
several with different one-sided components (Open MPI 4.1 on one host: osc/sm for one rank, where a lock is a
local store; osc/rdma for two or more, where it is the transport's atomics; docs/mpi.md). For the locked
counters --check therefore takes that cost from overhead/mpi/window/workers:W, which times exactly those two
epochs at rank 0 with the other ranks waiting as they do between runs (the largest W measured up to W where W
itself was not); a run without it falls back to the cost at W = 1.

Two uses:
  parbench-project --per-item-ns T --latency-us L [--bandwidth-gbps B] [--overhead-us O] [--workers ...] [--n ...]
      a table of predicted time and speedup against n for each W (up to 1,024), with the crossover n;
  parbench-project --check RUN.json [RUN.json ...] [--tolerance F]
      calibrates L, B and o from a run's overhead/mpi/ benchmarks (ping_pong at 8 bytes and 1 MiB, dispatch at
      workers:2), each kernel's time from its sequential benchmarks (every n, above) and its cost in the
      strategy from mpi at workers:1 (a locked counter's: overhead/mpi/window at its W), predicts every other
      mpi benchmark of the run (every kernel but the locked counters at W >= 2, and overhead/mpi/dispatch at
      W > 2), and states the error at each; exits 1 when an error is beyond --tolerance. Runs of one
      configuration (the same mpi_transport) are pooled, and each benchmark is taken at its fastest repetition
      in the pool, calibration included: on a busy machine the fastest is the one least disturbed. A matrix
      benchmark and the kernel times its prediction uses are compared in one state of the CPUs, as a speedup's
      two sides are (estimate.matched_speedup): the fastest of all where each has MATCH_CALM calm repetitions,
      else the medians of the slow ones, else the fastest of all. A two-rank run waits for its slower CPU, so
      its fastest repetition and its sequential baseline's may come from different states (a slowed CPU under
      one rank while the baseline ran on a calm one); each repetition's state is read against its own run's
      calm probe, as runs minutes apart may differ.
"""

import argparse
import math
import re
import statistics
from dataclasses import dataclass

from . import cli, estimate, model
from .schema import InputError

PROG = "parbench-project"
BCAST_BYTES = 64
REDUCE_BYTES = 16
DEFAULT_WORKERS = (2, 4, 16, 64, 256, 1024)
DEFAULT_N = (10**3, 10**5, 10**7, 10**9)
# Kernels outside the model: their ranks share rank 0's window (see the module's docstring).
SHARED_KERNELS = re.compile(r"^locked_counter\.(coarse|fine|atomic)$")
MATRIX_NAME = re.compile(r"^(?P<kernel>[^/]+)/(?P<strategy>[^/]+)/workers:(?P<w>\d+)/n:(?P<n>\d+)/")
DISPATCH_NAME = re.compile(r"^overhead/mpi/dispatch/workers:(?P<w>\d+)/")
WINDOW_NAME = re.compile(r"^overhead/mpi/window/workers:(?P<w>\d+)/")


def rounds(workers):
    """Rounds of a binomial tree over W ranks: ceil(log2 W)."""
    return (workers - 1).bit_length()


def dispatch_ns(workers, latency_ns, ns_per_byte, overhead_ns):
    """Predicted time of one run with no work: the broadcast and the reduction, and rank 0's fixed cost."""
    hop = 2 * latency_ns + (BCAST_BYTES + REDUCE_BYTES) * ns_per_byte
    return overhead_ns + rounds(workers) * hop


def mpi_ns(n, workers, per_item_ns, latency_ns, ns_per_byte, overhead_ns, startup_ns=0.0):
    """Predicted time of one run of the mpi strategy with W ranks over n items."""
    return (dispatch_ns(workers, latency_ns, ns_per_byte, overhead_ns) + startup_ns +
            per_item_ns * math.ceil(n / workers))


def crossover_n(workers, per_item_ns, latency_ns, ns_per_byte, overhead_ns):
    """The smallest n at which W ranks beat one sequential run (t n > T_mpi(n, W)); None for W = 1."""
    if workers < 2:
        return None
    d = dispatch_ns(workers, latency_ns, ns_per_byte, overhead_ns)
    n = max(1, math.floor(d / (per_item_ns * (1 - 1 / workers))))
    while per_item_ns * n <= mpi_ns(n, workers, per_item_ns, latency_ns, ns_per_byte, overhead_ns):
        n += 1  # the ceiling of n/W holds the crossover back by at most W items
    return n


def human_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def human_n(n):
    return f"{n:.2g}" if n >= 10**5 else str(n)


def table(per_item_ns, latency_ns, ns_per_byte, overhead_ns, workers, sizes):
    """Markdown: one row per W, with the crossover n and the predicted time and speedup at each n."""
    head = "| W | one run, no work | crossover n | " + " | ".join(f"n = {human_n(n)}" for n in sizes) + " |"
    lines = [head, "|" + "---|" * (3 + len(sizes))]
    for w in workers:
        cells = []
        for n in sizes:
            t = mpi_ns(n, w, per_item_ns, latency_ns, ns_per_byte, overhead_ns)
            cells.append(f"{human_ns(t)}, {per_item_ns * n / t:.3g}x")
        cross = crossover_n(w, per_item_ns, latency_ns, ns_per_byte, overhead_ns)
        lines.append(f"| {w} | {human_ns(dispatch_ns(w, latency_ns, ns_per_byte, overhead_ns))} | "
                     f"{human_n(cross) if cross else '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bracket(ns, m):
    """Which two of the sorted sizes ns kernel_ns interpolates between for m items (one index for one size)."""
    if len(ns) == 1:
        return (0,)
    i = 0
    while i + 2 < len(ns) and m > ns[i + 1]:
        i += 1
    return (i, i + 1)


def kernel_ns(points, m):
    """The kernel's time at m items: piecewise linear through its sequential points, extended at either end by
    the line through the two outermost points there (a single point: through the origin); never below 0."""
    if len(points) == 1:
        n1, t1 = points[0]
        return t1 * m / n1
    i, j = bracket([n for n, _ in points], m)
    (n1, t1), (n2, t2) = points[i], points[j]
    return max(0.0, t1 + (t2 - t1) * (m - n1) / (n2 - n1))


def in_state(pairs, state):
    """A matrix benchmark's time in one state of the CPUs from its (time, state) repetitions: for 'calm' the
    fastest of all where MATCH_CALM are calm (the calm state is the fast one: a repetition faster than every calm
    one ran calm), the median of the slow ones (MATCH_SLOW needed), or for state '' the fastest of all; None where
    there are too few (estimate.state_samples, the rule of estimate.matched_speedup)."""
    xs = estimate.state_samples(pairs, state)
    if not xs:
        return None
    return statistics.median(xs) if state == "slow" else min(xs)


@dataclass
class Configuration:
    """The runs of one configuration (one mpi_transport) pooled. pairs: matrix benchmark -> (time, CPU state) of
    every repetition of every run, each state read against its own run's calm probe (estimate.state_of);
    calibration: every other benchmark -> its fastest repetition in any of the runs."""
    label: str
    pairs: dict
    calibration: dict


def read_configurations(paths):
    """[Configuration]: the runs grouped by their mpi_transport, in the order first seen."""
    groups: dict[str, tuple[list, dict, dict]] = {}
    for path in paths:
        run = model.load([path])
        transport = str(run.contexts[0].get("mpi_transport", "?"))
        names, pairs, calibration = groups.setdefault(transport, ([], {}, {}))
        names.append(path)
        for name, bench in run.benchmarks.items():
            states = [(t, s) for t, s in bench.sample_states() if math.isfinite(t) and t > 0]
            if not states:
                continue
            if MATRIX_NAME.match(name):
                pairs.setdefault(name, []).extend(states)
            else:
                calibration[name] = min([t for t, _ in states] + [calibration.get(name, math.inf)])
    return [Configuration(f"{', '.join(names)} ({transport})", pairs, calibration)
            for transport, (names, pairs, calibration) in groups.items()]


def _one(times, path, prefix):
    hits = [t for name, t in times.items() if name.startswith(prefix)]
    if not hits:
        raise InputError(f"{path}: no {prefix}... benchmark to calibrate from (run it with overhead/mpi/)")
    return hits[0]


def calibrate(times, path):
    """L (ns), ns per byte and o (ns) from a run's ping-pong and its dispatch at workers:2."""
    latency = _one(times, path, "overhead/mpi/ping_pong/bytes:8/") / 2
    big = _one(times, path, "overhead/mpi/ping_pong/bytes:1048576/") / 2
    ns_per_byte = max(0.0, (big - latency) / 1048576)
    overhead = _one(times, path, "overhead/mpi/dispatch/workers:2/") - dispatch_ns(2, latency, ns_per_byte, 0.0)
    return latency, ns_per_byte, max(0.0, overhead)


def sequential_names(run):
    """kernel -> its sequential benchmarks' names, by n."""
    runs: dict[str, dict[int, str]] = {}
    for name in run.pairs:
        m = MATRIX_NAME.match(name)
        if m and m["strategy"] == "sequential":
            runs.setdefault(m["kernel"], {})[int(m["n"])] = name
    return {kernel: dict(sorted(by_n.items())) for kernel, by_n in runs.items()}


def strategy_ns(times, kernel, points):
    """The mpi strategy's own cost per run for the kernel beyond dispatch, from W = 1 at its smallest n; else 0."""
    n, seq = points[0]
    alone = times.get(f"{kernel}/mpi/workers:1/n:{n}/real_time")
    dispatch1 = next((t for name, t in times.items() if name.startswith("overhead/mpi/dispatch/workers:1/")), 0.0)
    return max(0.0, alone - seq - dispatch1) if alone is not None else 0.0


def window_ns(times, workers):
    """Rank 0's two window epochs of a locked counter's run at W ranks (overhead/mpi/window), at the largest W
    measured up to `workers`; None where the run has none."""
    measured = {int(m["w"]): t for name, t in times.items() if (m := WINDOW_NAME.match(name))}
    below = [w for w in measured if w <= workers]
    return measured[max(below)] if below else None


def predict_point(conf, name, kernel, w, n, seq, latency, ns_per_byte, overhead):
    """(state, measured, predicted) of one mpi benchmark, its time and every kernel time its prediction uses taken
    in one state of the CPUs: calm where each has MATCH_CALM calm repetitions, else slow where each has
    MATCH_SLOW slow ones, else the fastest of all; None where nothing can be compared."""
    ns = list(seq)
    m = math.ceil(n / w)
    used = [seq[ns[i]] for i in bracket(ns, m)]
    window = window_ns(conf.calibration, w) if kernel.startswith("locked_counter.") else None
    alone = f"{kernel}/mpi/workers:1/n:{ns[0]}/real_time"
    if window is None and alone in conf.pairs:
        used += [seq[ns[0]], alone]
    for state in ("calm", "slow", ""):
        values = {u: in_state(conf.pairs[u], state) for u in [name] + used}
        if any(v is None for v in values.values()):
            continue
        points = [(k, values.get(seq[k], math.nan)) for k in ns]
        own = window if window is not None else strategy_ns(dict(conf.calibration, **values), kernel, points)
        predicted = dispatch_ns(w, latency, ns_per_byte, overhead) + own + kernel_ns(points, m)
        return state, values[name], predicted
    return None


def check(conf):
    """(head, rows): the calibration, and rows (name, state, measured ns, predicted ns, error) for every point of
    one configuration the model covers."""
    latency, ns_per_byte, overhead = calibrate(conf.calibration, conf.label)
    seqs = sequential_names(conf)
    rows = []
    for name in sorted(set(conf.pairs) | set(conf.calibration)):
        m = MATRIX_NAME.match(name)
        d = DISPATCH_NAME.match(name)
        if m and m["strategy"] == "mpi" and m["kernel"] in seqs and not SHARED_KERNELS.match(m["kernel"]):
            w, n = int(m["w"]), int(m["n"])
            if w < 2:
                continue
            point = predict_point(conf, name, m["kernel"], w, n, seqs[m["kernel"]], latency, ns_per_byte,
                                  overhead)
            if point is None:
                continue
            state, t, predicted = point
        elif d and int(d["w"]) > 2:
            state, t = "", conf.calibration[name]
            predicted = dispatch_ns(int(d["w"]), latency, ns_per_byte, overhead)
        else:
            continue
        rows.append((name, state, t, predicted, predicted / t - 1))
    if not rows:
        raise InputError(f"{conf.label}: no mpi benchmark with W >= 2 that the model covers (and a sequential "
                         "baseline)")
    head = (f"{conf.label}: L = {human_ns(latency)}, B = {1 / ns_per_byte if ns_per_byte else math.inf:.3g} "
            f"GB/s, o = {human_ns(overhead)}")
    return head, rows


def main(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--check", nargs="+", metavar="RUN.json", help="check the model against measured runs")
    p.add_argument("--tolerance", type=float, default=0.25, help="largest |error| --check accepts (default 0.25)")
    p.add_argument("--per-item-ns", type=float, help="the kernel's sequential time per item, in ns")
    p.add_argument("--latency-us", type=float, help="the network's one-way latency for a small message, in us")
    p.add_argument("--bandwidth-gbps", type=float, default=10.0, help="its bandwidth in GB/s (default 10)")
    p.add_argument("--overhead-us", type=float, default=0.0,
                   help="the collectives' fixed software cost per run, in us (overhead/mpi/dispatch/workers:2 less "
                   "a round trip; default 0)")
    p.add_argument("--workers", type=_list(int), default=list(DEFAULT_WORKERS),
                   help="comma-separated W (default 2,4,16,64,256,1024)")
    p.add_argument("--n", type=_list(lambda s: int(float(s))), default=list(DEFAULT_N),
                   help="comma-separated n (default 1e3,1e5,1e7,1e9)")
    args = p.parse_args(argv)
    if args.check:
        worst = 0.0
        for conf in read_configurations(args.check):
            head, rows = check(conf)
            print(head)
            print("| benchmark | CPUs | measured | predicted | error |\n|---|---|---|---|---|")
            for name, state, measured, predicted, error in rows:
                print(f"| {name} | {state or 'any'} | {human_ns(measured)} | {human_ns(predicted)} | {error:+.0%} |")
                worst = max(worst, abs(error))
            print()
        print(f"largest |error|: {worst:.0%} (tolerance {args.tolerance:.0%})")
        return cli.EXIT_OK if worst <= args.tolerance else 1
    if args.per_item_ns is None or args.latency_us is None:
        p.error("give --per-item-ns and --latency-us, or --check RUN.json")
    for value, flag in ((args.per_item_ns, "--per-item-ns"), (args.latency_us, "--latency-us"),
                        (args.bandwidth_gbps, "--bandwidth-gbps")):
        if not (math.isfinite(value) and value > 0):
            p.error(f"{flag} must be a positive number, got {value}")
    if not (math.isfinite(args.overhead_us) and args.overhead_us >= 0):
        p.error(f"--overhead-us must be a number >= 0, got {args.overhead_us}")
    if any(w < 1 or w > 1 << 20 for w in args.workers) or any(n < 1 for n in args.n):
        p.error("--workers and --n take positive integers (W at most 1048576)")
    print(table(args.per_item_ns, args.latency_us * 1e3, 1 / args.bandwidth_gbps, args.overhead_us * 1e3,
                args.workers, args.n), end="")
    return cli.EXIT_OK


def _list(convert):
    def parse(text):
        try:
            return [convert(x) for x in text.split(",")]
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    return parse


def entry_point():
    """tools/parbench-project."""
    raise SystemExit(cli.run(PROG, main))
