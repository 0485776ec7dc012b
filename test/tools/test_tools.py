#!/usr/bin/python3
"""Tests of the Python tools: parbench-report, parbench-gate-rates, parbench-order, ab-bench.sh and the passes
of src/run_benchmarks.cmake.

Run: /usr/bin/python3 test/tools/test_tools.py [TestClass ...]   (ctest runs one class per test)
Exit status 77 means skipped: a module the selected tests need (scipy, matplotlib) is missing.

The tools run as subprocesses, exactly as a user or CI runs them; the pure functions (crossover, tally) are
also tested directly by importing the tools' package, tools/parbench (ctest puts tools/ on PYTHONPATH; by hand:
PYTHONPATH=tools /usr/bin/python3 test/tools/test_tools.py). Expected values are computed from the fixtures' own
numbers, not copied from a tool's output.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tools")
FIXTURES = os.path.join(HERE, "fixtures")
FAKE_BENCH = os.path.join(HERE, "fake_bench_parallel.py")
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
BAD_INPUTS = ("empty.json", "not_json.json", "not_gb.json")

sys.path.insert(0, FIXTURES)
import make_fixtures  # noqa: E402  (the sentinels and the Writer)
from parbench import estimate, flags, markdown, plan, report, stats  # noqa: E402
from parbench import model as gb  # noqa: E402


def fixture(name):
    return os.path.join(FIXTURES, name)


def tool(name):
    return os.path.join(TOOLS, name)


def run(cmd, cwd=None, env=None, timeout=600):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def raw_samples(path):
    """name -> {repetition index: ns} of the good iteration entries, straight from the JSON."""
    with open(path) as f:
        doc = json.load(f)
    out = defaultdict(dict)
    for e in doc["benchmarks"]:
        if e["run_type"] == "iteration" and not e.get("error_occurred"):
            out[e["name"]][e["repetition_index"]] = e["real_time"] * UNIT_NS[e["time_unit"]]
    return out


def raw_errored(path):
    with open(path) as f:
        return {e["name"] for e in json.load(f)["benchmarks"] if e.get("error_occurred")}


def sentinel_texts():
    """Ways a leaked sentinel number could be printed (raw, rounded, or formatted by the tools)."""
    texts = set()
    for ns in (make_fixtures.ERROR_SENTINEL_NS, make_fixtures.PARTIAL_SENTINEL_NS):
        texts |= {markdown.format_time_ns(ns).split()[0], f"{ns:.0f}", f"{ns:,.0f}", str(int(ns))}
    return texts | {"42.4", "21.2"}


def md_section(text, title):
    """The lines of one '## title' or '### title' section of a Markdown document."""
    m = re.search(rf"^(#+) {re.escape(title)}(?:\s.*)?$", text, re.M)
    if not m:
        return ""
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


class ToolTestCase(unittest.TestCase):
    requires = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="parbench-tools-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)


# --------------------------------------------------------------------------------------------- refusal

class RefusalTests(ToolTestCase):
    """Every tool refuses input that is not Google Benchmark JSON: one line on stderr, exit 2."""

    def check_refusal(self, cmd, bad):
        r = run(cmd)
        self.assertEqual(r.returncode, 2, f"{cmd}: {r.stderr}")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(bad, lines[0])
        self.assertEqual(r.stdout, "")

    def test_report_refuses(self):
        for bad in BAD_INPUTS:
            with self.subTest(bad=bad):
                self.check_refusal([tool("parbench-report"), fixture("run_reps.json"), fixture(bad)], bad)

    def test_missing_file_and_json_list(self):
        listing = os.path.join(self.tmp, "list.json")
        with open(listing, "w") as f:
            json.dump([{"name": "x"}], f)
        for path in (os.path.join(self.tmp, "absent.json"), listing):
            with self.subTest(path=path):
                self.check_refusal([tool("parbench-report"), path], os.path.basename(path))

    def test_entry_without_name_is_refused(self):
        broken = os.path.join(self.tmp, "broken.json")
        with open(broken, "w") as f:
            json.dump({"context": {}, "benchmarks": [{"real_time": 1.0}]}, f)
        self.check_refusal([tool("parbench-report"), broken], "broken.json")


# --------------------------------------------------------------------------------------------- report

class ReportTests(ToolTestCase):
    requires = ("matplotlib",)

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="parbench-report-test-")
        cls.reports = {}  # the same inputs give the same report: drawn once, read by every test that wants it

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, True)

    def write_report(self, *inputs, extra=(), env=None):
        key = (inputs, tuple(extra))
        if env is None and key in self.reports:
            return self.reports[key]
        base = self.tmp if env is not None else os.path.join(self.shared, str(len(self.reports)))
        out = os.path.join(base, "out", "report.md")
        os.makedirs(base, exist_ok=True)
        r = run([tool("parbench-report"), "--out", out, *extra, *map(fixture, inputs)], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8") as f:
            result = f.read(), os.path.dirname(out), r
        if env is None:
            self.reports[key] = result
        return result

    def test_markdown_and_pngs(self):
        text, out_dir, _ = self.write_report("run_reps.json", "cpython_ref.json")
        kernels = {gb.parse_kernel_name(n).kernel for n in raw_samples(fixture("run_reps.json"))
                   if gb.parse_kernel_name(n)}
        links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
        for kernel in kernels:
            self.assertIn(f"### {kernel}\n", text)
            for kind in ("speedup", "time"):
                self.assertIn(f"{kernel}-{kind}.png", links)
        for link in links:
            with open(os.path.join(out_dir, link), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", link)

    def test_cells_are_estimates_in_normalised_units(self):
        text, _, _ = self.write_report("run_reps.json")
        samples = raw_samples(fixture("run_reps.json"))
        # n = 100,000,000 is written in ms, the others in ns: both must come out in ns, as the fastest repetition
        # and the speedup with its interval (estimate.py).
        for name in ("count/threads/workers:8/n:100000000/real_time", "count/threads/workers:2/n:1000/real_time"):
            kid = gb.parse_kernel_name(name)
            mine = list(samples[name].values())
            seq = list(samples[f"count/sequential/workers:1/n:{kid.n}/real_time"].values())
            speedup = estimate.speedup_estimate(seq, mine)
            table = md_section(text, f"count, n = {kid.n:,}")
            row = next(line for line in table.splitlines() if line.startswith(f"| `{kid.strategy}` |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            header = [c.strip().rstrip("†") for c in table.strip().splitlines()[0].strip("|").split("|")]
            cell = cells[header.index(str(kid.workers))].removesuffix(" ⚑")  # the flag is tested on its own
            self.assertEqual(cell, f"{markdown.format_time_ns(min(mine))} · {report.format_estimate(speedup)}")

    def test_cost_view_from_the_cpu_counters(self):
        # sequential: 1 ms of CPU in 1 ms; threads ×2: 1.2 ms of CPU in 0.5 ms (speedup 2, CPU 1.2×).
        ctx = json.load(open(fixture("single_rep.json"), encoding="utf-8"))["context"]

        def entry(strategy, workers, rep, time_ns, cpu_s):
            name = f"count/{strategy}/workers:{workers}/n:1000/real_time"
            return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3,
                    "repetition_index": rep, "threads": 1, "iterations": 100, "real_time": time_ns,
                    "cpu_time": 1.0, "time_unit": "ns", "tree_cpu_s": cpu_s,
                    "utilisation": cpu_s / (time_ns * 1e-9 * workers)}
        # Runs of 12 ms (idle time is read in runs of 10 ms or more), the work's 1 ms of CPU in them: a spinning
        # pool burns 24 ms (both threads busy all the time: all 23 ms of idle thread-time burned), a parked pool
        # 1 ms (none burned); overhead/idle: the spinning pool's one idle worker at 99% of a CPU.
        benchmarks = [entry("sequential", 1, r, 1e6, 1e-3) for r in range(3)] + \
            [entry("threads", 2, r, 5e5, 1.2e-3) for r in range(3)] + \
            [entry("thread_pool.spin", 2, r, 1.2e7, 2.4e-2) for r in range(3)] + \
            [entry("thread_pool", 2, r, 1.2e7, 1e-3) for r in range(3)]
        idle = "overhead/idle/thread_pool.spin/workers:2/real_time"
        benchmarks += [{"name": idle, "run_name": idle, "run_type": "iteration", "repetitions": 3,
                        "repetition_index": r, "threads": 1, "iterations": 5, "real_time": 7e7, "cpu_time": 1.0,
                        "time_unit": "ns", "idle_cpu_pct": 99.0} for r in range(3)]
        path = os.path.join(self.tmp, "cost.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"context": ctx, "benchmarks": benchmarks}, f)
        out = os.path.join(self.tmp, "report.md")
        r = run([tool("parbench-report"), "--no-plots", "--out", out, path])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("## CPU cost", text)
        table = text[text.index("## CPU cost"):]
        row = next(line for line in table.splitlines() if line.startswith("| `threads` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # time, speedup, CPU per run, CPU ÷ sequential's, speedup per CPU, utilisation, burn beyond the work; no
        # idle time burned: 0.2 ms of idle thread-time in 1 ms is too little to divide by.
        self.assertEqual(cells[2:9], [markdown.format_time_ns(5e5), "2.00×", markdown.format_time_ns(1.2e6), "1.20×",
                                      "1.67×", "1.20", "40%"])
        self.assertEqual(cells[9:12], ["", "", ""])
        # idle time burned, and overhead/idle's figure beside it: its idle_cpu_pct, per worker beside the caller
        rows = {s: [c.strip() for c in next(line for line in table.splitlines()
                                            if line.startswith(f"| `{s}` |")).strip("|").split("|")]
                for s in ("thread_pool.spin", "thread_pool")}
        self.assertEqual(rows["thread_pool.spin"][9:12], ["99", "1.00", "0.99"])
        self.assertEqual(rows["thread_pool"][9:12], ["", "0.00", ""])

    def test_machine_section_counts_the_warmed_repetitions(self):
        # Three repetitions of a two-worker benchmark that followed a warm-up run and three of the baseline that
        # did not; a file from before the counter existed says nothing of it.
        ctx = json.load(open(fixture("single_rep.json"), encoding="utf-8"))["context"]

        def entry(strategy, workers, rep, **extra):
            name = f"count/{strategy}/workers:{workers}/n:1000/real_time"
            return dict({"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3,
                         "repetition_index": rep, "threads": 1, "iterations": 100, "real_time": 1e6 / workers,
                         "cpu_time": 1.0, "time_unit": "ns", "probe_ns": 1000.0, "probe_best_ns": 1000.0,
                         "at_s": float(rep)}, **extra)
        for warmed, expect in ((True, "3 of the 6 repetitions that say followed one untimed run"), (False, None)):
            benchmarks = [entry("sequential", 1, r, **({"warmed": 0} if warmed else {})) for r in range(3)] + \
                [entry("threads", 2, r, **({"warmed": 1} if warmed else {})) for r in range(3)]
            path = os.path.join(self.tmp, "warmed.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"context": ctx, "benchmarks": benchmarks}, f)
            r = run([tool("parbench-report"), "--no-plots", path])
            self.assertEqual(r.returncode, 0, r.stderr)
            section = md_section(r.stdout, "The machine during the run")
            if expect:
                self.assertIn(expect, section)
            else:
                self.assertNotIn("untimed run", section)

    def test_uneven_view_names_the_best_chunk_size(self):
        # heavy tail, n = 65,536, 2 workers: static 1.5x, 4 chunks per worker 1.9x, 16: 1.6x, 128: 1.2x; every
        # repetition the same, so that no interval overlaps another.
        ctx = json.load(open(fixture("single_rep.json"), encoding="utf-8"))["context"]
        n = 65536
        times = {("sequential", 1): 6e6, ("thread_pool", 2): 4e6, ("thread_pool.dynamic.coarse", 2): 6e6 / 1.9,
                 ("thread_pool.dynamic", 2): 6e6 / 1.6, ("thread_pool.dynamic.fine", 2): 5e6, ("tbb", 2): 3.2e6}
        benchmarks = []
        for (strategy, workers), t in times.items():
            name = f"uneven.heavy_tail/{strategy}/workers:{workers}/n:{n}/real_time"
            benchmarks += [{"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3,
                            "repetition_index": r, "threads": 1, "iterations": 10, "real_time": t,
                            "cpu_time": 1.0, "time_unit": "ns"} for r in range(3)]
        path = os.path.join(self.tmp, "uneven.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"context": ctx, "benchmarks": benchmarks}, f)
        out = os.path.join(self.tmp, "report.md")
        r = run([tool("parbench-report"), "--no-plots", "--out", out, path])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8") as f:
            text = f.read()
        section = text[text.index("## Uneven work"):]
        row = next(line for line in section.splitlines() if line.startswith("| `thread_pool` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        self.assertEqual([c.split(" ")[0] for c in cells[2:6]], ["1.50×", "1.90×", "1.60×", "1.20×"])
        self.assertEqual(cells[6], f"4 per worker: chunk ≈ {n // 8:,} items")
        tbb = next(line for line in section.splitlines() if line.startswith("| `tbb` |"))
        self.assertIn("work stealing: 1.88×", tbb)
        self.assertNotIn("`process_pool`", section)  # no dynamic twin in the run: no row

    def test_oversubscribed_columns_marked(self):
        text, _, _ = self.write_report("run_reps.json")
        self.assertIn("| 8† |", md_section(text, "count, n = 1,000"))
        self.assertNotIn("| 4† |", text)

    def test_errored_runs_never_appear_as_numbers(self):
        text, out_dir, _ = self.write_report("run_errored.json")
        errored = raw_errored(fixture("run_errored.json"))
        self.assertTrue(errored)
        section = md_section(text, "Errored runs")
        for name in errored:
            self.assertIn(f"`{name}`", section)
            kid = gb.parse_kernel_name(name)
            table = md_section(text, f"{kid.kernel}, n = {kid.n:,}")
            self.assertRegex(table, rf"\| `{re.escape(kid.strategy)}` \|[^\n]*\*\*error\*\*")
        for leaked in sentinel_texts():
            self.assertNotIn(leaked, text, "a number of an errored run reached the report")
        tally = md_section(text, "Winner tally")
        self.assertNotIn("processes.pipe", tally)

    def test_errored_runs_are_not_plotted(self):
        _, out_dir, _ = self.write_report("run_errored.json")
        # sum_range has nothing but its baseline and a failed run: nothing to plot.
        self.assertFalse(os.path.exists(os.path.join(out_dir, "sum_range-speedup.png")))
        self.assertTrue(os.path.exists(os.path.join(out_dir, "count-speedup.png")))

    def test_other_families_in_their_own_table(self):
        text, _, _ = self.write_report("run_reps.json")
        others = md_section(text, "Other benchmarks")
        names = [n for n in raw_samples(fixture("run_reps.json")) if gb.parse_kernel_name(n) is None]
        self.assertTrue(names)
        for name in names:
            self.assertIn(f"`{name}`", others)
            self.assertNotIn(f"### {name.split('/')[0]}\n", text)
        self.assertIn("csw_voluntary=", others)

    def test_kernel_names(self):
        kid = gb.parse_kernel_name("locked_counter.coarse/processes.pipe/workers:4/n:1000000/real_time")
        self.assertEqual((kid.kernel, kid.strategy, kid.workers, kid.n),
                         ("locked_counter.coarse", "processes.pipe", 4, 1_000_000))
        # segments Google Benchmark adds for MinTime/Iterations/Repetitions settings
        kid = gb.parse_kernel_name("count/threads/workers:2/n:1000/min_time:0.020/repeats:3/real_time")
        self.assertEqual((kid.kernel, kid.strategy, kid.workers, kid.n), ("count", "threads", 2, 1000))
        self.assertEqual(gb.parse_kernel_name("count/cpython.threads/workers:2/n:20000000/real_time").baseline,
                         "cpython.sequential")
        for other in ("overhead/dispatch/thread_pool/workers:2", "overhead/ipc/pipe/bytes:4096",
                      "gil/random_max/workers:2/switch_us:5000/real_time",
                      "overhead/spawn/workers:2/n:10/real_time", "count/threads/workers:2/n:1000/bogus:1"):
            self.assertIsNone(gb.parse_kernel_name(other), other)

    def test_crossover_interpolation(self):
        cross = stats.find_crossover
        # ratio = (n / 1000) ** -0.30103 is a straight line in log-log space: exact crossover at n = 1000.
        exact = cross([(100, 2.0), (10_000, 0.5)])
        self.assertEqual(exact.kind, "between")
        self.assertAlmostEqual(exact.n, 1000.0, places=6)
        self.assertAlmostEqual(cross([(10, 4.0), (1000, 0.25)]).n, 100.0, places=6)
        self.assertEqual(cross([(100, 2.0), (1000, 1.5)]).kind, "never")
        self.assertEqual(cross([(100, 1.0), (1000, 1.0)]).kind, "never")   # a tie is not a win
        below = cross([(100, 0.9), (1000, 0.5)])
        self.assertEqual((below.kind, below.n, below.holds), ("below", 100, True))
        unstable = cross([(10, 3.0), (100, 0.5), (1000, 1.2)])
        self.assertEqual(unstable.kind, "between")
        self.assertFalse(unstable.holds)
        self.assertEqual(cross([]).kind, "none")
        self.assertEqual(cross([(1000, 0.5), (10, 2.0)]).kind, "between")  # order of points does not matter

    def test_crossover_in_report_matches_fixture(self):
        text, _, _ = self.write_report("run_reps.json", "cpython_ref.json")
        samples = raw_samples(fixture("run_reps.json"))
        sizes = sorted({gb.parse_kernel_name(n).n for n in samples if n.startswith("count/")})

        def med(strategy, w, n):  # the estimate of a time: the fastest repetition
            return min(samples[f"count/{strategy}/workers:{w}/n:{n}/real_time"].values())
        ratios = [med("thread_pool", 4, n) / med("sequential", 1, n) for n in sizes]
        i = next(k for k, r in enumerate(ratios) if r < 1)
        self.assertGreater(i, 0, "the fixture should lose at its smallest n")
        lx = [math.log(sizes[i - 1]), math.log(sizes[i])]
        ly = [math.log(ratios[i - 1]), math.log(ratios[i])]
        expected = math.exp(lx[0] - ly[0] * (lx[1] - lx[0]) / (ly[1] - ly[0]))
        self.assertIn(f"| `thread_pool` | 4 | `sequential` | ≈ {round(expected):,} |",
                      md_section(text, "count").split("#### Winner")[0])
        self.assertRegex(text, r"\| `cpython.threads` \| 2 \| `cpython.sequential` \| never")

    def test_tally_function(self):
        mk = gb.Benchmark
        a, b, c, solo = mk("a"), mk("b"), mk("c"), mk("solo")
        for rnd, (ta, tb, tc) in enumerate([(1, 2, 0.1), (3, 2, 0.1), (1, 5, 0.1)]):
            a.samples.append(gb.Sample((0, rnd), ta, {}))
            b.samples.append(gb.Sample((0, rnd), tb, {}))
            c.samples.append(gb.Sample((0, rnd), tc, {}))
        c.errors.append(((0, 3), "wrong total"))     # errored: never a winner although fastest
        solo.samples.append(gb.Sample((1, 0), 1, {}))  # alone in its round: no contest
        wins, rounds = stats.winner_tally({"A": a, "B": b, "C": c, "S": solo})
        self.assertEqual((wins, rounds), (Counter({"A": 2, "B": 1}), 3))

    def test_tally_in_report_matches_fixture(self):
        text, _, _ = self.write_report("run_reps.json")
        samples = raw_samples(fixture("run_reps.json"))
        n = 1_000_000
        by_rep = defaultdict(dict)
        for name, reps in samples.items():
            kid = gb.parse_kernel_name(name)
            if kid and kid.kernel == "count" and kid.n == n:
                label = kid.strategy if kid.strategy == "sequential" else f"{kid.strategy} ×{kid.workers}"
                for rep, t in reps.items():
                    by_rep[rep][label] = t
        expected = Counter(min(times, key=times.get) for times in by_rep.values())
        row = next(line for line in md_section(text, "count").split("#### Winner tally")[1].splitlines()
                   if line.startswith(f"| {n:,} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        self.assertEqual(int(cells[2]), len(by_rep))
        got = Counter({m.group(1): int(m.group(2)) for m in re.finditer(r"`([^`]+)` (\d+)", cells[3])})
        self.assertEqual(got, expected)

    def test_recommendation_per_kernel(self):
        text, _, _ = self.write_report("run_reps.json", "cpython_ref.json")
        samples = raw_samples(fixture("run_reps.json"))
        recs = md_section(text, "Recommendations for this machine")
        for kernel in ("count", "locked_counter.coarse"):
            line = next(line for line in recs.splitlines() if line.startswith(f"- **{kernel}** (C++)"))
            kids = [gb.parse_kernel_name(n) for n in samples]
            kids = [k for k in kids if k and k.kernel == kernel]
            n_max = max(k.n for k in kids)
            # Flagged results (tested on their own in FlagTests) cannot win.
            by_n = gb.index_kernels(gb.load([fixture("run_reps.json")]))[0][kernel]
            flagged = flags.flags_at(kernel, by_n[n_max], 4)
            best = min((k for k in kids if k.n == n_max and (k.strategy, k.workers) not in flagged),
                       key=lambda k: min(samples[f"{kernel}/{k.strategy}/workers:{k.workers}/n:{n_max}"
                                                 "/real_time"].values()))
            label = best.strategy if best.strategy == "sequential" else f"{best.strategy} ×{best.workers}"
            at_max = line.split(f"at n = {n_max:,} ")[1]
            self.assertRegex(at_max, r"^(\*\*`[^`]+`.*wins|a tie: |undecided: )")
            if not at_max.startswith("undecided"):
                self.assertIn(f"**`{label}`", at_max)   # the fastest wins, or is in the tie
        self.assertIn("- **count** (CPython reference)", recs)

    # ---- flags and ties: synthetic results whose verdict follows from their numbers

    @staticmethod
    def bench(name, times):
        return gb.Benchmark(name, samples=[gb.Sample((0, i), t, {}) for i, t in enumerate(times)])

    def cells(self, **configs):
        """configs: label 'strategy__W' -> repetition times."""
        out = {}
        for key, times in configs.items():
            strategy, workers = key.rsplit("__", 1)
            strategy = strategy.replace("_", ".") if strategy.startswith("thread_pool_") else strategy
            out[(strategy, int(workers))] = self.bench(f"count/{strategy}/workers:{workers}/n:1", times)
        return out

    def test_flags_implausible_speedup(self):
        tight = [100.0, 100.5, 99.5]
        cells = self.cells(sequential__1=tight, threads__2=[30.0, 30.1, 29.9], thread_pool__2=[52.0, 52.2, 51.8])
        found = flags.flags_at("count", cells, 2)
        self.assertEqual([f.kind for f in found[("threads", 2)]], ["implausible"])
        self.assertNotIn(("thread_pool", 2), found)
        # Waiting is not computing: 8 sleepers on 2 CPUs may finish 8 times as fast.
        self.assertEqual(flags.flags_at("sleep_tasks", self.cells(sequential__1=tight, threads__8=[12.5] * 3), 2), {})

    def test_flags_one_worker_faster_than_sequential(self):
        tight = [100.0, 100.5, 99.5]
        found = flags.flags_at("count", self.cells(sequential__1=tight, thread_pool__1=[80.0, 80.2, 79.8]), 2)
        self.assertIn("one worker", found[("thread_pool", 1)][0].why)
        self.assertEqual(flags.flags_at("count", self.cells(sequential__1=tight, thread_pool__1=[99.0] * 3), 2), {})

    def test_a_wide_baseline_leaves_its_n_undecided(self):
        # Only one of the baseline's repetitions was undisturbed: its interval reaches the second (140), too wide
        # to rank anything against it at that n.
        by_n = {1000: self.cells(sequential__1=[100.0, 140.0, 170.0], threads__2=[50.0, 50.1, 49.9]),
                2000: self.cells(sequential__1=[200.0, 200.5, 199.5], threads__2=[101.0, 101.2, 100.8])}
        line = report.recommendation("count", by_n, "native", 2)
        self.assertIn("at n = 1,000 undecided: ", line)
        self.assertIn("too wide", line)
        self.assertIn("at n = 2,000 **`threads ×2` 1.98× [", line)
        self.assertIn("** wins", line)

    def test_overlapping_intervals_tie_and_separate_ones_decide(self):
        by_n = {1000: self.cells(sequential__1=[100.0, 100.5, 99.5], threads__2=[52.0, 54.0, 50.0],
                                 thread_pool__2=[53.0, 55.0, 51.0])}
        line = report.recommendation("count", by_n, "native", 2)
        self.assertIn("a tie: **`threads ×2` 1.99× [", line)
        self.assertIn("**`thread_pool ×2` 1.95× [", line)
        by_n[1000][("thread_pool", 2)] = self.bench("count/thread_pool/workers:2/n:1000", [60.0, 60.1, 59.9])
        line = report.recommendation("count", by_n, "native", 2)
        self.assertNotIn("tie", line)
        self.assertIn("**`threads ×2` 1.99× [1.79, 2.21]** wins", line)

    def test_a_tie_lists_its_surest_member_first(self):
        # thread_pool ×2 has the higher point estimate, but its interval is wide: threads ×2, whose lower end is
        # highest, leads the list, and the decision still names both.
        by_n = {1000: self.cells(sequential__1=[100.0, 100.5, 99.5], threads__2=[52.0, 54.0, 50.0],
                                 thread_pool__2=[46.0, 70.0, 90.0])}
        cands = report.candidates_at("count", by_n[1000], "native", 2)
        self.assertGreater(cands["thread_pool ×2"].value, cands["threads ×2"].value)
        self.assertLess(cands["thread_pool ×2"].low, cands["threads ×2"].low)
        line = report.recommendation("count", by_n, "native", 2)
        self.assertIn("a tie: **`threads ×2` 1.99× [", line)
        self.assertIn("**`thread_pool ×2` ", line)
        self.assertLess(line.index("`threads ×2`"), line.index("`thread_pool ×2`"))

    def test_an_older_second_baseline_joins_the_baselines_samples(self):
        # Runs from before interleaving measured sequential a second time (sequential.after). Both are the same
        # loop, so their samples are one baseline's: the fastest of all six (99.5 µs) over 49.5 µs.
        w = make_fixtures.Writer(seed="moments", hardware_threads=2, noise=0.0)
        w.add("count/sequential/workers:1/n:1000/real_time", [130_000.0, 131_000.0, 129_000.0])
        w.add("count/threads/workers:2/n:1000/real_time", [50_000.0, 50_500.0, 49_500.0])
        w.add("count/sequential.after/workers:1/n:1000/real_time", [100_000.0, 100_500.0, 99_500.0])
        path = os.path.join(self.tmp, "moments.json")
        w.dump(path, make_fixtures.context())
        r = run([tool("parbench-report"), "--no-plots", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        table = md_section(r.stdout, "count, n = 1,000")
        self.assertIn("| `threads` |  | 49.5 µs · 2.01× [", table)
        self.assertIn("| `sequential` | 99.5 µs |", table)
        self.assertNotIn("sequential.after", table)  # a moment of the baseline, not a strategy

    def test_baseline_moments_fold_into_one_cell(self):
        before = self.bench("count/sequential/workers:1/n:1", [90.0, 91.0, 89.0])
        after = self.bench("count/sequential.after/workers:1/n:1", [100.0, 100.5, 99.5])
        cells = {("sequential", 1): before, ("sequential.after", 1): after}
        gb.fold_baselines(cells)
        self.assertEqual(list(cells), [("sequential", 1)])
        self.assertEqual(sorted(cells[("sequential", 1)].sample_times_ns()),
                         [89.0, 90.0, 91.0, 99.5, 100.0, 100.5])
        only_after = {("sequential.after", 1): after}                  # a filter that kept the second moment only
        gb.fold_baselines(only_after)
        self.assertIs(only_after[("sequential", 1)], after)
        failed = gb.Benchmark("count/sequential/workers:1/n:1", errors=[((0, 0), "wrong total")])
        cells = {("sequential", 1): failed, ("sequential.after", 1): after}
        gb.fold_baselines(cells)
        self.assertTrue(cells[("sequential", 1)].errored)              # an error anywhere makes it suspect

    def test_report_lists_flagged_results(self):
        text, _, _ = self.write_report("run_reps.json")
        section = md_section(text, "Flagged results")
        self.assertIn("| `count` | 100,000,000 | `threads ×8` | implausible |", section)

    def test_without_matplotlib_still_writes_markdown(self):
        fake = os.path.join(self.tmp, "nompl", "matplotlib")
        os.makedirs(fake)
        with open(os.path.join(fake, "__init__.py"), "w") as f:
            f.write("raise ImportError('matplotlib hidden by the test')\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(fake))
        text, out_dir, r = self.write_report("run_reps.json", env=env)
        self.assertIn("Plots skipped", text)
        self.assertIn("Plots skipped", r.stderr)
        self.assertIn("### count", text)
        self.assertFalse([f for f in os.listdir(out_dir) if f.endswith(".png")])

    def test_stdout_without_out(self):
        r = run([tool("parbench-report"), fixture("run_reps.json")], cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("# parbench report"))
        self.assertEqual(os.listdir(self.tmp), [])

    def test_aggregates_only_uses_gb_medians(self):
        text, _, _ = self.write_report("aggregates_only.json")
        with open(fixture("aggregates_only.json")) as f:
            medians = {e["run_name"]: e["real_time"] * UNIT_NS[e["time_unit"]] for e in json.load(f)["benchmarks"]
                       if e.get("aggregate_name") == "median"}
        name = "count/threads/workers:2/n:1000000/real_time"
        self.assertIn(markdown.format_time_ns(medians[name]), md_section(text, "count, n = 1,000,000"))
        self.assertNotIn("Winner tally", text)  # no per-repetition data, no tally


# ------------------------------------------------------------------------------------------ gate rates

class GateRatesTests(ToolTestCase):
    """parbench-gate-rates collect and paired against the fake bench_parallel, whose count benchmarks the
    slowdown arm makes 30% slower: no A/A gate may raise an alarm, and every gate must catch count."""

    def test_collect_then_paired(self):
        records = os.path.join(self.tmp, "records.jsonl")
        r = run([tool("parbench-gate-rates"), "collect", "--bin", FAKE_BENCH, "--filter", "^(count|sum_range)/",
                 "--kernels", "count", "--rounds", "8", "--slowdown", "0.3", "--out", records])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(records) as f:
            arms = {json.loads(line)["arm"] for line in f}
        self.assertEqual(arms, {"A", "A2", "slow0.3"})
        r = run([tool("parbench-gate-rates"), "paired", records, "--looks", "8", "--gates", "20",
                 "--slowed", "^count/"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("false alarms per benchmark: 0/80 = 0.00%", r.stdout)
        self.assertIn("gates with any false alarm: 0/20 = 0.00%", r.stdout)
        self.assertIn("detected per benchmark: 40/40 = 100.00%", r.stdout)
        self.assertIn("gates that decided anything within the budget: 20/20 = 100.00%", r.stdout)
        self.assertIn("rejected by BH at alpha/L 0/4", r.stdout)      # A/A, every round at once
        self.assertIn("rejected by BH at alpha/L 2/2", r.stdout)      # both count benchmarks
        # The fastest method on the same records: exact as well, and every count run is 30% slower than any plain.
        r = run([tool("parbench-gate-rates"), "paired", records, "--looks", "8", "--gates", "20",
                 "--slowed", "^count/", "--method", "fastest"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("method fastest", r.stdout)
        self.assertIn("rejected by BH at alpha/L 2/2", r.stdout)
        self.assertIn("gates with any false alarm: 0/20 = 0.00%", r.stdout)
        self.assertIn("detected per benchmark: 40/40 = 100.00%", r.stdout)

    def test_help_lists_the_subcommands_and_each_has_its_own(self):
        r = run([tool("parbench-gate-rates"), "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("{collect,paired}", r.stdout)
        for command, option in (("collect", "--slowdown"), ("paired", "--looks")):
            r = run([tool("parbench-gate-rates"), command, "--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"usage: parbench-gate-rates {command}", r.stdout)
            self.assertIn(option, r.stdout)

    def test_usage_errors(self):
        for args, message in (([], "required: {collect,paired}"), (["bogus"], "invalid choice: 'bogus'"),
                              (["paired"], "required: records"),
                              (["paired", fixture("not_json.json"), "--gates", "0"], "--gates must be positive"),
                              (["collect", "--bin", FAKE_BENCH, "--out", os.path.join(self.tmp, "r"), "--rounds",
                                "0"], "--rounds and --group must be positive")):
            with self.subTest(args=args):
                r = run([tool("parbench-gate-rates"), *args])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)


# --------------------------------------------------------------------------------------------- package

class PackageTests(ToolTestCase):
    """tools/parbench/__init__.py's module list stays true: it names every module of the package, and no more."""

    def test_docstring_names_every_module(self):
        import parbench
        package = os.path.join(TOOLS, "parbench")
        modules = {f[:-3] for f in os.listdir(package) if f.endswith(".py") and f != "__init__.py"}
        modules |= {d for d in os.listdir(package) if os.path.isfile(os.path.join(package, d, "__init__.py"))}
        listed = set(re.findall(r"^ {2}([a-z_]+(?:, [a-z_]+)*)(?: |$)", parbench.__doc__, re.M))
        named = {m for line in listed for m in line.split(", ")}
        self.assertEqual(modules - named, set(), "modules missing from tools/parbench/__init__.py")
        self.assertEqual(named - modules, set(), "tools/parbench/__init__.py names modules that do not exist")


