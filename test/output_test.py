#!/usr/bin/env python3
"""bench_parallel's --benchmark_out is never lost, cut short or mixed (ctest: bench.output; standard library only).

Usage: output_test.py BENCH_PARALLEL WORK_DIR

Each case runs bench_parallel as a user would and checks what the user sees: the exit status, the one line on
stderr, the file (valid JSON with every benchmark, or the previous file unchanged) and that no temporary file is
left beside it. Cases: a full disk (a 4 KiB tmpfs where this runs as root, and /dev/full everywhere); standard
output closed; two runs writing one file at once; SIGKILL with a previous file present; a path that cannot be
written. Nothing waits for a time to pass except SIGKILL, which follows a line of output.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from checks import Failure, exit_status

FILTER = "^count/sequential/workers:1/n:(1024|65536)/"
WRITE_ERROR = 3  # the README's exit status for results that could not be written
TIMEOUT_S = 300  # only against a hang


def args(out, extra=()):
    return ["--parbench_profile=quick", f"--benchmark_filter={FILTER}", "--benchmark_min_time=0.01",
            f"--benchmark_out={out}", "--benchmark_out_format=json", "--benchmark_color=false", *extra]


def run(bench, out, **kw):
    return subprocess.run([bench, *args(out)], capture_output=True, text=True, timeout=TIMEOUT_S, **kw)


def benchmarks_in(path, tag):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"{tag}: {path} is not valid JSON: {e}")
    names = [b["name"] for b in data.get("benchmarks", [])]
    if len(names) != 2 or any(b.get("error_occurred") for b in data["benchmarks"]):
        raise Failure(f"{tag}: {path} holds {names}, expected the 2 benchmarks without error")
    return names


def one_line(r, tag, status, *words):
    """The run ended with `status` and its last stderr line holds every word."""
    last = (r.stderr.strip().splitlines() or [""])[-1]
    if r.returncode != status or not all(w in last for w in words):
        raise Failure(f"{tag}: exit {r.returncode} (expected {status}), last line {last!r} (expected {words})\n"
                      f"{r.stderr}")


def leftovers(directory, keep):
    extra = sorted(set(os.listdir(directory)) - set(keep))
    if extra:
        raise Failure(f"{directory}: temporary files left behind: {extra}")


def full_disk(bench, work):
    r = run(bench, "/dev/full")
    one_line(r, "dev_full", WRITE_ERROR, "cannot write /dev/full", "No space left on device")
    print("ok dev_full: exit 3, one line naming the path and the errno")
    if os.geteuid() != 0:
        print("skip tmpfs: not root (/dev/full covers the full disk)")
        return
    mount = tempfile.mkdtemp(dir=work, prefix="tmpfs.")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", mount], capture_output=True).returncode:
        os.rmdir(mount)
        print("skip tmpfs: cannot mount one here (/dev/full covers the full disk)")
        return
    try:
        out = os.path.join(mount, "out.json")
        with open(out, "w") as f:
            f.write("previous\n")
        r = run(bench, out)
        one_line(r, "tmpfs", WRITE_ERROR, f"cannot write {out}", "No space left on device", "previous file")
        with open(out) as f:
            if f.read() != "previous\n":
                raise Failure("tmpfs: the previous file changed")
        leftovers(mount, ["out.json"])
        if "count/sequential/workers:1/n:65536" not in r.stdout:
            raise Failure("tmpfs: the console table lost the results")
        print("ok tmpfs: exit 3, previous file unchanged, results on the console, no temporary file")
    finally:
        subprocess.run(["umount", mount], check=False)
        os.rmdir(mount)


def closed_stdout(bench, work):
    out = os.path.join(work, "closed.json")
    r = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", bench, *args(out)], capture_output=True, text=True,
                       timeout=TIMEOUT_S)
    if r.returncode != 0:
        raise Failure(f"closed_stdout: exit {r.returncode}\n{r.stderr}")
    benchmarks_in(out, "closed_stdout")
    print("ok closed_stdout: exit 0, the file is the JSON alone")


def concurrent(bench, work):
    d = os.path.join(work, "concurrent")
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, "out.json")
    procs = [subprocess.Popen([bench, *args(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT_S)
        if p.returncode != 0:
            raise Failure(f"concurrent: exit {p.returncode}\n{err}")
    benchmarks_in(out, "concurrent")
    leftovers(d, ["out.json"])
    print("ok concurrent: both exit 0, the file is one whole run's JSON, no temporary file")


def killed(bench, work):
    d = os.path.join(work, "killed")
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, "out.json")
    with open(out, "w") as f:
        f.write("previous\n")
    # The two benchmarks one after the other, the second for at least a second: it is still running when the
    # first one's line arrives, however late this process reads it (interleaved, both lines come at the end).
    slow = ("--benchmark_enable_random_interleaving=false", "--benchmark_min_time=0.5")
    p = subprocess.Popen([bench, *args(out, slow)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         start_new_session=True)
    try:
        for line in p.stdout:
            if line.startswith("count/sequential/workers:1/n:1024"):
                break
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    with open(out) as f:
        if f.read() != "previous\n":
            raise Failure("killed: the previous file changed")
    leftovers(d, ["out.json"])
    print("ok killed: SIGKILL mid-run leaves the previous file and no temporary file")


def unwritable(bench, work):
    out = os.path.join(work, "no such directory", "out.json")
    r = run(bench, out)
    one_line(r, "unwritable", 2, f"cannot write {out}", "No such file or directory")
    if "count/" in r.stdout:
        raise Failure("unwritable: benchmarks ran before the path was refused")
    print("ok unwritable: exit 2 before anything runs, with the errno")


def main():
    bench, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    return exit_status(lambda: [case(bench, work) for case in (full_disk, closed_stdout, concurrent, killed,
                                                               unwritable)])


if __name__ == "__main__":
    sys.exit(main())
