"""What every parbench command line shares: exit statuses, one-line errors, warnings and output files.

Every tool, on any input, either does its job or prints one line on stderr and exits with a status below;
it never shows a traceback. A bug in a tool is an internal error with a status of its own, so that a crash is
never read as a verdict.
"""

import argparse
import os
import re
import sys
import traceback

from .schema import InputError

EXIT_OK = 0
EXIT_REGRESSION = 1    # parbench-gate: at least one regression
EXIT_USAGE = 2         # usage or input error
EXIT_INCOMPLETE = 3    # parbench-gate: fewer benchmarks compared than asked for (nothing compared included)
EXIT_INTERNAL = 70     # a bug in the tool (sysexits' EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # stdout closed early, e.g. `| head` (128 + SIGPIPE)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line usage error: 'prog: error: ... (see --help)', exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def fraction(text):
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def regex(text):
    """argparse type: a compiled regular expression."""
    try:
        return re.compile(text)
    except (re.error, RecursionError, OverflowError) as e:
        raise argparse.ArgumentTypeError(f"bad regular expression {text!r}: {e}") from None


def one_line(text):
    return " ".join(str(text).split()) or "(no message)"


def warn(prog, message):
    print(f"{prog}: warning: {one_line(message)}", file=sys.stderr)


def run(prog, main, argv=None):
    """Call main(argv) and turn whatever escapes it into one line and an exit status."""
    try:
        return main(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        print(f"{prog}: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout's reader went away (e.g. `| head`): nothing more to say; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except MemoryError:
        print(f"{prog}: out of memory (an input too large for this machine?)", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001  (anything else is a bug: one line, its own status)
        where = traceback.extract_tb(e.__traceback__)[-1]
        print(f"{prog}: internal error: {type(e).__name__}: {one_line(e)} "
              f"(at {os.path.basename(where.filename)}:{where.lineno}; please report)", file=sys.stderr)
        return EXIT_INTERNAL


def output_path(path, what="--out"):
    """Check that a file can be written at path, creating its directory if only that last level is missing.

    Never creates directories further up: `--out /nonexistent/dir/x.md` is refused (InputError).
    """
    if os.path.isdir(path):
        raise InputError(f"cannot write {what} {path}: it is a directory")
    ensure_dir(os.path.dirname(os.path.abspath(path)), what)
    return path


def ensure_dir(directory, what):
    """Create directory when its parent exists; InputError when it cannot be."""
    if os.path.isdir(directory):
        return directory
    parent = os.path.dirname(directory)
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {what}: directory {parent} does not exist")
    try:
        os.mkdir(directory)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise InputError(f"cannot write {what}: {directory} exists and is not a directory") from None
    except OSError as e:
        raise InputError(f"cannot create {directory} for {what}: {e.strerror or e}") from None
    return directory


def emit(text, out=None):
    """Write text to the file out (the --out option; checked like write_text) or, without one, to stdout."""
    if out:
        write_text(out, text)
    else:
        sys.stdout.write(text)


def write_text(path, text, what="--out"):
    """Write text to path (checked with output_path) or raise InputError."""
    output_path(path, what)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise InputError(f"cannot write {what} {path}: {e.strerror or e}") from None