# --------------------------------------------------------------------------------------------- order

class OrderTests(ToolTestCase):
    """parbench-order's choice of benchmarks: every process strategy, whatever its start method."""

    def test_every_process_strategy_at_its_smallest_n_with_two_workers(self):
        from parbench import order
        names = [f"{kernel}/{strategy}/workers:{w}/n:{n}/real_time"
                 for kernel in ("count", "locked_counter.sharded", "sum_range")
                 for strategy in ("processes.pipe", "processes.newmethod", "process_pool.executor.newmethod",
                                  "threads")
                 for w in (1, 2) for n in (65536, 1024)]
        names.append(order.OTHERS[0])
        chosen = order.default_targets(names)
        expected = [f"{kernel}/{strategy}/workers:2/n:1024/real_time"
                    for kernel in ("count", "locked_counter.sharded")
                    for strategy in sorted(("processes.pipe", "processes.newmethod",
                                            "process_pool.executor.newmethod"))]
        self.assertEqual(chosen, expected + [order.OTHERS[0]])

    def test_alone_drift_is_the_after_pass_over_the_before_pass(self):
        from parbench import order
        self.assertEqual(order.alone_drift([([100, 110, 90], 0), ([130, 120, 125], 0)]), "1.25")
        self.assertEqual(order.alone_drift([([100], 0)]), "–")  # one pass: nothing to compare
        self.assertEqual(order.alone_drift([([], 0), ([100], 0)]), "–")


