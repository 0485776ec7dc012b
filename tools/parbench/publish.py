"""parbench-publish: keep main's benchmark history on a data branch of the repository, and restore it from there.

  publish   add one run (Google Benchmark JSON, plus the runner's noise record) as a file on the data branch and
            push it; a push that loses a race with another publish is rebuilt on the new tip and retried
  restore   read the data branch, check every file, and bring the SQLite history (--db, the cache) and a copy of
            the run files (--export, what parbench-dashboard reads) up to date with it

Both work in an existing clone (--repo, default .) and talk to its remote (--remote, default origin) with git's
own plumbing: no worktree, no checkout of the data branch, and the clone's credentials (those actions/checkout
leaves) are the ones used. The branch is created on the first publish. The data format is versioned and documented
in parbench/history_data.py and docs/tools.md; a damaged file on the branch is refused with a named error
(CorruptRunFile, UnsupportedFormat), never replaced. The SQLite database is only a speed-up: when it is missing,
damaged or disagrees with the branch it is rebuilt from the branch.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

from . import cli, history_data, history_db, noise

PROG = "parbench-publish"
IDENTITY = {"GIT_AUTHOR_NAME": "parbench-publish", "GIT_AUTHOR_EMAIL": "parbench-publish@users.noreply.github.com"}


class PublishError(Exception):
    """git could not fetch or push (not a race). One line."""


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 done, 2 usage, input or data error (a damaged file on the branch "
                                  "included) or a git failure, 70 internal error")
    sub = p.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    for name, text in (("publish", "add a run to the data branch"), ("restore", "read the data branch")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--repo", default=".", help="a clone of the repository (default .)")
        s.add_argument("--remote", default="origin", help="its remote: a name or URL (default origin)")
        s.add_argument("--branch", default="parbench-data", help="the data branch (default parbench-data)")
        s.add_argument("--db", default=None, help="bring this SQLite history (parbench-history) up to date")
        s.add_argument("--export", default=None, help="write the run files into this directory")
    s = sub.choices["publish"]
    s.add_argument("--commit", required=True, help="the commit the run measured (40 hex digits)")
    s.add_argument("--commit-time", default=None,
                   help="its commit time, ISO 8601 (default: from --repo's git, else the run's date)")
    s.add_argument("--machine", required=True, help="the runner class, e.g. github-ubuntu-latest")
    s.add_argument("--date", default=None, help="date of the run (default: the JSON's context date)")
    s.add_argument("--noise", default=None, help="the runner's noise record (parbench-noise-probe's JSON)")
    s.add_argument("--retries", type=cli.positive_int, default=8, help="pushes after a lost race (default 8)")
    s.add_argument("json", nargs="+", help="the run's Google Benchmark JSON file(s)")
    return p.parse_args(argv)


def git(repo, *args, stdin=None, env=None, check=True):
    try:
        proc = subprocess.run(["git", "-C", repo, *args], input=stdin, capture_output=True, check=False,
                              env={**IDENTITY, **os.environ, **env} if env is not None else None)
    except OSError as e:
        raise PublishError(f"cannot run git: {e.strerror or e}") from None
    if check and proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[-1]
        raise PublishError(f"git {args[0]} failed (status {proc.returncode}): {last}")
    return proc


def remote_tip(repo, remote, branch):
    """The branch's commit on the remote, fetched into the clone, or None when the branch does not exist."""
    out = git(repo, "ls-remote", "--heads", remote, f"refs/heads/{branch}").stdout.decode().split()
    if not out:
        return None
    git(repo, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/parbench/{branch}")
    return git(repo, "rev-parse", f"refs/parbench/{branch}").stdout.decode().strip()


def read_runs(repo, tip, branch):
    """{path: run} of every run file at tip, each checked; DataError naming the first bad one."""
    if tip is None:
        return {}
    names = [n for n in git(repo, "ls-tree", "-r", "-z", "--name-only", tip).stdout.decode().split("\0") if n]
    where = f"{branch} at {tip[:12]}"
    if "format.json" not in names:
        raise history_data.UnsupportedFormat(where, "no format.json: not a parbench data branch")
    blobs = _cat(repo, tip, names)
    history_data.check_format(blobs["format.json"].decode("utf-8", errors="replace"), f"format.json in {where}")
    runs = {}
    for name in names:
        if not name.startswith("runs/"):
            continue
        label = f"{name} in {where}"
        if not name.endswith(".json"):
            raise history_data.CorruptRunFile(label, "not a run file (runs/ holds only .json files)")
        try:
            text = blobs[name].decode("utf-8")
        except UnicodeDecodeError:
            raise history_data.CorruptRunFile(label, "not UTF-8 text") from None
        run = history_data.parse_run(text, label)
        if history_data.run_path(run) != name:
            raise history_data.CorruptRunFile(label, f"its content belongs at {history_data.run_path(run)}")
        runs[name] = run
    return runs


def _cat(repo, tip, names):
    """{name: bytes} of the blobs at tip, through one git cat-file --batch."""
    proc = git(repo, "cat-file", "--batch", stdin="".join(f"{tip}:{n}\n" for n in names).encode())
    out, pos, blobs = proc.stdout, 0, {}
    for name in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) != 3:
            raise PublishError(f"git cat-file: unexpected answer for {name}: {header!r}")
        size = int(header[2])
        blobs[name] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return blobs


