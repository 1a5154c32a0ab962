"""Bootstrap row counts without drawing row indices: the same multinomial, a few byte ops a row.

A bootstrap resample of ``n`` rows is the vector ``c`` of how often each row was drawn:
``Multinomial(n; 1/n, ..., 1/n)``. Drawing ``n`` row indices per resample (and counting
or gathering them) costs ~6 ns a row in numpy; at 100,000 rows x 1,000 resamples that
alone is more than the review's budget. This module draws the same ``c`` another way:

1. Independent Poisson(``lam``) counts, one per row, with ``lam = 1 - SLACK / sqrt(n)``.
   Given their total ``S``, independent equal-mean Poisson counts *are* multinomial:
   ``c | S ~ Multinomial(S; 1/n, ...)``.
2. If ``S <= n`` (all but ~3e-7 of resamples), add ``n - S`` more rows drawn uniformly
   (~``SLACK * sqrt(n)`` indices, 1.6% of ``n`` at 100,000 rows): a multinomial of ``S``
   plus an independent one of ``n - S`` is a multinomial of ``n``. Else draw the
   resample's Poisson counts again (the test depends on ``S`` only, so the conditioning
   keeps ``c | S`` multinomial).

So ``c`` has exactly the distribution of counting ``n`` uniform row draws: the same
bootstrap, not an approximation (``tests/unit/test_resample.py`` checks the counts'
distribution and the intervals against index drawing). The Poisson counts are cheap
by inversion from one random byte a row: 251 of the 256 byte values lie wholly between
two steps of the Poisson CDF and give their count by four SIMD comparisons; a row whose
byte straddles a step (5 in 256) is finished with a uniform double, as numpy's samplers
are exact (to 2^-53). The sums ``c @ columns`` are a float32 matrix product of the
counts with the *centred* columns (adding back ``n`` times the means, exact since
``sum(c) == n``), on one BLAS thread: float32 rounding is ~1e-7 of a resample's spread,
far below the Monte Carlo error of 1,000 resamples.

Every random number comes from streams consumed in row order (the bytes, the straddling
rows' doubles, the extra rows, the redraws each from their own stream), so the counts
depend on the seed and ``n`` only, not on the chunk size; the resamples are split into
:data:`STREAMS` blocks with their own seeds, drawn on up to that many threads (numpy
releases the GIL), so it does not depend on the number of cores either. Pure; numpy is
imported inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.random import Generator
    from numpy.typing import NDArray

    Array = NDArray[Any]

SLACK = 5.0
"""Standard deviations of the Poisson total kept below ``n``: a redraw ~3e-7 of the time."""
STREAMS = 2
"""Blocks of resamples with their own random streams (one per thread, up to the cores):
fixed, so a seed gives the same sums on any machine."""
MAX_ROWS = (1 << 24) - 1
"""The counts' totals are summed in float32, exact below 2^24 rows."""
CHUNK_CELLS = 1 << 20
"""Rows x resamples drawn at once."""


@dataclass(frozen=True)
class PoissonTable:
    """Inversion of Poisson(``lam``) from one random byte and, for a few bytes, a double.

    Byte values are renumbered so that the ``determined`` values come first, in order
    of their count (the count is how many of ``edges`` the byte reaches), and the
    straddling ones last: byte ``determined + j`` stands for the original interval
    ``[straddle[j] / 256, (straddle[j] + 1) / 256)`` of the uniform, finished by a
    uniform ``v``: count ``low[j] + #(v >= steps[j])``, ``steps`` padded with +inf.
    """

    edges: tuple[int, ...]
    determined: int
    straddle: tuple[int, ...]
    low: Array
    steps: Array

    @classmethod
    def build(cls, lam: float) -> PoissonTable:
        import numpy as np

        cdf: list[float] = []
        p, total = math.exp(-lam), 0.0
        while p > 1e-20 or not cdf:  # the terms left are below float64's resolution
            total += p
            cdf.append(min(total, 1.0))
            p *= lam / len(cdf)
        steps = np.array(cdf)
        counts, straddle, inside = [], [], []
        for b in range(256):
            within = steps[(steps > b / 256) & (steps < (b + 1) / 256)]
            if within.size:
                straddle.append(b)
                inside.append(256 * within - b)
            else:
                counts.append(int(np.searchsorted(steps, b / 256, side="right")))
        width = max((len(t) for t in inside), default=1)  # none when lam is 0
        padded = np.full((len(inside), width), np.inf)
        for j, t in enumerate(inside):
            padded[j, : len(t)] = t
        low = np.searchsorted(steps, np.array(straddle) / 256, side="right")
        edges = np.cumsum(np.bincount(counts))[:-1]
        return cls(tuple(int(e) for e in edges), len(counts), tuple(straddle), low, padded)


