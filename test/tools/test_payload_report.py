#!/usr/bin/env python3
"""The report's *Moving the data* section (tools/parbench/payload.py) on the payload_sweep fixture, whose times
come from known linear models (make_fixtures.PAYLOAD_MODELS, no noise): the cost per byte moved it reports is the
models' slope, and so is the CPU per byte moved (make_fixtures.PAYLOAD_CPU), the crossover B lies where the
models cross, and, with python3-hypothesis, for any fixed cost and any per-byte cost the section recovers the
per-byte cost, of time and of CPU; beside it stands overhead/ipc/pipe's cost per byte at the
largest B (make_fixtures.PAYLOAD_PIPE).

Run: PYTHONPATH=tools /usr/bin/python3 test/tools/test_payload_report.py
"""

import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

# hypothesis keeps caches in ./.hypothesis unless told otherwise: never in the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "parbench-hypothesis"))

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(HERE, "fixtures"))

import make_fixtures  # noqa: E402
from parbench import model, payload  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "payload_sweep.json")


def report_text(path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "parbench-report"), "--no-plots", path],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "tools")},
                       check=False)
    if r.returncode != 0:
        raise AssertionError(f"parbench-report exited {r.returncode}: {r.stderr}")
    return r.stdout


def section_rows(text):
    """{strategy: [cells]} of the Moving the data table."""
    part = text.split("## Moving the data", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in part.splitlines():
        m = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def model_crossing(strategy, reference, workers=2):
    """The B (bytes) where the models of strategy and reference cross, by bisection on the models themselves."""
    f = make_fixtures.PAYLOAD_MODELS
    lo, hi = 1.0, 1e12
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if f[strategy](mid, workers) < f[reference](mid, workers):
            lo = mid
        else:
            hi = mid
    return lo


def bracket(strategy, reference, workers=2):
    """The sizes (bytes) between which the models' times become slower beyond the estimator's intervals."""
    f = make_fixtures.PAYLOAD_MODELS
    sizes = [8 * n for n in make_fixtures.PAYLOAD_SIZES]
    est = [(model.estimate.time_estimate([f[strategy](b, workers)] * 5),
            model.estimate.time_estimate([f[reference](b, workers)] * 5)) for b in sizes]
    first = len(sizes)
    while first > 0 and est[first - 1][0].low > est[first - 1][1].high:
        first -= 1
    return sizes[first - 1], sizes[first]


class PayloadSectionTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = section_rows(report_text(FIXTURE))

    def test_every_process_strategy_of_the_fixture_has_a_row_and_threads_none(self):
        self.assertEqual(set(self.rows), {"processes.pipe", "process_pool"})

    def test_the_cost_per_byte_moved_is_the_models_slope(self):
        # processes.pipe moves 2B at 0.8 ns a byte; process_pool at 2 workers moves B at 0.5 ns a byte.
        for strategy, slope in (("processes.pipe", 0.8), ("process_pool", 0.5)):
            cost = float(self.rows[strategy][4].split()[0])
            self.assertAlmostEqual(cost, slope, places=3, msg=strategy)
            low, high = (float(x) for x in re.findall(r"[-0-9.]+", self.rows[strategy][4].split("[")[1]))
            self.assertLessEqual(low, slope)
            self.assertGreaterEqual(high, slope)
            self.assertAlmostEqual(float(self.rows[strategy][5]), 1 / slope, places=2)

    def test_the_cpu_per_byte_moved_is_the_cpu_models_slope(self):
        # The process tree burns 1.2 ns (processes.pipe) and 2.5 ns (process_pool) of CPU a byte moved beyond
        # thread_pool's; what both burn whatever B cancels.
        for strategy, slope in (("processes.pipe", 1.2), ("process_pool", 2.5)):
            self.assertAlmostEqual(float(self.rows[strategy][6]), slope, places=3, msg=strategy)

    def test_beside_the_cost_a_pipes_own_at_the_largest_b(self):
        # overhead/ipc/pipe at 64 MiB, the fixture's largest B, costs 0.4 ns a byte; its 1 MiB figure is not used.
        pipe = make_fixtures.PAYLOAD_PIPE[8 * make_fixtures.PAYLOAD_SIZES[-1]]
        for strategy, slope, cpu in (("processes.pipe", 0.8, 1.2), ("process_pool", 0.5, 2.5)):
            self.assertEqual(self.rows[strategy][7], f"{slope / pipe:.2f}× of {pipe:.3f} ns; CPU {cpu / pipe:.2f}×",
                             strategy)

    def test_without_a_pipe_of_the_largest_b_the_column_is_empty(self):
        self.assertEqual(payload.against_pipe(0.8, {1 << 20: 0.1}, 1 << 26), "")
        self.assertEqual(payload.against_pipe(0.8, {1 << 20: 0.1}, 1 << 26, 1.0), "")

    def test_without_the_cpu_counter_the_cpu_column_is_empty(self):
        self.assertIsNone(payload.cpu_per_byte({}, {}, "processes.pipe", 2))
        self.assertEqual(payload.against_pipe(0.8, {1 << 26: 0.4}, 1 << 26), "2.00× of 0.400 ns")

    def test_the_crossover_against_thread_pool_and_gil_threads_is_where_the_models_cross(self):
        for column, reference in ((8, "thread_pool"), (9, "gil_threads")):
            below, above = bracket("process_pool", reference)
            self.assertEqual(self.rows["process_pool"][column],
                             f"{payload.format_bytes(below)} – {payload.format_bytes(above)}")
            # The models' own crossing is at or below the bracket's upper end: beyond it the strategy is slower.
            self.assertLessEqual(model_crossing("process_pool", reference), above, reference)

    def test_a_strategy_slower_at_every_size_says_so(self):
        self.assertEqual(self.rows["processes.pipe"][8], "≤ 4 KiB (slower at every B)")

    def test_bytes_moved_follow_the_strategy(self):
        self.assertEqual(payload.moved_bytes("processes.pipe", 2, 1024), 2 * 8 * 1024)
        self.assertEqual(payload.moved_bytes("processes.cow", 2, 1024), 8 * 1024)
        self.assertEqual(payload.moved_bytes("process_pool", 4, 1024), 2 * 8 * 1024 * 3 / 4)
        self.assertIsNone(payload.moved_bytes("threads", 2, 1024))

    def test_no_payload_kernel_no_section(self):
        text = report_text(os.path.join(HERE, "fixtures", "run_reps.json"))
        self.assertNotIn("## Moving the data", text)


class PayloadPropertyTests(unittest.TestCase):
    def test_any_linear_cost_is_recovered(self):
        try:
            from hypothesis import given, settings
            from hypothesis import strategies as st
        except ImportError:
            self.skipTest("python3-hypothesis is missing")

        @settings(max_examples=200, deadline=None)
        @given(fixed=st.floats(1e3, 1e9), per_byte=st.floats(0.0, 10.0), share=st.floats(0.0, 0.5),
               workers=st.integers(2, 16), strategy=st.sampled_from(sorted(payload.MOVED)))
        def check(fixed, per_byte, share, workers, strategy):
            ref = {n: model.estimate.Estimate(fixed + share * n, fixed + share * n, fixed + share * n, 5)
                   for n in make_fixtures.PAYLOAD_SIZES}
            proc = {n: model.estimate.Estimate(v, v, v, 5) for n in make_fixtures.PAYLOAD_SIZES
                    for v in [ref[n].value + 0.5 * fixed + per_byte * payload.moved_bytes(strategy, workers, n)]}
            value, low, high = payload.per_byte(proc, ref, strategy, workers)
            self.assertAlmostEqual(value, per_byte, delta=1e-6 * max(1.0, per_byte) + 1e-9 * fixed)
            self.assertLessEqual(low, high)
            # The CPU the same way, in seconds per run: the slope comes back in ns per byte.
            ref_cpu = {n: 1e-9 * (fixed + share * n) for n in make_fixtures.PAYLOAD_SIZES}
            proc_cpu = {n: ref_cpu[n] + 1e-9 * (0.5 * fixed + per_byte * payload.moved_bytes(strategy, workers, n))
                        for n in make_fixtures.PAYLOAD_SIZES}
            cpu = payload.cpu_per_byte(proc_cpu, ref_cpu, strategy, workers)
            self.assertAlmostEqual(cpu, per_byte, delta=1e-6 * max(1.0, per_byte) + 1e-9 * fixed)

        check()


if __name__ == "__main__":
    unittest.main()
