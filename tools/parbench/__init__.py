"""parbench's Python tools as a package: Google Benchmark JSON, statistics, reports, the regression gate, history.

Each command in tools/ (parbench-report, parbench-gate, ...) is three lines that call entry_point() of its module
(parbench-noise-probe: noise). This file imports nothing. At import time a module loads only the standard library,
the package's own modules and, for changepoint alone, numpy (the modules that use changepoint import it inside the
functions that need it); matplotlib is imported inside the functions that draw plots. So a command refuses bad
input with one line before it loads a third-party package.

Reading and reporting:
  schema       the Google Benchmark 1.7.x JSON format: reading and checking a file, building entries (standard
               library only, Python 3.8+, so that tools/cpython_reference.py can write with it under any CPython)
  model        benchmarks, samples and runs read from one or more files; kernel benchmark names
  estimate     times and speedups that hold on a busy machine, with their intervals
  disturbance  how disturbed the machine was during a run, from the counters recorded with every repetition
  stats        the report's statistics: speedup, crossover n, winner tally
  flags        results a report must not recommend from (implausible speedups)
  cost         the report's cost view: the CPU each configuration burns for its speedup
  uneven       the report's uneven-work view: static against dynamic scheduling, the best chunk size
  payload      the report's moving-the-data view: cost per byte moved, the crossover B against threads
  markdown     number and time formatting, Markdown tables
  plots        the report's PNG plots (matplotlib)
  report       parbench-report
  plan         parbench-plan: which benchmarks the next pass measures again
  calibration  parbench-calibration: do two runs agree within their intervals
  order        parbench-order: does a benchmark's time depend on what ran before it
  project      parbench-project: the mpi strategy's time and speedup at cluster scale, from a LogGP-style model
  cli          what every command line shares: one-line errors, exit statuses, output files

The regression gate (paired, sequential; the only gate):
  paired       its statistics: signed-rank test and interval on log-ratios, Benjamini-Hochberg, the verdicts
  gate_run     running bench_parallel groups for it and recording the runs
  gate         parbench-gate
  gate_sim     collecting rounds and replaying gates on them, for its error rates
  gate_rates   parbench-gate-rates, with the subcommands collect and paired
  noise        the runner's noise before a run (parbench-noise-probe)
  pr_comment   parbench-pr-comment: the gate's verdict as a pull-request comment

History of main's runs:
  history_db, history    the SQLite history; parbench-history
  changepoint            change points in a benchmark's history (numpy)
  history_data, publish  run files on the data branch; parbench-publish
  dashboard, dashboard_page
                         parbench-dashboard: a static site of the history

The CPython reference run (tools/cpython_reference.py):
  cpython      a package: kernels, strategies, suite, measuring, command (standard library only, Python 3.8+)
"""
