"""The CPython reference's kernels: one chunk [begin, end) of a range [0, n) per worker.

  count                  a while loop incrementing a local counter (seed 001); total n
  sum_range              sum of i (seed 003); total n(n-1)/2, exact Python ints
  random_max             splitmix64(i) mapped to [0, 1), materialised into a list, then
                         max (seed 002); lists hold at most 5,000,000 values (the seed's
                         list size), longer chunks go in consecutive blocks; oracle: the
                         same loop run once serially, outside the timing
  locked_counter.coarse  a shared counter incremented n times, each worker holding one
                         lock for its whole chunk (seed 000); threads share a plain
                         object under a threading.Lock, processes a multiprocessing.Value
                         ('q', synchronised as in the seed) under a multiprocessing.Lock
  sleep_tasks            n tasks sleeping --sleep-ms each and returning i+1 (seed 004);
                         total n(n+1)/2
  uneven.triangular      item i costs i + 1 units, a unit being one increment of a local
                         counter; total n(n+1)/2 modulo 2^64 (issue 25's uneven work)
  uneven.heavy_tail      items in blocks of 64, a block costing 16 units per item or, for
                         about one block in 32 (splitmix64(block) % 32 == 0), 1,600; total
                         the sum of the costs modulo 2^64
Both uneven kernels are include/parbench/kernels/uneven.hpp's, unit for unit. The socket
kernels (socket_tasks.py) and the payload kernel (payload.py) have modules of their own.

The seed posts are described in docs/seeds.md ("seed 001" is its "Seed 001" section).
"""

import collections
import functools
import importlib.util
import time

from .sockets import socket_tasks_chunk

MASK64 = (1 << 64) - 1
TWO_POW_MINUS_53 = 2.0 ** -53
RANDOM_MAX_BLOCK = 5_000_000  # seed 002's list length


# Chunk functions live at module top level so that spawn can pickle them.
# Signature: fn(begin, end, arg) -> chunk result.


def count_chunk(begin, end, arg):
    """Seed 001's loop: increment a local counter once per element."""
    count = 0
    remaining = end - begin
    while count < remaining:
        count += 1
    return count


def sum_range_chunk(begin, end, arg):
    """Seed 003's loop: add every index."""
    total = 0
    for i in range(begin, end):
        total += i
    return total


