"""Reading the Google Benchmark (1.7.x) JSON that bench_parallel and the CPython reference script write.

Shared by parbench-report, parbench-compare and parbench-merge. Everything here is plain stdlib so that the
tools can refuse bad input with a clear message before they need matplotlib or scipy.

Model: a *benchmark* is one name (without the ``_mean``/``_median``... aggregate suffixes). It holds
per-repetition *samples* (``run_type: iteration``), the aggregates GB printed, and the errors of the
repetitions that failed (``error_occurred``). A sample belongs to a *round*: ``(file index, repetition
index)``, so that runs from several files never pretend to be the same repetition.
"""

import json
import math
import re
import statistics
from dataclasses import dataclass, field

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Keys every GB entry may carry that are not user counters.
GB_ENTRY_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit", "label",
    "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "big_o", "rms",
}

# bench_parallel kernel benchmarks: <kernel>/<strategy>/workers:W/n:N[/real_time], where Google Benchmark may
# insert the segments it derives from a benchmark's settings (MinTime gives /min_time:0.020, and so on).
KERNEL_NAME_RE = re.compile(
    r"^(?P<kernel>[^/]+)/(?P<strategy>[^/]+)/workers:(?P<workers>\d+)/n:(?P<n>\d+)"
    r"(?:/(?:min_time|min_warmup_time|iterations|repeats|threads):[^/]+)*"
    r"(?:/(?:process_time|manual_time))?(?:/real_time)?$")
# Families that are never kernel benchmarks even if a future name happens to match the pattern above.
OTHER_FAMILIES = {"overhead", "gil"}
CPYTHON_PREFIX = "cpython."


class InputError(Exception):
    """Input that is not usable Google Benchmark output. The message is one line, ready for stderr."""


@dataclass
class Sample:
    round: tuple          # (file index, repetition index)
    real_time_ns: float
    counters: dict


@dataclass
class Benchmark:
    name: str
    samples: list = field(default_factory=list)
    errors: list = field(default_factory=list)       # (round, message)
    aggregates: dict = field(default_factory=dict)   # aggregate name -> (real_time_ns, counters)
    label: str = ""

    @property
    def errored(self):
        """Any failed repetition makes the whole benchmark suspect: its numbers are never used."""
        return bool(self.errors)

    @property
    def usable(self):
        return not self.errored and (bool(self.samples) or "median" in self.aggregates
                                     or "mean" in self.aggregates)

    def median_ns(self):
        """Median real time over repetitions; GB's own median/mean when only aggregates were written."""
        if not self.usable:
            return None
        if self.samples:
            return statistics.median(s.real_time_ns for s in self.samples)
        return self._aggregate("median", "mean")[0]

    def counter_median(self, key):
        if not self.usable:
            return None
        if self.samples:
            values = [s.counters[key] for s in self.samples if _finite(s.counters.get(key))]
            return statistics.median(values) if values else None
        value = self._aggregate("median", "mean")[1].get(key)
        return value if _finite(value) else None

    def counters_median(self):
        keys = sorted({k for s in self.samples for k in s.counters}) if self.samples else \
            sorted(self._aggregate("median", "mean")[1])
        values = {k: self.counter_median(k) for k in keys}
        return {k: v for k, v in values.items() if v is not None}

    def _aggregate(self, *names):
        for name in names:
            if name in self.aggregates:
                return self.aggregates[name]
        raise KeyError(names)


@dataclass
class Run:
    """One or more GB JSON files read together."""
    paths: list
    contexts: list        # one context dict per file, same order as paths
    benchmarks: dict      # name -> Benchmark, in first-seen order


@dataclass(frozen=True)
class KernelId:
    kernel: str
    strategy: str
    workers: int
    n: int

    @property
    def suite(self):
        return suite_of(self.strategy)

    @property
    def baseline(self):
        return baseline_of(self.strategy)


def suite_of(strategy):
    """'cpython' for the CPython reference run's strategies, 'native' for bench_parallel's."""
    return "cpython" if strategy.startswith(CPYTHON_PREFIX) else "native"


def baseline_of(strategy):
    """The strategy a speedup is measured against: the sequential loop of the same suite."""
    return CPYTHON_PREFIX + "sequential" if suite_of(strategy) == "cpython" else "sequential"


def parse_kernel_name(name):
    """KernelId for a kernel benchmark name, None for any other family (overhead, gil, unknown)."""
    m = KERNEL_NAME_RE.match(name)
    if not m or m.group("kernel") in OTHER_FAMILIES:
        return None
    return KernelId(m.group("kernel"), m.group("strategy"), int(m.group("workers")), int(m.group("n")))


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_json(path):
    """Parse a file as GB JSON or raise InputError saying in one line what is wrong with it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not Google Benchmark JSON (not UTF-8 text)") from None
    if not text.strip():
        raise InputError(f"{path}: empty file, not Google Benchmark JSON "
                         "(did bench_parallel crash or match no benchmark?)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("context"), dict) \
            or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{path}: JSON but not Google Benchmark output "
                         "(expected an object with 'context' and 'benchmarks')")
    return doc


def _entry_counters(entry):
    return {k: v for k, v in entry.items() if k not in GB_ENTRY_KEYS and _finite(v)}


def _entry_time_ns(path, index, entry):
    unit = entry.get("time_unit", "ns")
    if unit not in TIME_UNIT_NS or not _finite(entry.get("real_time")):
        raise InputError(f"{path}: benchmark entry #{index} ({entry.get('name')!r}) has no usable "
                         f"real_time/time_unit")
    return entry["real_time"] * TIME_UNIT_NS[unit]


def _add_entry(benchmarks, path, file_index, index, entry):
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputError(f"{path}: benchmark entry #{index} is not a Google Benchmark result (no name)")
    is_aggregate = entry.get("run_type") == "aggregate"
    name = entry.get("run_name") if is_aggregate and isinstance(entry.get("run_name"), str) \
        else entry["name"]
    bench = benchmarks.setdefault(name, Benchmark(name))
    if entry.get("label"):
        bench.label = entry["label"]
    round_ = (file_index, int(entry.get("repetition_index", 0) or 0))
    if entry.get("error_occurred"):
        bench.errors.append((round_, str(entry.get("error_message", "")).strip() or "(no message)"))
    elif is_aggregate:
        agg = entry.get("aggregate_name", "")
        if entry.get("aggregate_unit", "time") == "time":
            bench.aggregates[agg] = (_entry_time_ns(path, index, entry), _entry_counters(entry))
    else:
        bench.samples.append(Sample(round_, _entry_time_ns(path, index, entry), _entry_counters(entry)))


def load(paths):
    """Read one or more GB JSON files into one Run (InputError on the first bad file)."""
    contexts, benchmarks = [], {}
    for file_index, path in enumerate(paths):
        doc = read_json(path)
        contexts.append(doc["context"])
        for index, entry in enumerate(doc["benchmarks"]):
            _add_entry(benchmarks, path, file_index, index, entry)
    return Run(list(paths), contexts, benchmarks)


def format_time_ns(ns):
    """Human time with 3 significant digits and a unit chosen for the value."""
    if ns is None or not math.isfinite(ns):
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def format_number(value):
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"
