#!/usr/bin/python3
"""Tests of parbench-pr-comment (tools/parbench/pr_comment.py): the comment body from the gate's verdict files of a
regression fixture, no body for a no-change fixture, and posting against a fake GitHub API on loopback (one
comment, found by its hidden marker and updated in place; a token that may not write is reported in the job
summary and does not fail the step).

Run: /usr/bin/python3 test/tools/test_pr_comment.py   (ctest: tools.PrComment)
"""

import http.server
import json
import os
import subprocess
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
COMMENT = os.path.join(TOOLS, "parbench-pr-comment")
FIXTURES = os.path.join(HERE, "fixtures")
MARKER = "<!-- parbench-gate-comment -->"


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """The three endpoints the step uses, over an in-memory list of comments of pull request 7."""
    comments: list = []
    refuse = False
    calls: list = []

    def log_message(self, *args):
        pass

    def _reply(self, code, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self):
        type(self).calls.append(("GET", self.path))
        if self.headers.get("Authorization") != "Bearer secret":
            return self._reply(401, {"message": "Bad credentials"})
        if self.path.startswith("/repos/o/r/issues/7/comments"):
            return self._reply(200, type(self).comments)
        return self._reply(404, {"message": "Not Found"})

    def do_POST(self):
        type(self).calls.append(("POST", self.path))
        if type(self).refuse:
            return self._reply(403, {"message": "Resource not accessible by integration"})
        comment = {"id": 100 + len(type(self).comments), "body": self._body()["body"]}
        type(self).comments.append(comment)
        return self._reply(201, comment)

    def do_PATCH(self):
        type(self).calls.append(("PATCH", self.path))
        cid = int(self.path.rsplit("/", 1)[1])
        for c in type(self).comments:
            if c["id"] == cid:
                c["body"] = self._body()["body"]
                return self._reply(200, c)
        return self._reply(404, {"message": "Not Found"})


class BodyTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "comment.md")

    def tearDown(self):
        self.tmp.cleanup()

    def body(self, fixture):
        return subprocess.run([COMMENT, "body", "--gate-out", os.path.join(FIXTURES, fixture), "--out", self.out,
                               "--summary-url", "https://github.com/o/r/actions/runs/42"],
                              capture_output=True, text=True, timeout=60)

    def test_regression_fixture_gives_a_body(self):
        proc = self.body("gate_regression")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.out, encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith(MARKER))
        self.assertIn("### Benchmark gate: **regression**", text)
        self.assertIn("6 benchmarks: 2 regression, 1 undecided, 1 improvement, 2 no change.", text)
        rows = [line for line in text.splitlines() if line.startswith("| `")]
        # regressions first, then undecided, then improvements; no-change benchmarks are not listed
        verdicts = [r.split("|")[2].strip() for r in rows]
        self.assertEqual(verdicts, ["regression", "regression", "undecided", "improvement"])
        self.assertIn("| `count/threads/workers:2/n:1000000/real_time` | regression | +10.2% | +8.0% … +12.5% | 8 |",
                      rows)
        self.assertIn("-6.1% | -8.5% … -4.0%", text)
        self.assertNotIn("sum_range/sequential", text)
        self.assertIn("[Full summary](https://github.com/o/r/actions/runs/42)", text)
        self.assertIn("Runner noise: probe spread 8.3%, steal 1.2%, load 1.90 on 2 CPUs (NOISY", text)
        self.assertIn("NOISY", text)

    def test_no_change_fixture_gives_no_body(self):
        with open(self.out, "w", encoding="utf-8") as f:
            f.write("a body from an earlier gate\n")
        proc = self.body("gate_no_change")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.exists(self.out))
        self.assertIn("no comment", proc.stdout)

    def test_bad_input_is_one_line(self):
        for directory in (self.tmp.name, os.path.join(FIXTURES, "not_json.json")):
            proc = subprocess.run([COMMENT, "body", "--gate-out", directory, "--out", self.out],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn("verdicts.json", proc.stderr)


class PostTests(unittest.TestCase):
    def setUp(self):
        FakeGitHub.comments = [{"id": 1, "body": "LGTM"}]
        FakeGitHub.refuse = False
        FakeGitHub.calls = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.tmp = tempfile.TemporaryDirectory()
        self.summary = os.path.join(self.tmp.name, "summary.md")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()

    def post(self, text, token="secret"):
        path = os.path.join(self.tmp.name, "body.md")
        if text is None:
            if os.path.exists(path):
                os.remove(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        env = {**os.environ, "GITHUB_STEP_SUMMARY": self.summary, "GITHUB_TOKEN": token}
        return subprocess.run([COMMENT, "post", "--body", path, "--repo", "o/r", "--pr", "7",
                               "--api-url", f"http://127.0.0.1:{self.server.server_port}"],
                              capture_output=True, text=True, timeout=60, env=env)

    def test_one_comment_updated_in_place(self):
        proc = self.post(f"{MARKER}\nfirst\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(FakeGitHub.comments), 2)
        proc = self.post(f"{MARKER}\nsecond\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("updated comment 101", proc.stdout)
        self.assertEqual([c["body"] for c in FakeGitHub.comments], ["LGTM", f"{MARKER}\nsecond\n"])
        # nothing changed now: the existing comment says so, and no new one is made
        proc = self.post(None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(FakeGitHub.comments), 2)
        self.assertIn("no change", FakeGitHub.comments[1]["body"])
        self.assertIn(MARKER, FakeGitHub.comments[1]["body"])

    def test_nothing_to_say_posts_nothing(self):
        proc = self.post(None)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(FakeGitHub.comments, [{"id": 1, "body": "LGTM"}])
        self.assertNotIn("POST", [m for m, _ in FakeGitHub.calls])

    def test_read_only_token_is_reported_not_failed(self):
        FakeGitHub.refuse = True
        proc = self.post(f"{MARKER}\nbody\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("cannot comment", proc.stderr)
        with open(self.summary, encoding="utf-8") as f:
            self.assertIn("could not comment on the pull request", f.read())
        proc = self.post(f"{MARKER}\nbody\n", token="")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(self.summary, encoding="utf-8") as f:
            self.assertIn("no token in $GITHUB_TOKEN", f.read())
        # a bad token is not a fork: still no failure, and still said in the summary
        proc = self.post(f"{MARKER}\nbody\n", token="wrong")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("HTTP 401", proc.stderr)


if __name__ == "__main__":
    unittest.main()