def splitmix64(x):
    """splitmix64's finaliser of x (include/parbench/detail/splitmix.hpp), a 64-bit int."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64_unit(i):
    """The value of index i: splitmix64(i) mapped to [0, 1) (C++ kernel's generator)."""
    return (splitmix64(i) >> 11) * TWO_POW_MINUS_53


def random_max_chunk(begin, end, arg):
    """Seed 002: materialise the values into a list, then max; empty range gives 0.0.

    splitmix64 is inlined (same arithmetic as splitmix64_unit) because a call per
    element would double the cost and measure calls instead of the seed's work.
    """
    best = 0.0
    for block_begin in range(begin, end, RANDOM_MAX_BLOCK):
        values: list = []
        append = values.append
        for i in range(block_begin, min(end, block_begin + RANDOM_MAX_BLOCK)):
            z = (i + 0x9E3779B97F4A7C15) & MASK64
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            z ^= z >> 31
            append((z >> 11) * TWO_POW_MINUS_53)
        best = max(best, max(values))
    return best


def locked_counter_chunk(begin, end, state):
    """Seed 000: hold the lock for the whole chunk, increment the shared counter.

    The counter carries the total; the chunk result is 0 so that combine() can add
    results and counter alike (and a fault can still add to the result).
    """
    lock, counter = state
    with lock:
        for _ in range(begin, end):
            counter.value += 1
    return 0


def sleep_tasks_chunk(begin, end, sleep_s):
    """Seed 004: each task sleeps, then returns its index + 1."""
    total = 0
    for i in range(begin, end):
        time.sleep(sleep_s)
        total += i + 1
    return total


def run_units(units):
    """`units` units of work, one increment of a local counter each (count's loop); returns units."""
    done = 0
    while done < units:
        done += 1
    return done


def triangular_cost(i):
    """uneven.triangular: item i costs i + 1 units."""
    return i + 1


def triangular_item(i):
    """uneven.triangular's item i, the unit Pool.map hands out: its units done."""
    return run_units(i + 1)


def uneven_triangular_chunk(begin, end, arg):
    """uneven.triangular over [begin, end): the units done."""
    done = 0
    for i in range(begin, end):
        done += run_units(i + 1)
    return done


HEAVY_BLOCK = 64        # items per block
HEAVY_ONE_IN = 32       # about one block in this many is heavy
HEAVY_LIGHT = 16        # units per item of a light block
HEAVY_HEAVY = 100 * HEAVY_LIGHT


@functools.lru_cache(maxsize=None)
def heavy_block(b):
    """Whether block b of uneven.heavy_tail is heavy (a fixed hash of its index, cached per process)."""
    return splitmix64(b) % HEAVY_ONE_IN == 0


def heavy_tail_cost(i):
    """uneven.heavy_tail: the units of item i."""
    return HEAVY_HEAVY if heavy_block(i // HEAVY_BLOCK) else HEAVY_LIGHT


def heavy_tail_item(i):
    """uneven.heavy_tail's item i, the unit Pool.map hands out: its units done."""
    return run_units(HEAVY_HEAVY if heavy_block(i // HEAVY_BLOCK) else HEAVY_LIGHT)


def uneven_heavy_tail_chunk(begin, end, arg):
    """uneven.heavy_tail over [begin, end): the units done, each item's cost looked up once per block."""
    done = 0
    i = begin
    while i < end:
        block_end = min(end, (i // HEAVY_BLOCK + 1) * HEAVY_BLOCK)
        cost = heavy_tail_cost(i)
        for _ in range(i, block_end):
            done += run_units(cost)
        i = block_end
    return done


def heavy_tail_total(n):
    """uneven.heavy_tail's total over [0, n), per block (the items of a block cost the same)."""
    total = 0
    for b in range(0, (n + HEAVY_BLOCK - 1) // HEAVY_BLOCK):
        items = min(HEAVY_BLOCK, n - b * HEAVY_BLOCK)
        total += items * (HEAVY_HEAVY if heavy_block(b) else HEAVY_LIGHT)
    return total & MASK64


class Counter:
    """The threads' shared counter: a plain object, like seed 000's global int."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def combine_sum(results):
    return sum(results)


def combine_max(results):
    return max([0.0] + list(results))


def combine_sum64(results):
    return sum(results) & MASK64


# kind: "seed" (the seeds' kernels), "uneven", "socket" or "payload"; each strategy says which kinds it runs.
# item: one item of an uneven kernel, run (its units done), for the pools that map over items.
# delay_us: the echo server's delay (socket kernels), which the benchmark starts for each repetition.
# data: where a payload kernel's data lives: "array" (array.array) or "numpy" (payload.py's DATA).
Kernel = collections.namedtuple(
    "Kernel", "name chunk combine typecode shared closed_form kind item delay_us data",
    defaults=("seed", None, None, None))

KERNELS = collections.OrderedDict((k.name, k) for k in [
    Kernel("count", count_chunk, combine_sum, "q", False, lambda n, s: n),
    Kernel("sum_range", sum_range_chunk, combine_sum, "q", False,
           lambda n, s: n * (n - 1) // 2),
    Kernel("random_max", random_max_chunk, combine_max, "d", False, None),
    Kernel("locked_counter.coarse", locked_counter_chunk, combine_sum, "q", True,
           lambda n, s: n),
    Kernel("sleep_tasks", sleep_tasks_chunk, combine_sum, "q", False,
           lambda n, s: n * (n + 1) // 2),
    Kernel("uneven.triangular", uneven_triangular_chunk, combine_sum64, "q", False,
           lambda n, s: (n * (n + 1) // 2) & MASK64, "uneven", triangular_item),
    Kernel("uneven.heavy_tail", uneven_heavy_tail_chunk, combine_sum64, "q", False,
           lambda n, s: heavy_tail_total(n), "uneven", heavy_tail_item),
] + [
    Kernel("socket_tasks.delay_%dus" % delay, socket_tasks_chunk, combine_sum, "q", False,
           lambda n, s: n * (n + 1) // 2, "socket", None, delay)
    for delay in (0, 1000)
] + [
    # Their data, work and strategies are payload.py's: the caller's arrays, not a chunk function. payload.numpy
    # only where this interpreter finds numpy (Debian's python3-numpy for /usr/bin/python3; not pyenv's).
    Kernel(name, None, None, "d", False, None, "payload", data=data)
    for name, data in [("payload", "array")] + ([("payload.numpy", "numpy")] if importlib.util.find_spec("numpy")
                                                else [])
])

_ORACLE_CACHE = {}


def expected_total(kernel, n, sleep_s):
    """Closed form where there is one; else the serial loop, run once and cached."""
    if kernel.closed_form is not None:
        return kernel.closed_form(n, sleep_s)
    key = (kernel.name, n)
    if key not in _ORACLE_CACHE:
        _ORACLE_CACHE[key] = kernel.chunk(0, n, None)
    return _ORACLE_CACHE[key]


def split(n, parts):
    """[0, n) in `parts` chunks whose sizes differ by at most one (empty when parts > n)."""
    base, extra = divmod(n, parts)
    chunks, begin = [], 0
    for i in range(parts):
        end = begin + base + (1 if i < extra else 0)
        chunks.append((begin, end))
        begin = end
    return chunks
