#!/usr/bin/env python3
"""Tests of tools/cpython_reference.py (standard library only; run by ctest).

The script is run as a program in --quick mode with tight filters, as a person or a
report tool would, and its Google Benchmark JSON is checked. A few kernel facts are
checked by importing its kernels, parbench.cpython.kernels (ctest puts tools/ on PYTHONPATH; by hand:
PYTHONPATH=tools python3 test/cpython/test_cpython_reference.py), so that CPython totals stay
comparable with C++ ones.
"""

import json
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, os.pardir, os.pardir, "tools", "cpython_reference.py")
METHODS = multiprocessing.get_all_start_methods()  # fork, spawn, forkserver on Linux
NAME = re.compile(r"^(count|sum_range|random_max|locked_counter\.coarse|sleep_tasks|uneven\.(triangular|heavy_tail)"
                  r"|socket_tasks\.delay_(0|1000)us|payload(\.numpy)?)"
                  r"/cpython\.(sequential|threads|thread_pool|asyncio|(processes|process_pool"
                  r"|mp_pool(\.dynamic\.coarse|\.dynamic|\.dynamic\.fine|\.imap_unordered)?"
                  r"|process_pool\.shared_memory)\.(%s))"
                  r"/workers:[1-9][0-9]*/n:[0-9]+/real_time$" % "|".join(METHODS))
SEED_KERNELS = r"^(count|sum_range|random_max|locked_counter\.coarse|sleep_tasks)/"
DEFAULT_METHOD = multiprocessing.get_start_method()
CONTEXT_KEYS = ["date", "host_name", "executable", "num_cpus", "mhz_per_cpu",
                "cpu_scaling_enabled", "caches", "load_avg", "library_build_type",
                "python_version", "python_implementation", "switch_interval",
                "hardware_threads"]
ENTRY_KEYS = ["name", "family_index", "per_family_instance_index", "run_name", "run_type",
              "repetitions", "repetition_index", "threads", "iterations", "real_time",
              "cpu_time", "time_unit"]


def run_script(*args, timeout=500):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, SCRIPT] + list(args), env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


class QuickRun(unittest.TestCase):
    """One quick run over every kernel and strategy at 2 workers."""

    @classmethod
    def setUpClass(cls):
        cls.proc = run_script("--quick", "--workers", "2", "--filter", SEED_KERNELS + ".*workers:(1|2)/")
        cls.doc = json.loads(cls.proc.stdout) if cls.proc.returncode == 0 else None

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def test_context(self):
        context = self.doc["context"]
        for key in CONTEXT_KEYS:
            self.assertIn(key, context)
        self.assertIs(context["cpu_scaling_enabled"], False)
        self.assertEqual(context["library_build_type"], "release")
        self.assertEqual(context["caches"], [])
        self.assertGreater(context["switch_interval"], 0)

    def test_every_kernel_and_strategy_ran_without_error(self):
        entries = self.doc["benchmarks"]
        names = [e["name"] for e in entries]
        # 5 kernels x (sequential, threads, thread_pool, asyncio, and both process strategies per method)
        self.assertEqual(len(names), 5 * (4 + 2 * len(METHODS)))
        for method in METHODS:
            self.assertIn("locked_counter.coarse/cpython.process_pool.%s/workers:2/n:20000/real_time"
                          % method, names)
        self.assertEqual(len(set(names)), len(names))
        for entry in entries:
            self.assertRegex(entry["name"], NAME)
            self.assertNotIn("error_occurred", entry, entry.get("error_message"))

    def test_entry_shape(self):
        for entry in self.doc["benchmarks"]:
            self.assertEqual(list(entry)[:len(ENTRY_KEYS)], ENTRY_KEYS)
            self.assertEqual(entry["run_name"], entry["name"])
            self.assertEqual(entry["run_type"], "iteration")
            self.assertEqual(entry["threads"], 1)
            self.assertGreaterEqual(entry["iterations"], 1)
            self.assertGreater(entry["real_time"], 0)
            self.assertGreater(entry["items_per_second"], 0)
            self.assertIn(entry["time_unit"], ("ns", "us", "ms", "s"))

    def test_family_indices(self):
        seen = {}
        for entry in self.doc["benchmarks"]:
            family = tuple(entry["name"].split("/")[:2])
            seen.setdefault(family, entry["family_index"])
            self.assertEqual(seen[family], entry["family_index"])
        self.assertEqual(sorted(seen.values()), list(range(len(seen))))


