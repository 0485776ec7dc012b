"""Running bench_parallel for the paired gate: one process per side and group of benchmarks, recorded as JSON lines.

A *run* is one bench_parallel process that runs a group of benchmarks (an exact-name filter), one repetition each,
and writes Google Benchmark JSON. Its record (one JSON object per line of the record file) holds what is needed to
replay or resample a gate later: the round, the arm ('base', 'head', or the arms of a rate collection), the start
time, the wall time of the process, its exit status, the real time in ns of every benchmark of the group
(None for an errored benchmark) and, under "probes", the repetition's probe counters (PROBE_COUNTERS, those
bench_parallel wrote), which tell the state of the CPUs it ran in (estimate.state_of).

Standard library only.
"""

import json
import math
import os
import subprocess
import tempfile
import time

from . import cli

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Characters that are special in the regular expressions Google Benchmark's --benchmark_filter takes (POSIX extended
# or std::regex ECMAScript): each is written as a one-character bracket expression, which means the same in both.
_REGEX_SPECIAL = set(".[]()*+?{}|^$\\")

# The counters of a repetition that estimate.state_of reads.
PROBE_COUNTERS = ("probe_ns", "probe_best_ns", "probe_bound_ns", "utilisation")


class RunError(Exception):
    """A bench_parallel process that could not run or wrote no usable JSON. One line."""


def exact_filter(names):
    """A --benchmark_filter that matches exactly these benchmark names and no other."""
    def escape(name):
        if any(c in name for c in "[]^\\\n"):
            raise RunError(f"cannot build an exact filter for the benchmark name {name!r}")
        return "".join(f"[{c}]" if c in _REGEX_SPECIAL else c for c in name)
    return "^(" + "|".join(escape(n) for n in names) + ")$"


def list_benchmarks(binary, flags, timeout=120):
    """The names bench_parallel would run with these flags (--benchmark_list_tests), in its order."""
    try:
        proc = cli.run_child([binary, *flags, "--benchmark_list_tests=true"], timeout, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise RunError(f"cannot run {binary}: {e}") from None
    if proc.returncode != 0 and "no benchmark matched" in proc.stderr:
        return []
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RunError(f"{binary} --benchmark_list_tests exited with status {proc.returncode}: {last}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def _results(path, counters=None):
    """name -> real time in ns (None when errored) from one GB JSON file; RunError when unusable. counters, a dict,
    gets name -> {counter: value} of the PROBE_COUNTERS each benchmark has."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"no usable JSON from bench_parallel ({path}: {e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise RunError(f"{path}: not Google Benchmark output")
    out: dict = {}
    for entry in doc["benchmarks"]:
        if not isinstance(entry, dict) or entry.get("run_type", "iteration") != "iteration":
            continue
        name = entry.get("run_name") or entry.get("name")
        if not isinstance(name, str):
            continue
        value = entry.get("real_time")
        unit = TIME_UNIT_NS.get(entry.get("time_unit", "ns"))
        if entry.get("error_occurred") or unit is None or not isinstance(value, (int, float)) or value <= 0:
            out[name] = None
        else:
            out[name] = float(value) * unit
            if counters is not None:
                got = {c: float(entry[c]) for c in PROBE_COUNTERS
                       if isinstance(entry.get(c), (int, float)) and math.isfinite(entry[c])}
                if got:
                    counters[name] = got
    return out


REALTIME = ["chrt", "--fifo", "10"]   # SCHED_FIFO priority 10: other tenants' processes cannot preempt the run


def check_realtime():
    """None when runs can be made SCHED_FIFO here, else one line saying why not."""
    try:
        proc = cli.run_child([*REALTIME, "true"], 30, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run chrt: {e}"
    if proc.returncode != 0:
        return f"chrt --fifo 10 is not permitted here: {(proc.stderr.strip() or 'no message').splitlines()[-1]}"
    return None


def run_group(binary, names, flags, timeout=600, realtime=False, counters=None):
    """Run these benchmarks (one repetition each) in one bench_parallel process.

    Returns (results, wall_s, status, problem): results maps each name to ns, or None when it errored or did not
    run; problem is None, or one line saying why the process gave no usable JSON (a crash, a timeout), in which
    case every result is None. RunError only when the binary cannot be started at all. counters, a dict, gets
    each benchmark's probe counters (_results).
    """
    with tempfile.TemporaryDirectory(prefix="parbench-gate-") as tmp:
        out = os.path.join(tmp, "run.json")
        cmd = [*(REALTIME if realtime else []), binary, *flags, f"--benchmark_filter={exact_filter(names)}",
               "--benchmark_repetitions=1", "--benchmark_format=json", f"--benchmark_out={out}",
               "--benchmark_out_format=json"]
        start = time.monotonic()
        try:
            proc = cli.run_child(cmd, timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 errors="replace")
        except subprocess.TimeoutExpired:
            return dict.fromkeys(names), time.monotonic() - start, None, \
                f"did not finish within {timeout} s"
        except OSError as e:
            raise RunError(f"cannot run {binary}: {e.strerror or e}") from None
        wall = time.monotonic() - start
        last = (proc.stderr.strip().splitlines() or ["(no output on stderr)"])[-1][:300]
        if not os.path.exists(out) or os.path.getsize(out) == 0:
            return dict.fromkeys(names), wall, proc.returncode, \
                f"exited with status {proc.returncode} and wrote no JSON: {last}"
        try:
            got = _results(out, counters)
        except RunError as e:
            return dict.fromkeys(names), wall, proc.returncode, f"exited with status {proc.returncode}: {e}; {last}"
    return {n: got.get(n) for n in names}, wall, proc.returncode, None


def gate_flags(profile, extra=()):
    """The flags of every gate run: one repetition (run_group) of 0.02 s per round, in list order, whatever the
    profile's own precision (the measurement the gate's error rates were taken with, docs/results.md); extra flags
    after them may still override either."""
    return [f"--parbench_profile={profile}", "--benchmark_min_time=0.02",
            "--benchmark_enable_random_interleaving=false", *extra]


def groups(names, size):
    """Consecutive chunks of at most size names."""
    return [names[i:i + size] for i in range(0, len(names), size)]


class Recorder:
    """Appends one JSON object per run to a file (or keeps nothing when path is None)."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, "a", encoding="utf-8") if path else None

    def write(self, record):
        if self._f:
            self._f.write(json.dumps(record, sort_keys=True) + "\n")
            self._f.flush()

    def close(self):
        if self._f:
            self._f.close()
            self._f = None


def read_records(path):
    """The records of a record file; RunError naming the line that is not a record."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise RunError(f"{path}:{number}: not a JSON line") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("results"), dict) \
                        or not isinstance(rec.get("arm"), str) or not isinstance(rec.get("round"), int):
                    raise RunError(f"{path}:{number}: not a gate run record (needs arm, round, results)")
                out.append(rec)
    except OSError as e:
        raise RunError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise RunError(f"{path}: not UTF-8 text") from None
    return out