@dataclass
class _Streams:
    bits: Generator
    fine: Generator
    extra: Generator
    again: Generator


def _poisson(table: PoissonTable, rows: int, n: int, bits: Generator, fine: Generator) -> Array:
    """``rows`` x ``n`` Poisson counts (uint8), rows drawn one after another."""
    import numpy as np

    # whole 64-bit words a row (the padding bytes are drawn and dropped): the stream of
    # bytes does not depend on how many rows are drawn at once
    words = -(-n // 8)
    byte = bits.bit_generator.random_raw(rows * words).view(np.uint8)
    mask = np.empty(byte.shape, dtype=bool)
    if table.edges:
        counts = np.greater_equal(byte, table.edges[0]).view(np.uint8)
    else:
        counts = np.zeros(byte.shape, dtype=np.uint8)
    for edge in table.edges[1:]:
        np.greater_equal(byte, edge, out=mask)
        counts += mask.view(np.uint8)
    np.greater_equal(byte, table.determined, out=mask)
    at = np.flatnonzero(mask)
    if at.size:
        which = byte[at].astype(np.intp) - table.determined
        v = fine.random(at.size)
        value = table.low[which] + (v >= table.steps[which, 0])
        if table.steps.shape[1] > 1:
            more = np.flatnonzero(v >= table.steps[which, 1])
            value[more] += (v[more, None] >= table.steps[which[more], 1:]).sum(axis=1)
        counts[at] = value
    return counts.reshape(rows, 8 * words)[:, :n]


def weighted_sums(columns: Array, resamples: int, seed: int) -> Array:
    """``c @ columns`` for ``resamples`` bootstrap count vectors ``c`` (resamples x columns)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    n, m = columns.shape
    if n > MAX_ROWS:
        raise ValueError(f"{n} rows: more than this route's {MAX_ROWS}")
    table = PoissonTable.build(max(0.0, 1.0 - SLACK / math.sqrt(n)))
    mean = columns.mean(axis=0)
    centred = columns - mean
    # float32 operand with a column of ones: the counts' totals come out of the same product
    operand = np.column_stack([centred, np.ones(n)]).astype(np.float32)
    sums = np.empty((resamples, m))
    chunk = max(1, CHUNK_CELLS // n)
    bounds = [resamples * i // STREAMS for i in range(STREAMS + 1)]
    seeds = np.random.SeedSequence(seed).spawn(STREAMS)

    def block(i: int) -> None:
        streams = _Streams(*(np.random.default_rng(s) for s in seeds[i].spawn(4)))
        for start in range(bounds[i], bounds[i + 1], chunk):
            stop = min(start + chunk, bounds[i + 1])
            sums[start:stop] = _chunk(table, stop - start, centred, operand, streams)

    with threadpool_limits(1, user_api="blas"):  # threaded BLAS on thin products: 5x slower
        run_blocks(block, STREAMS)
    out: Array = sums + n * mean
    return out


def _chunk(table: PoissonTable, rows: int, centred: Array, operand: Array, s: _Streams) -> Array:
    import numpy as np

    n, m = centred.shape
    part = (_poisson(table, rows, n, s.bits, s.fine).astype(np.float32) @ operand).astype(
        np.float64
    )
    totals = part[:, m].astype(np.int64)
    for r in np.flatnonzero(totals > n):  # ~3e-7 of resamples: draw that one again
        while totals[r] > n:
            again = _poisson(table, 1, n, s.again, s.again).astype(np.float32) @ operand
            part[r], totals[r] = again[0], int(again[0, m])
    extra = n - totals
    if extra.any():
        picked = s.extra.integers(0, n, int(extra.sum()))  # in row order
        if m * SLACK <= math.sqrt(n):  # few columns (~SLACK sqrt(n) extra rows each): gather
            has = np.flatnonzero(extra)
            starts = np.cumsum(extra[has]) - extra[has]
            part[has, :m] += np.add.reduceat(np.take(centred, picked, axis=0), starts, axis=0)
        else:  # many: count the extra rows, one more product
            owner = np.repeat(np.arange(rows), extra)
            more = np.bincount(owner * n + picked, minlength=rows * n).reshape(rows, n)
            part[:, :m] += more.astype(np.float64) @ centred
    return part[:, :m]


def run_blocks(block: Callable[[int], None], count: int) -> None:
    """``block(0)`` ... ``block(count - 1)``, on as many threads as this process has cores."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(count, cores or 1)
    if workers == 1:
        for i in range(count):
            block(i)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(block, range(count)):
            pass


__all__ = [
    "CHUNK_CELLS",
    "MAX_ROWS",
    "SLACK",
    "STREAMS",
    "PoissonTable",
    "run_blocks",
    "weighted_sums",
]
