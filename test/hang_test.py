#!/usr/bin/env python3
"""A stopped worker is a named fault, not a hang (ctest: bench.hang; standard library only).

Usage: hang_test.py BENCH_PARALLEL WORK_DIR

For a process pool, per-run processes (fork and spawn) and the fork server, bench_parallel runs two benchmarks
of the strategy with --parbench_worker_deadline=2, and once the first is under way one of its processes gets
SIGSTOP (kill -STOP). The first benchmark must then fail within the deadline + 5 s with an error naming the
worker, its pid and "stopped" (a fork server stopped before it said it was ready: the server, its pid and
"stopped"); the second must run as usual; the exit status is 1 (a run errored); the JSON holds both; and no
process of the run is left. The only time asserted is that bound on the hang. Per-run workers live for
microseconds: where a run ends before the test could stop one of its processes (a busy machine), the case runs
again, at most TRIES times in all."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from checks import Failure, exit_status

DEADLINE_S = 2
BOUND_S = DEADLINE_S + 5  # the bound: the named error within the deadline plus 5 s
TIMEOUT_S = 120  # only against a hang of the test itself
TRIES = 3  # runs of a case in which no process could be stopped before the case fails
STOP_TAKES_S = 5  # a SIGSTOP takes effect when the kernel next runs the process: late on a busy machine


def stat(pid):
    """(state letter, parent pid, session), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[3])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def processes(sid):
    """Live processes of session sid: pid -> parent pid."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := stat(int(entry))) and st[2] == sid and st[0] != "Z":
            found[int(entry)] = st[1]
    return found


def children(pid):
    """The children of process pid, running or zombie (the kernel's list, per thread)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def descendants(root):
    """root's descendants: pid -> parent pid. Reads only their lists, so a scan is quick enough to meet a per-run
    worker that lives for microseconds, where a scan of all of /proc takes milliseconds on a busy machine."""
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for child in children(parent):
            found[child] = parent
            todo.append(child)
    return found


def is_forkserver(pid):
    """A fork server once it runs the program: a child stopped between its clone and its exec would hold the
    parent inside posix_spawn (vfork), and before its exec it has the parent's command line, whose filter may
    name the strategy."""
    return b"--parbench_worker=forkserver" in cmdline(pid)


def stop_one(root, pick, give_up, running):
    """SIGSTOPs the first of root's descendants that `pick(pid, parent)` chooses; returns its pid once stopped,
    or None if the run ended (`running()` false) or `give_up` passed first."""
    while time.monotonic() < give_up and running():
        for pid, parent in descendants(root).items():
            if not pick(pid, parent):
                continue
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                continue
            taken = time.monotonic() + STOP_TAKES_S
            while time.monotonic() < taken:  # a worker may end first
                st = stat(pid)
                if st is None or st[0] == "Z":
                    break
                if st[0] == "T":
                    return pid
                time.sleep(0.001)
            else:
                raise Failure(f"pid {pid} was sent SIGSTOP but did not stop within {STOP_TAKES_S} s")
        time.sleep(0.001)
    return None


def case(bench, work, strategy, pick, what):
    """One run of the case: False if the run ended before any of its processes could be stopped."""
    out = os.path.join(work, f"{strategy}.json")
    # Two benchmarks of the strategy, then one that starts no process: whichever of the two the stop hits, a
    # benchmark runs after it.
    names = [f"count/{strategy}/workers:2/n:1024/real_time", f"count/{strategy}/workers:2/n:65536/real_time",
             "sum_range/sequential/workers:1/n:1024/real_time"]
    shm_before = set(os.listdir("/dev/shm"))
    proc = subprocess.Popen(
        [bench, "--parbench_profile=quick", "--parbench_workers=2", f"--parbench_worker_deadline={DEADLINE_S}",
         f"--benchmark_filter=^(count/{re.escape(strategy)}/workers:2/n:(1024|65536)|sum_range/sequential/workers:1/"
         "n:1024)/", "--benchmark_min_time=1",
         "--benchmark_enable_random_interleaving=false", f"--benchmark_out={out}", "--benchmark_out_format=json",
         "--benchmark_color=false"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines, errors = [], []
    readers = [threading.Thread(target=lambda f=f, into=into: [into.append(ln) for ln in f], daemon=True)
               for f, into in ((proc.stdout, lines), (proc.stderr, errors))]
    for r in readers:
        r.start()
    try:
        # The context is shown once the warm-up is over; the first benchmark then starts.
        while not any(ln.startswith("Running ") for ln in errors) and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.3)  # the first benchmark is under way: its workers exist (or come and go)
        stopped = stop_one(proc.pid, lambda pid, parent: pick(proc.pid, pid, parent), time.monotonic() + 30,
                           lambda: proc.poll() is None)
        if stopped is None:
            proc.wait(timeout=TIMEOUT_S)
            return False
        at = time.monotonic()
        while not any("ERROR OCCURRED" in line for line in lines) and proc.poll() is None and \
                time.monotonic() - at < TIMEOUT_S:
            time.sleep(0.02)
        named = time.monotonic() - at
        proc.wait(timeout=TIMEOUT_S)
        for r in readers:
            r.join(5)
        err = "".join(errors)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    shown = "".join(lines)
    results = [ln for ln in lines if ln.startswith(("count/", "sum_range/"))]
    # A stopped worker holds its run until the deadline. A fork server stopped before it said it was ready holds
    # the strategy's start for as long.
    expected = re.compile(r"worker \d of 2 failed: timeout: no result within 2000 ms \(.*pid %d, stopped\)|"
                          r"forkserver \(pid %d, stopped\) did not start within 2000 ms" % (stopped, stopped))
    failed = [i for i, ln in enumerate(results) if "ERROR" in ln]
    if len(failed) != 1 or not expected.search(results[failed[0]]) or not results[failed[0]].startswith("count/"):
        raise Failure(f"{strategy}: not one benchmark of the strategy naming the stopped {what} (pid {stopped}):\n"
                      f"{shown}{err}")
    if named > BOUND_S:
        raise Failure(f"{strategy}: the error came {named:.1f} s after the stop, more than {BOUND_S} s")
    if proc.returncode != 1:
        raise Failure(f"{strategy}: exit status {proc.returncode}, expected 1\n{shown}{err}")
    if len(results) != 3:
        raise Failure(f"{strategy}: the run did not go on to every benchmark after the fault:\n{shown}{err}")
    with open(out) as f:
        runs = {b["name"]: bool(b.get("error_occurred")) for b in json.load(f)["benchmarks"]}
    if sorted(runs) != sorted(names) or sum(runs.values()) != 1:
        raise Failure(f"{strategy}: the JSON does not hold the three benchmarks, one errored: {runs}")
    if left := processes(proc.pid):
        raise Failure(f"{strategy}: processes left behind: {left}")
    # The pools' and processes' shared memory is memfds and anonymous mappings, gone with the last process that
    # holds them; a name under /dev/shm would outlive them (another test may make its own there meanwhile).
    if new := [n for n in set(os.listdir("/dev/shm")) - shm_before if "bench_parallel" in n or "pool" in n]:
        raise Failure(f"{strategy}: shared memory left behind: {sorted(new)}")
    print(f"ok {strategy}: stopped {what} {stopped} named within {BOUND_S} s, the next benchmark ran, nothing left")
    return True


def tried(bench, work, strategy, pick, what):
    for _ in range(TRIES):
        if case(bench, work, strategy, pick, what):
            return
        print(f"{strategy}: the run ended before any of its processes could be stopped; running it again")
    raise Failure(f"{strategy}: no process of the run could be stopped in {TRIES} runs")


def main():
    bench, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    worker = lambda root, pid, parent: parent == root and not is_forkserver(pid)  # noqa: E731
    cases = [
        ("process_pool", worker, "pool worker"),
        ("process_pool.forkserver", lambda root, pid, parent: parent != root, "pool worker of the fork server"),
        ("processes.pipe", worker, "per-run worker"),
        # A spawned worker once it runs the program: one stopped between its clone and its exec would hold the
        # parent inside posix_spawn (vfork), before any wait of ours (docs/hostile_input.md).
        ("processes.spawn", lambda root, pid, parent: parent == root and any(
            b"--parbench_worker=spawn" in arg for arg in cmdline(pid)), "spawned worker"),
        ("processes.forkserver", lambda root, pid, parent: parent == root and is_forkserver(pid), "fork server"),
    ]
    return exit_status(lambda: [tried(bench, work, strategy, pick, what) for strategy, pick, what in cases])


if __name__ == "__main__":
    sys.exit(main())
