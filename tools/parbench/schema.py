"""The Google Benchmark (1.7.x) JSON format, as bench_parallel and tools/cpython_reference.py write it.

Readers (every parbench tool) call read_json() and entry() and get either checked values or an InputError whose
message is one line, ready for stderr. The writer (tools/cpython_reference.py) builds its entries with
iteration_entry(), error_entry() and aggregate_entries() and checks its document with check_document(), the same
code the readers run, before it writes it.

Standard library only, Python 3.8+: tools/cpython_reference.py imports this under whatever CPython runs it.
"""

import json
import math
import statistics
from collections import namedtuple

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
TIME_UNIT_PER_SECOND = {"ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1.0}

# Keys every GB entry may carry that are not user counters.
GB_ENTRY_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit", "label",
    "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "big_o", "rms",
}
RUN_TYPES = ("iteration", "aggregate")
# Aggregates that stand for a time (a location); the others (stddev, ...) may be 0.
LOCATION_AGGREGATES = ("mean", "median")

# Context key bench_parallel sets when a signal stopped the run: its value is the signal's name ("SIGINT").
INTERRUPTED_KEY = "parbench_interrupted"


class InputError(Exception):
    """Input that is not usable Google Benchmark output. The message is one line, ready for stderr."""


# One checked entry. kind: "iteration" or "aggregate"; time_ns: None for an errored entry and for an aggregate
# whose unit is not time (cv); counters: the finite user counters.
Entry = namedtuple("Entry", "name kind aggregate repetition errored error_message time_ns counters label")


def finite(value):
    """A JSON number that is neither a bool nor infinite nor NaN."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_json(path):
    """Parse a file as GB JSON (document and every entry checked) or raise InputError saying what is wrong."""
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
    except RecursionError:
        raise InputError(f"{path}: not Google Benchmark JSON (nested too deeply to read)") from None
    except ValueError as e:  # e.g. an integer longer than int() accepts
        raise InputError(f"{path}: not JSON ({str(e).splitlines()[0] if str(e) else 'bad value'})") from None
    check_document(doc, path)
    return doc


def check_document(doc, path):
    """Raise InputError unless doc has GB's shape and every benchmark entry passes entry()."""
    if not isinstance(doc, dict) or not isinstance(doc.get("context"), dict) \
            or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{path}: JSON but not Google Benchmark output "
                         "(expected an object with 'context' and 'benchmarks')")
    for index, raw in enumerate(doc["benchmarks"]):
        entry(path, index, raw)


def _bad(path, index, raw, what):
    return InputError(f"{path}: benchmark entry #{index} ({short(raw.get('name'))}) {what}")


