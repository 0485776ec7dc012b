"""The report's PNG plots (matplotlib, Agg backend): speedup vs workers and time vs n per kernel."""

import math
import os

from . import cli
from .model import SUITE_TITLES, baseline_of, hardware_threads, is_baseline, sizes_for, suite_of, suites_in
from .stats import crossover_for, speedup_estimate


def strategy_styles(kernels, plt):
    """One colour and marker per strategy, the same in every plot. Baselines are black (C++) or grey
    (CPython), CPython strategies dashed."""
    strategies = sorted({s for by_n in kernels.values() for cells in by_n.values() for s, _ in cells
                         if not is_baseline(s)})
    # tab10, then the darkest shade of each of tab20b's five hues: 15 colours before any repeats (the matrix has
    # 11 C++ strategies with the peers; with tab10 alone `threads` wore `gil_threads`' blue).
    colours = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("tab20b").colors[0::4])
    markers = "osD^vP*X"
    styles = {s: dict(color=colours[i % len(colours)], marker=markers[i % len(markers)])
              for i, s in enumerate(strategies)}
    styles["sequential"] = dict(color="black", marker="o", linewidth=2.2)
    styles["cpython.sequential"] = dict(color="dimgrey", marker="o", linewidth=2.2)
    for strategy, style in styles.items():
        if suite_of(strategy) == "cpython":
            style["linestyle"] = "--"
    return styles


FAMILIES = (("threads", ("thread", "single_thread", "gil_threads")),
            ("processes", ("process",)),
            ("runtimes", ()))  # openmp, tbb, mpi and anything else


def family_of(strategy):
    name = strategy.removeprefix("cpython.")
    for family, prefixes in FAMILIES:
        if any(name.startswith(p) for p in prefixes):
            return family
    return FAMILIES[-1][0]


def plot_speedup(plt, kernel, by_n, hw, styles, path):
    """Speedup vs workers at the largest n of each suite, one panel per family of strategies (threads, processes,
    runtimes), each point with its interval, the legend of each panel beside it."""
    rows = []
    for suite in suites_in(by_n):
        n = max(sizes_for(by_n, suite))
        strategies = sorted({s for s, _ in by_n[n] if suite_of(s) == suite and not is_baseline(s)})
        for family, _ in FAMILIES:
            members = [s for s in strategies if family_of(s) == family]
            if members:
                rows.append((suite, n, family, members))
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 1, figsize=(9.0, 3.3 * len(rows)), squeeze=False)
    for ax, (suite, n, family, members) in zip(axes[:, 0], rows):
        cells = by_n[n]
        workers_all = sorted({w for _, w in cells})
        top = 1.0
        for strategy in members:
            pts = [(w, speedup_estimate(cells, strategy, w)) for w in workers_all if (strategy, w) in cells]
            pts = [(w, e) for w, e in pts if e is not None]
            if not pts:
                continue
            xs = [w for w, _ in pts]
            ys = [e.value for _, e in pts]
            err = [[e.value - e.low for _, e in pts], [e.high - e.value for _, e in pts]]
            ax.errorbar(xs, ys, yerr=err, label=strategy, alpha=0.85, capsize=3, **styles[strategy])
            top = max(top, max(e.high for _, e in pts))
        w_max = max(workers_all)
        ax.plot([1, w_max], [1, w_max], color="grey", linestyle=":", label="ideal (speedup = workers)")
        ax.axhline(1.0, color="black", linewidth=0.8, label="sequential (1×)")
        if hw:
            ax.axvline(hw, color="firebrick", linestyle="--", label=f"hardware threads = {hw}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(workers_all, [str(w) for w in workers_all])
        ax.set_ylim(0, 1.15 * max(top, min(w_max, hw or w_max)))
        ax.set_xlabel("workers")
        ax.set_ylabel("speedup (×)")
        ax.set_title(f"{kernel} ({SUITE_TITLES[suite]}), n = {n:,}: {family}", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    cli.save_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_time_vs_n(plt, kernel, by_n, hw, styles, path):
    """Small multiples, one per worker count: time vs n (log-log) per strategy, crossovers marked."""
    worker_counts = sorted({w for cells in by_n.values() for s, w in cells if not is_baseline(s)})
    if not worker_counts:
        return False
    ncols = min(3, len(worker_counts))
    nrows = math.ceil(len(worker_counts) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(7.0, 5.2 * ncols), 4.0 * nrows + 1.2), squeeze=False)
    handles: dict = {}
    for ax, workers in zip(axes.flat, worker_counts):
        draw_time_panel(ax, by_n, workers, styles, handles)
        over = " (oversubscribed)" if hw and workers > hw else ""
        ax.set_title(f"workers = {workers}{over}", fontsize=10)
    for ax in list(axes.flat)[len(worker_counts):]:
        ax.axis("off")
    fig.suptitle(f"{kernel}: time per run vs n (log-log)\nX = crossover: faster than sequential from there on",
                 fontsize=11)
    if handles.pop("crossover", False) is None:  # legend entry last, in neutral colours
        handles["crossover"] = plt.Line2D([], [], marker="X", markersize=10, color="white",
                                          markeredgecolor="black", linestyle="none")
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(6, len(handles)), fontsize=8)
    fig.tight_layout(rect=(0, 0.09 if len(handles) > 6 else 0.06, 1, 1))
    cli.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return True