class Repetitions(unittest.TestCase):
    def test_aggregates_follow_the_repetitions(self):
        proc = run_script("--quick", "--filter", "^count/cpython.sequential/", "--repetitions", "3")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        runs = [e for e in entries if e["run_type"] == "iteration"]
        aggregates = [e for e in entries if e["run_type"] == "aggregate"]
        self.assertEqual([e["repetition_index"] for e in runs], [0, 1, 2])
        self.assertEqual(len({e["iterations"] for e in runs}), 1)
        self.assertEqual([e["aggregate_name"] for e in aggregates],
                         ["mean", "median", "stddev", "cv"])
        for e in aggregates:
            self.assertEqual(e["name"], e["run_name"] + "_" + e["aggregate_name"])
            self.assertEqual(e["iterations"], 3)
            self.assertNotIn("repetition_index", e)
        self.assertEqual(aggregates[-1]["aggregate_unit"], "percentage")

    def test_interleaved_repetitions_are_grouped_per_benchmark(self):
        proc = run_script("--quick", "--repetitions", "2", "--interleave", "--filter",
                          r"^sleep_tasks/cpython\.(sequential|threads)/workers:1/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        self.assertEqual([(e["name"].split("/")[1], e.get("repetition_index"))
                          for e in entries if e["run_type"] == "iteration"],
                         [("cpython.sequential", 0), ("cpython.sequential", 1),
                          ("cpython.threads", 0), ("cpython.threads", 1)])
        self.assertEqual(len(entries), 2 * (2 + 4))


class Faults(unittest.TestCase):
    """A failed run must be an error entry and a non-zero exit, never a time."""

    def assert_all_errors(self, proc, expected_fragments):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        self.assertEqual(len(entries), len(expected_fragments))
        for entry, fragments in zip(entries, expected_fragments):
            self.assertIs(entry["error_occurred"], True, entry["name"])
            self.assertEqual(entry["real_time"], 0.0)
            self.assertNotIn("items_per_second", entry)
            for fragment in fragments:
                self.assertIn(fragment, entry["error_message"])

    def test_crashed_workers(self):
        proc = run_script("--quick", "--inject-fault=crash", "--filter",
                          r"^count/cpython\.(threads|processes\.fork|thread_pool|process_pool\.fork)"
                          r"/workers:2/")
        self.assert_all_errors(proc, [
            ["thread worker 0 raised", "RuntimeError"],
            ["process worker 0", "exited with code 3"],
            ["task 0 raised", "RuntimeError"],
            ["BrokenProcessPool", "exited with code 3"],
        ])

    def test_a_crashed_asyncio_task_is_named(self):
        proc = run_script("--quick", "--inject-fault=crash", "--filter", r"^sleep_tasks/cpython\.asyncio/workers:2/")
        self.assert_all_errors(proc, [["cpython.asyncio task 0 raised", "RuntimeError"]])

    def test_crashed_workers_under_every_start_method(self):
        proc = run_script("--quick", "--inject-fault=crash", "--filter",
                          r"^count/cpython\.(processes|process_pool)\.\w+/workers:2/")
        self.assert_all_errors(proc, [["process worker 0", "exited with code 3"]] * len(METHODS)
                               + [["BrokenProcessPool", "exited with code 3"]] * len(METHODS))

    def test_wrong_totals(self):
        proc = run_script("--quick", "--inject-fault=wrong", "--filter",
                          r"^(random_max|locked_counter\.coarse)/cpython\.(sequential|processes\.fork)/")
        self.assert_all_errors(proc, [["wrong total"]] * 6)


