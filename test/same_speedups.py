#!/usr/bin/env python3
"""bench_parallel's summary prints the speedups at each kernel's largest n with their intervals; the report
computes them from the JSON with tools/parbench/estimate.py. This runs a small filter and checks that both print
the same figures, digit for digit, and that the estimates the JSON carries as aggregates equal the repetitions'.

Usage: same_speedups.py BENCH_PARALLEL TOOLS_DIR WORK_DIR
"""

import os
import re
import subprocess
import sys

bench, tools, work = sys.argv[1:4]
sys.path.insert(0, tools)
from parbench import model, stats  # noqa: E402

os.makedirs(work, exist_ok=True)
out = os.path.join(work, "same_speedups.json")
done = subprocess.run([bench, "--parbench_profile=quick", "--benchmark_min_time=0.001", "--benchmark_repetitions=4",
                       "--benchmark_filter=^(count|sum_range)/(sequential|threads|thread_pool)/workers:[0-9]+/"
                       "n:(1024|65536)/", f"--benchmark_out={out}"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=240)
if done.returncode != 0:
    sys.exit(f"bench_parallel exited with {done.returncode}:\n{done.stderr}")
printed = re.findall(r"^bench_parallel: speedup, (\S+) at n = (\d+), (\d+) workers: (.*)$", done.stderr, re.M)
if len(printed) != 2:
    sys.exit(f"expected a speedup line for count and sum_range, got {printed!r} in:\n{done.stderr}")
kernels, _ = model.index_kernels(model.load([out]))
for kernel, n, workers, line in printed:
    cells = kernels[kernel][int(n)]
    ours = []
    for strategy, w in sorted(cells):
        if w == int(workers) and strategy != "sequential":
            e = stats.speedup_estimate(cells, strategy, w)
            ours.append(f"{strategy} {e.value:.2f}× [{e.low:.2f}, {e.high:.2f}]")
    if ", ".join(ours) != line:
        sys.exit(f"{kernel} at n = {n}: bench_parallel printed\n  {line}\nthe report computes\n  {', '.join(ours)}")
    print(f"{kernel} at n = {n}, {workers} workers: {line}")
# The JSON carries each benchmark's estimate as aggregates (<name>_fastest, _fastest_low, _fastest_high), so a
# file written with aggregates only still gives the same estimates: they must equal the repetitions'.
checked = 0
for name, bench in model.load([out]).benchmarks.items():
    if not bench.samples:
        continue
    agg = [bench.aggregates.get(k, (None,))[0] for k in ("fastest", "fastest_low", "fastest_high")]
    mine = model.estimate.time_estimate(bench.sample_times_ns())
    for got, want in zip(agg, (mine.value, mine.low, mine.high)):
        if got is None or abs(got - want) > 1e-9 * want:
            sys.exit(f"{name}: aggregates {agg} but the repetitions give {mine}")
    checked += 1
if checked == 0:
    sys.exit("no benchmark with repetitions and the fastest aggregates")
print(f"same figures; the fastest aggregates of {checked} benchmarks match their repetitions")
