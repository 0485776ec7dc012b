"""The command line of tools/cpython_reference.py: arguments, the benchmarks they select, the JSON written."""

import argparse
import collections
import json
import multiprocessing
import os
import subprocess
import sys

from .. import cli, schema
from .measuring import BenchmarkRun, context, schedule
from .kernels import KERNELS
from .strategies import START_METHODS
from .suite import strategies_for, DEFAULT_CASES, QUICK_CASES, SEED_CASES, SEED_SLEEP_MS, build_benchmarks


# bench_parallel's limit on a worker count (parbench::max_workers, include/parbench/error.hpp).
MAX_WORKERS = 65536


def worker_list(text):
    """argparse type of --workers, by bench_parallel's rule for --parbench_workers (src/options.cpp): counts
    in [1, MAX_WORKERS] in decimal digits, separated by single commas, none twice, at least one; the same
    messages. Sorted, so that the benchmarks run in the order of their worker counts."""
    values = []
    while text:
        part, _, text = text.partition(",")
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= MAX_WORKERS:
            raise argparse.ArgumentTypeError("'%s' is not a worker count in [1, %d]" % (part, MAX_WORKERS))
        if int(part) in values:
            raise argparse.ArgumentTypeError("%d is given twice" % int(part))
        values.append(int(part))
    if not values:
        raise argparse.ArgumentTypeError("needs a list such as 1,2,4")
    return sorted(values)


def start_method_list(text):
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in START_METHODS]
    if not methods or unknown:
        raise argparse.ArgumentTypeError("start methods must be among %s, got %r"
                                         % (",".join(START_METHODS), text))
    return list(dict.fromkeys(methods))


def non_negative_float(text):
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, got %r" % text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a finite number >= 0, got %r" % text)
    return value


def positive_float(text):
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got %r" % text)
    return value


