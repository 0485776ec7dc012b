#!/usr/bin/env python3
"""CPython reference run of the seeds' experiments, written as Google Benchmark JSON.

The seed posts (docs/seeds.md) measured threading, multiprocessing and concurrent.futures on their authors'
machines. This script runs the same experiments under the interpreter that runs it, on this machine, with the
kernels and totals of parbench's C++ kernels, and writes the JSON of Google Benchmark 1.7.1's JSON reporter, so
that a report tool can put CPython beside C++ (docs/cpython_reference.md).

The code is the package parbench.cpython (tools/parbench/cpython/): kernels, strategies, suite (sizes and names),
measuring and command. It imports only the standard library and parbench's standard-library modules (cli,
schema), so it runs under any CPython 3.8+; python3 puts tools/, this script's directory, on sys.path.

Exit status: 0 all benchmarks ran and checked, 1 some errored, 2 bad arguments.
"""

import sys

from parbench import cli
from parbench.cpython.command import main

if __name__ == "__main__":
    sys.exit(cli.run("cpython_reference.py", main))
