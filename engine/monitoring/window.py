"""One pinned version's share of the prediction logs, gathered as the lines stream past.

:class:`Window` is fed every logged request once (:func:`engine.monitoring.logs.stream_logs`)
and keeps only what the judgements need:

- the ``--since`` window's inputs of the version's requests, as compact columns
  (:mod:`engine.monitoring.compact`), with their predictions and confidences: drift,
  prediction drift and data quality;
- counters and latencies of every request to the model in the window, whichever version
  answered and whether it failed: service health (the endpoint's);
- the rows of requests the labels file names, in the window or before it (labels arrive
  late): live performance (:mod:`engine.monitoring.labels`);
- how many requests another version answered (the logs of a week span promotions and
  canaries), and how many could not be read as the model's rows: notes.

So memory grows with the window's feature values, not with the lines read. The rows are
put in time order at the end (oldest first, rows of one moment in the order read), the
order the whole logs were once sorted in.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.monitoring.compact import CHUNK, ColumnBuilder, ColumnsBuilder
from engine.monitoring.health import HealthCounter
from engine.monitoring.labels import LabelFile, LabelJoin
from engine.monitoring.live import Live
from engine.monitoring.records import in_window

if TYPE_CHECKING:
    from engine.monitoring.records import Prediction


@dataclass(frozen=True)
class Judged:
    """Which version is judged: a record that names no version (KServe's payload logger
    names none) is taken as its; a record that names no model, as the model's."""

    model: str
    version: str
    fingerprint: str = ""

    def mine(self, prediction: Prediction) -> bool:
        """A request to this model (any version)."""
        return prediction.model in (None, self.model)

    def answered(self, prediction: Prediction) -> bool:
        """Whether this version answered."""
        return prediction.version in (None, "", self.version, self.fingerprint)


def fits(prediction: Prediction, width: int) -> bool:
    """Every instance is an object, or a list of the model's width."""
    for row in prediction.rows:
        if type(row) is dict or isinstance(row, Mapping):  # a dict: no ABC check
            continue
        if not isinstance(row, list) or len(row) != width:
            return False
    return True


class Window:
    """The logged requests of one version, gathered one at a time (see the module doc)."""

    def __init__(
        self,
        judged: Judged,
        features: Sequence[str],
        since: float | None = None,
        labels: LabelFile | None = None,
        *,
        chunk: int = CHUNK,
    ):
        self.judged = judged
        self.chunk = chunk
        self.width = len(features)
        self.since = since
        self.columns = ColumnsBuilder(features, chunk)
        self.times = array("d")  # per window row, NaN without a time
        self.outputs = ColumnBuilder(chunk=chunk)
        self.answered = True  # every window request had an output per row
        self.confidence = array("d")
        self.health = HealthCounter()
        self.join = LabelJoin(labels) if labels is not None else None
        self.foreign = 0
        self.versions: set[str] = set()
        self.misfits = 0
        self.first_misfit: tuple[bool, float, int, str] | None = None
        self.read = 0

    def inside(self, prediction: Prediction) -> bool:
        """Whether a logged request is in the window (one without a time is)."""
        return in_window(prediction.time, self.since)

    def add(self, prediction: Prediction) -> None:
        """One logged request (of any model: others are passed over)."""
        self.read += 1
        if not self.judged.mine(prediction):
            return
        inside = self.inside(prediction)
        if inside:
            self.health.add(prediction)
        if not prediction.ok:
            return
        if not self.judged.answered(prediction):
            self.foreign += 1
            self.versions.add(str(prediction.version))
            if self.join is not None:
                self.join.foreign(prediction)
            return
        if not fits(prediction, self.width):
            if inside:
                self.misfits += 1
                key = (prediction.time is None, prediction.time or 0.0, self.read)
                if self.first_misfit is None or key < self.first_misfit[:3]:
                    self.first_misfit = (*key, prediction.request_id)
            return
        first_row = self.columns.rows if inside else None
        if inside:
            self._take(prediction)
        if self.join is not None:
            self.join.logged(prediction, first_row)

    def _take(self, prediction: Prediction) -> None:
        rows = prediction.rows
        self.columns.add(rows)
        stamp = math.nan if prediction.time is None else prediction.time
        self.times.extend([stamp] * len(rows))
        outputs, proba = prediction.outputs, prediction.probabilities
        if outputs and len(outputs) == len(rows):
            if self.answered:
                for value in outputs:
                    self.outputs.append(value)
        elif rows:
            self.answered = False  # no fair prediction sample: drop what was kept
            self.outputs = ColumnBuilder(chunk=self.chunk)
        if proba and len(proba) == len(rows):
            self.confidence.extend(max(p) for p in proba)

    def finish(self) -> Live:
        """What the judgements take, rows oldest first."""
        import numpy as np

        table = self.columns.finish()
        times = np.frombuffer(self.times, dtype=np.float64) if self.times else np.empty(0)
        order = np.lexsort((np.nan_to_num(times, nan=0.0), np.isnan(times)))
        shuffled = bool(len(order)) and not bool(np.all(order[1:] > order[:-1]))
        if shuffled and table.num_columns:
            table = table.take(order)
        live = Live(table, notes=self._notes())
        if self.answered and self.outputs.count:
            outputs = self.outputs.finish()
            live.predictions = (outputs.take(order) if shuffled else outputs).to_pylist()
        live.confidence = self.confidence
        live.health = self.health.result()
        if self.join is not None:
            joined = self.join.result()
            rows = order.tolist() if shuffled else range(self.columns.rows)
            live.labels = [joined.window.get(row) for row in rows]
            live.unknown_labels = joined.unknown
            live.scored = joined.scored
            if joined.earlier:
                live.notes.append(
                    f"live performance includes {joined.earlier} labelled rows of requests "
                    "before the window (labels arrive late): drift and service health judge "
                    "the window only"
                )
            if joined.reused:
                live.notes.append(
                    f"{len(joined.reused)} request ids appear more than once in the logs "
                    f"(first: {joined.reused[0]}): their labels are not joined, since they "
                    "could belong to either"
                )
        return live

    def _notes(self) -> list[str]:
        notes = []
        if self.foreign:
            others = sorted(self.versions)
            shown = ", ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            notes.append(
                f"{self.foreign} logged requests were answered by another version "
                f"({shown}): left out of drift and performance, which judge "
                f"{self.judged.version}"
            )
        if self.first_misfit is not None:  # one client's odd request must not stop the
            # monitoring of every model
            notes.append(
                f"{self.misfits} logged requests skipped: an instance is not a row of the "
                f"model's {self.width} inputs (request {self.first_misfit[3]}"
                f"{' and others' if self.misfits > 1 else ''})"
            )
        return notes
