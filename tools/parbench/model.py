"""Benchmarks, samples and runs, read from one or more Google Benchmark JSON files; kernel benchmark names.

A *benchmark* is one name (without the ``_mean``/``_median``... aggregate suffixes). It holds per-repetition
*samples* (``run_type: iteration``), the aggregates GB printed, and the errors of the repetitions that failed
(``error_occurred``). A sample belongs to a *round*: ``(file index, repetition index)``, so that runs from several
files never pretend to be the same repetition.
"""

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from . import estimate, schema

# bench_parallel kernel benchmarks: <kernel>/<strategy>/workers:W/n:N[/real_time], where Google Benchmark may
# insert the segments it derives from a benchmark's settings (MinTime gives /min_time:0.020, and so on).
KERNEL_NAME_RE = re.compile(
    r"^(?P<kernel>[^/]+)/(?P<strategy>[^/]+)/workers:(?P<workers>[0-9]{1,18})/n:(?P<n>[0-9]{1,18})"
    r"(?:/(?:min_time|min_warmup_time|iterations|repeats|threads):[^/]+)*"
    r"(?:/(?:process_time|manual_time))?(?:/real_time)?$")
# Families that are never kernel benchmarks even if a future name happens to match the pattern above.
OTHER_FAMILIES = {"overhead", "gil"}
CPYTHON_PREFIX = "cpython."


@dataclass
class Sample:
    round: tuple          # (file index, repetition index)
    real_time_ns: float
    counters: dict
    state: str = ""       # the CPUs' state across it (estimate.state_of), set by load()


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
        return self._aggregate()[0]

    def sample_times_ns(self):
        """Every repetition's time; GB's own median (or mean) alone when only aggregates were written."""
        if not self.usable:
            return []
        if self.samples:
            return [s.real_time_ns for s in self.samples]
        return [self._aggregate()[0]]

    def sample_states(self):
        """(time, CPU state) of every repetition; [] where only aggregates were written."""
        return [(s.real_time_ns, s.state) for s in self.samples] if self.usable else []

    def time_estimate(self):
        """The benchmark's undisturbed time and its interval (estimate.py), None without usable data: from the
        repetitions, or, in a file written with aggregates only, from bench_parallel's own aggregates
        ``fastest``, ``fastest_low`` and ``fastest_high`` (the same estimate)."""
        if not self.samples and self.usable and {"fastest", "fastest_low", "fastest_high"} <= set(self.aggregates):
            value, low, high = (self.aggregates[k][0] for k in ("fastest", "fastest_low", "fastest_high"))
            repetitions = len(self.sample_times_ns())
            if 0 < low <= value <= high:
                return estimate.Estimate(value, low, high, repetitions)
        return estimate.time_estimate(self.sample_times_ns())

    def counter_median(self, key):
        if not self.usable:
            return None
        if self.samples:
            values = [s.counters[key] for s in self.samples if schema.finite(s.counters.get(key))]
            return statistics.median(values) if values else None
        value = self._aggregate()[1].get(key)
        return value if schema.finite(value) else None

    def counters_median(self):
        """Median of every counter; {} for a benchmark without usable data."""
        if not self.usable:
            return {}
        keys = sorted({k for s in self.samples for k in s.counters}) if self.samples else \
            sorted(self._aggregate()[1])
        values = {k: self.counter_median(k) for k in keys}
        return {k: v for k, v in values.items() if v is not None}

    def _aggregate(self):
        return self.aggregates["median"] if "median" in self.aggregates else self.aggregates["mean"]


@dataclass
class Run:
    """One or more GB JSON files read together."""
    paths: list
    contexts: list        # one context dict per file, same order as paths
    benchmarks: dict      # name -> Benchmark, in first-seen order
    calm_probe: float | None = None   # the run's calm probe (estimate.calm_reference), which states are read against

    def partial_notes(self):
        """One line per file that holds a partial (interrupted) run."""
        notes = (schema.partial_note(path, ctx) for path, ctx in zip(self.paths, self.contexts))
        return [note for note in notes if note]


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


# Older bench_parallel runs measured the baseline a second time under this suffix (sequential.after). The same
# loop at another moment of the run: its samples join the baseline's.
AFTER = ".after"


