"""The durable history: one JSON file per run on a data branch (default `parbench-data`), format version 1.

The branch holds
  format.json                      {"format": "parbench-data", "version": 1}
  README.md                        what the branch is (written once)
  runs/<machine>/<time>-<commit12>.json   one run, below

A run file (UTF-8 JSON, one object):
  {"format": "parbench-run", "version": 1,
   "commit": "<40 hex>", "commit_time": "<ISO 8601 of the commit>", "date": "<ISO 8601 of the run>",
   "machine": "<runner class>", "source": "<the Google Benchmark file names>",
   "noise": <a parbench.noise record, or null>,
   "benchmarks": {"<name>": {"ns": [<real time of each repetition in ns>], "errored": false}, ...},
   "sha256": "<hex digest of the canonical JSON of every other key>"}
The canonical JSON is json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) in UTF-8.
A file that does not parse, lacks a key, has a value of the wrong kind or fails its digest is damaged: it is
refused (CorruptRunFile), never replaced. A version other than 1 is refused (UnsupportedFormat), so that an old
tool never rewrites a newer history.

The history's order is (commit_time, date, commit): on main, the order of the commits.

Standard library only.
"""

import hashlib
import json
import re

from . import noise

FORMAT = {"format": "parbench-data", "version": 1}
RUN_FORMAT, RUN_VERSION = "parbench-run", 1
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_MACHINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

BRANCH_README = """# parbench-data

The benchmark history of this repository's main branch, written by `tools/parbench-publish` (the `history` job of
`.github/workflows/bench.yml`): one JSON file per run under `runs/<machine>/`. The format is versioned
(`format.json`) and documented in `tools/parbench/history_data.py` and docs/tools.md. Do not edit these files by
hand: each carries a SHA-256 digest, and a file that fails it stops every later publish until it is repaired.
"""


class DataError(Exception):
    """A problem with the history data; str() is one line that starts with the error's name."""

    def __init__(self, where, message):
        super().__init__(f"{type(self).__name__}: {where}: {message}")


class CorruptRunFile(DataError):
    """A run file that does not parse, is malformed or fails its digest."""


class UnsupportedFormat(DataError):
    """format.json, or a run file, of a format or version this tool does not know."""


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(run):
    return hashlib.sha256(canonical({k: v for k, v in run.items() if k != "sha256"})).hexdigest()


def make_run(commit, commit_time, date, machine, source, benchmarks, noise_record=None):
    """A run record, digest included. benchmarks: name -> (list of ns, errored)."""
    run = {"format": RUN_FORMAT, "version": RUN_VERSION, "commit": commit, "commit_time": commit_time,
           "date": date, "machine": machine, "source": source, "noise": noise_record,
           "benchmarks": {name: {"ns": [float(v) for v in values], "errored": bool(errored)}
                          for name, (values, errored) in sorted(benchmarks.items())}}
    run["sha256"] = digest(run)
    check_run(run, "new run")
    return run


def run_path(run):
    stamp = re.sub(r"[^0-9]", "", run["commit_time"])[:14] or "0"
    return f"runs/{run['machine']}/{stamp}-{run['commit'][:12]}.json"


def dumps(run):
    return json.dumps(run, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def check_format(text, where="format.json"):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise CorruptRunFile(where, f"not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT["format"]:
        raise UnsupportedFormat(where, f"not a parbench data branch: {str(doc)[:80]}")
    if doc.get("version") != FORMAT["version"]:
        raise UnsupportedFormat(where, f"data format version {doc.get('version')!r}; this tool reads version "
                                       f"{FORMAT['version']} (update the tools)")


def _require(cond, where, message):
    if not cond:
        raise CorruptRunFile(where, message)


def check_run(run, where):
    """run if it is a valid run record, else CorruptRunFile / UnsupportedFormat naming where."""
    _require(isinstance(run, dict), where, "not a JSON object")
    if run.get("format") != RUN_FORMAT:
        raise CorruptRunFile(where, f"format is {run.get('format')!r}, not {RUN_FORMAT!r}")
    if run.get("version") != RUN_VERSION:
        raise UnsupportedFormat(where, f"run format version {run.get('version')!r}; this tool reads "
                                       f"{RUN_VERSION}")
    _require(isinstance(run.get("commit"), str) and _HEX40.match(run["commit"]), where,
             "commit is not 40 lower-case hex digits")
    for key in ("commit_time", "date", "source"):
        _require(isinstance(run.get(key), str), where, f"{key} is not a string")
    _require(isinstance(run.get("machine"), str) and _MACHINE.match(run["machine"]), where,
             "machine is not a name of letters, digits, '.', '_' and '-'")
    if run.get("noise") is not None:
        try:
            noise.check(run["noise"], where)
        except ValueError as e:
            raise CorruptRunFile(where, str(e).split(": ", 1)[-1]) from None
    benchmarks = run.get("benchmarks")
    _require(isinstance(benchmarks, dict) and benchmarks, where, "benchmarks is not a non-empty object")
    for name, b in benchmarks.items():
        _require(isinstance(b, dict) and isinstance(b.get("ns"), list) and isinstance(b.get("errored"), bool),
                 where, f"benchmark {name!r} is not {{\"ns\": [...], \"errored\": bool}}")
        _require(all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf")
                     for v in b["ns"]), where, f"benchmark {name!r} has a time that is not a positive number")
    _require(isinstance(run.get("sha256"), str), where, "no sha256 digest")
    actual = digest(run)
    _require(actual == run["sha256"], where,
             f"digest mismatch: the file says {run['sha256'][:12]}…, its content gives {actual[:12]}… "
             "(edited or damaged)")
    return run


def parse_run(text, where):
    try:
        run = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CorruptRunFile(where, f"not JSON ({e})") from None
    return check_run(run, where)


def order_key(run):
    return (run["commit_time"], run["date"], run["commit"], run["machine"])