def parse_args(argv):
    parser = cli.ArgumentParser(
        description="Run the seeds' experiments under CPython (threading, multiprocessing, "
                    "concurrent.futures) and write Google Benchmark JSON.")
    parser.add_argument("--out", metavar="FILE", help="write the JSON here (default stdout)")
    parser.add_argument("--filter", type=cli.regex, metavar="REGEX",
                        help="run only benchmarks whose name matches (re.search)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true",
                       help="tiny sizes and --min-time 0.01 (under a minute; for ctest)")
    sizes.add_argument("--seed-sizes", action="store_true",
                       help="the seeds' own sizes and worker counts (many minutes)")
    parser.add_argument("--workers", type=worker_list, metavar="W,W,...",
                        help="worker counts (default 1,2 and the CPU count)")
    parser.add_argument("--start-methods", type=start_method_list, metavar="M,M,...",
                        help="start methods of the process strategies (default: for the seeds' kernels all "
                             "this interpreter offers, %s; for the others its default, %s)"
                             % (",".join(START_METHODS), multiprocessing.get_start_method()))
    parser.add_argument("--repetitions", type=cli.positive_int,
                        help="repetitions per benchmark (default 5, 1 with --quick): the report's estimate is "
                             "the fastest, "
                             "its interval reaches the next (docs/tools.md, 'Speedups on a busy machine')")
    parser.add_argument("--min-time", type=non_negative_float, metavar="S",
                        help="seconds a batch of iterations must last (default 0.1)")
    parser.add_argument("--sleep-ms", type=non_negative_float, metavar="MS",
                        help="sleep per task of sleep_tasks (default 1; 3000 with --seed-sizes)")
    parser.add_argument("--socket-timeout-ms", type=positive_float, metavar="MS", default=5000.0,
                        help="the socket kernels' longest wait for a connect or an answer (default 5000, as in "
                             "bench_parallel)")
    parser.add_argument("--payload-work", type=cli.positive_int, metavar="STEPS",
                        help="the payload kernels' work per run, in chain steps spread over its elements (default: "
                             "payload 2^20, 2^14 with --quick; payload.numpy 2^25, 2^12 with --quick)")
    parser.add_argument("--interleave", action=argparse.BooleanOptionalAction, default=True,
                        help="run the repetitions in shuffled rounds, as bench_parallel does (GB's "
                             "--benchmark_enable_random_interleaving; the default); --no-interleave runs each "
                             "benchmark's repetitions together")
    parser.add_argument("--python", metavar="PATH",
                        help="run the reference under this interpreter instead (e.g. a free-threaded "
                             "python3.13t); the JSON records its version and whether its GIL is enabled")
    parser.add_argument("--list", action="store_true", help="print the names and exit")
    parser.add_argument("--inject-fault", choices=["crash", "wrong"], help=argparse.SUPPRESS)
    parser.add_argument("--inject-server-fault", choices=["refuse", "mute", "die"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.1
    if args.repetitions is None:
        args.repetitions = 1 if args.quick else 5
    if args.sleep_ms is None:
        args.sleep_ms = SEED_SLEEP_MS if args.seed_sizes else 1.0
    # --workers given applies to every case; otherwise a case's own counts, or these.
    args.default_workers = [1, 2] if args.quick else sorted({1, 2, os.cpu_count() or 1})
    args.parser = parser
    return args


def selected_benchmarks(args):
    cases = SEED_CASES if args.seed_sizes else QUICK_CASES if args.quick else DEFAULT_CASES
    benches = build_benchmarks(cases, args.workers, args.start_methods, args.default_workers)
    if args.filter is not None:
        benches = [b for b in benches if args.filter.search(b.name)]
    return benches


def family_indices(benches):
    """GB numbers families (kernel, strategy) and instances in order among those run."""
    families: dict = {}
    counts: collections.Counter = collections.Counter()
    indices = []
    for b in benches:
        family = families.setdefault((b.kernel, b.strategy), len(families))
        indices.append((family, counts[family]))
        counts[family] += 1
    return indices


def write_json(document, path):
    schema.check_document(document, path or "<stdout>")  # what the readers will check, checked before writing
    text = json.dumps(document, indent=2) + "\n"
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        cli.write_text(path, text)


def without_python(argv):
    """argv less its --python PATH (or --python=PATH)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--python":
            skip = True
        elif not a.startswith("--python="):
            out.append(a)
    return out


def run_under(python, argv, parser):
    """Runs this reference under another interpreter with the same arguments; its exit status."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        parser.error("--python: %r is not an executable file" % python)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                          "cpython_reference.py")
    try:
        return subprocess.run([python, os.path.normpath(script)] + without_python(argv)).returncode
    except OSError as err:
        parser.error("--python: cannot run %r: %s" % (python, err.strerror))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.python is not None:
        return run_under(args.python, argv, args.parser)
    benches = selected_benchmarks(args)
    if not benches:
        args.parser.error("no benchmark matches --filter %r" % args.filter.pattern)
    if args.list:
        for b in benches:
            print(b.name)
        return 0
    if args.out not in (None, "-"):
        try:  # before minutes of measuring, not after
            cli.output_path(args.out)
        except schema.InputError as err:
            args.parser.error(str(err))

    def log(line):
        print(line, file=sys.stderr, flush=True)

    runners = [BenchmarkRun(bench, family, instance, args)
               for bench, (family, instance) in zip(benches, family_indices(benches))]
    for runner, rep in schedule(runners, args.repetitions, args.interleave):
        runner.repetition(rep, log)
    used = {getattr(strategies_for(KERNELS[b.kernel].kind)[b.strategy], "method", None) for b in benches}
    methods_run = [m for m in START_METHODS if m in used]
    document = collections.OrderedDict([("context", context(args, methods_run)), ("benchmarks", [])])
    for runner in runners:
        document["benchmarks"].extend(runner.entries())
    write_json(document, args.out)
    errors = [e for e in document["benchmarks"] if e.get("error_occurred")]
    if errors:
        log("%d benchmark run(s) failed" % len(errors))
        return 1
    return 0
