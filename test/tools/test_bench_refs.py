#!/usr/bin/python3
"""Tests of .ci/bench-refs, which tells the gate of .github/workflows/bench.yml what to compare for each event:
a pull request's commits, the two parents of refs/pull/N/merge for a maintainer's "/bench [FILTER]" comment, the
dispatch inputs; and refuses, with one line and status 2, a comment that is not /bench, a filter with white space
or quotes, a ref that does not exist and an event the gate does not run on.

Run: /usr/bin/python3 test/tools/test_bench_refs.py   (ctest: tools.BenchRefs)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", ".ci", "bench-refs")
if shutil.which("git") is None or shutil.which("sh") is None:  # pragma: no cover
    print("SKIP: needs git and sh")
    sys.exit(77)


def git(*args, cwd):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


class BenchRefsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="parbench-bench-refs-")
        r = cls.repo = os.path.join(cls.tmp, "repo")
        os.mkdir(r)
        git("init", "--quiet", "--initial-branch=main", cwd=r)
        git("commit", "--quiet", "--allow-empty", "-m", "base", cwd=r)
        git("branch", "pr", cwd=r)
        git("commit", "--quiet", "--allow-empty", "-m", "main moved on", cwd=r)
        cls.base = git("rev-parse", "HEAD", cwd=r)
        git("checkout", "--quiet", "pr", cwd=r)
        git("commit", "--quiet", "--allow-empty", "-m", "the change", cwd=r)
        cls.head = git("rev-parse", "HEAD", cwd=r)
        git("checkout", "--quiet", "main", cwd=r)
        git("merge", "--quiet", "--no-ff", "pr", "-m", "what refs/pull/N/merge holds", cwd=r)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def refs(self, **env):
        out = os.path.join(self.tmp, "github-output")
        if os.path.exists(out):
            os.remove(out)
        full = {k: v for k, v in os.environ.items() if k not in ("FILTER", "GATE_FILTER")}
        full.update({"GITHUB_OUTPUT": out, "GATE_FILTER": "^count/", **env})
        proc = subprocess.run(["sh", SCRIPT], cwd=self.repo, env=full, capture_output=True, text=True, timeout=60)
        values = {}
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                values = dict(line.split("=", 1) for line in f.read().splitlines())
        return proc, values

    def test_events(self):
        proc, v = self.refs(EVENT="pull_request", PR_BASE_SHA="a" * 40, PR_HEAD_SHA="b" * 40, PR_NUMBER="3")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(v, {"base": "a" * 40, "head": "b" * 40, "filter": "^count/", "pr": "3"})
        proc, v = self.refs(EVENT="issue_comment", ISSUE_NUMBER="7", COMMENT_BODY="/bench ^sum_range/\nthanks")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(v, {"base": self.base, "head": self.head, "filter": "^sum_range/", "pr": "7"})
        proc, v = self.refs(EVENT="issue_comment", ISSUE_NUMBER="7", COMMENT_BODY="/bench")
        self.assertEqual(v["filter"], "^count/")
        proc, v = self.refs(EVENT="workflow_dispatch", INPUT_BASE="pr", INPUT_HEAD="", FILTER="^gil/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(v, {"base": self.head, "head": git("rev-parse", "HEAD", cwd=self.repo), "filter": "^gil/",
                             "pr": ""})

    def test_refusals(self):
        for env, text in (({"EVENT": "issue_comment", "ISSUE_NUMBER": "7", "COMMENT_BODY": "/benchmark"}, "not a"),
                          ({"EVENT": "issue_comment", "ISSUE_NUMBER": "7", "COMMENT_BODY": "/bench a b"}, "at most"),
                          ({"EVENT": "workflow_dispatch", "INPUT_BASE": "main", "FILTER": "a'b"}, "quotes"),
                          ({"EVENT": "workflow_dispatch", "INPUT_BASE": "no-such-ref"}, "no such commit"),
                          ({"EVENT": "push"}, "does not run on push")):
            proc, v = self.refs(**env)
            self.assertEqual(proc.returncode, 2, (env, proc.stderr))
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn(text, proc.stderr)
            self.assertEqual(v, {}, env)


if __name__ == "__main__":
    unittest.main()
