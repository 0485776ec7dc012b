"""The CPython reference run: the seeds' experiments under the interpreter that runs them (docs/cpython_reference.md).

Modules, standard library only (and parbench.schema and parbench.cli, standard library only too), so that
tools/cpython_reference.py runs under any CPython 3.8+:
  kernels     the workloads, their expected totals and the balanced split of [0, n)
  sockets     the socket kernels (blocking and asyncio streams) and their loopback echo server
  payload     the payload kernel (the caller's data) and the strategies that move it: pickled or shared memory
  strategies  the ways of running them: sequential, threads, processes and pools, one per start method
  suite       the sizes (default, --quick, --seed-sizes) and the benchmark names
  measuring   timing as Google Benchmark times, the JSON entries and the run's context
  command     the command line of tools/cpython_reference.py
"""
