"""parbench-order: does a benchmark's time depend on what ran before it? Inside a whole run against alone.

Usage: parbench-order [--profile default] [--tolerance 0.15] [--benchmark NAME ...] [--out FILE.md] BENCH_PARALLEL

For each benchmark chosen (by default every process strategy at its smallest n of the profile, with two workers,
on count and on locked_counter.sharded, which runs after random_max, plus five others across the kernels), it
runs the benchmark alone (its own bench_parallel process, --benchmark_filter for that name only), then the whole
profile, then each one alone again: same binary, same flags, interleaved, so that a drift of the machine shows on
both sides. It compares the median inside the whole run with the median of the alone runs (every repetition of
both alone passes), and shows how far the two alone passes differ from each other: a benchmark whose alone
passes differ by more than the tolerance varies that much from run to run, whatever ran before it. Exit status:
0 all within the tolerance, 1 some are not, 2 usage error, 70 internal error.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from . import cli, model
from .markdown import format_time_ns
from .markdown import table as md_table

PROG = "parbench-order"
# Every strategy whose workers are processes: processes.* and process_pool*, whatever their start method.
PROCESS_FAMILIES = ("processes.", "process_pool")
# Five benchmarks of other kinds: a pool at a tiny n, a large compute run, the memory-heavy kernel, a lock, waiting.
OTHERS = ("count/thread_pool/workers:2/n:1024/real_time",
          "sum_range/sequential/workers:1/n:67108864/real_time",
          "random_max/threads/workers:2/n:262144/real_time",
          "locked_counter.atomic/thread_pool/workers:2/n:32768/real_time",
          "sleep_tasks/thread_pool/workers:2/n:8/real_time")


def listed(bench, flags):
    r = subprocess.run([bench, *flags, "--benchmark_list_tests=true"], capture_output=True, text=True)
    if r.returncode != 0:
        raise cli.InputError(f"{bench} --benchmark_list_tests failed (exit {r.returncode}): "
                             f"{cli.one_line(r.stderr or r.stdout)}")
    return [line.strip() for line in r.stdout.splitlines() if line.strip()]


def default_targets(names):
    """Every process strategy at its smallest n with 2 workers (count; locked_counter.sharded), and OTHERS."""
    chosen = []
    parsed = [(model.parse_kernel_name(n), n) for n in names]
    strategies = sorted({k.strategy for k, _ in parsed if k and k.strategy.startswith(PROCESS_FAMILIES)})
    for kernel in ("count", "locked_counter.sharded"):
        for strategy in strategies:
            ids = [(k, n) for k, n in parsed if k and k.kernel == kernel and k.strategy == strategy and k.workers == 2]
            if ids:
                chosen.append(min(ids, key=lambda kn: kn[0].n)[1])
    return chosen + [n for n in OTHERS if n in names]


def run_json(bench, flags, out, name_filter=None):
    cmd = [bench, *flags, f"--benchmark_out={out}", "--benchmark_out_format=json"]
    if name_filter:
        cmd.append(f"--benchmark_filter=^{re.escape(name_filter)}$")
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise cli.InputError(f"{' '.join(cmd)} failed (exit {r.returncode}): {cli.one_line(r.stderr)[-300:]}")
    return model.load([out])


def samples(run, name):
    bench = run.benchmarks.get(name)
    if bench is None or not bench.usable:
        return [], None
    rss = bench.counter_median("rss_at_start")
    return [s.real_time_ns for s in bench.samples], rss


def alone_drift(passes):
    """The median of the alone pass after the whole run over the one before: how far the same process state
    moves with the machine alone, the scale against which inside / alone is read."""
    medians = [statistics.median(times) for times, _ in passes if times]
    return f"{medians[-1] / medians[0]:.2f}" if len(medians) >= 2 and medians[0] > 0 else "–"


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description="Each chosen benchmark's median inside a whole bench_parallel "
                           "run against its median alone (same binary and flags, interleaved: alone, whole, alone).",
                           epilog="Exit status: 0 every benchmark within the tolerance; 1 some are not; 2 usage "
                                  "error; 70 internal error.")
    p.add_argument("bench", metavar="BENCH_PARALLEL", help="the bench_parallel program (a release build)")
    p.add_argument("--profile", default="default", choices=("quick", "default", "full"))
    p.add_argument("--tolerance", type=float, default=0.15, help="largest |inside / alone - 1| (default 0.15)")
    p.add_argument("--benchmark", action="append", metavar="NAME",
                   help="a benchmark to compare (repeatable); default: see the module's description")
    p.add_argument("--out", metavar="FILE", help="also write the Markdown table here")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if not (os.path.isfile(args.bench) and os.access(args.bench, os.X_OK)):
        raise cli.InputError(f"{args.bench}: not an executable file")
    if not 0 < args.tolerance < 10:
        raise cli.InputError(f"--tolerance {args.tolerance}: must be in (0, 10)")
    flags = [f"--parbench_profile={args.profile}"]
    names = listed(args.bench, flags)
    targets = args.benchmark or default_targets(names)
    missing = [t for t in targets if t not in names]
    if missing:
        raise cli.InputError(f"not in the {args.profile} profile: {', '.join(missing)}")
    alone: dict[str, list] = {t: [] for t in targets}
    with tempfile.TemporaryDirectory(prefix="parbench-order-") as tmp:
        def alone_pass(tag):
            for t in targets:
                times, rss = samples(run_json(args.bench, flags, os.path.join(tmp, f"{tag}.json"), t), t)
                alone[t].append((times, rss))
        start = time.monotonic()
        alone_pass("before")
        print(f"{PROG}: alone (before) done in {time.monotonic() - start:.0f} s; the whole run next",
              file=sys.stderr, flush=True)
        whole_start = time.monotonic()
        whole = run_json(args.bench, flags, os.path.join(tmp, "whole.json"))
        whole_s = time.monotonic() - whole_start
        alone_pass("after")
    rows, bad = [], 0
    for t in targets:
        inside, rss_in = samples(whole, t)
        alone_times = [x for times, _ in alone[t] for x in times]
        rss_alone = statistics.median([r for _, r in alone[t] if r is not None] or [0])
        if not inside or not alone_times:
            rows.append([f"`{t}`", "–", "–", "–", "–", "–", "–", "no usable result"])
            bad += 1
            continue
        m_in, m_alone = statistics.median(inside), statistics.median(alone_times)
        ratio = m_in / m_alone
        ok = abs(ratio - 1) <= args.tolerance
        bad += not ok
        rows.append([f"`{t}`", format_time_ns(m_in), format_time_ns(m_alone), f"{ratio:.2f}",
                     alone_drift(alone[t]), f"{(rss_in or 0) / 2**20:.1f}", f"{rss_alone / 2**20:.1f}",
                     "ok" if ok else f"off by more than {args.tolerance:.0%}"])
    lines = [f"Whole {args.profile} run: {whole_s:.0f} s; load average at the end: "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""] + \
        md_table(["benchmark", "inside (median)", "alone (median)", "inside / alone", "alone after / before",
                  "RSS at start inside (MiB)", "alone (MiB)", "verdict"], rows)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        cli.write_text(args.out, text)
    return 1 if bad else cli.EXIT_OK


def entry_point():
    """tools/parbench-order."""
    sys.exit(cli.run(PROG, main))
