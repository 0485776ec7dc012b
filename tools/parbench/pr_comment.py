"""parbench-pr-comment: the gate's verdict as one pull-request comment, updated in place.

  body   from the gate's output directory (verdicts.json, noise.json), write the comment's Markdown: a short table
         of the regressions, undecided, errored benchmarks and improvements with their effects and 95% intervals,
         how noisy the runner was, and a link to the full summary. When every benchmark is "no change" there is
         nothing to say: no body is written (an earlier one at --out is removed) and the status is still 0.
  post   create or update the one comment of the pull request that carries the hidden marker, through GitHub's
         REST API (GITHUB_TOKEN). Without a body it only updates an existing comment to say the latest gate found
         no change. When the token may not write (a pull request from a fork), it says why in the job summary
         ($GITHUB_STEP_SUMMARY) and exits 0: a missing comment never fails the gate.

Standard library only.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from . import cli

PROG = "parbench-pr-comment"
MARKER = "<!-- parbench-gate-comment -->"
SHOWN = ("regression", "undecided", "errored", "improvement")
MAX_ROWS = 15


def parse_args(argv):
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="exit status: 0 done (a body written or nothing to say; posted or, for a token "
                                  "that cannot write, skipped with a line in the job summary), 2 usage or input "
                                  "error, or an API error other than a refused permission, 70 internal error")
    sub = p.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    b = sub.add_parser("body", help="write the comment's Markdown")
    b.add_argument("--gate-out", required=True, help="the gate's output directory (verdicts.json, noise.json)")
    b.add_argument("--summary-url", default=None, help="link to the full summary (the workflow run)")
    b.add_argument("--out", required=True, help="where to write the body (removed when there is nothing to say)")
    s = sub.add_parser("post", help="create or update the pull request's comment")
    s.add_argument("--body", required=True, help="the body file; when it does not exist only an existing comment "
                                                 "is updated")
    s.add_argument("--repo", required=True, help="owner/name")
    s.add_argument("--pr", required=True, type=cli.positive_int, help="the pull request's number")
    s.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    s.add_argument("--token-env", default="GITHUB_TOKEN", help="environment variable holding the token")
    return p.parse_args(argv)


def _pct(x):
    return f"{x * 100:+.1f}%"


def load_verdicts(directory):
    path = os.path.join(directory, "verdicts.json")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise cli.InputError(f"{path}: cannot read the gate's verdicts ({e})") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) and isinstance(v.get("verdict"), str)
                                            for v in doc.values()):
        raise cli.InputError(f"{path}: not the gate's verdicts ({{benchmark: {{\"verdict\": ...}}}})")
    return doc


def load_noise(directory):
    from . import noise
    path = os.path.join(directory, "noise.json")
    try:
        with open(path, encoding="utf-8") as f:
            return noise.check(json.load(f), path)
    except (OSError, ValueError):
        return None


def body(verdicts, runner=None, summary_url=None):
    """The comment's Markdown, or None when every benchmark is 'no change'."""
    from . import noise
    rows = [(name, v) for kind in SHOWN for name, v in sorted(verdicts.items()) if v["verdict"] == kind]
    if not rows:
        return None
    count = {k: sum(v["verdict"] == k for v in verdicts.values()) for k in (*SHOWN, "no change")}
    head = ("**regression**" if count["regression"] else
            "no regression" + (", some benchmarks undecided" if count["undecided"] else ""))
    lines = [MARKER, f"### Benchmark gate: {head}", "",
             f"{len(verdicts)} benchmarks: " + ", ".join(f"{count[k]} {k}" for k in (*SHOWN, "no change")
                                                         if count[k]) + ".",
             noise.sentence(runner) if runner else "The runner's noise was not measured.", "",
             "| benchmark | verdict | effect | 95% interval | rounds |", "|---|---|---|---|---|"]
    for name, v in rows[:MAX_ROWS]:
        effect = _pct(v["effect"]) if isinstance(v.get("effect"), (int, float)) else "–"
        ci = v.get("ci95")
        interval = (f"{_pct(ci[0])} … {_pct(ci[1])}" if isinstance(ci, list) and len(ci) == 2
                    and all(isinstance(x, (int, float)) for x in ci) else "–")
        lines.append(f"| `{name}` | {v['verdict']} | {effect} | {interval} | {v.get('rounds', '–')} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"| … and {len(rows) - MAX_ROWS} more | | | | |")
    lines += ["", "Effect: head's time over base's, minus 1 (positive is slower). "
              + (f"[Full summary]({summary_url}) (the gate's job summary; gate.md, verdicts and runs in its "
                 "artifact)." if summary_url else "The full summary is in the gate job's summary.")]
    return "\n".join(lines) + "\n"


def cmd_body(args):
    text = body(load_verdicts(args.gate_out), load_noise(args.gate_out), args.summary_url)
    if text is None:
        if os.path.exists(args.out):
            os.remove(args.out)
        print(f"{PROG}: nothing changed (every benchmark is 'no change'): no comment")
        return cli.EXIT_OK
    cli.write_text(args.out, text)
    print(f"{PROG}: wrote the comment to {args.out}")
    return cli.EXIT_OK


class Api:
    def __init__(self, base, token):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method, path, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json", "User-Agent": PROG})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode("utf-8")
        return json.loads(text) if text else None


def _job_summary(line):
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n\n")


def cmd_post(args):
    token = os.environ.get(args.token_env)
    text = None
    if os.path.exists(args.body):
        with open(args.body, encoding="utf-8") as f:
            text = f.read()
    if not token:
        why = f"no token in ${args.token_env}"
        print(f"{PROG}: cannot comment: {why}", file=sys.stderr)
        _job_summary(f"The gate could not comment on the pull request: {why}.")
        return cli.EXIT_OK
    api = Api(args.api_url, token)
    issue = f"/repos/{args.repo}/issues"
    try:
        existing = None
        for page in range(1, 51):
            comments = api.call("GET", f"{issue}/{args.pr}/comments?per_page=100&page={page}")
            existing = next((c for c in comments if MARKER in (c.get("body") or "")), None)
            if existing or len(comments) < 100:
                break
        if text is None and existing is None:
            print(f"{PROG}: nothing to post and no earlier comment")
            return cli.EXIT_OK
        if text is None:
            text = (f"{MARKER}\n### Benchmark gate: no change\n\nThe latest gate found no regression, improvement "
                    "or undecided benchmark (an earlier run had; this comment is updated in place).\n")
        if existing:
            api.call("PATCH", f"{issue}/comments/{existing['id']}", {"body": text})
            print(f"{PROG}: updated comment {existing['id']} on #{args.pr}")
        else:
            made = api.call("POST", f"{issue}/{args.pr}/comments", {"body": text})
            print(f"{PROG}: created comment {made['id']} on #{args.pr}")
    except urllib.error.HTTPError as e:
        if e.code in (401, 403, 404):
            why = (f"the token may not write to this pull request (HTTP {e.code}: a pull request from a fork gets a "
                   "read-only token); the verdict is in this summary")
            print(f"{PROG}: cannot comment: {why}", file=sys.stderr)
            _job_summary(f"The gate could not comment on the pull request: {why}.")
            return cli.EXIT_OK
        raise cli.InputError(f"GitHub API error: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
        raise cli.InputError(f"GitHub API error: {e}") from None
    return cli.EXIT_OK


def main(argv):
    args = parse_args(argv)
    return {"body": cmd_body, "post": cmd_post}[args.command](args)


def entry_point():
    sys.exit(cli.run(PROG, main))
