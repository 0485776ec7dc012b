#!/usr/bin/python3
"""Tests of parbench-project's model (tools/parbench/project.py) on synthetic inputs with known answers.

Run: /usr/bin/python3 test/tools/test_project.py   (ctest: tools.Project)
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from parbench import project  # noqa: E402


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = project.cli.run(project.PROG, project.main, argv)
        except SystemExit as e:  # argparse's usage errors
            status = e.code
    return status, out.getvalue(), err.getvalue()


def entry(name, ns, repetition=0):
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 2,
            "repetition_index": repetition, "iterations": 100, "real_time": ns, "cpu_time": ns, "time_unit": "ns"}


def synthetic_run(latency, ns_per_byte, overhead, per_item, startup=700.0, skew=None):
    """A run whose every point is the model's own prediction (times skew[name] where given), with a slower
    second repetition of each, so that only the fastest repetition gives the model's value."""
    skew = skew or {}
    names = {
        "overhead/mpi/ping_pong/bytes:8/manual_time": 2 * (latency + 8 * ns_per_byte),
        "overhead/mpi/ping_pong/bytes:1048576/manual_time": 2 * (latency + 1048576 * ns_per_byte),
        "overhead/mpi/dispatch/workers:1/real_time": overhead / 3,  # not used
        "count/sequential/workers:1/n:1000/real_time": startup + 1000 * per_item,
        "count/sequential/workers:1/n:100000/real_time": startup + 100000 * per_item,
        # outside the model: its ranks share rank 0's window
        "locked_counter.fine/mpi/workers:2/n:1000/real_time": 1e9,
        "locked_counter.fine/sequential/workers:1/n:1000/real_time": 1000.0,
        # rank 0's window epochs: dearer from W = 2 on (measured up to W = 2 only)
        "overhead/mpi/window/workers:1/real_time": 100.0,
        "overhead/mpi/window/workers:2/real_time": 400.0,
        "locked_counter.sharded/sequential/workers:1/n:1000/real_time": 1000.0,
        "locked_counter.sharded/sequential/workers:1/n:100000/real_time": 100000.0,
        "locked_counter.sharded/mpi/workers:1/n:1000/real_time": 1000.0 + overhead / 3 + 100.0,
    }
    for w in (2, 4):
        names[f"overhead/mpi/dispatch/workers:{w}/real_time"] = project.dispatch_ns(w, latency, ns_per_byte,
                                                                                    overhead)
        for n in (1000, 100000):
            names[f"count/mpi/workers:{w}/n:{n}/real_time"] = project.mpi_ns(n, w, per_item, latency,
                                                                             ns_per_byte, overhead, startup)
        # the window at W = 4 taken from W = 2, the largest measured up to 4
        names[f"locked_counter.sharded/mpi/workers:{w}/n:1000/real_time"] = \
            project.dispatch_ns(w, latency, ns_per_byte, overhead) + 400.0 + 1000 / w
    benchmarks = []
    for name, ns in names.items():
        ns *= skew.get(name, 1.0)
        benchmarks += [entry(name, ns * 1.3, 0), entry(name, ns, 1)]
    return {"context": {"mpi_transport": "btl self,tcp; 2 hosts"}, "benchmarks": benchmarks}


def probed(raw, state):
    """A repetition with the probes of a calm (every CPU at 1,000 ns) or slow (2,000 ns) state of the CPUs."""
    probe = 1000.0 if state == "calm" else 2000.0
    return dict(raw, probe_ns=probe, probe_best_ns=probe, probe_bound_ns=probe)