def short(value, limit=80):
    """repr() of a value, cut to one short line."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def entry(path, index, raw):
    """Check one element of "benchmarks" and return its Entry; InputError naming the file and entry if unusable."""
    if not isinstance(raw, dict):
        raise InputError(f"{path}: benchmark entry #{index} is {short(raw, 40)}, not a Google Benchmark result "
                         "(an object with a name)")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise InputError(f"{path}: benchmark entry #{index} is not a Google Benchmark result (no name)")
    kind = raw.get("run_type", "iteration")
    if kind not in RUN_TYPES:
        raise _bad(path, index, raw, f"has run_type {short(kind)}, expected 'iteration' or 'aggregate'")
    name = raw["name"]
    if kind == "aggregate" and isinstance(raw.get("run_name"), str) and raw["run_name"]:
        name = raw["run_name"]
    repetition = raw.get("repetition_index", 0)
    if not isinstance(repetition, int) or isinstance(repetition, bool) or repetition < 0:
        raise _bad(path, index, raw, f"has repetition_index {short(repetition)}, expected an integer >= 0")
    errored = raw.get("error_occurred", False)
    if not isinstance(errored, bool):
        raise _bad(path, index, raw, f"has error_occurred {short(errored)}, expected true or false")
    aggregate = raw.get("aggregate_name", "") if kind == "aggregate" else None
    if aggregate is not None and not isinstance(aggregate, str):
        raise _bad(path, index, raw, f"has aggregate_name {short(aggregate)}, expected a string")
    label = raw.get("label", "")
    label = label if isinstance(label, str) else str(label)
    if errored:
        message = str(raw.get("error_message", "")).strip() or "(no message)"
        return Entry(name, kind, aggregate, repetition, True, message, None, {}, label)
    time_ns = None
    if kind == "iteration" or raw.get("aggregate_unit", "time") == "time":
        time_ns = _time_ns(path, index, raw, positive=kind == "iteration" or aggregate in LOCATION_AGGREGATES)
    counters = {k: v for k, v in raw.items() if k not in GB_ENTRY_KEYS and finite(v)}
    return Entry(name, kind, aggregate, repetition, False, "", time_ns, counters, label)


def _time_ns(path, index, raw, positive):
    unit = raw.get("time_unit", "ns")
    value = raw.get("real_time")
    if not isinstance(unit, str) or unit not in TIME_UNIT_NS or not finite(value):
        raise _bad(path, index, raw, "has no usable real_time/time_unit")
    ns = value * TIME_UNIT_NS[unit]
    if not math.isfinite(ns) or ns < 0 or (positive and ns == 0):
        need = "a positive" if positive else "a non-negative"
        raise _bad(path, index, raw, f"has real_time {short(value)} {unit}, expected {need} finite time")
    return float(ns)


def interrupted_by(context):
    """The signal that stopped a partial run ("SIGINT", ...), "" for an interrupted run that names none, None for
    a complete run."""
    if not isinstance(context, dict) or INTERRUPTED_KEY not in context:
        return None
    value = context[INTERRUPTED_KEY]
    return value if isinstance(value, str) and value.isprintable() and len(value) <= 32 else ""


def partial_note(path, context):
    """One line saying that a file holds a partial run, or None for a complete one."""
    signal = interrupted_by(context)
    if signal is None:
        return None
    why = f" (interrupted by {signal})" if signal else " (interrupted)"
    return f"{path}: partial run{why}: only the benchmarks that finished are in it"


# --------------------------------------------------------------------------------------------- writing

def _head(name, family, instance, run_name, run_type, repetitions):
    return {"name": name, "family_index": family, "per_family_instance_index": instance, "run_name": run_name,
            "run_type": run_type, "repetitions": repetitions}


def iteration_entry(name, family, instance, repetitions, index, iterations, real_s, cpu_s, time_unit, counters):
    """GB's entry for one repetition: times are seconds per batch of `iterations`, written per iteration."""
    e = _head(name, family, instance, name, "iteration", repetitions)
    e.update(repetition_index=index, threads=1, iterations=iterations,
             real_time=real_s / iterations * TIME_UNIT_PER_SECOND[time_unit],
             cpu_time=cpu_s / iterations * TIME_UNIT_PER_SECOND[time_unit], time_unit=time_unit)
    e.update(counters)
    return e


def error_entry(name, family, instance, repetitions, index, iterations, message, time_unit):
    """GB's SkipWithError shape: error fields, zero times, no counters."""
    e = _head(name, family, instance, name, "iteration", repetitions)
    e.update(repetition_index=index, threads=1, error_occurred=True, error_message=message,
             iterations=iterations, real_time=0.0, cpu_time=0.0, time_unit=time_unit)
    return e


def aggregate_entries(runs, counter_keys):
    """mean, median, stddev, cv over the non-error repetitions of one benchmark, as GB 1.7.1 writes them."""
    ok = [r for r in runs if not r.get("error_occurred")]
    if len(ok) < 2:
        return []

    def stddev(v):
        return statistics.stdev(v) if len(v) > 1 else 0.0

    def cv(v):
        mean = statistics.mean(v)
        return stddev(v) / mean if mean else 0.0

    stats = [("mean", "time", statistics.mean), ("median", "time", statistics.median),
             ("stddev", "time", stddev), ("cv", "percentage", cv)]
    first, entries = runs[0], []
    for name, unit, fn in stats:
        e = _head(first["run_name"] + "_" + name, first["family_index"], first["per_family_instance_index"],
                  first["run_name"], "aggregate", first["repetitions"])
        e.update(threads=1, aggregate_name=name, aggregate_unit=unit, iterations=len(runs))
        for key in ("real_time", "cpu_time"):
            e[key] = fn([r[key] for r in ok])
        e["time_unit"] = first["time_unit"]
        for key in counter_keys:
            e[key] = fn([r[key] for r in ok])
        entries.append(e)
    return entries