def draw_time_panel(ax, by_n, workers, styles, handles):
    strategies = sorted({s for cells in by_n.values() for s, w in cells if w == workers and not is_baseline(s)})
    for strategy in sorted({baseline_of(s) for s in strategies}) + strategies:
        w = 1 if is_baseline(strategy) else workers
        pts = [(n, t.value / 1e9) for n, cells in sorted(by_n.items())
               if (strategy, w) in cells and (t := cells[(strategy, w)].time_estimate()) is not None]
        if not pts:
            continue
        (line,) = ax.plot(*zip(*pts), markersize=4, label=strategy, **styles[strategy])
        handles.setdefault(strategy, line)
        if not is_baseline(strategy):
            mark_crossover(ax, by_n, strategy, workers, styles[strategy]["color"], handles)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n (elements)")
    ax.set_ylabel("time per run (s)")
    ax.grid(True, which="both", alpha=0.25)


def mark_crossover(ax, by_n, strategy, workers, colour, handles):
    cross = crossover_for(by_n, strategy, workers)
    if cross.kind != "between":
        return
    # The baseline's time at the crossover, interpolated on the same log-log segment.
    base = [(n, t.value / 1e9) for n, cells in sorted(by_n.items())
            if (baseline_of(strategy), 1) in cells and (t := cells[(baseline_of(strategy), 1)].time_estimate())]
    y = loglog_interpolate(base, cross.n)
    if y is not None:
        ax.plot([cross.n], [y], marker="X", markersize=11, color=colour, markeredgecolor="black",
                linestyle="none", zorder=5)
        handles.setdefault("crossover", None)


def loglog_interpolate(points, x):
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))
    return None


def write_plots(run, kernels, plots_dir, md_dir):
    """PNG files per kernel -> {kernel: [(title, link relative to the Markdown)]}. ImportError without
    matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cli.ensure_dir(os.path.abspath(plots_dir), "--plots-dir")
    styles, hw, plots = strategy_styles(kernels, plt), hardware_threads(run), {}
    for kernel in sorted(kernels):
        by_n = kernels[kernel]
        if not any(b.time_estimate() for cells in by_n.values() for (s, _), b in cells.items() if not is_baseline(s)):
            continue  # nothing but baselines (or failures): there is nothing to plot against them
        files = []
        speed = os.path.join(plots_dir, f"{kernel}-speedup.png")
        plot_speedup(plt, kernel, by_n, hw, styles, speed)
        files.append((f"{kernel}: speedup vs workers", speed))
        times = os.path.join(plots_dir, f"{kernel}-time.png")
        if plot_time_vs_n(plt, kernel, by_n, hw, styles, times):
            files.append((f"{kernel}: time vs n", times))
        plots[kernel] = [(title, os.path.relpath(p, md_dir)) for title, p in files]
    return plots