# --------------------------------------------------------------------------------------------- A/B

class AbBenchTests(ToolTestCase):
    """tools/ab-bench.sh: building two refs in worktrees (a fake bench_parallel, built by cmake) and its usage.
    The gate it runs is parbench-gate's, tested in test_gate.py (tools.Gate)."""

    def ab(self, *args, cwd=None):
        out = os.path.join(self.tmp, "ab-out")
        r = run(["bash", tool("ab-bench.sh"), *args, "--out", out], cwd=cwd or self.tmp)
        return r, out

    def test_usage_errors(self):
        for args in ([], ["only-one"], ["a", "b", "--jobs", "0"], ["a", "b", "--bogus"], ["a", "b", "--rounds", "9"],
                     ["a", "b", "--out"]):
            with self.subTest(args=args):
                r = run(["bash", tool("ab-bench.sh"), *args], cwd=self.tmp)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("ab-bench.sh:", r.stderr)

    @unittest.skipUnless(shutil.which("git") and shutil.which("cmake"), "needs git and cmake")
    def test_builds_two_refs_in_worktrees(self):
        repo = os.path.join(self.tmp, "repo")
        os.makedirs(repo)
        shutil.copy(FAKE_BENCH, os.path.join(repo, "fake.py"))
        with open(os.path.join(repo, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\nproject(fakebench NONE)\n"
                    "add_custom_target(bench_parallel ALL COMMAND ${CMAKE_COMMAND} -E copy "
                    "${CMAKE_SOURCE_DIR}/fake.py ${CMAKE_BINARY_DIR}/bench_parallel)\n")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-C", repo]
        for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "base"], ["tag", "base"]):
            self.assertEqual(run(git + cmd).returncode, 0)
        with open(os.path.join(repo, "fake.py")) as f:
            slower = f.read().replace("BUILTIN_SLOWDOWN = {}", 'BUILTIN_SLOWDOWN = {"sum_range": 0.3}')
        with open(os.path.join(repo, "fake.py"), "w") as f:
            f.write(slower)
        self.assertEqual(run(git + ["commit", "-qam", "slower sum_range"]).returncode, 0)
        gate = ["--gate-flags=--looks 9,12 --seed 3", f"--bench-flags=--fake_fresh_noise={self.tmp}/noise"]
        r, out = self.ab("base", "HEAD", *gate, cwd=repo)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        with open(os.path.join(out, "verdicts.json")) as f:
            verdicts = {name: v["verdict"] for name, v in json.load(f).items()}
        self.assertTrue(verdicts)
        for name, verdict in verdicts.items():
            self.assertEqual(verdict == "regression", name.startswith("sum_range/"), (name, verdict))
        worktrees = run(git + ["worktree", "list"]).stdout.strip().splitlines()
        self.assertEqual(len(worktrees), 1, worktrees)  # the temporary worktrees are gone
        r, _ = self.ab("HEAD", "HEAD", *gate, cwd=repo)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r, _ = self.ab("base", "no-such-ref", cwd=repo)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-ref", r.stderr)


