"""Numbers, times and tables as the tools print them (Markdown)."""

import math


def format_time_ns(ns):
    """Human time with 3 significant digits and a unit chosen for the value."""
    if ns is None or not math.isfinite(ns):
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def format_number(value):
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def format_speedup(s):
    return f"{s:.2f}×" if s >= 0.1 else f"{s:.2g}×"


def table(header, rows):
    """A Markdown table; '|' inside a cell is escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")
