#!/usr/bin/python3
"""Tests of tools/parbench-gate (the paired, sequential A/B gate) against the fake bench_parallel.

The fake's times follow a cost model with 2% noise, so every verdict here is known: a 20% slowdown of a kernel is
a regression of its benchmarks and of no other, base against itself is never one.
Run: /usr/bin/python3 test/tools/test_gate.py   (ctest: tools.Gate)
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GATE = os.path.join(HERE, "..", "..", "tools", "parbench-gate")
FAKE = os.path.join(HERE, "fake_bench_parallel.py")


class GateTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "gate")
        self.counter = os.path.join(self.tmp.name, "runs-counter")

    def tearDown(self):
        self.tmp.cleanup()

    def gate(self, *extra, looks="9,12"):
        cmd = [GATE, "--base-bin", FAKE, "--head-bin", FAKE, "--out", self.out, "--looks", looks, "--seed", "3",
               f"--bench-flags=--fake_fresh_noise={self.counter}", *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    def verdicts(self):
        with open(os.path.join(self.out, "verdicts.json"), encoding="utf-8") as f:
            return {name: v["verdict"] for name, v in json.load(f).items()}

    def hanging_gate(self, *extra):
        """The gate with a head that hangs in every run, in a session of its own, with TMPDIR in the test's folder."""
        self.tmpdir = os.path.join(self.tmp.name, "tmp")
        os.makedirs(self.tmpdir, exist_ok=True)
        cmd = [GATE, "--base-bin", FAKE, "--head-bin", FAKE, "--out", self.out, "--looks", "9,12", "--seed", "3",
               "--head-flags=--fake_hang", *extra]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env=dict(os.environ, TMPDIR=self.tmpdir))

    def assert_clean(self, proc):
        """Nothing of the gate's session is left, nor anything in its TMPDIR (parbench-gate-* folders). A process
        killed as the gate stopped may still be exiting when the gate's own exit is seen: it has 5 s to go."""
        deadline = time.monotonic() + 5
        while True:
            left = [p for p in os.listdir("/proc") if p.isdigit() and self.session_of(int(p)) == proc.pid]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(left, [], "processes of the gate left behind")
        self.assertEqual(os.listdir(self.tmpdir), [], "temporary folders left behind")

    @staticmethod
    def session_of(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2:].split()
        return int(fields[3]) if fields[0] != "Z" else None

    def test_max_minutes_bounds_a_hanging_head(self):
        proc = self.hanging_gate("--max-minutes", "0.1")
        try:
            out, err = proc.communicate(timeout=120)  # a generous bound on the 6 s budget; the hang is forever
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        self.assertEqual(proc.returncode, 3, err)  # the head's benchmarks gave no result: incomplete
        self.assertIn("did not finish within", err)
        self.assertEqual(set(self.verdicts().values()), {"errored"})
        self.assert_clean(proc)

    def test_sigterm_and_sighup_stop_the_gate_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with self.subTest(signal=sig.name):
                proc = self.hanging_gate("--max-minutes", "30")
                try:
                    hung = False
                    while not hung and proc.poll() is None:  # the hanging head is running
                        time.sleep(0.05)
                        runs = [self.cmdline(int(p)) for p in os.listdir("/proc")
                                if p.isdigit() and int(p) != proc.pid and self.session_of(int(p)) == proc.pid]
                        hung = any(b"--fake_hang" in c and b"--benchmark_out=" in c for c in runs)
                    os.kill(proc.pid, sig)
                    out, err = proc.communicate(timeout=120)
                finally:
                    if proc.poll() is None:
                        os.killpg(proc.pid, 9)
                        proc.wait()
                self.assertEqual(proc.returncode, 128 + sig, err)
                self.assertIn(f"stopped by {sig.name}", err)
                self.assertIn(f"Stopped by {sig.name}", out)
                self.assertEqual(len(self.verdicts()), 5)  # partial verdicts written, one per benchmark
                self.assert_clean(proc)

    @staticmethod
    def cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read()
        except OSError:
            return b""

    def test_aa_passes(self):
        r = self.gate()
        self.assertEqual(r.returncode, 0, r.stderr)
        # too few rounds for any verdict: undecided is listed, and fails only with --strict
        r = self.gate("--strict", looks="3")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("undecided at the cap", r.stderr)
        r = self.gate(looks="3,4")
        verdicts = self.verdicts()
        self.assertEqual(len(verdicts), 5)
        self.assertTrue(set(verdicts.values()) <= {"no change", "undecided"}, verdicts)
        self.assertIn("no regression", r.stdout)
        self.assertIn("Runner noise: probe spread", r.stdout)        # the runner's noise, in the verdict
        with open(os.path.join(self.out, "noise.json"), encoding="utf-8") as f:
            self.assertIsInstance(json.load(f)["noisy"], bool)
        with open(os.path.join(self.out, "runs.jsonl"), encoding="utf-8") as f:
            runs = [json.loads(line) for line in f]
        self.assertEqual({run["arm"] for run in runs}, {"base", "head"})
        # each round runs the group once per side
        self.assertEqual(len(runs) % 2, 0)
        self.assertTrue(all(len(run["results"]) == 5 for run in runs))

    def test_slowdown_is_a_regression_of_that_kernel_only(self):
        r = self.gate("--head-flags=--parbench_test_slowdown=count:0.20")
        self.assertEqual(r.returncode, 1, r.stderr)
        verdicts = self.verdicts()
        for name, verdict in verdicts.items():
            self.assertEqual(verdict == "regression", name.startswith("count/"), (name, verdict))
        failure = [line for line in r.stderr.splitlines() if "REGRESSION count/sequential" in line]
        self.assertEqual(len(failure), 1, r.stderr)
        self.assertIn("95% CI", failure[0])
        self.assertIn("rounds; reproduce: parbench-gate", failure[0])
        self.assertIn("--filter=^(count/sequential/workers:1/n:100000/real_time)$", failure[0])
        self.assertIn("**REGRESSION**", r.stdout)

    def test_fastest_method(self):
        # The same verdicts from the ratio of the fastest runs, and the failure's reproduction keeps the method.
        r = self.gate("--method", "fastest", "--head-flags=--parbench_test_slowdown=count:0.20")
        self.assertEqual(r.returncode, 1, r.stderr)
        for name, verdict in self.verdicts().items():
            self.assertEqual(verdict == "regression", name.startswith("count/"), (name, verdict))
        self.assertIn("ratio of the fastest head run to the fastest base run", r.stdout)
        self.assertIn("--method=fastest", r.stderr)
        r = self.gate("--method", "median")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("invalid choice: 'median'", r.stderr)

    def test_records_the_probe_counters(self):
        # Each run's record carries the repetition's probe counters, which tell the state of the CPUs it ran in.
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
        from parbench import gate_run
        path = os.path.join(self.tmp.name, "run.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"benchmarks": [
                {"name": "a", "run_type": "iteration", "real_time": 2.0, "time_unit": "us", "probe_ns": 7000.0,
                 "probe_best_ns": 6900.0, "probe_bound_ns": 6900.0, "utilisation": 0.97, "at_s": 1.0},
                {"name": "b", "run_type": "iteration", "real_time": 5.0, "time_unit": "ns"},
                {"name": "c", "run_type": "iteration", "real_time": 0, "error_occurred": True, "probe_ns": 1.0}]}, f)
        counters: dict = {}
        self.assertEqual(gate_run._results(path, counters), {"a": 2000.0, "b": 5.0, "c": None})
        self.assertEqual(counters, {"a": {"probe_ns": 7000.0, "probe_best_ns": 6900.0, "probe_bound_ns": 6900.0,
                                          "utilisation": 0.97}})

    def test_improvement_does_not_fail(self):
        r = self.gate("--base-flags=--parbench_test_slowdown=sum_range:0.20")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sum(v == "improvement" for v in self.verdicts().values()), 2)

    def test_errored_and_crashed_runs(self):
        r = self.gate("--head-flags=--fake_error=sum_range")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(sum(v == "errored" for v in self.verdicts().values()), 2)
        self.assertIn("Errored", r.stdout)
        self.assertEqual(self.gate("--head-flags=--fake_error=sum_range", "--allow-incomplete").returncode, 0)
        r = self.gate("--head-flags=--fake_crash")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(set(self.verdicts().values()), {"errored"})
        self.assertIn("wrote no JSON", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_realtime_runs_or_says_why_not(self):
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
        from parbench import gate_run
        r = self.gate("--realtime", "--head-flags=--parbench_test_slowdown=count:0.20")
        if gate_run.check_realtime() is None:
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("--realtime", r.stderr)          # in the reproducing command
        else:                                              # e.g. a container without CAP_SYS_NICE
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_ab_bench_paired_runs_the_gate(self):
        ab = os.path.join(HERE, "..", "..", "tools", "ab-bench.sh")
        r = subprocess.run([ab, "base", "head", "--base-bin", FAKE, "--head-bin", FAKE, "--out", self.out,
                            f"--bench-flags=--fake_fresh_noise={self.counter}",
                            "--head-flags=--parbench_test_slowdown=count:0.20", "--gate-flags=--looks 9,12 --seed 3"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("reproduce: tools/ab-bench.sh base head --bench-flags=--benchmark_filter=", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.out, "gate.md")))

    def test_nothing_to_compare_and_bad_usage(self):
        r = self.gate("--filter=^nothing")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("nothing to compare", r.stderr)
        for bad in (["--looks", "9,6"], ["--alpha", "2"], ["--base-bin", "/nonexistent"], ["--group", "0"]):
            r = subprocess.run([GATE, "--base-bin", FAKE, "--head-bin", FAKE, "--out", self.out, *bad],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (bad, r.stderr))


if __name__ == "__main__":
    if not os.path.exists("/usr/bin/python3"):
        print("SKIP: the fake bench_parallel needs /usr/bin/python3")
        sys.exit(77)
    unittest.main()
