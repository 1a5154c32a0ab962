"""Bootstrap row counts without drawing row indices: the same multinomial, a byte a row.

A bootstrap resample of ``n`` rows is the vector ``c`` of how often each row was drawn:
``Multinomial(n; 1/n, ..., 1/n)``. Drawing ``n`` row indices per resample (and counting
or gathering them) costs ~6 ns a row in numpy; at 100,000 rows x 1,000 resamples that
alone is more than the review's budget. This module draws the same ``c`` another way:

1. Independent Poisson(``lam``) counts, one per row, with ``lam = 1 - SLACK / sqrt(n)``.
   Given their total ``S``, independent equal-mean Poisson counts *are* multinomial:
   ``c | S ~ Multinomial(S; 1/n, ...)``.
2. If ``S <= n`` (all but ~2e-4 of resamples), add ``n - S`` more rows drawn uniformly
   (~``SLACK * sqrt(n)`` indices, 1.1% of ``n`` at 100,000 rows): a multinomial of ``S``
   plus an independent one of ``n - S`` is a multinomial of ``n``. Else draw the
   resample's Poisson counts again (the test depends on ``S`` only, so the conditioning
   keeps ``c | S`` multinomial).

So ``c`` has exactly the distribution of counting ``n`` uniform row draws: the same
bootstrap, not an approximation (``tests/unit/test_resample.py`` checks the counts'
distribution and the intervals against index drawing). The Poisson counts are cheap as
a *mixture* (:class:`PoissonTable`): Poisson(``lam``) = ``(1 - q) D + q R``, where ``D``
gives count ``k`` to ``units[k]`` of the 256 values of one random byte (four SIMD
comparisons a row) and ``R``, the Poisson probabilities ``D`` leaves over (``q`` ~1%),
inverts its CDF with a uniform double, as numpy's samplers are exact (to 2^-53). The
rows that take ``R`` (:class:`_Marked`) are marked by a thinned Poisson process: no pass
over the bytes to find them. The sums ``c @ columns`` are a float32 matrix-vector
product per resample with the *centred* columns and a row of ones (the total ``S``
comes out of the same product; ``n`` times the means are added back, exact since
``sum(c) == n``), on one BLAS thread: float32 rounding is ~1e-7 of a resample's spread,
far below the Monte Carlo error of 1,000 resamples. The review's columns are few
(at most eight: log losses, errors): a product per resample suits them, not hundreds.

Every random number comes from streams consumed in row order (the bytes, the marks'
sizes and places, ``R``'s doubles, the extra rows, the redraws each from their own
stream), and each resample's sums are a product of its own counts, so the sums depend
on the seed and ``n`` only, not on the chunk size; the resamples are split into
:data:`STREAMS` blocks with their own seeds, drawn on up to that many threads (numpy
releases the GIL), so they do not depend on the number of cores either. Pure; numpy is
imported inside functions.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.random import Generator
    from numpy.typing import NDArray

    Array = NDArray[Any]

SLACK = 3.5
"""Standard deviations of the Poisson total kept below ``n``: a redraw ~2e-4 of the time
(each costs a row of numpy's Poisson sampler; fewer extra rows to draw pay for it)."""
STREAMS = 2
"""Blocks of resamples with their own random streams (one per thread, up to the cores):
fixed, so a seed gives the same sums on any machine."""
MAX_ROWS = (1 << 24) - 1
"""The counts' totals are summed in float32, exact below 2^24 rows."""
CHUNK_CELLS = 1 << 18
"""Rows x resamples drawn at once (two resamples of 100,000 rows: fewer calls, the
counts still near the cache)."""
MARKS_CELLS = 1 << 23
"""Rows x resamples whose ``R`` cells are drawn at once (~1% of them)."""
AHEAD = 1 << 16
"""Extra rows' indices drawn at once."""
_UNITS = 256
"""Byte values: ``D``'s probabilities are multiples of 1/256."""
_BUCKETS = 1024
"""Slices of [0, 1) that look up ``R``'s count; the few holding a CDF step search it."""


@dataclass(frozen=True)
class PoissonTable:
    """Poisson(``lam``) as the mixture ``(1 - residual) D + residual R``.

    ``D``: a uniform random byte ``b`` has count ``#(edges <= b)`` (``units[k]`` byte
    values have count ``k``); ``R``: a uniform double ``u`` has count
    ``#(cdf <= u)``. ``units`` is chosen to make ``residual`` as small as it can be:
    ``(1 - residual) * units[k] / 256 <= pmf[k]`` for every ``k``, and ``R`` is the rest.
    """

    lam: float
    edges: tuple[int, ...]
    units: tuple[int, ...]
    residual: float
    cdf: Array
    bucket: Array
    """``R``'s count at the start of each of :data:`_BUCKETS` equal slices of [0, 1)."""
    exact: Array
    """Whether that count holds over the whole slice (no CDF step inside it)."""

    @classmethod
    def build(cls, lam: float) -> PoissonTable:
        import numpy as np

        pmf: list[float] = []
        p = math.exp(-lam)
        while p > 1e-20 or not pmf:  # the terms left are below float64's resolution
            pmf.append(p)
            p *= lam / len(pmf)
        # give the 256 byte values one at a time to the count whose pmf each unit would
        # cover best: maximises the smallest pmf[k] / units[k], so D's weight
        units = [0] * len(pmf)
        heap = [(-pmf[k] * _UNITS, k) for k in range(len(pmf))]
        heapq.heapify(heap)
        for _ in range(_UNITS):
            _, k = heapq.heappop(heap)
            units[k] += 1
            heapq.heappush(heap, (-pmf[k] * _UNITS / (units[k] + 1), k))
        weight = min(pmf[k] * _UNITS / u for k, u in enumerate(units) if u)
        rest = np.maximum(np.array(pmf) - weight * np.array(units) / _UNITS, 0.0)
        cdf = np.cumsum(rest) / rest.sum() if rest.sum() > 0 else np.ones(1)
        cdf[-1] = 1.0
        while len(units) > 1 and not units[-1]:
            units.pop()
        edges = tuple(int(e) for e in np.cumsum(units)[:-1])
        starts = np.arange(_BUCKETS + 1) / _BUCKETS
        below = np.searchsorted(cdf, starts, side="right")
        # a step strictly inside slice i: the count just below its end exceeds its start's
        exact = np.searchsorted(cdf, starts[1:], side="left") == below[:-1]
        bucket = below[:-1].astype(np.int32)
        return cls(lam, edges, tuple(units), max(0.0, 1.0 - weight), cdf, bucket, exact)

    @property
    def marks(self) -> float:
        """Marks a row expects, so that it is marked at least once with ``residual``."""
        return -math.log1p(-self.residual)

    def invert(self, u: Array) -> Array:
        """``R``'s counts of uniforms ``u`` in [0, 1): ``#(cdf <= u)``, by slices, exactly."""
        import numpy as np

        slices = (u * _BUCKETS).astype(np.intp)  # exact: a power of two
        out = self.bucket[slices]
        unsure = np.flatnonzero(~self.exact[slices])
        if unsure.size:
            out[unsure] = np.searchsorted(self.cdf, u[unsure], side="right")
        return out


class _Ahead:
    """One random stream's values read in order, drawn ahead in batches.

    numpy's samplers draw value after value from the stream, so reading them in batches
    gives the same values as drawing them one call at a time: the batch size changes
    nothing but the number of calls (each costs microseconds).
    """

    def __init__(self, draw: Callable[[int], Array], batch: int) -> None:
        self.draw, self.batch = draw, batch
        self.values: Array = draw(0)
        self.at = 0

    def take(self, k: int) -> Array:
        """The next ``k`` values."""
        import numpy as np

        if self.at + k > len(self.values):
            fresh = self.draw(max(self.batch, k))
            self.values, self.at = np.concatenate([self.values[self.at :], fresh]), 0
        self.at += k
        return self.values[self.at - k : self.at]


class _Marked:
    """The cells that take ``R``'s count, and their counts, drawn for many rows at once.

    Each row (a cell: one row of one resample) is marked Poisson(``mu``) times at uniform
    places, ``mu = -log(1 - residual)``: a cell is then marked at least once with
    probability ``residual``, independently of every other cell (a Poisson process
    thinned); a cell marked twice keeps one of its ``R`` counts, which are drawn
    independently of the marks. The marks of a resample are one Poisson size and that
    many uniform row indices, each from its own stream, so drawing them for
    :data:`MARKS_CELLS` cells at once changes nothing but the number of calls.
    """

    def __init__(self, table: PoissonTable, n: int, rows: int, *streams: Generator) -> None:
        import numpy as np

        self.table, self.n = table, n
        self.sizes, self.marks, self.fine = streams
        self.rows = max(1, min(MARKS_CELLS // n, rows))  # no more than the block needs
        self.cells: Array = np.empty(0, dtype=np.int64)
        self.values: Array = np.empty(0, dtype=np.float32)
        self.ends: Array = np.zeros(1, dtype=np.int64)  # where each drawn resample's marks end
        self.done = 0  # resamples of the drawn ones already returned

    def next(self, rows: int) -> tuple[Array, Array]:
        """The next ``rows`` resamples' marked cells (indices into them) and their counts."""
        if self.done + rows >= len(self.ends):
            self._draw(max(self.rows, rows))
        a, b = self.ends[self.done], self.ends[self.done + rows]
        cells = self.cells[a:b] - self.done * self.n
        values = self.values[a:b]
        self.done += rows
        return cells, values

    def _draw(self, rows: int) -> None:
        import numpy as np

        n, table = self.n, self.table
        kept = self.ends[self.done]  # the cells of resamples drawn and not returned
        pending = len(self.ends) - 1 - self.done
        if table.residual:
            marked = self.sizes.poisson(table.marks * n, rows)
            fresh = self.marks.integers(0, n, int(marked.sum()))
            fresh += np.repeat(np.arange(pending, pending + rows) * n, marked)
            values = table.invert(self.fine.random(fresh.size)).astype(np.float32)
        else:
            marked = np.zeros(rows, dtype=np.int64)
            fresh, values = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        self.cells = np.concatenate([self.cells[kept:] - self.done * n, fresh])
        self.values = np.concatenate([self.values[kept:], values])
        ends = self.ends[self.done :] - kept
        self.ends = np.concatenate([ends, ends[-1] + np.cumsum(marked)])
        self.done = 0


@dataclass
class _Block:
    """One block of resamples: its random streams, read in row order."""

    table: PoissonTable
    n: int
    bits: Generator
    again: Generator
    extra: _Ahead
    marked: _Marked

    @classmethod
    def of(cls, table: PoissonTable, n: int, rows: int, seed: Any) -> _Block:
        """The block of ``rows`` resamples of ``n`` rows whose streams ``seed`` spawns."""
        import numpy as np

        bits, sizes, marks, fine, extra, again = (np.random.default_rng(s) for s in seed.spawn(6))
        return cls(
            table,
            n,
            bits,
            again,
            # no more ahead than the block is likely to need
            _Ahead(
                lambda k: extra.integers(0, n, k), min(AHEAD, int(rows * (1 - table.lam) * n) + 64)
            ),
            _Marked(table, n, rows, sizes, marks, fine),
        )

    def counts(self, rows: int) -> Array:
        """The next ``rows`` resamples' Poisson counts (float32, ``rows`` x ``n``)."""
        import numpy as np

        n, table = self.n, self.table
        # whole 64-bit words a row (the padding bytes are drawn and dropped): the stream
        # of bytes does not depend on how many rows are drawn at once
        words = -(-n // 8)
        byte = self.bits.bit_generator.random_raw(rows * words).view(np.uint8)
        if table.edges:
            counts = np.greater_equal(byte, table.edges[0]).view(np.uint8)
            mask = np.empty(byte.shape, dtype=bool)
            for edge in table.edges[1:]:
                np.greater_equal(byte, edge, out=mask)
                counts += mask.view(np.uint8)
        else:
            counts = np.zeros(byte.shape, dtype=np.uint8)
        out = counts.reshape(rows, 8 * words)[:, :n].astype(np.float32)
        cells, values = self.marked.next(rows)
        out.reshape(-1)[cells] = values
        return out

    def sums(self, counts: Array, operand: Array, out: Array) -> None:
        """Each row's sums ``operand @ c`` once its counts are made ``n`` draws.

        ``operand``'s row after the columns is ones: the product gives the Poisson
        total ``S`` with the sums. Above ``n`` the resample is drawn again (~2e-4 of
        them); below, the ``n - S`` extra rows' columns are added to its sums.
        """
        import numpy as np

        n, m = self.n, out.shape[1]
        for r, row in enumerate(counts):
            # whole numbers below 2^24: the total is exact in float32, in any order
            sums = operand @ row
            while sums[m] > n:
                sums = operand @ self.again.poisson(self.table.lam, n).astype(np.float32)
            extra = n - int(sums[m])
            picked = np.take(operand[:m], self.extra.take(extra), axis=1).sum(axis=1)
            out[r] = sums[:m] + picked


def weighted_sums(columns: Array, resamples: int, seed: int) -> Array:
    """``c @ columns`` for ``resamples`` bootstrap count vectors ``c`` (resamples x columns)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    n, m = columns.shape
    if n > MAX_ROWS:
        raise ValueError(f"{n} rows: more than this route's {MAX_ROWS}")
    table = PoissonTable.build(max(0.0, 1.0 - SLACK / math.sqrt(n)))
    mean = columns.mean(axis=0)
    # float32, a column a row and a row of ones: each resample's sums and total are one
    # matrix-vector product; rows of zeros up to a multiple of four, as OpenBLAS's
    # kernels take four at a time (three rows cost more than four)
    operand = np.zeros((-(-(m + 1) // 4) * 4, n), dtype=np.float32)
    operand[:m] = (columns - mean).T
    operand[m] = 1
    sums = np.empty((resamples, m))
    chunk = max(1, CHUNK_CELLS // n)
    bounds = [resamples * i // STREAMS for i in range(STREAMS + 1)]
    seeds = np.random.SeedSequence(seed).spawn(STREAMS)

    def block(i: int) -> None:
        draws = _Block.of(table, n, bounds[i + 1] - bounds[i], seeds[i])
        for start in range(bounds[i], bounds[i + 1], chunk):
            stop = min(start + chunk, bounds[i + 1])
            draws.sums(draws.counts(stop - start), operand, sums[start:stop])

    with threadpool_limits(1, user_api="blas"):  # threaded BLAS on thin products: 5x slower
        run_blocks(block, STREAMS)
    out: Array = sums + n * mean
    return out


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
    "AHEAD",
    "CHUNK_CELLS",
    "MARKS_CELLS",
    "MAX_ROWS",
    "SLACK",
    "STREAMS",
    "PoissonTable",
    "run_blocks",
    "weighted_sums",
]