def fold_baselines(cells):
    """Folds a baseline's second measurement (``sequential.after``, from older runs) into the baseline's samples."""
    for strategy, workers in [key for key in cells if key[0].endswith(AFTER)]:
        base = strategy[:-len(AFTER)]
        if is_baseline(base):
            after = cells.pop((strategy, workers))
            first = cells.get((base, 1))
            if first is None:
                cells[(base, 1)] = after
            else:
                merged = Benchmark(first.name, first.samples + after.samples, first.errors + after.errors,
                                   dict(first.aggregates), first.label)
                cells[(base, 1)] = merged


def parse_kernel_name(name):
    """KernelId for a kernel benchmark name, None for any other family (overhead, gil, unknown)."""
    m = KERNEL_NAME_RE.match(name)
    if not m or m.group("kernel") in OTHER_FAMILIES:
        return None
    return KernelId(m.group("kernel"), m.group("strategy"), int(m.group("workers")), int(m.group("n")))


def _add_entry(benchmarks, file_index, e):
    bench = benchmarks.setdefault(e.name, Benchmark(e.name))
    if e.label:
        bench.label = e.label
    round_ = (file_index, e.repetition)
    if e.errored:
        bench.errors.append((round_, e.error_message))
    elif e.kind == "aggregate":
        if e.time_ns is not None:
            bench.aggregates[e.aggregate] = (e.time_ns, e.counters)
    else:
        bench.samples.append(Sample(round_, e.time_ns, e.counters))


def load(paths):
    """Read one or more GB JSON files into one Run (InputError on the first bad file)."""
    contexts: list[dict] = []
    benchmarks: dict[str, Benchmark] = {}
    for file_index, path in enumerate(paths):
        doc = schema.read_json(path)
        contexts.append(doc["context"])
        for index, raw in enumerate(doc["benchmarks"]):
            _add_entry(benchmarks, file_index, schema.entry(path, index, raw))
    return Run(list(paths), contexts, benchmarks, _set_states(benchmarks.values()))


def _workers(name):
    """W of a matrix benchmark's name, else 1."""
    m = KERNEL_NAME_RE.match(name)
    return int(m["workers"]) if m else 1


def _set_states(benchmarks):
    """Every sample's CPU state against the calm probe of all the files read together, over the benchmarks that
    did not error (the console's summary does the same, src/progress.cpp); returns that calm probe."""
    ok = [b for b in benchmarks if not b.errored]
    reference = estimate.calm_reference(s.counters.get("probe_best_ns") for b in ok for s in b.samples)
    for b in benchmarks:
        for s in b.samples:
            s.state = estimate.state_of(s.counters.get("probe_ns"), s.counters.get("probe_best_ns"), reference,
                                        s.counters.get("utilisation"), s.counters.get("probe_bound_ns"),
                                        _workers(b.name), s.real_time_ns)
    return reference


# --------------------------------------------------------------------------------------------- kernel tables

SUITE_TITLES = {"native": "C++", "cpython": "CPython reference"}


def is_baseline(strategy):
    return strategy == baseline_of(strategy)


def config_label(strategy, workers):
    return strategy if is_baseline(strategy) else f"{strategy} ×{workers}"


def index_kernels(run):
    """kernel -> n -> {(strategy, workers): Benchmark}; plus the benchmarks of other families."""
    kernels: dict[str, dict[int, dict]] = defaultdict(lambda: defaultdict(dict))
    others = []
    for name, bench in run.benchmarks.items():
        kid = parse_kernel_name(name)
        if kid is None:
            others.append(bench)
        else:
            kernels[kid.kernel][kid.n][(kid.strategy, kid.workers)] = bench
    for by_n in kernels.values():
        for cells in by_n.values():
            fold_baselines(cells)
    return kernels, others


def suites_in(by_n):
    return sorted({suite_of(s) for cells in by_n.values() for (s, _) in cells}, key=list(SUITE_TITLES).index)


def sizes_for(by_n, suite):
    return sorted(n for n, cells in by_n.items() if any(suite_of(s) == suite for s, _ in cells))


def hardware_threads(run):
    """The machine's hardware threads from the first context that gives a usable count, else None."""
    for ctx in run.contexts:
        for key in ("hardware_threads", "num_cpus"):
            value = ctx.get(key)
            if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 1 << 30:
                return value
    return None
