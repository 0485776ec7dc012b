#!/usr/bin/env python3
"""bench_parallel's start never aborts (ctest: bench.startup; standard library only).

Usage: startup_test.py BENCH_PARALLEL WORK_DIR

- A filter of 20,000 nested parentheses (which crashed std::regex) and one nested 100 deep are refused with one
  line and status 2 before std::regex sees them.
- Under a thread limit (RLIMIT_NPROC 4, as user nobody: root is exempt; skipped where this is not root) and a
  memory limit (RLIMIT_AS 30,000 KiB, as ulimit -v 30000 sets), the run either stops with one line and status 2,
  or goes on without the warm-up and says so; never SIGABRT (134) or SIGSEGV (139). A run that goes on writes
  valid JSON.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys

from checks import Failure, exit_status

FILTER = "^count/sequential/workers:1/n:1024/"
TIMEOUT_S = 120


def refused(bench, filt, words):
    r = subprocess.run([bench, f"--benchmark_filter={filt}"], capture_output=True, text=True, timeout=TIMEOUT_S)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(lines) != 1 or not all(w in lines[0] for w in words) or r.stdout:
        raise Failure(f"filter of {len(filt)} characters: exit {r.returncode}, stderr {r.stderr!r}, stdout "
                      f"{r.stdout[:200]!r}; expected status 2 and one line with {words}")
    print(f"ok filter of {len(filt)} characters: exit 2, {lines[0]!r}")


def limited(bench, work, tag, preexec, user=None):
    out = os.path.join(work, f"{tag}.json")
    cmd = [bench, "--parbench_profile=quick", f"--benchmark_filter={FILTER}", "--benchmark_min_time=0.01",
           f"--benchmark_out={out}", "--benchmark_color=false"]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=preexec)
    lines = r.stderr.strip().splitlines()
    if r.returncode == 2:
        if len(lines) != 1:
            raise Failure(f"{tag}: exit 2 with {len(lines)} lines on stderr, expected one:\n{r.stderr}")
        print(f"ok {tag}: exit 2, {lines[0]!r}")
        return
    if r.returncode != 0:
        raise Failure(f"{tag}: exit {r.returncode}, expected 0 or 2:\n{r.stdout}{r.stderr}")
    if not any("warm-up" in line for line in lines):
        raise Failure(f"{tag}: the run went on without saying that the warm-up was cut short:\n{r.stderr}")
    with open(out) as f:
        names = [b["name"] for b in json.load(f)["benchmarks"]]
    if names != ["count/sequential/workers:1/n:1024/real_time"]:
        raise Failure(f"{tag}: the JSON holds {names}")
    print(f"ok {tag}: exit 0, the warm-up cut short and said so, valid JSON")


def sanitized(bench):
    """Whether the binary links a sanitizer's runtime (the asan and tsan presets)."""
    try:
        linked = subprocess.run(["ldd", bench], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return re.search(r"lib(a|t|ub)san\.so", linked) is not None


def main():
    bench, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    def checks():
        refused(bench, "(" * 20000 + ")" * 20000, ["--benchmark_filter", "40000 characters", "at most 8192"])
        refused(bench, "(" * 100 + "count" + ")" * 100, ["--benchmark_filter", "nests 100 groups", "at most 32"])

        def memory():
            resource.setrlimit(resource.RLIMIT_AS, (30000 * 1024, 30000 * 1024))
        if sanitized(bench):
            # A sanitizer's runtime maps terabytes of shadow memory: under this limit it cannot start (TSan's
            # loader exits 127, ASan's runtime crashes) before bench_parallel runs a line of its own.
            print("skip ulimit_v_30000: a sanitized build cannot start under a 30,000 KiB memory limit")
        else:
            limited(bench, work, "ulimit_v_30000", memory)

        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            print("skip ulimit_u_4: needs root and setpriv to run as another user (root has no thread limit)")
        else:
            nobody = 65534
            os.chmod(work, 0o777)

            def threads():
                resource.setrlimit(resource.RLIMIT_NPROC, (4, 4))
            limited(bench, work, "ulimit_u_4", threads, user=nobody)

    return exit_status(checks)


if __name__ == "__main__":
    sys.exit(main())