# --------------------------------------------------------------------------------------------- passes

class PassesTests(ToolTestCase):
    """src/run_benchmarks.cmake, the bench workflow's last step, against the fake bench_parallel: after the first
    pass it asks parbench-plan, over every pass so far, what to measure again, and runs another pass while
    something is undecided, time is left and the most passes allowed have not run."""
    requires = ("matplotlib",)

    def passes(self, spread, repetitions=4, **defines):
        out = os.path.join(self.tmp, f"spread{spread}-{repetitions}-" + "-".join(f"{k}{v}" for k, v in defines.items()))
        os.makedirs(out)
        json_path = os.path.join(out, "b.json")
        args = f"--parbench_profile=default --benchmark_repetitions={repetitions} --fake_spread={spread}"
        cmd = ["cmake", f"-DBENCH={FAKE_BENCH}", f"-DARGS={args}", f"-DJSON={json_path}",
               f"-DREPORT={os.path.join(out, 'report.md')}", f"-DTOOLS={TOOLS}", f"-DPYTHON={tool_python()}"]
        cmd += [f"-D{k}={v}" for k, v in defines.items()]
        r = run(cmd + ["-P", os.path.join(ROOT, "src", "run_benchmarks.cmake")])
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return r.stderr, sorted(f for f in os.listdir(out) if f.startswith("b.json"))

    def test_undecided_comparisons_get_more_passes_up_to_the_limit(self):
        log, files = self.passes(1.0, PASSES=3)
        self.assertEqual(files, ["b.json", "b.json.pass2.json", "b.json.pass3.json"], log)
        self.assertIn("Pass 3 (", log)
        # what the later passes measured: the undecided speedup and its baseline, eight repetitions each
        for name in ("b.json.pass2.json", "b.json.pass3.json"):
            samples = raw_samples(os.path.join(self.tmp, "spread1.0-4-PASSES3", name))
            self.assertEqual(sorted(samples), ["count/sequential/workers:1/n:100000/real_time",
                                               "count/threads/workers:2/n:100000/real_time",
                                               "sum_range/sequential/workers:1/n:100000/real_time",
                                               "sum_range/threads/workers:2/n:100000/real_time"])
            self.assertEqual({len(reps) for reps in samples.values()}, {8})
        self.assertRegex(log, r"Report: \S*report\.md .*JSON: \S*b\.json \S*b\.json\.pass2\.json "
                              r"\S*b\.json\.pass3\.json\n")

    def test_no_further_pass_once_decided(self):
        # Decided: narrow intervals, on as many repetitions as a contender for the recommendation needs.
        log, files = self.passes(0.0, repetitions=plan.CONTENDER_SAMPLES)
        self.assertEqual(files, ["b.json"], log)
        self.assertIn("No pass 2: every comparison decided", log)

    def test_a_narrow_interval_on_a_few_repetitions_gets_another_pass(self):
        log, files = self.passes(0.0, PASSES=2)
        self.assertEqual(files, ["b.json", "b.json.pass2.json"], log)

    def test_no_further_pass_without_time(self):
        log, files = self.passes(1.0, BUDGET_S=10)
        self.assertEqual(files, ["b.json"], log)
        self.assertIn("No pass 2:", log)
        self.assertIn("left of 10 s", log)


