"""parbench-merge: merge per-round Google Benchmark JSON files into one file with one repetition per round.

tools/ab-bench.sh runs each side once per round (A B A B ...), each run writing its own JSON with a single
repetition. parbench-compare needs those rounds as repetitions of one benchmark, so this tool concatenates the
per-repetition entries, renumbers repetition_index in round order (0, 1, 2, ...) and sets repetitions to the
number of entries merged for each benchmark. Aggregates (_mean, _median, ...) are dropped: they summarise a
single round and would be wrong for the merged file. Errored entries are kept, with their round's index.

Exit status: 0 merged; 2 usage or input error (a file that is not Google Benchmark JSON, or a file without
per-repetition entries); 70 internal error.
"""

import json
import sys
from collections import Counter, defaultdict

from . import cli, schema

PROG = "parbench-merge"


def iteration_entries(path, doc):
    """The per-repetition entries of one round; refuses a round whose results exist only as aggregates."""
    checked = [(raw, schema.entry(path, index, raw)) for index, raw in enumerate(doc["benchmarks"])]
    entries = [raw for raw, e in checked if e.kind == "iteration"]
    have = {raw["name"] for raw in entries}
    aggregated = [e.name for _, e in checked if e.kind == "aggregate" and e.name not in have]
    if aggregated or not entries:
        what = f"{aggregated[0]} has aggregates only" if aggregated else "no benchmark ran"
        raise schema.InputError(f"{path}: no per-repetition entries to merge ({what}; "
                                "run without --benchmark_report_aggregates_only)")
    return entries


def merge_docs(paths, docs):
    """-> merged GB document. Entries keep their first-seen order of names, then round order."""
    by_name: dict[str, list] = defaultdict(list)
    next_index: Counter[str] = Counter()
    for path, doc in zip(paths, docs):
        for entry in iteration_entries(path, doc):
            entry = dict(entry)
            name = entry["name"]
            entry["repetition_index"] = next_index[name]
            next_index[name] += 1
            by_name[name].append(entry)
    for name, entries in by_name.items():
        for entry in entries:
            entry["repetitions"] = len(entries)
    context = dict(docs[0]["context"])
    context["parbench_merged_rounds"] = str(len(paths))
    partial = [doc["context"][schema.INTERRUPTED_KEY] for doc in docs
               if schema.interrupted_by(doc["context"]) is not None]
    if partial:  # a merged file holding an interrupted round is partial too
        context[schema.INTERRUPTED_KEY] = partial[0]
    return {"context": context, "benchmarks": [e for entries in by_name.values() for e in entries]}


def context_warnings(docs):
    """Rounds from different hosts or binaries are not repetitions of one experiment: say so."""
    warnings = []
    contexts = [doc["context"] for doc in docs]
    for key in ("host_name", "executable", "parbench_version", "build_type"):
        values = {str(c.get(key)) for c in contexts}
        if len(values) > 1:
            warnings.append(f"rounds differ in {key}: {', '.join(sorted(values))}")
    return warnings


def main(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                           epilog="Exit status: 0 merged; 2 usage or input error; 70 internal error.")
    p.add_argument("rounds", nargs="+", metavar="ROUND.json", help="per-round JSON files, in round order")
    p.add_argument("--out", metavar="FILE", help="merged JSON (default: stdout)")
    args = p.parse_args(argv)
    docs = [schema.read_json(path) for path in args.rounds]
    merged = merge_docs(args.rounds, docs)
    if args.out:
        cli.output_path(args.out)
    notes = [schema.partial_note(path, doc["context"]) for path, doc in zip(args.rounds, docs)]
    for w in [note for note in notes if note] + context_warnings(docs):
        cli.warn(PROG, w)
    cli.emit(json.dumps(merged, indent=2) + "\n", args.out)
    return cli.EXIT_OK


def entry_point():
    """tools/parbench-merge."""
    sys.exit(cli.run(PROG, main))
