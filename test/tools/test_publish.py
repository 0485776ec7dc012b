#!/usr/bin/python3
"""Tests of parbench-publish (tools/parbench/publish.py, history_data.py) against a local bare repository standing
in for the remote: two publishes land on the data branch, a lost cache is restored from it, two concurrent
publishes both land (the loser rebuilds on the new tip), and a damaged file is refused with a named error.

Run: /usr/bin/python3 test/tools/test_publish.py   (ctest: tools.Publish)
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
from parbench import history_data  # noqa: E402

PUBLISH = os.path.join(TOOLS, "parbench-publish")
if shutil.which("git") is None:  # pragma: no cover - depends on the machine
    print("SKIP: needs git")
    sys.exit(77)

# A pre-receive hook that holds every push until two have arrived (or 20 s passed): the two concurrent publishes
# then both try to move the branch from the same tip, and exactly one of them loses the race.
BARRIER_HOOK = """#!/bin/sh
dir="$(dirname "$0")"
touch "$dir/arrived.$$"
i=0
while [ "$(ls "$dir" | grep -c '^arrived\\.')" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
exit 0
"""


def gb_json(path, times, date="2026-12-01T12:00:00+00:00"):
    """Google Benchmark JSON with 3 repetitions per benchmark (times: name -> ns)."""
    entries = []
    for family, (name, t) in enumerate(times.items()):
        for rep, factor in enumerate((1.0, 1.01, 0.99)):
            entries.append({"name": name, "family_index": family, "per_family_instance_index": 0, "run_name": name,
                            "run_type": "iteration", "repetitions": 3, "repetition_index": rep, "threads": 1,
                            "iterations": 10, "real_time": t * factor, "cpu_time": t * factor, "time_unit": "ns"})
    doc = {"context": {"date": date, "host_name": "runner", "executable": "bench_parallel", "num_cpus": 2,
                       "mhz_per_cpu": 2000, "cpu_scaling_enabled": False, "caches": [], "load_avg": [],
                       "library_build_type": "release"}, "benchmarks": entries}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


class PublishTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="parbench-publish-test-")
        self.remote = os.path.join(self.tmp, "remote.git")
        git("init", "--quiet", "--bare", self.remote)
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def clone(self, name):
        path = os.path.join(self.tmp, name)
        git("clone", "--quiet", self.remote, path)
        return path

    def run_file(self, value):
        self.n += 1
        path = os.path.join(self.tmp, f"run{self.n}.json")
        gb_json(path, {"count/threads/workers:2/n:1000/real_time": value, "sum_range/sequential/n:10/real_time": 50})
        return path

    def publish(self, repo, index, extra=(), wait=True):
        commit = f"{index:040x}"
        cmd = [PUBLISH, "publish", "--repo", repo, "--commit", commit, "--machine", "ci-runner",
               "--commit-time", f"2026-12-01T10:{index:02d}:00+00:00", "--db", os.path.join(repo, "cache", "h.sqlite"),
               "--export", os.path.join(repo, "cache", "data"), *extra, self.run_file(1000.0 + index)]
        os.makedirs(os.path.join(repo, "cache"), exist_ok=True)
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def branch_runs(self):
        names = git("--git-dir", self.remote, "ls-tree", "-r", "--name-only", "parbench-data").split()
        return sorted(n for n in names if n.startswith("runs/"))

    def db_commits(self, repo):
        con = sqlite3.connect(os.path.join(repo, "cache", "h.sqlite"))
        try:
            return [c for (c,) in con.execute("SELECT commit_sha FROM runs ORDER BY seq")]
        finally:
            con.close()

    def test_publish_restore_race_and_refusal(self):
        a = self.clone("a")
        noise_file = os.path.join(self.tmp, "noise.json")
        with open(noise_file, "w", encoding="utf-8") as f:
            json.dump({"probe": "int-loop-20000", "samples": 50, "median_s": 0.001, "spread": 0.12, "steal": 0.03,
                       "loadavg": 3.0, "cpus": 2, "noisy": True}, f)
        # Two publishes: the branch holds both runs, the cache too.
        for index in (1, 2):
            proc = self.publish(a, index, ["--noise", noise_file] if index == 2 else [])
            self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(self.branch_runs()), 2, self.branch_runs())
        self.assertEqual(self.db_commits(a), [f"{1:040x}", f"{2:040x}"])
        fmt = json.loads(git("--git-dir", self.remote, "show", "parbench-data:format.json"))
        self.assertEqual(fmt, {"format": "parbench-data", "version": 1})
        second = json.loads(git("--git-dir", self.remote, "show", f"parbench-data:{self.branch_runs()[1]}"))
        self.assertTrue(second["noise"]["noisy"])
        self.assertEqual(second["benchmarks"]["count/threads/workers:2/n:1000/real_time"]["ns"],
                         [1002.0, 1002.0 * 1.01, 1002.0 * 0.99])

        # The cache is lost (an evicted actions cache): the next run restores both runs from the branch.
        shutil.rmtree(os.path.join(a, "cache"))
        proc = self.publish(a, 3)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.db_commits(a), [f"{i:040x}" for i in (1, 2, 3)])
        self.assertEqual(len(os.listdir(os.path.join(a, "cache", "data", "runs", "ci-runner"))), 3)
        # what the workflow does next: the dashboard reads the export
        proc = subprocess.run([os.path.join(TOOLS, "parbench-dashboard"), "--data", os.path.join(a, "cache", "data"),
                               "--out", os.path.join(self.tmp, "site")], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("2 charts from 3 runs", proc.stdout)
        # A fresh clone with no cache at all restores them too, and a damaged cache is rebuilt, not trusted.
        b = self.clone("b")
        os.makedirs(os.path.join(b, "cache"))
        with open(os.path.join(b, "cache", "h.sqlite"), "wb") as f:
            f.write(b"this is not SQLite" * 100)
        proc = subprocess.run([PUBLISH, "restore", "--repo", b, "--db", os.path.join(b, "cache", "h.sqlite")],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("rebuilt from the branch", proc.stdout)
        self.assertEqual(self.db_commits(b), [f"{i:040x}" for i in (1, 2, 3)])

        # Two publishes at once from two runners: both land, the one that lost the race says so.
        hook = os.path.join(self.remote, "hooks", "pre-receive")
        with open(hook, "w", encoding="utf-8") as f:
            f.write(BARRIER_HOOK)
        os.chmod(hook, 0o755)
        c, d = self.clone("c"), self.clone("d")
        procs = [self.publish(c, 4, wait=False), self.publish(d, 5, wait=False)]
        outs = [p.communicate(timeout=120) for p in procs]
        os.remove(hook)
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(len(self.branch_runs()), 5, self.branch_runs())
        self.assertEqual(sum("lost race" in out for out, _ in outs), 1, outs)
        self.assertEqual(sum("the branch moved" in err for _, err in outs), 1, outs)

        # A damaged run file on the branch: every later publish and restore refuses it by name, nothing is pushed.
        damaged = self.branch_runs()[0]
        original = git("--git-dir", self.remote, "show", f"parbench-data:{damaged}")
        self.assertIn("1001.0", original)
        text = original.replace("1001.0", "901.0", 1)     # one time changed, the digest left as it was
        self.commit_file(a, damaged, text)
        tip = git("--git-dir", self.remote, "rev-parse", "parbench-data")
        proc = self.publish(a, 6)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("CorruptRunFile", proc.stderr)
        self.assertIn(damaged, proc.stderr)
        self.assertIn("digest mismatch", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(git("--git-dir", self.remote, "rev-parse", "parbench-data"), tip)
        proc = subprocess.run([PUBLISH, "restore", "--repo", b], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("CorruptRunFile", proc.stderr)
        # Text that is not JSON, and a newer format version, are refused by name too.
        self.commit_file(a, damaged, "{ not json")
        proc = self.publish(a, 7)
        self.assertEqual(proc.returncode, 2)
        self.assertRegex(proc.stderr, r"^parbench-publish: CorruptRunFile: runs/.*: not JSON")
        self.commit_file(a, "format.json", '{"format": "parbench-data", "version": 2}\n')
        proc = self.publish(a, 8)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("UnsupportedFormat", proc.stderr)

    def commit_file(self, repo, path, text):
        """Push a commit that changes one file on the data branch, by hand (what a careless edit would do)."""
        work = os.path.join(self.tmp, "hand-edit")
        shutil.rmtree(work, ignore_errors=True)
        git("clone", "--quiet", "--branch", "parbench-data", self.remote, work)
        with open(os.path.join(work, path), "w", encoding="utf-8") as f:
            f.write(text)
        git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-am", "edit", cwd=work)
        git("push", "--quiet", "origin", "parbench-data", cwd=work)

    def test_format_checks(self):
        run = history_data.make_run("a" * 40, "2026-12-01T10:00:00+00:00", "2026-12-01", "m", "x.json",
                                    {"b": ([1.0, 2.0], False)})
        self.assertEqual(history_data.parse_run(history_data.dumps(run), "f")["benchmarks"]["b"]["ns"], [1.0, 2.0])
        for bad in ({**run, "commit": "xyz"}, {**run, "benchmarks": {}}, {**run, "machine": "a b"},
                    {**run, "benchmarks": {"b": {"ns": [-1.0], "errored": False}}}, {**run, "sha256": "0" * 64}):
            with self.assertRaises(history_data.CorruptRunFile):
                history_data.check_run(bad, "f")
        with self.assertRaises(history_data.UnsupportedFormat):
            history_data.check_run({**run, "version": 2}, "f")

    def test_bad_input_is_one_line(self):
        a = self.clone("a")
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("[]")
        for cmd in ([PUBLISH, "publish", "--repo", a, "--commit", "f" * 40, "--machine", "m", bad],
                    [PUBLISH, "publish", "--repo", a, "--commit", "nothex", "--machine", "m", self.run_file(1.0)],
                    [PUBLISH, "restore", "--repo", a, "--remote", os.path.join(self.tmp, "nowhere")]):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, (cmd, proc.stderr))
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
    unittest.main()