# --------------------------------------------------------------------------------------------- main

def selected_classes(names):
    classes = [RefusalTests, ReportTests, AbBenchTests, GateRatesTests, PackageTests, OrderTests, PassesTests]
    if not names:
        return classes
    by_name = {c.__name__: c for c in classes}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"unknown test class: {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[n] for n in names]


def tool_python():
    """The interpreter the tools run under: their shebang (Debian's /usr/bin/python3), not necessarily ours."""
    with open(tool("parbench-report")) as f:
        return f.readline()[2:].strip()


def missing_modules(python, modules):
    probe = "import importlib.util, sys; sys.stdout.write(' '.join(m for m in sys.argv[1:] " \
            "if importlib.util.find_spec(m) is None))"
    return run([python, "-c", probe, *modules]).stdout.split()


def main():
    classes = selected_classes(sys.argv[1:])
    python = tool_python()
    if not os.access(python, os.X_OK):
        print(f"SKIP: {python}, the tools' interpreter, is not installed")
        return 77
    missing = missing_modules(python, sorted({module for c in classes for module in c.requires}))
    if missing:
        print(f"SKIP: {python} (the tools' interpreter) cannot import {', '.join(missing)}; on Debian: "
              f"apt-get install {' '.join('python3-' + m for m in missing)}")
        return 77
    suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in classes)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
