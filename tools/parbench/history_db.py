"""The benchmark history: every run of main, in one SQLite file (Python's sqlite3, standard library only).

Tables:
  runs     one row per (commit, machine): the order it was added in (seq), its date, the source file
  results  one row per (run, benchmark): the median real time of the run's repetitions in ns, how many there were,
           and whether any repetition errored (an errored benchmark has no value)
A run added again for the same commit and machine replaces the earlier one (a rerun of the same CI job).
The history of a benchmark on a machine is its values in the order the runs were added, which on main is the
order of the commits.
"""

import sqlite3
import statistics

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    commit_sha TEXT NOT NULL,
    machine TEXT NOT NULL,
    date    TEXT NOT NULL,
    source  TEXT NOT NULL,
    UNIQUE (commit_sha, machine)
);
CREATE TABLE IF NOT EXISTS results (
    run_seq   INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    benchmark TEXT NOT NULL,
    value_ns  REAL,
    repetitions INTEGER NOT NULL,
    errored   INTEGER NOT NULL,
    PRIMARY KEY (run_seq, benchmark)
);
CREATE INDEX IF NOT EXISTS results_by_benchmark ON results (benchmark, run_seq);
"""


class HistoryError(Exception):
    """A database that cannot be opened or is not a parbench history. One line."""


def connect(path):
    try:
        con = sqlite3.connect(path)
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA)
        con.execute("SELECT seq, commit_sha, machine, date, source FROM runs LIMIT 1").fetchall()
        con.execute("SELECT run_seq, benchmark, value_ns, repetitions, errored FROM results LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        raise HistoryError(f"{path}: not a parbench history database ({e})") from None
    return con


def add_run(con, commit, machine, date, source, benchmarks):
    """benchmarks: name -> (list of per-repetition ns, errored). Replaces an earlier run of commit on machine.

    Returns the run's seq.
    """
    with con:
        con.execute("DELETE FROM runs WHERE commit_sha = ? AND machine = ?", (commit, machine))
        cur = con.execute("INSERT INTO runs (commit_sha, machine, date, source) VALUES (?, ?, ?, ?)",
                          (commit, machine, date, source))
        seq = cur.lastrowid
        con.executemany(
            "INSERT INTO results (run_seq, benchmark, value_ns, repetitions, errored) VALUES (?, ?, ?, ?, ?)",
            [(seq, name, None if errored or not values else statistics.median(values), len(values), int(errored))
             for name, (values, errored) in benchmarks.items()])
    return seq


def machines(con):
    return [m for (m,) in con.execute("SELECT DISTINCT machine FROM runs ORDER BY machine")]


def runs(con, machine):
    """(seq, commit, date) of the machine's runs, in the order they were added."""
    return con.execute("SELECT seq, commit_sha, date FROM runs WHERE machine = ? ORDER BY seq",
                       (machine,)).fetchall()


def series(con, machine):
    """benchmark -> list of (commit, value_ns) over the machine's runs in order; errored runs are left out."""
    out: dict = {}
    rows = con.execute(
        "SELECT r.benchmark, u.commit_sha, r.value_ns FROM results r JOIN runs u ON u.seq = r.run_seq "
        "WHERE u.machine = ? AND r.errored = 0 AND r.value_ns IS NOT NULL ORDER BY r.benchmark, u.seq",
        (machine,))
    for name, commit, value in rows:
        out.setdefault(name, []).append((commit, value))
    return out
