#!/usr/bin/python3
"""Tests of parbench-history (tools/parbench/history.py, history_db.py, changepoint.py) on known answers.

Run: /usr/bin/python3 test/tools/test_history.py   (ctest: tools.History)
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)

try:
    import numpy as np
    from parbench import changepoint
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: needs numpy under /usr/bin/python3 ({e})")
    sys.exit(77)
from parbench import history_db  # noqa: E402

HISTORY = os.path.join(TOOLS, "parbench-history")


def gb_json(path, times, errored=(), host="ci-runner"):
    """A Google Benchmark JSON file with 3 repetitions per benchmark (times: name -> ns)."""
    entries = []
    for family, (name, t) in enumerate(times.items()):
        for rep, factor in enumerate((1.0, 1.01, 0.99)):
            e = {"name": name, "family_index": family, "per_family_instance_index": 0, "run_name": name,
                 "run_type": "iteration", "repetitions": 3, "repetition_index": rep, "threads": 1,
                 "iterations": 10, "real_time": t * factor, "cpu_time": t * factor, "time_unit": "ns"}
            if name in errored:
                e.update({"error_occurred": True, "error_message": "wrong total"})
            entries.append(e)
    doc = {"context": {"date": "2026-11-29T12:00:00+00:00", "host_name": host, "executable": "bench_parallel",
                       "num_cpus": 2, "mhz_per_cpu": 2000, "cpu_scaling_enabled": False, "caches": [],
                       "load_avg": [], "library_build_type": "release"},
           "benchmarks": entries}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


class ChangePointTests(unittest.TestCase):
    def test_finds_a_step_where_it_is(self):
        rng = np.random.default_rng(3)
        for index, size in ((30, 0.10), (55, -0.10), (12, 0.20)):
            x = changepoint.synthetic_history(rng, 80, 0.02, 0.0, [(index, size)])
            found = changepoint.detect(x)
            self.assertEqual(len(found), 1, found)
            self.assertLessEqual(abs(found[0].index - index), 1)
            self.assertAlmostEqual(found[0].size, size, delta=0.03)
            self.assertLessEqual(found[0].p, 0.01)

    def test_two_steps(self):
        rng = np.random.default_rng(4)
        x = changepoint.synthetic_history(rng, 90, 0.02, 0.0, [(30, 0.15), (60, -0.15)])
        found = changepoint.detect(x)
        self.assertEqual([abs(cp.index - t) <= 1 for cp, t in zip(found, (30, 60))], [True, True])

    def test_stationary_with_outliers_has_no_change_point(self):
        rng = np.random.default_rng(5)
        for _ in range(10):
            x = changepoint.synthetic_history(rng, 100, 0.03, 0.08)
            self.assertEqual(changepoint.detect(x), [])

    def test_an_outlier_run_is_not_a_change(self):
        x = np.full(60, 1000.0) * np.exp(np.random.default_rng(6).normal(0, 0.02, 60))
        x[20:23] *= 3.0
        self.assertEqual(changepoint.detect(x), [])

    def test_short_history(self):
        self.assertEqual(changepoint.detect([1.0, 2.0, 3.0]), [])
        self.assertIsNone(changepoint.test_segment([1.0] * 9, min_size=5))

    def test_permutation_p_is_uniformish_under_the_null(self):
        # p <= 0.05 in about 5% of stationary segments (a permutation test is exact): 200 segments, seeded
        rng = np.random.default_rng(7)
        small = sum(changepoint.test_segment(rng.normal(0, 1, 40), rng=rng)[1] <= 0.05 for _ in range(200))
        self.assertLess(small, 25)


class DatabaseTests(unittest.TestCase):
    def test_add_replace_and_series(self):
        with tempfile.TemporaryDirectory() as tmp:
            con = history_db.connect(os.path.join(tmp, "h.sqlite"))
            history_db.add_run(con, "c1", "m", "d1", "a.json", {"x": ([1.0, 3.0, 2.0], False), "y": ([], True)})
            history_db.add_run(con, "c2", "m", "d2", "b.json", {"x": ([5.0], False)})
            history_db.add_run(con, "c1", "other", "d1", "a.json", {"x": ([7.0], False)})
            self.assertEqual(history_db.series(con, "m"), {"x": [("c1", 2.0), ("c2", 5.0)]})
            history_db.add_run(con, "c2", "m", "d3", "b2.json", {"x": ([6.0], False)})   # rerun replaces
            self.assertEqual(history_db.series(con, "m"), {"x": [("c1", 2.0), ("c2", 6.0)]})
            self.assertEqual(history_db.machines(con), ["m", "other"])
            self.assertEqual(con.execute("SELECT COUNT(*) FROM results").fetchone()[0], 4)

    def test_not_a_database(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "junk.sqlite")
            with open(path, "w") as f:
                f.write("not sqlite " * 100)
            with self.assertRaises(history_db.HistoryError):
                history_db.connect(path)


class CommandTests(unittest.TestCase):
    def run_tool(self, *args):
        return subprocess.run([HISTORY, *args], capture_output=True, text=True, timeout=300)

    def test_add_then_detect_reports_the_commit_of_the_step(self):
        rng = np.random.default_rng(8)
        x = changepoint.synthetic_history(rng, 30, 0.02, 0.0, [(18, 0.25)])
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "h.sqlite")
            for i, v in enumerate(x):
                path = os.path.join(tmp, f"r{i}.json")
                gb_json(path, {"count/sequential/workers:1/n:1024/real_time": v,
                               "count/threads/workers:2/n:1024/real_time": 500.0 * (1 + 0.001 * (i % 3)),
                               "broken": 1.0}, errored=("broken",))
                r = self.run_tool("add", "--db", db, "--commit", f"commit{i:02d}", path)
                self.assertEqual(r.returncode, 0, r.stderr)
            plots = os.path.join(tmp, "plots")
            r = self.run_tool("detect", "--db", db, "--plots", plots, "--out", os.path.join(tmp, "cp.md"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("`commit18`", r.stdout)
            self.assertIn("count/sequential", r.stdout)
            self.assertNotIn("count/threads", r.stdout.split("| machine |")[1])
            self.assertEqual(len(os.listdir(plots)), 1)
            self.assertTrue(os.path.exists(os.path.join(tmp, "cp.md")))
            r = self.run_tool("detect", "--db", db, "--filter", "^nothing")
            self.assertEqual(r.returncode, 3)

    def test_bad_input_is_one_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = os.path.join(tmp, "junk.json")
            with open(junk, "w") as f:
                f.write("{not json")
            for args in (("add", "--db", os.path.join(tmp, "h.sqlite"), "--commit", "c", junk),
                         ("detect", "--db", os.path.join(tmp, "missing.sqlite")),
                         ("detect", "--db", junk),
                         ("detect", "--filter", "(", "--db", junk),
                         ("nonsense",)):
                r = self.run_tool(*args)
                self.assertEqual(r.returncode, 2, (args, r.stderr))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
                self.assertNotIn("Traceback", r.stderr)

    def test_sqlite_file_is_plain_sqlite(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "h.sqlite")
            path = os.path.join(tmp, "r.json")
            gb_json(path, {"a": 100.0})
            self.assertEqual(self.run_tool("add", "--db", db, "--commit", "abc", "--machine", "m", path).returncode, 0)
            con = sqlite3.connect(db)
            self.assertEqual(con.execute("SELECT commit_sha, machine FROM runs").fetchall(), [("abc", "m")])
            self.assertAlmostEqual(con.execute("SELECT value_ns FROM results").fetchone()[0], 100.0)


if __name__ == "__main__":
    unittest.main()