def commit_files(repo, parent, files, message):
    """A commit on parent (None: a root commit) with files (path -> text) added or replaced; its id."""
    with tempfile.TemporaryDirectory(prefix="parbench-publish-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if parent:
            git(repo, "read-tree", parent, env=env)
        for path, text in files.items():
            blob = git(repo, "hash-object", "-w", "--stdin", stdin=text.encode("utf-8")).stdout.decode().strip()
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env).stdout.decode().strip()
    args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
    ident = {"GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", IDENTITY["GIT_AUTHOR_NAME"]),
             "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", IDENTITY["GIT_AUTHOR_EMAIL"])}
    return git(repo, *args, env=ident).stdout.decode().strip()


def load_run(args):
    from . import model
    run = model.load(args.json)
    ctx = run.contexts[0]
    benchmarks = {name: ([s.real_time_ns for s in b.samples], b.errored) for name, b in run.benchmarks.items()
                  if b.samples or b.errored}
    if not benchmarks:
        raise cli.InputError(f"{args.json[0]}: no per-repetition results to publish")
    date = args.date or str(ctx.get("date") or "")
    commit_time = args.commit_time
    if commit_time is None:
        proc = git(args.repo, "show", "-s", "--format=%cI", args.commit, check=False)
        commit_time = proc.stdout.decode().strip() if proc.returncode == 0 else date
    record = None
    if args.noise:
        try:
            import json
            with open(args.noise, encoding="utf-8") as f:
                record = noise.check(json.load(f), args.noise)
        except (OSError, ValueError) as e:
            raise cli.InputError(f"--noise {args.noise}: {e}") from None
    try:
        return history_data.make_run(args.commit, commit_time, date, args.machine,
                                     ",".join(os.path.basename(p) for p in args.json), benchmarks, record)
    except history_data.DataError as e:
        raise cli.InputError(f"the run cannot be published: {e}") from None


