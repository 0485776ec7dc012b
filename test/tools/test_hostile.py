#!/usr/bin/python3
"""Hostile input for the Python tools: every tool, on any input, does its job or prints one line and exits 2.

PropertyTests feed each tool that reads files (parbench-report, parbench-gate-rates paired) at least
1,000 generated inputs with Debian's python3-hypothesis: random Google Benchmark documents, mutated fixtures and
broken text. The tools' main() runs in-process (a subprocess per input would take minutes); what is checked is
the contract: an allowed exit status (never 70, the internal-error status), no traceback, exactly one line on
stderr for status 2. The generator is derandomized, so
a failure reproduces; hypothesis prints the failing input.

HostileTests run the cases that once traced back or were silently accepted, through the real commands.

Run: PYTHONPATH=tools /usr/bin/python3 test/tools/test_hostile.py [TestClass[.tool] ...]   (ctest does this)
Exit status 77 means skipped: hypothesis, scipy or matplotlib is missing.
"""

import contextlib
import copy
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tools")
FIXTURES = os.path.join(HERE, "fixtures")
EXAMPLES = int(os.environ.get("PARBENCH_HYPOTHESIS_EXAMPLES", "1000"))
# hypothesis keeps caches in ./.hypothesis unless told otherwise: never in the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "parbench-hypothesis"))


def fixture(name):
    return os.path.join(FIXTURES, name)


def tool(name):
    return os.path.join(TOOLS, name)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def load_fixture(name):
    with open(fixture(name)) as f:
        return json.load(f)


def kernel(name="count/threads/workers:2/n:1000/real_time", reps=3, t=1000.0, **extra):
    return [dict({"name": name, "run_name": name, "run_type": "iteration", "repetitions": reps,
                  "repetition_index": i, "threads": 1, "iterations": 10, "real_time": t * (1 + i / 100),
                  "cpu_time": t, "time_unit": "ns"}, **extra) for i in range(reps)]


def document(entries, **context):
    return {"context": dict({"host_name": "h", "date": "d"}, **context), "benchmarks": entries}


# --------------------------------------------------------------------------------------------- regressions

