"""parbench's Python tools as a package: reading and writing Google Benchmark JSON, statistics, Markdown and plots.

Modules:
  schema    the Google Benchmark 1.7.x JSON format: reading and checking a file, building entries (standard library
            only, Python 3.8+, so that tools/cpython_reference.py can write with it under any CPython)
  model     benchmarks, samples and runs read from one or more files; kernel benchmark names
  stats     the statistics the tools share: speedup, crossover n, winner tally, the Mann-Whitney gate's rule
  markdown  number and time formatting, Markdown tables
  plots     the report's PNG plots (matplotlib)
  cli       what every command line shares: one-line errors, exit statuses, output files
  flags     results a report must not recommend from (noisy, implausible) and ties
  report, compare, merge, gate_rates, order
            the tools; tools/parbench-report, parbench-compare, parbench-merge and parbench-gate-rates call their main()

Only schema, model, markdown and cli are imported eagerly by the tools; scipy and matplotlib are imported where they
are needed, so that bad input is refused with a clear message before either is loaded.
"""