def cmd_publish(args):
    run = load_run(args)
    path = history_data.run_path(run)
    text = history_data.dumps(run)
    for attempt in range(args.retries + 1):
        tip = remote_tip(args.repo, args.remote, args.branch)
        runs = read_runs(args.repo, tip, args.branch)
        files = {path: text}
        if tip is None:
            files.update({"format.json": history_data.dumps(history_data.FORMAT),
                          "README.md": history_data.BRANCH_README})
        commit = commit_files(args.repo, tip, files,
                              f"parbench: run of {run['commit'][:12]} on {run['machine']}\n\n"
                              f"{len(run['benchmarks'])} benchmarks; {noise.describe(run['noise'])}")
        push = git(args.repo, "push", "--quiet", args.remote, f"{commit}:refs/heads/{args.branch}", check=False)
        if push.returncode == 0:
            runs[path] = run
            print(f"{PROG}: published {path} to {args.branch} ({len(runs)} runs on the branch"
                  + (f", after {attempt} lost race(s)" if attempt else "") + ")")
            sync(runs, args)
            return cli.EXIT_OK
        message = (push.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[-1]
        if remote_tip(args.repo, args.remote, args.branch) == tip:
            raise PublishError(f"git push to {args.remote} {args.branch} failed: {message}")
        print(f"{PROG}: the branch moved while publishing (another run was published): retrying on its new tip "
              f"(attempt {attempt + 2} of {args.retries + 1})", file=sys.stderr)
        time.sleep(random.uniform(0.05, 0.5) * (attempt + 1))
    raise PublishError(f"gave up after {args.retries + 1} attempts: the branch kept moving")


def cmd_restore(args):
    tip = remote_tip(args.repo, args.remote, args.branch)
    runs = read_runs(args.repo, tip, args.branch)
    print(f"{PROG}: {args.branch}: " + (f"{len(runs)} runs at {tip[:12]}" if tip else "no such branch yet "
                                        "(the first publish creates it): an empty history"))
    sync(runs, args)
    return cli.EXIT_OK


def sync(runs, args):
    ordered = sorted(runs.items(), key=lambda item: history_data.order_key(item[1]))
    if args.export:
        export(ordered, args.export)
    if args.db:
        sync_db(ordered, args.db)


def export(ordered, directory):
    cli.ensure_dir(os.path.abspath(directory), "--export")
    keep = set()
    for path, run in ordered:
        target = os.path.join(directory, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        cli.write_text(target, history_data.dumps(run), "--export")
        keep.add(os.path.normpath(target))
    for root, _, names in os.walk(os.path.join(directory, "runs")):
        for name in names:
            if os.path.normpath(os.path.join(root, name)) not in keep:
                os.remove(os.path.join(root, name))
    print(f"{PROG}: exported {len(ordered)} run files to {directory}")


def sync_db(ordered, path):
    """Add the runs the database lacks; rebuild it when it is damaged or its runs are not the branch's prefix."""
    cli.output_path(path, "--db")
    wanted: dict[str, list] = {}
    for _, run in ordered:
        wanted.setdefault(run["machine"], []).append(run["commit"])
    con, reason = None, None
    if os.path.exists(path):
        try:
            con = history_db.connect(path)
            for machine in history_db.machines(con):
                commits = [c for _, c, _ in history_db.runs(con, machine)]
                if commits != wanted.get(machine, [])[:len(commits)]:
                    reason = f"its runs of {machine} are not the branch's"
                    break
        except history_db.HistoryError as e:
            reason = str(e)
        if reason:
            if con is not None:
                con.close()
            os.remove(path)
            con = None
    if con is None:
        con = history_db.connect(path)
    have = {m: len(history_db.runs(con, m)) for m in history_db.machines(con)}
    added = 0
    seen: dict[str, int] = {}
    for _, run in ordered:
        m = run["machine"]
        seen[m] = seen.get(m, 0) + 1
        if seen[m] <= have.get(m, 0):
            continue
        history_db.add_run(con, run["commit"], m, run["date"], run["source"],
                           {n: (b["ns"], b["errored"]) for n, b in run["benchmarks"].items()})
        added += 1
    con.close()
    print(f"{PROG}: {path}: " + (f"rebuilt from the branch ({reason}); " if reason else "")
          + f"{added} runs added, {len(ordered)} in all")


def main(argv):
    args = parse_args(argv)
    try:
        return {"publish": cmd_publish, "restore": cmd_restore}[args.command](args)
    except (history_data.DataError, PublishError) as e:
        raise cli.InputError(str(e)) from None


def entry_point():
    sys.exit(cli.run(PROG, main))