class HostileTests(unittest.TestCase):
    """The cases that traced back or were silently accepted, as regression tests, through the real commands."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="parbench-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, doc=None, text=None):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text if text is not None else json.dumps(doc))
        return path

    def assert_refused(self, cmd, *fragments):
        r = run(cmd)
        self.assertEqual(r.returncode, 2, f"{cmd}: {r.stderr}")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        return lines[0]

    def every_reader(self, path, *fragments):
        for cmd in ([tool("parbench-report"), path],):
            with self.subTest(cmd=cmd[0]):
                self.assert_refused(cmd, os.path.basename(path), *fragments)

    def test_json_nested_200000_deep(self):
        deep = "[" * 200_000 + "]" * 200_000
        self.every_reader(self.write("deep.json", text=deep), "nested too deeply")
        self.every_reader(self.write("deep2.json", text='{"context": {}, "benchmarks": ' + deep + "}"))

    def test_repetition_index_not_an_integer(self):
        for bad in ("abc", -1, 1.5, None, True):
            with self.subTest(bad=bad):
                self.every_reader(self.write("rep.json", document(kernel(repetition_index=bad))),
                                  "repetition_index")

    def test_time_that_is_not_positive(self):
        for bad in (-5, 0, 0.0, "12", None, 1e308):
            with self.subTest(bad=bad):
                doc = document(kernel(real_time=bad, time_unit="s"))
                self.every_reader(self.write("time.json", doc), "real_time")

    def test_null_entries_are_refused_by_every_reader(self):
        doc = document(kernel() + [None])
        self.every_reader(self.write("null.json", doc), "entry #3")

    def test_huge_integer_and_bad_error_flag(self):
        self.every_reader(self.write("big.json", text='{"context": {}, "benchmarks": [' + "9" * 5000 + "]}"))
        self.every_reader(self.write("flag.json", document(kernel(error_occurred="yes"))), "error_occurred")

    def test_other_benchmark_with_only_dispersion_aggregates(self):
        entries = [{"name": f"overhead/x_{a}", "run_name": "overhead/x", "run_type": "aggregate",
                    "aggregate_name": a, "aggregate_unit": "time", "real_time": 3.0, "time_unit": "ns"}
                   for a in ("stddev", "min")]
        path = self.write("stddev.json", document(entries))
        r = run([tool("parbench-report"), "--no-plots", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| `overhead/x` | – |", r.stdout)

    def test_out_naming_a_directory(self):
        for cmd in ([tool("parbench-report"), "--out", self.tmp, fixture("ab_base.json")],
                    [tool("parbench-gate-rates"), "collect", "--bin", "x", "--out", self.tmp]):
            with self.subTest(cmd=cmd[0]):
                self.assert_refused(cmd, "is a directory")

    def test_out_in_a_missing_directory_creates_nothing_from_the_root(self):
        missing = os.path.join(self.tmp, "no", "such", "dir")
        line = self.assert_refused([tool("parbench-report"), "--out", os.path.join(missing, "x.md"),
                                    fixture("run_reps.json")], "does not exist")
        self.assertIn(os.path.dirname(missing), line)
        self.assertEqual(os.listdir(self.tmp), [])
        # One missing level (the report's own directory) is still created, as ab-bench.sh relies on.
        r = run([tool("parbench-report"), "--no-plots", "--out", os.path.join(self.tmp, "rep", "r.md"),
                 fixture("single_rep.json")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_usage_errors_are_one_line(self):
        for cmd in ([tool("parbench-report")], [tool("parbench-report"), "--bogus"], [tool("parbench-gate-rates")],
                    [tool("parbench-gate-rates"), "paired", "x", "--gates", "abc"],
                    [tool("parbench-gate-rates"), "paired", "x", "--slowed", "("]):
            with self.subTest(cmd=cmd):
                self.assert_refused(cmd, "error:")

    def test_partial_run_is_said(self):
        names = ["count/sequential/workers:1/n:1000/real_time", "count/threads/workers:2/n:1000/real_time"]
        good = [e for n in names for e in kernel(n)]
        partial = self.write("partial.json", document(good[:3], parbench_interrupted="SIGINT"))
        said = "partial.json: partial run (interrupted by SIGINT)"
        r = run([tool("parbench-report"), "--no-plots", partial])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(said, r.stderr)
        self.assertIn("partial run (interrupted by SIGINT)", r.stdout)

    def test_full_disk_is_one_line_and_keeps_the_previous_file(self):
        base = fixture("ab_base.json")
        r = run([tool("parbench-report"), "--no-plots", "--out", "/dev/full", base])  # a note, then the line
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot write --out /dev/full: No space left on device", r.stderr.splitlines()[-1])
        if os.geteuid() != 0:
            return  # /dev/full above is the full disk where no tmpfs can be mounted
        mount = tempfile.mkdtemp(dir=self.tmp)
        if run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", mount]).returncode != 0:
            return
        self.addCleanup(run, ["umount", mount])
        out = os.path.join(mount, "report.md")
        with open(out, "w") as f:
            f.write("previous\n")  # fills the one page
        for plots in ([], ["--no-plots"]):
            with self.subTest(plots=plots):
                r = run([tool("parbench-report"), *plots, "--out", out, base])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("No space left on device", r.stderr.splitlines()[-1])
                with open(out) as f:
                    self.assertEqual(f.read(), "previous\n")
                self.assertEqual(os.listdir(mount), ["report.md"], "no temporary, empty or partial file is left")

    def test_concurrent_writers_leave_one_whole_file(self):
        inputs = [fixture("ab_base.json"), fixture("run_reps.json")]
        alone = []
        for i, path in enumerate(inputs):
            out = os.path.join(self.tmp, f"alone{i}.md")
            self.assertEqual(run([tool("parbench-report"), "--no-plots", "--out", out, path]).returncode, 0)
            with open(out) as f:
                alone.append(f.read())
        both = os.path.join(self.tmp, "both")
        os.mkdir(both)
        out = os.path.join(both, "report.md")
        procs = [subprocess.Popen([tool("parbench-report"), "--no-plots", "--out", out, path],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for path in inputs * 3]
        for p in procs:
            _, err = p.communicate(timeout=600)
            self.assertEqual(p.returncode, 0, err)
        with open(out) as f:
            self.assertIn(f.read(), alone, "the file is one run's whole output")
        self.assertEqual(os.listdir(both), ["report.md"])

    def test_a_failed_write_keeps_the_previous_file(self):
        from parbench import cli
        out = self.write("out.md", text="previous\n")
        with self.assertRaises(RuntimeError):
            with cli.atomic_open(out) as f:
                f.write("half")
                raise RuntimeError("killed half way")
        with open(out) as f:
            self.assertEqual(f.read(), "previous\n")
        self.assertEqual(os.listdir(self.tmp), ["out.md"])
        cli.write_text(out, "new\n")
        with open(out) as f:
            self.assertEqual(f.read(), "new\n")
        self.assertEqual(os.listdir(self.tmp), ["out.md"])

    def test_history_add_says_partial_run(self):
        names = ["count/sequential/workers:1/n:1000/real_time", "count/threads/workers:2/n:1000/real_time"]
        partial = self.write("partial.json", document([e for n in names for e in kernel(n)][:3],
                                                      parbench_interrupted="SIGINT"))
        r = run([tool("parbench-history"), "add", "--db", os.path.join(self.tmp, "h.db"), "--commit", "abc",
                 partial])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("partial.json: partial run (interrupted by SIGINT)", r.stderr)

    def test_internal_error_has_its_own_status(self):
        from parbench import cli

        def broken(argv):
            raise ZeroDivisionError("a bug")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = cli.run("parbench-x", broken, [])
        self.assertEqual(status, cli.EXIT_INTERNAL)
        self.assertNotIn(status, (cli.EXIT_REGRESSION, cli.EXIT_USAGE))
        self.assertEqual(len(err.getvalue().splitlines()), 1)
        self.assertIn("internal error: ZeroDivisionError: a bug", err.getvalue())


# --------------------------------------------------------------------------------------------- properties

def call(module, argv):
    """(status, stdout, stderr) of a tool's main() run in-process through the commands' own wrapper."""
    from parbench import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.run(module.PROG, module.main, argv)
        except SystemExit as e:  # argparse's own exit (usage errors)
            status = e.code
    return status, out.getvalue(), err.getvalue()


def strategies(arity):
    """Hypothesis strategy for a tuple of `arity` Google Benchmark JSON texts: clean, nearly valid and broken.

    Half the documents are clean (so that the tools get past their checks and into their statistics), the
    others are random or mutated fixtures; later files are often the first one with other times, errors and
    missing entries (so that the tools have benchmarks in common); a fifth of the texts are then cut or
    spliced.
    """
    from hypothesis import strategies as st

    names = ["count/sequential/workers:1/n:1000/real_time", "count/threads/workers:2/n:1000/real_time",
             "count/thread_pool/workers:4/n:1000/real_time", "count/sequential/workers:1/n:100000/real_time",
             "count/threads/workers:2/n:100000/real_time", "sum_range/cpython.sequential/workers:1/n:10/real_time",
             "sum_range/cpython.threads/workers:2/n:10/real_time", "count/threads/workers:0/n:0/real_time",
             "overhead/ipc/pipe/bytes:4096", "gil/random_max/workers:2/switch_us:5000/real_time",
             "overhead/idle/thread_pool/workers:2", "uneven.triangular/sequential/workers:1/n:4096/real_time",
             "uneven.triangular/process_pool.dynamic/workers:2/n:4096/real_time",
             # The payload kernel's Moving the data section: a thread pool and process strategies at two sizes,
             # a pool of one worker (it moves nothing) and the interpreter-lock model.
             "payload/thread_pool/workers:2/n:512/real_time", "payload/thread_pool/workers:2/n:131072/real_time",
             "payload/processes.pipe/workers:2/n:512/real_time",
             "payload/processes.pipe/workers:2/n:131072/real_time",
             "payload/process_pool/workers:1/n:512/real_time", "payload/process_pool/workers:1/n:131072/real_time",
             "payload/gil_threads/workers:2/n:131072/real_time"]
    # The counters the report reads: the CPU cost view's (tree_cpu_s, utilisation, idle_cpu_pct) and the machine
    # section's (probe_ns, warmed) among them.
    counter_names = ["speedup", "efficiency", "items_per_second", "csw_voluntary", "tree_cpu_s", "utilisation",
                     "idle_cpu_pct", "warmed", "probe_ns"]
    scalar = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats()
              | st.text(max_size=8))

    def containers(c):
        return st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3)

    anything = st.recursive(scalar, containers, max_leaves=6)
    good_times = st.floats(min_value=1e-3, max_value=1e12) | st.integers(1, 10 ** 9)
    times = good_times | st.floats()
    counters = st.dictionaries(st.sampled_from(counter_names),
                               st.floats(min_value=-1e6, max_value=1e6) | st.floats(), max_size=3)
    units = st.sampled_from(["ns", "us", "ms", "s"])

    def iteration(name, rep, t, unit):
        return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3, "repetition_index": rep,
                "threads": 1, "iterations": 7, "real_time": t, "cpu_time": 1.0, "time_unit": unit}

    @st.composite
    def clean(draw):
        """Valid GB output: per name, repetitions, sometimes GB's aggregates, sometimes an error. The
        details come from a seeded random.Random: one draw instead of hundreds keeps generation cheap."""
        rng = random.Random(draw(st.integers(0, 2 ** 32)))
        entries, count = [], rng.choice([0, 1, 2, 3, 3, 5, 5, 9])
        for name in rng.sample(names, rng.randint(1, 6)):
            unit = rng.choice(["ns", "us", "ms", "s"])
            t = rng.choice([rng.uniform(1e-3, 1e12), rng.randint(1, 10 ** 9)])
            for r in range(count):
                e = iteration(name, r, t * rng.uniform(0.5, 2.0), unit)
                for key in rng.sample(counter_names, rng.randint(0, 4)):
                    e[key] = rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(0, 10), math.nan, math.inf, 0])
                if rng.randint(0, 15) == 0:
                    e.update(error_occurred=True, error_message=rng.choice(["", "wrong total", "worker 1 died"]),
                             real_time=0)
                entries.append(e)
            if rng.randint(0, 3) == 0:
                for agg in ("mean", "median", "stddev", "cv"):
                    entries.append(dict(iteration(name, 0, t, unit), name=f"{name}_{agg}", run_type="aggregate",
                                        aggregate_name=agg, aggregate_unit="percentage" if agg == "cv" else "time"))
                    del entries[-1]["repetition_index"]
        context = {"host_name": "h", "num_cpus": rng.randint(1, 64),
                   "hardware_threads": rng.choice(["2", "4", 8, None])}
        if rng.randint(0, 5) == 0:
            context["parbench_interrupted"] = rng.choice(["SIGINT", "SIGTERM", "SIGHUP"])
        return {"context": context, "benchmarks": entries}

    @st.composite
    def entry(draw, pool):
        name = draw(st.sampled_from(pool) | st.text(max_size=12))
        kind = draw(st.sampled_from(["iteration"] * 6 + ["aggregate"] * 3 + ["other"]))
        e = iteration(name, draw(st.integers(0, 6)), draw(times), draw(units))
        e["run_type"] = kind
        if kind == "aggregate":
            agg = draw(st.sampled_from(["mean", "median", "stddev", "cv", "max"]))
            e.update(name=f"{name}_{agg}", aggregate_name=agg, aggregate_unit="percentage" if agg == "cv" else "time")
        if draw(st.integers(0, 9)) == 0:
            e.update(error_occurred=True, error_message=draw(st.text(max_size=10)), real_time=0)
        e.update(draw(counters))
        return e

    @st.composite
    def messy(draw):
        """Random entries over a few names, some of them not entries at all; a random context."""
        pool = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
        entries = draw(st.lists(entry(pool) | anything if draw(st.integers(0, 4)) == 0 else entry(pool),
                                max_size=24))
        context = {"host_name": draw(st.text(max_size=6) | anything), "num_cpus": draw(st.integers(-2, 64) | anything)}
        if draw(st.integers(0, 5)) == 0:
            context["parbench_interrupted"] = draw(anything)
        context.update(draw(st.dictionaries(st.text(max_size=6), anything, max_size=2)))
        return {"context": context, "benchmarks": entries}

    fixtures = {name: load_fixture(name) for name in
                ("single_rep.json", "run_errored.json", "aggregates_only.json", "ab_base.json", "cpython_ref.json")}

    def mutate(draw, doc, count):
        """count random edits of a GB document: set or drop a key, drop, duplicate or null an entry, context."""
        for _ in range(count):
            entries = doc["benchmarks"]
            if not isinstance(entries, list) or not entries:
                break
            what = draw(st.sampled_from(["set", "drop key", "drop entry", "dup", "context", "null"]))
            i = draw(st.integers(0, len(entries) - 1))
            if what == "set" and isinstance(entries[i], dict):
                entries[i][draw(st.sampled_from(sorted(entries[i]) + ["x"]))] = draw(anything | times)
            elif what == "drop key" and isinstance(entries[i], dict) and entries[i]:
                entries[i].pop(draw(st.sampled_from(sorted(entries[i]))))
            elif what == "drop entry":
                del entries[i]
            elif what == "dup":
                entries.append(copy.deepcopy(entries[i]))
            elif what == "context" and isinstance(doc.get("context"), dict):
                doc["context"][draw(st.sampled_from(sorted(doc["context"]) + ["parbench_interrupted"]))] = \
                    draw(anything)
            elif what == "null":
                entries[i] = None
        return doc

    @st.composite
    def mutated(draw):
        doc = copy.deepcopy(fixtures[draw(st.sampled_from(sorted(fixtures)))])
        return mutate(draw, doc, draw(st.integers(1, 4)))

    @st.composite
    def sibling(draw, doc):
        """Another run of the same benchmarks: other times, some errors, some entries gone, maybe mutated."""
        doc = copy.deepcopy(doc)
        if isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list):
            rng = random.Random(draw(st.integers(0, 2 ** 32)))
            factor = rng.choice([rng.uniform(0.5, 2.0), 1.0, 1.3])
            for e in doc["benchmarks"]:
                if isinstance(e, dict) and e.get("run_type") == "iteration" and isinstance(e.get("real_time"), float):
                    e["real_time"] *= factor * rng.uniform(0.9, 1.1)
            doc = mutate(draw, doc, draw(st.sampled_from([0, 0, 0, 1, 2])))
        return doc

    def text(draw, doc):
        body = json.dumps(doc, allow_nan=True)
        how = draw(st.sampled_from(["as is"] * 8 + ["truncated", "spliced"]))
        if how == "truncated":
            body = body[:draw(st.integers(0, len(body)))]
        elif how == "spliced":
            i = draw(st.integers(0, len(body)))
            body = body[:i] + draw(st.text(max_size=5)) + body[i:]
        return body

    @st.composite
    def texts(draw):
        first = draw(st.one_of(clean(), clean(), messy(), mutated(), anything))
        docs = [first]
        for _ in range(arity - 1):
            docs.append(draw(sibling(first) if draw(st.integers(0, 3)) else st.one_of(clean(), messy(), mutated())))
        return tuple(text(draw, doc) for doc in docs)

    return texts()


class PropertyTests(unittest.TestCase):
    """At least EXAMPLES generated inputs per tool, in-process; the contract, never a traceback."""

    @classmethod
    def setUpClass(cls):
        from hypothesis import HealthCheck, settings
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # memory, not a busy disk
        cls.tmp = tempfile.mkdtemp(prefix="parbench-property-", dir=shm)
        cls.settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                                suppress_health_check=list(HealthCheck), print_blob=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def files(self, *texts):
        paths = []
        for i, text in enumerate(texts):
            path = os.path.join(self.tmp, f"in{i}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            paths.append(path)
        return paths

    def check(self, result, allowed):
        status, out, err = result
        self.assertNotIn("Traceback", err)
        self.assertIn(status, allowed, err)
        if status == 2:
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        return status, out, err

    def property(self, test, arity):
        from hypothesis import given
        count = [0]

        @self.settings
        @given(strategies(arity))
        def prop(texts):
            count[0] += 1
            test(self.files(*texts))
        prop()
        self.assertGreaterEqual(count[0], EXAMPLES)

    def test_report(self):
        from parbench import report
        self.property(lambda paths: self.check(call(report, ["--no-plots", *paths]), (0, 2)), 2)

    def test_report_with_plots(self):
        """Plots are slow: a few dozen inputs that reach matplotlib with whatever the generator made."""
        from hypothesis import given, settings
        from parbench import report
        out = os.path.join(self.tmp, "plots", "r.md")

        @settings(self.settings, max_examples=max(1, EXAMPLES // 40))
        @given(strategies(1))
        def prop(texts):
            self.check(call(report, ["--out", out, *self.files(*texts)]), (0, 2))
        prop()

    def test_gate_rates(self):
        from parbench import gate_rates
        self.property(lambda paths: self.check(
            call(gate_rates, ["paired", *paths, "--gates", "1", "--looks", "1"]), (0, 2, 3)), 3)


# --------------------------------------------------------------------------------------------- main

def main():
    names = sys.argv[1:] or ["HostileTests", "PropertyTests"]
    need = {"scipy", "matplotlib"} | ({"hypothesis"} if any(n.startswith("PropertyTests") for n in names) else set())
    import importlib.util
    missing = sorted(m for m in need if importlib.util.find_spec(m) is None)
    if missing:
        print(f"SKIP: {sys.executable} cannot import {', '.join(missing)}; on Debian: apt-get install "
              + " ".join(f"python3-{m}" for m in missing))
        return 77
    suite = unittest.defaultTestLoader.loadTestsFromNames(names, sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