class ModelTests(unittest.TestCase):
    def test_rounds(self):
        self.assertEqual([project.rounds(w) for w in (1, 2, 3, 4, 5, 1024, 1025)], [0, 1, 2, 2, 3, 10, 11])

    def test_dispatch_and_time(self):
        # o + ceil(log2 W) (2L + 80 bytes / B): 500 + 2 (2000 + 80 * 0.5) at W = 4
        self.assertEqual(project.dispatch_ns(4, 1000, 0.5, 500), 500 + 2 * (2000 + 40))
        self.assertEqual(project.dispatch_ns(1, 1000, 0.5, 500), 500)
        # W = 3 over n = 10 items: chunks of ceil(10/3) = 4
        self.assertEqual(project.mpi_ns(10, 3, 2.0, 1000, 0.0, 0), 2 * 2000 + 8)

    def test_crossover(self):
        # t = 1, D(2) = 2000: n beats 2000 + ceil(n/2) from n = 4002 on (4000 and 4001 tie)
        self.assertEqual(project.crossover_n(2, 1.0, 1000, 0.0, 0), 4002)
        # D(1024) = 10 * 2 * 5000 = 1e5 ns at t = 10 ns: n (1 - 1/1024) 10 > 1e5 near n = 10010
        n = project.crossover_n(1024, 10.0, 5000, 0.0, 0)
        self.assertLess(10 * (n - 1), project.mpi_ns(n - 1, 1024, 10.0, 5000, 0.0, 0) + 1e-9)
        self.assertGreater(10 * n, project.mpi_ns(n, 1024, 10.0, 5000, 0.0, 0))
        self.assertIsNone(project.crossover_n(1, 1.0, 1000, 0.0, 0))

    def test_kernel_time_is_piecewise_linear(self):
        points = [(1000, 10000.0), (2000, 11000.0), (100000, 500000.0)]  # cheap while small, dear once large
        self.assertEqual(project.kernel_ns(points, 1500), 10500.0)
        self.assertAlmostEqual(project.kernel_ns(points, 51000), 11000.0 + 49000 * 489000 / 98000)
        self.assertEqual(project.kernel_ns(points, 500), 9500.0)  # below: the two smallest points' line
        self.assertEqual(project.kernel_ns(points[:1], 500), 5000.0)  # one point: through the origin
        self.assertEqual(project.kernel_ns([(1000, 100.0), (2000, 1100.0)], 10), 0.0)  # never below 0

    def test_strategy_cost_from_one_rank(self):
        points = [(1000, 5000.0), (100000, 200000.0)]
        times = {"k/mpi/workers:1/n:1000/real_time": 5900.0, "overhead/mpi/dispatch/workers:1/real_time": 100.0}
        self.assertEqual(project.strategy_ns(times, "k", points), 800.0)
        self.assertEqual(project.strategy_ns({}, "k", points), 0.0)

    def test_window_cost_at_its_workers(self):
        times = {"overhead/mpi/window/workers:1/real_time": 100.0, "overhead/mpi/window/workers:2/real_time": 400.0,
                 "overhead/mpi/window/workers:8/real_time": 900.0}
        self.assertEqual([project.window_ns(times, w) for w in (1, 2, 3, 4, 8, 1024)],
                         [100.0, 400.0, 400.0, 400.0, 900.0, 900.0])
        self.assertIsNone(project.window_ns(times, 0))
        self.assertIsNone(project.window_ns({}, 2))

    def test_table(self):
        status, out, err = run_main(["--per-item-ns", "1", "--latency-us", "1", "--workers", "2,1024",
                                     "--n", "1000,1e9"])
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len(lines), 4)  # head, rule, W = 2, W = 1024
        # 10 GB/s by default: 0.1 ns a byte
        for line, w in zip(lines[2:], (2, 1024)):
            d = project.dispatch_ns(w, 1000, 0.1, 0)
            cross = project.crossover_n(w, 1.0, 1000, 0.1, 0)
            self.assertTrue(line.startswith(f"| {w} | {project.human_ns(d)} | {project.human_n(cross)} | "), line)
            speedup = 1e9 / project.mpi_ns(10**9, w, 1.0, 1000, 0.1, 0)
            self.assertTrue(line.endswith(f", {speedup:.3g}x |"), line)


