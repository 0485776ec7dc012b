"""The uneven-work view: static chunks against dynamic scheduling on the uneven kernels (``uneven.*``).

At each uneven kernel's largest n and every worker count above one, a row per pool family (``thread_pool``,
``process_pool``, ``openmp``) sets the static strategy's speedup beside its dynamic twins', one per chunk count
(``.dynamic.coarse``: 4 chunks per worker, ``.dynamic``: 16, ``.dynamic.fine``: 128; ``openmp.dynamic``: 16),
then names the chunking that served the kernel best, with its chunk size in items, n ÷ (chunks per worker × W):
the figure to pass as Python's ``Pool.map(chunksize=)``. Where the best one's interval overlaps another's, the
row says so: the run cannot tell them apart. ``tbb`` (work stealing, its partitioner choosing the sizes) gets a row
of its own.
"""

import math

from .markdown import format_speedup
from .markdown import table as md_table
from .model import suite_of
from .stats import speedup_estimate

FAMILIES = ("thread_pool", "process_pool", "openmp")
# (suffix, chunks per worker), coarse to fine.
VARIANTS = ((".dynamic.coarse", 4), (".dynamic", 16), (".dynamic.fine", 128))


def _usable(e):
    return e is not None and all(math.isfinite(x) for x in (e.value, e.low, e.high)) and e.value > 0


def _cell(e):
    return f"{format_speedup(e.value)} [{format_speedup(e.low)[:-1]}, {format_speedup(e.high)[:-1]}]" \
        if _usable(e) else ""


def best_chunking(n, workers, static, dynamic):
    """The best of the static estimate and the (chunks per worker, estimate) pairs, as a cell's text.

    static: an Estimate or None; dynamic: [(chunks_per_worker, Estimate or None)]. '' where none is usable.
    """
    options = [("static halves" if workers == 2 else "static", static)]
    options += [(f"{per} per worker: chunk ≈ {max(1, round(n / (per * workers))):,} items", e) for per, e in dynamic]
    options = [(label, e) for label, e in options if _usable(e)]
    if not options:
        return ""
    label, best = max(options, key=lambda o: o[1].value)
    ties = [other for other, e in options if other != label and e.high >= best.low and best.high >= e.low]
    return label + (f" (intervals overlap: {len(ties)} other{'s' if len(ties) > 1 else ''})" if ties else "")


def md_uneven(kernels):
    """The report's section; [] where the run has no uneven kernel with a static/dynamic pair."""
    lines = []
    for kernel in sorted(k for k in kernels if k.startswith("uneven.")):
        by_n = kernels[kernel]
        n = max(by_n)
        cells = {k: b for k, b in by_n[n].items() if suite_of(k[0]) == "native" and b.usable}
        rows = []
        for w in sorted({w for _, w in cells if w > 1}):
            for family in FAMILIES:
                if family == "openmp":
                    dynamic = [(16, speedup_estimate(cells, "openmp.dynamic", w))]
                else:
                    dynamic = [(per, speedup_estimate(cells, family + suffix, w)) for suffix, per in VARIANTS]
                static = speedup_estimate(cells, family, w)
                if not any(_usable(e) for _, e in dynamic):
                    continue
                by_per = dict(dynamic)
                rows.append([f"`{family}`", w, _cell(static), _cell(by_per.get(4)), _cell(by_per.get(16)),
                             _cell(by_per.get(128)), best_chunking(n, w, static, dynamic)])
            tbb = speedup_estimate(cells, "tbb", w)
            if _usable(tbb):
                rows.append(["`tbb`", w, "", "", "", "", f"work stealing: {_cell(tbb)}"])
        if rows:
            lines += [f"#### {kernel}, n = {n:,}", ""] + md_table(
                ["family", "workers", "static", "4 chunks per worker", "16", "128", "best"], rows) + [""]
    if not lines:
        return []
    return ["## Uneven work: static against dynamic scheduling", "",
            "At each uneven kernel's largest n: the speedup of each pool with static chunks (one per worker) and "
            "with dynamic scheduling at 4, 16 and 128 chunks per worker [intervals], and the chunking that served "
            "the kernel best, with its chunk size in items (Python's `Pool.map(chunksize=)`).", ""] + lines
