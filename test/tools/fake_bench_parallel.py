#!/usr/bin/python3
"""Stand-in for bench_parallel in the tests of tools/ab-bench.sh: no compiler, no timing noise from the machine.

Takes the flags ab-bench.sh passes (--parbench_profile, --benchmark_format, --benchmark_out,
--benchmark_out_format, --benchmark_filter) and the test-only knob --parbench_test_slowdown=<kernel>:<fraction>,
and writes Google Benchmark 1.7.1-shaped JSON with one repetition. Times follow a cost model with 2% noise
seeded by the output file name, so every round differs but every test run is the same.

Also --benchmark_list_tests, --benchmark_repetitions (one repetition whatever it says) and
--fake_fresh_noise=COUNTER_FILE (new, reproducible noise on every run: the paired gate writes every run to a file of
the same name), for tools/parbench-gate; --fake_spread=F: --benchmark_repetitions repetitions of every benchmark,
the k-th (1 + F * k / repetitions) times its model time, so that F = 1 leaves every speedup too wide to decide
(for the passes of src/run_benchmarks.cmake).
Test hooks: --fake_crash exits 1 without writing anything; --fake_hang never ends a run (a listing still works);
--fake_error=<name prefix> fails those benchmarks the way SkipWithError does (and exits 1, as bench_parallel does
when a run errored). BUILTIN_SLOWDOWN is edited by a test to make a "slower commit" of this file.
"""

import json
import os
import random
import re
import sys
import time

BUILTIN_SLOWDOWN = {}  # kernel -> fraction; a test rewrites this line in its HEAD commit

BENCHMARKS = {  # name -> model time in ns
    "count/sequential/workers:1/n:100000/real_time": 100_000.0,
    "count/threads/workers:2/n:100000/real_time": 60_000.0,
    "sum_range/sequential/workers:1/n:100000/real_time": 120_000.0,
    "sum_range/threads/workers:2/n:100000/real_time": 70_000.0,
    "overhead/ipc/pipe/bytes:4096": 5_000.0,
}


def parse(argv):
    flags = {}
    for arg in argv:
        m = re.match(r"^--([a-z_]+)(?:=(.*))?$", arg)
        if not m or m.group(1) not in ("parbench_profile", "benchmark_format", "benchmark_out",
                                       "benchmark_out_format", "benchmark_filter", "parbench_test_slowdown",
                                       "fake_crash", "fake_error", "benchmark_list_tests",
                                       "benchmark_repetitions", "fake_fresh_noise", "benchmark_min_time",
                                       "benchmark_enable_random_interleaving", "fake_hang", "fake_spread"):
            sys.exit(f"{sys.argv[0]}: unrecognized command-line flag: {arg}")
        flags[m.group(1)] = m.group(2) if m.group(2) is not None else ""
    return flags


def slowdowns(flags):
    result = dict(BUILTIN_SLOWDOWN)
    if "parbench_test_slowdown" in flags:
        kernel, _, fraction = flags["parbench_test_slowdown"].partition(":")
        result[kernel] = float(fraction)
    return result


def entry(name, family, t_ns, seq_ns, error):
    e = {"name": name, "family_index": family, "per_family_instance_index": 0, "run_name": name,
         "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1}
    if error:
        e.update({"error_occurred": True, "error_message": "total mismatch (fake)", "iterations": 1,
                  "real_time": 0.0, "cpu_time": 0.0, "time_unit": "ns"})
        return e
    e.update({"iterations": 100, "real_time": t_ns, "cpu_time": t_ns, "time_unit": "ns"})
    if seq_ns:
        e.update({"speedup": seq_ns / t_ns, "items_per_second": 1e5 / (t_ns / 1e9)})
    return e


def main():
    flags = parse(sys.argv[1:])
    if flags.get("benchmark_list_tests", "false") != "false":   # the paired gate lists, then runs groups
        names = [n for n in BENCHMARKS if re.search(flags.get("benchmark_filter", ""), n)]
        if not names:
            sys.exit(f"bench_parallel: no benchmark matched --benchmark_filter='{flags.get('benchmark_filter')}'")
        print("\n".join(names))
        return 0
    if "fake_crash" in flags:
        return 1
    while "fake_hang" in flags:  # a run that never ends (a stopped worker, a deadlock)
        time.sleep(3600)
    out = flags.get("benchmark_out", "")
    rng = random.Random(os.path.basename(out))
    if flags.get("fake_fresh_noise"):   # new noise on every run, from a run counter kept in the file it names
        counter = flags["fake_fresh_noise"]
        runs = int(open(counter).read()) if os.path.exists(counter) else 0
        with open(counter, "w") as f:
            f.write(str(runs + 1))
        rng = random.Random(runs)
    slow, pattern = slowdowns(flags), re.compile(flags.get("benchmark_filter", ""))
    times = {name: base * (1 + slow.get(name.split("/")[0], 0.0)) * (1 + rng.uniform(-0.02, 0.02))
             for name, base in BENCHMARKS.items()}
    entries, failed = [], False
    for family, name in enumerate(n for n in BENCHMARKS if pattern.search(n)):
        error = "fake_error" in flags and name.startswith(flags["fake_error"])
        failed |= error
        seq = times.get(name.split("/")[0] + "/sequential/workers:1/n:100000/real_time") if "/n:" in name else None
        if "fake_spread" in flags:
            reps, spread = int(flags.get("benchmark_repetitions") or 1), float(flags["fake_spread"])
            for k in range(reps):
                e = entry(name, family, times[name] * (1 + spread * k / reps), seq, error)
                entries.append(dict(e, repetitions=reps, repetition_index=k))
            continue
        entries.append(entry(name, family, times[name], seq, error))
    context = {"date": "2026-11-21T12:00:00+00:00", "host_name": "fake-host", "executable": sys.argv[0],
               "num_cpus": 2, "mhz_per_cpu": 2000, "cpu_scaling_enabled": False, "caches": [],
               "load_avg": [0.0, 0.0, 0.0], "library_build_type": "release", "hardware_threads": "2",
               "build_type": "Release", "compiler": "fake", "parbench_version": "0.0.0-fake",
               "parbench_profile": flags.get("parbench_profile", "default")}
    if "parbench_test_slowdown" in flags:
        context["parbench_test_slowdown"] = flags["parbench_test_slowdown"]
    text = json.dumps({"context": context, "benchmarks": entries}, indent=2) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    sys.stdout.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
