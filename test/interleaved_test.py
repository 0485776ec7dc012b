#!/usr/bin/env python3
"""Repetitions are interleaved at random over the run unless asked otherwise.

Ordered by when they ran (the at_s counter every repetition records), the repetitions of B benchmarks change from
one benchmark to another exactly B - 1 times when each ran in one block, and more often when interleaved. With
5 benchmarks x 4 repetitions shuffled at random, blocks come out about once in 10^10 runs.

The baseline (`sequential`) runs pinned to one CPU of the process's set, named by its `cpu` counter, where the
process may use two or more; the others run where the scheduler puts them. Every repetition says which probe set
its pace (`probe_bound_ns`), between the fastest and the slowest CPU's.

Usage: interleaved_test.py BENCH_PARALLEL WORK_DIR
"""

import json
import os
import subprocess
import sys

bench, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
for mode in ("default", "false"):
    out = os.path.join(work, f"interleaved_{mode}.json")
    args = [bench, "--benchmark_filter=^count/(sequential|threads|thread_pool)/workers:[12]/n:1024/",
            "--parbench_workers=1,2", "--benchmark_repetitions=4", "--benchmark_min_time=0.001",
            f"--benchmark_out={out}"]
    if mode == "false":
        args.append("--benchmark_enable_random_interleaving=false")
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"bench_parallel exited with {done.returncode}:\n{done.stderr}")
    with open(out) as f:
        runs = [b for b in json.load(f)["benchmarks"] if b.get("run_type") == "iteration"]
    order = [b["name"] for b in sorted(runs, key=lambda b: b["at_s"])]
    names = set(order)
    changes = sum(a != b for a, b in zip(order, order[1:]))
    if len(order) != 20 or len(names) != 5:
        sys.exit(f"{mode}: {len(order)} repetitions of {len(names)} benchmarks, expected 20 of 5")
    if mode == "default" and changes <= len(names) - 1:
        sys.exit(f"interleaving is the default, yet the repetitions ran in blocks: {order}")
    if mode == "false" and changes != len(names) - 1:
        sys.exit(f"asked for blocks, yet {changes} changes between {len(names)} benchmarks: {order}")
    cpus = os.sched_getaffinity(0)
    for b in runs:
        pinned = "cpu" in b
        if pinned != (b["name"].startswith("count/sequential/") and len(cpus) > 1):
            sys.exit(f"{b['name']}: cpu counter {'present' if pinned else 'missing'} on {len(cpus)} CPU(s)")
        if pinned and int(b["cpu"]) not in cpus:
            sys.exit(f"{b['name']} ran pinned to CPU {b['cpu']}, outside this process's CPUs {sorted(cpus)}")
        if not b["probe_best_ns"] <= b["probe_bound_ns"] <= b["probe_ns"]:
            sys.exit(f"{b['name']}: probe_bound_ns {b['probe_bound_ns']} outside "
                     f"[{b['probe_best_ns']}, {b['probe_ns']}]")
    print(f"ok: {mode}: {changes} changes of benchmark over {len(order)} repetitions")
