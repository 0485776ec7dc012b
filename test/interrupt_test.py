#!/usr/bin/env python3
"""An interrupted bench_parallel keeps what finished (ctest: bench.interrupt; standard library only).

Usage: interrupt_test.py BENCH_PARALLEL WORK_DIR REPORT_PYTHON

For a process strategy and a thread strategy, bench_parallel is started, and once the first benchmark's line
is on its output (so one benchmark has certainly finished and the next is under way) it gets SIGINT, SIGTERM
or SIGHUP; for every process strategy, SIGINT goes to its whole process group, as Ctrl-C sends it. Then: the
exit status is 128 + the signal; the --benchmark_out JSON parses; its context names the signal; it holds the
finished benchmarks, each without error, and none that did not finish; tools/parbench-report reads it; and no
process of the run is left. A second signal must end the run at once, children included.
Nothing here waits for a time to pass: the signal follows a line of output, and the checks follow exit.
Exit status 77 (skipped) when REPORT_PYTHON cannot run parbench-report; every other check has run by then.
"""

import json
import os
import signal
import subprocess
import sys
import time

from checks import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, os.pardir, "tools", "parbench-report")
FIRST = "count/sequential/workers:1/n:1024/real_time"
# Enough benchmarks after the first that the run is far from its end when the signal comes (each takes at least
# the min time, so well over ten seconds in all); the signal itself follows the first line within milliseconds.
WORKERS = "1,2,3,4,5,6,7,8"
DEADLINE_S = 120  # only against a hang: a correct run ends within a second or two of the signal


