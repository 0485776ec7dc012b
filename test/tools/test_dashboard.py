#!/usr/bin/python3
"""Tests of parbench-dashboard (tools/parbench/dashboard.py) in a real browser: Debian's headless Chromium opens the
page from file:// (no server, no network) on the fixture history of 3 benchmarks x 60 commits with 2 steps
(fixtures/make_history.py). The page loads with no console error, shows one chart per benchmark, marks both steps
where they are and the noisy runs, links each point to its commit, and the filters narrow the charts.

Skips (exit 77, saying why) where chromium or numpy is missing.
Run: /usr/bin/python3 test/tools/test_dashboard.py   (ctest: tools.Dashboard)
"""

import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(HERE, "fixtures"))
DASHBOARD = os.path.join(TOOLS, "parbench-dashboard")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    print("SKIP: needs Debian's headless Chromium to open the dashboard in a browser (apt-get install chromium)")
    sys.exit(77)
try:
    import numpy  # noqa: F401  (the change points need it)
except ImportError:  # pragma: no cover
    print("SKIP: needs numpy under /usr/bin/python3 for the change points (apt-get install python3-numpy)")
    sys.exit(77)
import make_history  # noqa: E402

COMMIT_URL = "https://github.com/example/parbench/commit/{commit}"
# The flags a root user on a machine without a display needs, and no network activity of the browser's own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage",     # a container's /dev/shm (64 MB under Docker) is too small for it
         "--enable-logging=stderr", "--v=0"]


class Dom(html.parser.HTMLParser):
    """The charts of a dumped page: name, hidden, change points (run, commit), points (noisy, link)."""

    def __init__(self):
        super().__init__()
        self.charts, self.body, self.count, self._in_count, self._link = [], {}, None, False, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "section" and "chart" in (a.get("class") or "").split():
            self.charts.append({"name": a["data-name"], "hidden": "hidden" in a, "changepoints": [], "points": []})
        elif tag == "a":
            self._link = a.get("href")
        elif tag == "g" and self.charts and "changepoint" in (a.get("class") or "").split():
            self.charts[-1]["changepoints"].append((int(a["data-run"]), a["data-commit"]))
        elif tag == "g" and self.charts and "point" in (a.get("class") or "").split():
            self.charts[-1]["points"].append(("noisy" in a["class"].split(), a["data-commit"], self._link))
        elif tag == "span" and a.get("id") == "count":
            self._in_count = True

    def handle_endtag(self, tag):
        if tag == "a":
            self._link = None
        if tag == "span":
            self._in_count = False

    def handle_data(self, data):
        if self._in_count:
            self.count = (self.count or "") + data


class DashboardTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="parbench-dashboard-test-")
        cls.data = os.path.join(cls.tmp, "data")
        make_history.write(cls.data)
        cls.site = os.path.join(cls.tmp, "site")
        proc = subprocess.run([DASHBOARD, "--data", cls.data, "--out", cls.site, "--commit-url", COMMIT_URL],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        cls.page = os.path.join(cls.site, "index.html")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def browse(self, url, *extra):
        """(dumped DOM, console lines) of url in a fresh headless Chromium profile."""
        with tempfile.TemporaryDirectory(prefix="parbench-chromium-") as profile:
            proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                                  capture_output=True, text=True, timeout=180, cwd=profile)
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
        return proc, console

    def open(self, fragment="", page=None):
        url = "file://" + (page or self.page) + (f"#{fragment}" if fragment else "")
        proc, console = self.browse(url, "--dump-dom")
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        dom = Dom()
        dom.feed(proc.stdout)
        return dom, console

    def test_page_loads_with_one_chart_per_benchmark_and_both_steps(self):
        dom, console = self.open()
        self.assertEqual(console, [])
        self.assertEqual(dom.body.get("data-ready"), "1", "the page's script did not finish")
        charts = {c["name"]: c for c in dom.charts}
        self.assertEqual(sorted(charts), sorted(make_history.BENCHMARKS))
        self.assertFalse(any(c["hidden"] for c in charts.values()))
        self.assertEqual(dom.count, "3 of 3 charts shown")
        commits = [make_history.hashlib.sha1(f"fixture commit {i}".encode()).hexdigest()
                   for i in range(make_history.RUNS)]
        for name, (_, step, _) in make_history.BENCHMARKS.items():
            c = charts[name]
            self.assertEqual(len(c["points"]), make_history.RUNS)
            if step is None:
                self.assertEqual(c["changepoints"], [], name)
            else:
                self.assertEqual(len(c["changepoints"]), 1, (name, c["changepoints"]))
                run, commit = c["changepoints"][0]
                self.assertLessEqual(abs(run - step), 1, name)
                self.assertEqual(commit, commits[run])
            # every point links to its commit; the noisy runs, and only they, are marked
            self.assertEqual([link for _, _, link in c["points"]],
                             [COMMIT_URL.replace("{commit}", sha) for sha in commits])
            self.assertEqual([i for i, (noisy, _, _) in enumerate(c["points"]) if noisy], list(make_history.NOISY))

    def test_filters_narrow_the_charts(self):
        for fragment, shown in (("kernel=count", ["count/"]), ("strategy=thread_pool", ["random_max/"]),
                                ("q=sum_range", ["sum_range/"]), ("q=workers%3A2 fork", ["sum_range/"]),
                                ("changed=1", ["count/", "sum_range/"]), ("q=no-such-benchmark", [])):
            dom, console = self.open(fragment)
            self.assertEqual(console, [], fragment)
            visible = sorted(c["name"] for c in dom.charts if not c["hidden"])
            self.assertEqual(len(visible), len(shown), (fragment, visible))
            for name, prefix in zip(visible, sorted(shown)):
                self.assertTrue(name.startswith(prefix), (fragment, visible))
            self.assertEqual(dom.count, f"{len(shown)} of 3 charts shown", fragment)

    def test_self_contained(self):
        with open(self.page, encoding="utf-8") as f:
            text = f.read()
        self.assertIsNone(re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", text), "an external resource")
        self.assertIn("default-src 'none'", text)      # the browser may fetch nothing
        links = set(re.findall(r'href="([^"]+)"', text))
        self.assertTrue(links and all(link.startswith("https://github.com/example/parbench/commit/") for link in links))

    def test_console_errors_are_caught(self):
        """The check above can fail: the same page with a script error is caught by both of its tests."""
        broken = os.path.join(self.tmp, "broken.html")
        with open(self.page, encoding="utf-8") as f:
            text = f.read()
        with open(broken, "w", encoding="utf-8") as f:
            f.write(text.replace('"use strict";', '"use strict"; console.error("deliberate"); noSuchFunction();', 1))
        dom, console = self.open(page=broken)
        self.assertTrue(console, "a console error went unnoticed")
        self.assertNotEqual(dom.body.get("data-ready"), "1")

    def test_screenshot(self):
        shot = os.path.join(self.tmp, "shot.png")
        proc, console = self.browse("file://" + self.page, f"--screenshot={shot}", "--window-size=1280,900",
                                    "--hide-scrollbars")
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertEqual(console, [])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_bad_input(self):
        bad = os.path.join(self.tmp, "bad")
        os.makedirs(os.path.join(bad, "runs", "m"))
        with open(os.path.join(bad, "runs", "m", "x.json"), "w", encoding="utf-8") as f:
            f.write("{}")
        for data, status, text in ((bad, 2, "CorruptRunFile"), (os.path.join(self.tmp, "nope"), 2, "no such"),
                                   (os.path.join(bad, "runs", "m"), 3, "no run")):
            proc = subprocess.run([DASHBOARD, "--data", data, "--out", os.path.join(self.tmp, "o")],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, status, proc.stderr)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn(text, proc.stderr)


if __name__ == "__main__":
    unittest.main()