class CheckTests(unittest.TestCase):
    def write(self, doc):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(doc, f)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_exact_run_has_no_error(self):
        path = self.write(synthetic_run(latency=20000, ns_per_byte=0.25, overhead=3000, per_item=2.0))
        status, out, err = run_main(["--check", path])
        self.assertEqual((status, err), (0, ""))
        self.assertIn("L = 20 us", out)
        self.assertIn("o = 3 us", out)
        self.assertNotIn("locked_counter.fine", out)
        rows = [line for line in out.splitlines() if line.startswith("| count/") or line.startswith("| overhead")
                or line.startswith("| locked_counter.sharded/")]
        # count at W = 2, 4 and n = 1000, 100000; dispatch at W = 4 (W = 2 calibrates o); sharded at W = 2, 4
        self.assertEqual(len(rows), 7)
        self.assertTrue(all(line.endswith("| +0% |") for line in rows), rows)
        self.assertIn("largest |error|: 0%", out)

    def test_error_beyond_tolerance_fails(self):
        name = "count/mpi/workers:4/n:100000/real_time"
        path = self.write(synthetic_run(20000, 0.25, 3000, 2.0, skew={name: 0.5}))
        status, out, _ = run_main(["--check", path])
        self.assertEqual(status, 1)
        self.assertIn(f"| {name} |", out)
        self.assertIn("| +100% |", out)  # predicted twice what was measured
        status, _, _ = run_main(["--check", path, "--tolerance", "1.5"])
        self.assertEqual(status, 0)

    def test_a_wrong_model_fails(self):
        # the exact run against a model whose ranks each take all n items, or that leaves out the network
        path = self.write(synthetic_run(latency=20000, ns_per_byte=0.25, overhead=3000, per_item=2.0))
        kernel_ns = project.kernel_ns
        wrong = {"kernel_ns": lambda points, m: kernel_ns(points, 2 * m),
                 "dispatch_ns": lambda workers, latency, ns_per_byte, overhead: overhead}
        for target, model in wrong.items():
            with mock.patch.object(project, target, model):
                status, out, _ = run_main(["--check", path])
            self.assertEqual(status, 1, (target, out))

    def test_runs_of_one_configuration_are_pooled(self):
        name = "count/mpi/workers:2/n:1000/real_time"
        skew = {name: 2.0, "overhead/mpi/ping_pong/bytes:8/manual_time": 3.0}
        slow = self.write(synthetic_run(20000, 0.25, 3000, 2.0, skew=skew))
        exact = self.write(synthetic_run(20000, 0.25, 3000, 2.0))
        status, out, _ = run_main(["--check", slow])
        self.assertEqual(status, 1)
        status, out, _ = run_main(["--check", slow, exact])  # the fastest of each benchmark in the two
        self.assertEqual(status, 0, out)
        self.assertIn(f"{slow}, {exact} (btl self,tcp; 2 hosts): L = 20 us", out)
        self.assertIn(f"| {name} | any |", out)
        self.assertIn("largest |error|: 0%", out)

    def test_compared_in_one_state_of_the_cpus(self):
        # The sequential run over a chunk's 1,000 items has calm repetitions at K and slow ones at 2K; the
        # two-rank run over 2,000 has D + K calm and D + 2K slow (D: dispatch). Matched, every point is exact;
        # the fastest of all would set a slow-only two-rank run against the calm sequential time.
        d, k = project.dispatch_ns(2, 20000, 0.25, 3000), 1e6

        def doc(mpi_states):
            benchmarks = []
            calib = {"overhead/mpi/ping_pong/bytes:8/manual_time": 2 * (20000 + 8 * 0.25),
                     "overhead/mpi/ping_pong/bytes:1048576/manual_time": 2 * (20000 + 1048576 * 0.25),
                     "overhead/mpi/dispatch/workers:2/real_time": d}
            for name, ns in calib.items():
                benchmarks += [entry(name, ns * 1.3, 0), entry(name, ns, 1)]
            seq = [(k, "calm")] * 3 + [(2 * k, "slow")] * 3
            for n, scale in ((1000, 1.0), (2000, 2.0)):
                for i, (t, state) in enumerate(seq):
                    benchmarks.append(probed(entry(f"count/sequential/workers:1/n:{n}/real_time", t * scale, i),
                                             state))
            for i, state in enumerate(mpi_states):
                t = d + (k if state == "calm" else 2 * k)
                benchmarks.append(probed(entry("count/mpi/workers:2/n:2000/real_time", t, i), state))
            return {"context": {"mpi_transport": "btl self,tcp; 2 hosts"}, "benchmarks": benchmarks}

        status, out, _ = run_main(["--check", self.write(doc(["calm", "calm", "slow"]))])
        self.assertEqual(status, 0, out)
        self.assertIn("| count/mpi/workers:2/n:2000/real_time | calm |", out)
        status, out, _ = run_main(["--check", self.write(doc(["slow", "slow", "slow"]))])
        self.assertEqual(status, 0, out)
        self.assertIn("| count/mpi/workers:2/n:2000/real_time | slow |", out)
        self.assertIn("largest |error|: 0%", out)
        # one slow repetition alone: no state in common, so the fastest of all, and the check fails
        status, out, _ = run_main(["--check", self.write(doc(["slow"]))])
        self.assertEqual(status, 1, out)
        self.assertIn("| count/mpi/workers:2/n:2000/real_time | any |", out)

    def test_locked_counter_without_window_falls_back_to_one_rank(self):
        doc = synthetic_run(20000, 0.25, 3000, 2.0)
        doc["benchmarks"] = [b for b in doc["benchmarks"] if not b["name"].startswith("overhead/mpi/window/")]
        status, out, _ = run_main(["--check", self.write(doc)])
        self.assertEqual(status, 0, out)
        # W = 1's cost (100 ns) where 400 ns was measured: 300 ns short of dispatch + 400 + 500 at W = 2
        measured = project.dispatch_ns(2, 20000, 0.25, 3000) + 400.0 + 500.0
        self.assertIn(f"| locked_counter.sharded/mpi/workers:2/n:1000/real_time | any | "
                      f"{project.human_ns(measured)} | "
                      f"{project.human_ns(measured - 300)} | {-300 / measured:+.0%} |", out)

    def test_bad_input(self):
        path = self.write({"context": {}, "benchmarks": [entry("count/sequential/workers:1/n:10/real_time", 5)]})
        table = ["--per-item-ns", "1", "--latency-us", "1"]
        for argv in (["--check", path], ["--check", "/nonexistent.json"], ["--per-item-ns", "1"],
                     ["--per-item-ns", "-1", "--latency-us", "1"], table + ["--workers", "2,x"]):
            status, out, err = run_main(argv)
            self.assertEqual(status, 2, argv)
            self.assertEqual(len(err.strip().splitlines()), 1, (argv, err))
            self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
