"""What every parbench command line shares: exit statuses, one-line errors, warnings and output files.

Every tool, on any input, either does its job or prints one line on stderr and exits with a status below;
it never shows a traceback. A bug in a tool is an internal error with a status of its own, so that a crash is
never read as a verdict.
"""

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback
import typing

from .schema import InputError

EXIT_OK = 0
EXIT_REGRESSION = 1    # parbench-gate: at least one regression
EXIT_USAGE = 2         # usage or input error
EXIT_INCOMPLETE = 3    # parbench-gate: fewer benchmarks compared than asked for (nothing compared included)
EXIT_INTERNAL = 70     # a bug in the tool (sysexits' EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); SIGTERM and SIGHUP where a tool stops on them: 128 + the signal
EXIT_BROKEN_PIPE = 141  # stdout closed early, e.g. `| head` (128 + SIGPIPE)


class Stopped(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised from the signal handler wherever the tool is (stop_on_signals): a child in
    flight is killed (subprocess.run kills its child on any exception) and temporary directories are removed
    (their with blocks) on the way out; run() then exits with 128 + the signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals():
    """From now on SIGINT, SIGTERM (what a cancelled CI job sends) and SIGHUP raise Stopped."""
    def handler(signum, frame):
        raise Stopped(signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_child(cmd, timeout, **kwargs):
    """subprocess.run(cmd, timeout=timeout, check=False, **kwargs) that cannot leave its child running when the tool
    is stopped (stop_on_signals): the stop signals are held while the child starts, so that Stopped is raised once
    the child is known and can be killed. (subprocess.run kills its child on an exception in communicate, but one
    raised inside Popen, while it waits for the child's exec, leaves the child running.) The child starts with the
    tool's signal mask as it was."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    proc = None
    try:
        try:
            proc = subprocess.Popen(cmd, preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, before),
                                    **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)  # a stop signal held meanwhile is raised here
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        if proc is not None:
            proc.kill()
            proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


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
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"{prog}: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
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
    """Write text to path (checked with output_path), whole or not at all (atomic_open), or raise InputError."""
    with atomic_open(path, "w", what) as f:
        f.write(text)


def save_figure(fig, path, what="the plots", **options):
    """matplotlib's fig.savefig(path, **options), written like every other output file (atomic_open)."""
    with atomic_open(path, "wb", what) as f:
        fig.savefig(f, format=os.path.splitext(path)[1][1:] or "png", **options)


def _file(fd, binary) -> typing.IO[typing.Any]:
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8")


@contextlib.contextmanager
def atomic_open(path, mode="w", what="--out"):
    """A file object to write path's new contents to; path gets them only if the block ends without an error.

    Every tool's output goes through here (report, compare, merge, gate, history, order, the CPython reference):
    the contents go to a file with no name in path's directory (O_TMPFILE; where the file system has none, a
    hidden temporary name beside it), which is fsync'ed and renamed over path when complete. Until then path keeps
    what it held, whatever ends the tool (SIGKILL included); of two tools writing one path, the last to finish
    wins, whole. A path that exists and is not a regular file (/dev/null, /dev/full) is written in place. Any
    failure, a full disk included, is InputError: one line naming the path and the errno.
    """
    output_path(path, what)
    target = os.path.realpath(path)  # a symbolic link stays one: the file it names is replaced
    directory = os.path.dirname(target)
    binary = "b" in mode
    temp = None
    dir_fd = -1
    try:
        if os.path.exists(target) and not os.path.isfile(target):
            with _file(os.open(target, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC), binary) as f:
                yield f
            return
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
        except (OSError, AttributeError):
            fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.")
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with _file(fd, binary) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if temp is None:  # name the unnamed file beside the target (a link cannot replace one), then rename
                for attempt in range(100):
                    candidate = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.{attempt}")
                    try:  # a directory descriptor makes it linkat(..., AT_SYMLINK_FOLLOW), not link()
                        os.link(f"/proc/self/fd/{f.fileno()}", os.path.basename(candidate), dst_dir_fd=dir_fd,
                                follow_symlinks=True)
                        temp = candidate
                        break
                    except FileExistsError:
                        continue
                else:
                    raise FileExistsError(17, "no free temporary name")
        os.replace(temp, target)
        temp = None
        try:
            os.fsync(dir_fd)
        except OSError:
            pass  # a directory some file systems cannot sync: the rename is done either way
    except OSError as e:
        raise InputError(f"cannot write {what} {path}: {e.strerror or e}") from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
        if dir_fd >= 0:
            os.close(dir_fd)