def strategies_run(doc):
    """{(kernel, strategy, workers)} of a run's entries, each checked to be a time, not an error."""
    seen = set()
    for entry in doc["benchmarks"]:
        assert "error_occurred" not in entry, entry.get("error_message")
        kernel, strategy, workers = entry["name"].split("/")[:3]
        seen.add((kernel, strategy, int(workers.split(":")[1])))
    return seen


def server_pids():
    """Processes running the reference's echo server, read from /proc."""
    pids = set()
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if b"parbench.cpython.sockets" in f.read():
                    pids.add(int(pid))
        except (OSError, ValueError):
            pass
    return pids


class UnevenWork(unittest.TestCase):
    """Issue 25's uneven kernels: static halves beside Pool.map's chunk sizes and imap_unordered."""

    def test_every_strategy_gives_the_total(self):
        # The heavy tail's totals: test_uneven_costs_follow_the_cpp_kernels and UnevenWork.test_wrong_totals.
        proc = run_script("--quick", "--workers", "2", "--filter", r"^uneven\.triangular/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        seen = strategies_run(json.loads(proc.stdout))
        pools = ["cpython.%s.%s" % (p, DEFAULT_METHOD) for p in
                 ("process_pool", "mp_pool", "mp_pool.dynamic.coarse", "mp_pool.dynamic", "mp_pool.dynamic.fine",
                  "mp_pool.imap_unordered")]
        self.assertEqual({s for k, s, w in seen},
                         {"cpython.sequential", "cpython.threads", "cpython.thread_pool"} | set(pools))

    def test_a_dead_pool_worker_is_named_not_waited_for(self):
        # multiprocessing.Pool replaces a dead worker and would wait for its task forever.
        proc = run_script("--quick", "--workers", "2", "--inject-fault=crash", "--filter",
                          r"^uneven\.triangular/cpython\.mp_pool\.(dynamic\.|imap_unordered\.)?%s/" % DEFAULT_METHOD)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        self.assertEqual(len(entries), 3)
        for entry in entries:
            self.assertRegex(entry["error_message"], r"^cpython\.mp_pool\S*\.%s: pool worker \d+ \(pid \d+\) "
                                                     r"exited with code 3$" % DEFAULT_METHOD)

    def test_wrong_totals(self):
        proc = run_script("--quick", "--workers", "2", "--inject-fault=wrong", "--filter",
                          r"^uneven\.heavy_tail/cpython\.(threads|mp_pool\.dynamic\.fine\.%s)/" % DEFAULT_METHOD)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        self.assertEqual(len(entries), 2)
        for entry in entries:
            self.assertIn("wrong total", entry["error_message"])


class Sockets(unittest.TestCase):
    """Issue 26's socket kernel: asyncio streams beside threads and the pools, against the script's echo server."""

    def test_every_strategy_gives_the_total_and_the_servers_are_gone(self):
        before = server_pids()
        # delay_0us's echo server: test_server_faults_are_named_errors_within_a_bounded_time.
        proc = run_script("--quick", "--workers", "2", "--filter", r"^socket_tasks\.delay_1000us/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        seen = strategies_run(json.loads(proc.stdout))
        self.assertEqual({s for k, s, w in seen},
                         {"cpython.sequential", "cpython.threads", "cpython.thread_pool", "cpython.asyncio",
                          "cpython.process_pool." + DEFAULT_METHOD})
        self.assertEqual(server_pids() - before, set())

    def test_server_faults_are_named_errors_within_a_bounded_time(self):
        before = server_pids()
        # The blocking client under threads, pools and sequential is one function: threads and asyncio for every
        # fault, the process pool (its error pickled back) for one.
        expected = {"refuse": ("could not connect to the echo server at 127.0.0.1:",
                               "|process_pool\\." + DEFAULT_METHOD),
                    "mute": ("did not answer within 300 ms", ""),
                    "die": ("the echo server at 127.0.0.1:", "")}
        for fault, (fragment, more) in expected.items():
            with self.subTest(fault=fault):
                proc = run_script("--quick", "--workers", "2", "--socket-timeout-ms", "300",
                                  "--inject-server-fault=" + fault, "--filter",
                                  r"^socket_tasks\.delay_0us/cpython\.(threads|asyncio%s)/" % more, timeout=60)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                entries = json.loads(proc.stdout)["benchmarks"]
                self.assertEqual(len(entries), 3 if more else 2)
                for entry in entries:
                    self.assertIn("socket_tasks: ", entry["error_message"])
                    self.assertIn(fragment, entry["error_message"])
                self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(server_pids() - before, set())

    def test_the_scale_cases_follow_bench_parallel(self):
        proc = run_script("--list", "--filter", "/n:1000/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(sorted(proc.stdout.split()), sorted(
            "%s/cpython.%s/real_time" % (k, s) for k in ("sleep_tasks", "socket_tasks.delay_1000us")
            for s in ("threads/workers:1000/n:1000", "thread_pool/workers:4/n:1000", "asyncio/workers:1000/n:1000")))


def shared_memory_blocks():
    """The POSIX shared memory blocks multiprocessing.shared_memory made (psm_*), where /dev/shm lists them."""
    try:
        return {f for f in os.listdir("/dev/shm") if f.startswith("psm_")}
    except OSError:
        return set()


def numpy_python():
    """An interpreter that imports numpy: this one, or Debian's, where python3-numpy is installed; else None."""
    for python in (sys.executable, "/usr/bin/python3"):
        if os.access(python, os.X_OK) and subprocess.run([python, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                                                         stderr=subprocess.DEVNULL).returncode == 0:
            return python
    return None


class Payload(unittest.TestCase):
    """Issue 25's payload: the caller's data pickled to the pools and back, or shared (zero copy)."""

    def test_every_strategy_gives_the_total_and_unlinks_its_blocks(self):
        before = shared_memory_blocks()
        proc = run_script("--quick", "--workers", "2", "--filter", r"^payload/.*/n:4096/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        seen = strategies_run(json.loads(proc.stdout))
        self.assertEqual({s for k, s, w in seen}, {"cpython.sequential", "cpython.threads", "cpython.thread_pool"}
                         | {"cpython.%s.%s" % (p, DEFAULT_METHOD)
                            for p in ("processes", "process_pool", "mp_pool", "process_pool.shared_memory")})
        self.assertEqual(shared_memory_blocks() - before, set())
        self.assertNotIn("leaked", proc.stderr)

    def test_numpy_gives_the_same_totals(self):
        # Every run is checked against the pure-Python oracle that the array kernel's runs are checked against.
        python = numpy_python()
        if python is None:
            self.skipTest("no interpreter here imports numpy")
        before = shared_memory_blocks()
        proc = run_script("--python", python, "--quick", "--workers", "2", "--filter", r"^payload\.numpy/.*/n:4096/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(strategies_run(json.loads(proc.stdout))), 7)
        self.assertEqual(shared_memory_blocks() - before, set())

    def test_dead_workers_and_wrong_totals(self):
        before = shared_memory_blocks()
        pools = r"^payload/cpython\.(processes|process_pool|mp_pool|process_pool\.shared_memory)\.%s/workers:2/n:64/" \
            % DEFAULT_METHOD
        proc = run_script("--quick", "--workers", "2", "--inject-fault=crash", "--filter", pools)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        entries = json.loads(proc.stdout)["benchmarks"]
        self.assertEqual(len(entries), 4)
        for entry in entries:
            self.assertRegex(entry["error_message"], r"(pool|process) worker \d+ \(pid \d+\) exited with code 3")
        proc = run_script("--quick", "--workers", "2", "--inject-fault=wrong", "--filter",
                          r"^payload/cpython\.(threads|process_pool\.shared_memory\.%s)/workers:2/n:64/"
                          % DEFAULT_METHOD)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        for entry in json.loads(proc.stdout)["benchmarks"]:
            self.assertIn("wrong total", entry["error_message"])
        self.assertEqual(shared_memory_blocks() - before, set())


class OtherInterpreter(unittest.TestCase):
    """--python PATH: the same run under another interpreter, which the JSON names."""

    def test_runs_under_the_given_interpreter(self):
        proc = run_script("--python", sys.executable, "--quick", "--workers", "2", "--filter",
                          r"^sleep_tasks/cpython\.(asyncio|thread_pool)/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["context"]["python_executable"], sys.executable)
        self.assertEqual(doc["context"]["python_version"], platform.python_version())
        gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else None
        self.assertEqual(doc["context"]["python_gil_enabled"], gil)
        self.assertEqual(len(doc["benchmarks"]), 2)

    def test_a_missing_interpreter_is_one_line(self):
        proc = run_script("--python", os.path.join(HERE, "no-such-python"), "--quick")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertIn("--python", proc.stderr)


class BadArguments(unittest.TestCase):
    def test_exit_status_2_with_a_message(self):
        for args in (["--workers", "0"], ["--workers", "two"], ["--workers", "1,,2"], ["--workers", "99999"],
                     ["--workers", "2,2"], ["--workers", ""], ["--min-time", "-1"],
                     ["--repetitions", "0"], ["--filter", "("], ["--quick", "--seed-sizes"],
                     ["--socket-timeout-ms", "0"], ["--socket-timeout-ms", "soon"], ["--payload-work", "0"],
                     ["--quick", "--filter", "no-such-benchmark"], ["--no-such-option"],
                     ["--quick", "--out", HERE],
                     ["--quick", "--out", os.path.join(HERE, "no", "dir", "x.json")]):
            with self.subTest(args=args):
                proc = run_script(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("error:", proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertEqual(proc.stdout, "")

    def test_workers_follow_bench_parallel(self):
        # --parbench_workers' rule and messages (src/options.cpp): no empty count, at most 65536, none twice.
        for value, message in (("1,,2", "'' is not a worker count in [1, 65536]"),
                               ("99999", "'99999' is not a worker count in [1, 65536]"),
                               ("3,1,3", "3 is given twice")):
            with self.subTest(value=value):
                proc = run_script("--quick", "--list", "--workers", value)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("--workers: " + message, proc.stderr)
        proc = run_script("--quick", "--list", "--filter", "^count/cpython.threads/", "--workers", "4096,2")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([n.split("/")[2] for n in proc.stdout.split()], ["workers:2", "workers:4096"])

    def test_start_methods(self):
        proc = run_script("--quick", "--list", "--start-methods", "spawn", "--filter", "^count/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        process_names = [n for n in proc.stdout.split() if "process" in n]
        self.assertTrue(process_names)
        self.assertTrue(all(n.split("/")[1].endswith(".spawn") for n in process_names), process_names)
        proc = run_script("--quick", "--list", "--start-methods", "no-such-method")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("start methods must be among", proc.stderr)

    def test_list_prints_names_only(self):
        proc = run_script("--quick", "--list", "--filter", "sleep_tasks")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = proc.stdout.split()
        self.assertTrue(names)
        for name in names:
            self.assertRegex(name, NAME)
            self.assertTrue(name.startswith("sleep_tasks/"))


class Kernels(unittest.TestCase):
    """Facts that keep CPython's totals equal to the C++ kernels' totals."""

    @classmethod
    def setUpClass(cls):
        from parbench.cpython import kernels
        cls.m = kernels

    def test_split_is_balanced(self):
        for n, parts in [(10, 3), (2, 5), (0, 2), (7, 7), (100, 1)]:
            chunks = self.m.split(n, parts)
            sizes = [e - b for b, e in chunks]
            self.assertEqual(len(chunks), parts)
            self.assertEqual(sum(sizes), n)
            self.assertLessEqual(max(sizes) - min(sizes), 1)
            self.assertEqual(chunks[0][0], 0)
            self.assertEqual(chunks[-1][1], n)

    def test_splitmix64_matches_the_reference_finaliser(self):
        # splitmix64 seeded with 0 first yields 0xE220A8397B1DCDAF.
        self.assertEqual(self.m.splitmix64_unit(0), (0xE220A8397B1DCDAF >> 11) * 2.0 ** -53)
        self.assertEqual(self.m.random_max_chunk(0, 1, None), self.m.splitmix64_unit(0))

    def test_totals_do_not_depend_on_the_split(self):
        m, n = self.m, 1001
        for kernel in ("count", "sum_range", "random_max"):
            k = m.KERNELS[kernel]
            expected = m.expected_total(k, n, 0.0)
            for parts in (1, 2, 3, 7, 2000):
                results = [k.chunk(b, e, None) for b, e in m.split(n, parts)]
                self.assertEqual(k.combine(results), expected, (kernel, parts))
        self.assertEqual(m.random_max_chunk(5, 5, None), 0.0)
        self.assertEqual(m.expected_total(m.KERNELS["sum_range"], n, 0), n * (n - 1) // 2)
        self.assertEqual(m.expected_total(m.KERNELS["sleep_tasks"], 3, 0), 6)

    def test_uneven_costs_follow_the_cpp_kernels(self):
        m = self.m
        # uneven.hpp: item i of the triangular kernel costs i + 1; a heavy block costs 100 times a light one.
        self.assertEqual([m.triangular_cost(i) for i in range(4)], [1, 2, 3, 4])
        self.assertEqual(m.HEAVY_HEAVY, 100 * m.HEAVY_LIGHT)
        blocks = 4096
        heavy = sum(m.heavy_block(b) for b in range(blocks))
        self.assertGreater(heavy, blocks / m.HEAVY_ONE_IN / 2)
        self.assertLess(heavy, blocks / m.HEAVY_ONE_IN * 2)
        for b in range(64):
            self.assertEqual(m.heavy_block(b), m.splitmix64(b) % 32 == 0)
        for name, cost in (("uneven.triangular", m.triangular_cost), ("uneven.heavy_tail", m.heavy_tail_cost)):
            k = m.KERNELS[name]
            for n in (0, 1, 63, 64, 65, 1000):
                expected = m.expected_total(k, n, None)
                self.assertEqual(expected, sum(cost(i) for i in range(n)), (name, n))
                self.assertEqual(expected, sum(k.item(i) for i in range(n)), (name, n))
                for parts in (1, 2, 3, 7):
                    self.assertEqual(k.combine([k.chunk(b, e, None) for b, e in m.split(n, parts)]), expected)
        # Static halves of the triangular kernel: the second half holds three quarters of the work.
        first, second = [m.uneven_triangular_chunk(b, e, None) for b, e in m.split(4096, 2)]
        self.assertAlmostEqual(second / (first + second), 0.75, places=3)

    def test_payload_follows_the_cpp_kernel(self):
        from parbench.cpython import payload as p
        # payload.hpp: element i is splitmix64(i % 4096) >> 44; f is `units` MMIX LCG steps, then >> 11.
        self.assertEqual(p.value_at(4096 + 5), float(self.m.splitmix64(5) >> 44))
        self.assertTrue(all(0 <= p.value_at(i) < 2 ** 20 for i in range(4096)))
        v = 7
        for _ in range(3):
            v = (v * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        self.assertEqual(p.transform(7.0, 3), float(v >> 11))
        self.assertEqual((p.units_for(1 << 20, 1 << 9), p.units_for(1 << 20, 1 << 21)), (2048, 1))
        for n in (0, 1, 4095, 4096, 4097, 9000):
            for units in (1, 3):
                data = __import__("array").array("d", bytes(8 * n))
                p.fill_input(data, n)
                out = __import__("array").array("d", bytes(8 * n))
                total = sum(p.run_payload(memoryview(data)[b:e], memoryview(out)[b:e], b, units)
                            for b, e in self.m.split(n, 3))
                self.assertEqual((total % 2 ** 64, p.checksum(out)), p.expected(n, units), (n, units))

    def test_pool_chunk_sizes(self):
        from parbench.cpython import strategies
        k = self.m.KERNELS["uneven.triangular"]
        sizes = {cls.name: cls(k, 4096, 2, None, None).chunksize for cls in strategies.MP_POOLS}
        self.assertEqual(sizes, {"cpython.mp_pool": 2048, "cpython.mp_pool.dynamic.coarse": 512,
                                 "cpython.mp_pool.dynamic": 128, "cpython.mp_pool.dynamic.fine": 16,
                                 "cpython.mp_pool.imap_unordered": 128})


if __name__ == "__main__":
    unittest.main(verbosity=2)