def session_processes(sid):
    """Live processes (not zombies) of session `sid`: bench_parallel and whatever it forked."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found.append(int(entry))
    return found


def bench_args(strategy, out):
    return ["--parbench_profile=quick", f"--parbench_workers={WORKERS}",
            f"--benchmark_filter=^count/(sequential/workers:1/n:1024|{strategy}/workers:[0-9]+/n:[0-9]+)/",
            "--benchmark_min_time=0.5", f"--benchmark_out={out}", "--benchmark_out_format=json",
            "--benchmark_color=false",
            # In list order, one repetition each: what finished is then a start of the list.
            "--benchmark_enable_random_interleaving=false", "--benchmark_repetitions=1"]


def default_signals():  # a test started in the background by a shell may inherit SIGINT ignored
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def run(bench, work, strategy, signals, tag, group=False):
    """Runs bench_parallel, sends `signals` once the first benchmark is shown (to its whole process group, as
    Ctrl-C does, with `group`), and checks the exit and leftovers."""
    out = os.path.join(work, f"interrupt_{tag}.json")
    if os.path.exists(out):
        os.remove(out)
    proc = subprocess.Popen([bench] + bench_args(strategy, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=default_signals)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(FIRST):
                break
        else:
            raise Failure(f"{tag}: the first benchmark never finished:\n" + "".join(lines) + proc.stderr.read())
        # Two different signals, never the same one twice: the kernel merges a pending signal with its repeat.
        for s in signals:
            if group:
                os.killpg(proc.pid, s)
            else:
                proc.send_signal(s)
        signalled = time.monotonic()
        rest, err = proc.communicate(timeout=DEADLINE_S)
        after_signal = time.monotonic() - signalled
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    shown = "".join(lines) + rest
    twice = len(signals) > 1
    status = 128 + signals[-1]
    if proc.returncode != status:
        raise Failure(f"{tag}: exit status {proc.returncode}, expected {status}\n{shown}{err}")
    line = "bench_parallel: second signal" if twice else f"bench_parallel: interrupted by {signals[0].name}"
    last = err.rstrip().splitlines()[-1:] or [""]
    if not last[0].startswith(line):
        raise Failure(f"{tag}: stderr does not end with '{line}...':\n{err}")
    if "ERROR OCCURRED" in shown:
        raise Failure(f"{tag}: the output shows a skipped or stopped benchmark:\n{shown}")
    # After the first signal the run reaps its children before it exits, so none may be left at all. After a
    # second one they die of their parent-death signal, which the kernel delivers as the parent exits.
    left = session_processes(proc.pid)
    if left and twice:
        left = wait_gone(proc.pid)
    if left:
        raise Failure(f"{tag}: processes left behind: {left}")
    return out, shown, after_signal


def wait_gone(sid):
    deadline = time.monotonic() + 30
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def check_json(bench, out, tag, sig, strategy, shown, after_signal):
    try:
        with open(out) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"{tag}: {out} is not valid JSON: {e}")
    marked = data.get("context", {}).get("parbench_interrupted")
    if marked != sig.name:
        raise Failure(f"{tag}: context parbench_interrupted is {marked!r}, expected {sig.name!r}")
    names = [b.get("name") for b in data.get("benchmarks", [])]
    listed = subprocess.run([bench, "--benchmark_list_tests"] + bench_args(strategy, os.devnull),
                            capture_output=True, text=True, check=True).stdout.split()
    # What finished is the start of the run's list, in order, and at least the benchmark shown before the signal.
    if not names or names != listed[:len(names)]:
        raise Failure(f"{tag}: the file holds {names}, not a start of the run's list {listed}")
    if len(names) == len(listed):
        # The signal follows the first benchmark's line, so the rest of the run (seconds) was still ahead. A run
        # that went on that long after it did not stop at its benchmarks' checks (interrupt::stop_if_requested):
        # a binary whose benchmarks were compiled without them, e.g. an object left from before they existed.
        raise Failure(f"{tag}: every benchmark finished, {after_signal:.1f} s after the signal: the run did not stop "
                      f"at the next check (a bench_parallel whose benchmarks lack the check? rebuild it from clean)")
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            raise Failure(f"{tag}: {b['name']} errored in the file: {b.get('error_message')}")
        if b["name"] not in shown:  # every benchmark in the file finished, so its line was shown too
            raise Failure(f"{tag}: {b['name']} is in the file but was never shown as finished")
    return names


def report_reads(report_python, out, work, tag):
    """True if parbench-report read the file, None if it cannot run here; raises on a refusal."""
    if not os.path.exists(report_python):
        return None
    md = os.path.join(work, f"interrupt_{tag}.md")
    r = subprocess.run([report_python, REPORT, "--no-plots", "--out", md, out], capture_output=True, text=True)
    if r.returncode != 0 and "No module named" in r.stderr:
        return None
    if r.returncode != 0:
        raise Failure(f"{tag}: parbench-report refused the file (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return True


def main():
    bench, work, report_python = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    cases = [  # tag, strategy, signals (signal.Signals, so .name is "SIGINT")
        ("int_process_pool", "process_pool", [signal.SIGINT]),
        ("term_process_pool", "process_pool", [signal.SIGTERM]),
        ("int_thread_pool", "thread_pool", [signal.SIGINT]),
        ("term_threads", "threads", [signal.SIGTERM]),
        ("hup_processes", "processes.pipe", [signal.SIGHUP]),
    ]
    # Ctrl-C signals the whole process group: the workers get SIGINT too, and one that dies of it is the interrupt,
    # not a fault (the benchmark in flight is dropped, never recorded as errored).
    group_cases = [(f"group_{s}", s, [signal.SIGINT]) for s in (
        "processes.pipe", "processes.shm", "processes.spawn", "processes.forkserver", "process_pool",
        "process_pool.executor", "process_pool.spawn", "process_pool.forkserver")]
    reported = True
    try:
        for tag, strategy, signals in cases + group_cases:
            out, shown, after_signal = run(bench, work, strategy, signals, tag, group=tag.startswith("group_"))
            names = check_json(bench, out, tag, signals[0], strategy, shown, after_signal)
            ok = report_reads(report_python, out, work, tag)
            reported = reported and ok is True
            print(f"ok {tag}: exit {128 + signals[0]}, {len(names)} finished benchmarks kept, nothing left behind")
        # Two signals at once: the second ends the run without waiting for the benchmark in flight.
        run(bench, work, "process_pool", [signal.SIGINT, signal.SIGTERM], "twice")
        print("ok twice: exit 143 at once, nothing left behind")
    except Failure as e:
        print(f"FAIL {e}")
        return 1
    if not reported:
        print(f"SKIP: {report_python} cannot run tools/parbench-report; every other check passed")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
