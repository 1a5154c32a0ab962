"""Date columns as dates: day numbers, profiles, the review's shift row, drift and quality.

Plain values in (Arrow tables, profiles, day numbers), results out: the end-to-end path
through the CLI is tests/func/test_dates.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pytest

from engine.data.dates import iso, ordinal, to_days
from engine.data.profile import ColumnProfile, DataProfile, summarize
from engine.definitions.formats import Column, Monitoring, Schema
from engine.monitoring.columns import side_of
from engine.monitoring.drift import Dates, data_drift
from engine.monitoring.outcome import Outcome
from engine.monitoring.page import html
from engine.monitoring.quality import check_quality
from engine.monitoring.report import as_dict, markdown
from engine.review.shift import data_shift, date_cells, moved

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "monitor-report.schema.json").read_text()
)


def days_of(start: str, end: str, rows: int) -> list[str]:
    """``rows`` dates spread evenly from ``start`` to ``end``."""
    first, last = ordinal(start), ordinal(end)
    return [iso(first + (last - first) * i // (rows - 1)) for i in range(rows)]


# --- day numbers ------------------------------------------------------------------------


def test_text_dates_become_day_numbers_and_bad_ones_are_counted_apart_from_nulls() -> None:
    days = to_days(pa.array(["1970-01-02", None, "2024-02-30", "31/05/2024", "2024-02-29"]))
    assert days.days.to_pylist() == [1, None, None, None, ordinal("2024-02-29")]
    assert (days.bad_count, days.first_bad) == (2, 3)
    assert iso(ordinal("1969-12-31")) == "1969-12-31" and iso(-0.5) == "1969-12-31"


def test_arrow_dates_and_timestamps_keep_their_calendar_day() -> None:
    stamp = pa.array([datetime.datetime(2024, 3, 1, 23, 59), None], pa.timestamp("us"))
    assert to_days(stamp).days.to_pylist() == [ordinal("2024-03-01"), None]
    assert to_days(pa.array([datetime.date(2024, 3, 1)])).bad_count == 0


# --- profiles ---------------------------------------------------------------------------


def test_a_date_column_is_profiled_as_a_range_deciles_and_months() -> None:
    table = pa.table({"when": ["2024-01-31", None, "2024-04-01", "2024-04-30"], "x": [1, 2, 3, 4]})
    when, x = summarize(table, dates=["when"]).profiles
    assert (when.dtype, when.nulls, when.top, when.mean) == ("date", 1, (), None)
    assert (when.earliest, when.latest) == ("2024-01-31", "2024-04-30")
    assert when.quantiles[0] == "2024-01-31" and when.quantiles[-1] == "2024-04-30"
    assert len(when.quantiles) == 11
    # every month from the first to the last, the empty ones too: a histogram over time
    assert when.histogram == (("2024-01", 1), ("2024-02", 0), ("2024-03", 0), ("2024-04", 2))
    assert x.dtype == "int64" and not x.is_date  # undeclared columns are as before


def test_long_spans_are_binned_by_year_then_decade_and_arrow_dates_need_no_declaration() -> None:
    years = [datetime.date(2001 + 2 * i, 6, 1) for i in range(5)]
    (col,) = summarize(pa.table({"d": years})).profiles
    assert col.is_date and [h[0] for h in col.histogram][:3] == ["2001", "2002", "2003"]
    assert sum(n for _, n in col.histogram) == 5
    (old,) = summarize(pa.table({"d": ["1801-01-01", "2024-01-01"]}), dates=["d"]).profiles
    assert old.histogram[0] == ("1800s", 1) and old.histogram[-1] == ("2020s", 1)


def test_a_stored_date_profile_reads_back_the_same() -> None:
    profile = summarize(pa.table({"d": days_of("2024-01-01", "2024-06-30", 50)}), dates=["d"])
    stored = json.loads(json.dumps(dataclasses.asdict(profile)))
    assert DataProfile.from_dict(stored) == profile


# --- the review's shift row -------------------------------------------------------------


def _profile(start: str, end: str, rows: int = 200, nulls: int = 0) -> DataProfile:
    dates: list[str | None] = [None] * nulls + days_of(start, end, rows)[nulls:]
    table = pa.table({"when": dates, "x": [float(i % 7) for i in range(rows)]})
    return summarize(table, dates=["when"])


def test_a_date_column_gets_a_shift_row_with_both_ranges_and_how_far_it_moved() -> None:
    base, head = _profile("2024-01-01", "2024-06-30"), _profile("2024-03-01", "2024-08-29")
    shifts = {s.column: s for s in data_shift(base, head)}
    when = shifts["when"]
    assert when.kind == "date" and not when.flagged  # newer data is no verdict
    assert when.shift is None and when.days == pytest.approx(60, abs=1)
    assert date_cells(when, (200, 200)) == (
        "2024-01-01…2024-06-30",
        "2024-03-01…2024-08-29",
        "moved 60 days later",
    )
    assert moved(head.profiles[0], base.profiles[0]) == pytest.approx(-60, abs=1)
    assert shifts["x"].kind == "numeric"  # the other columns are as before


def test_the_report_shows_the_date_row_with_its_ranges_and_flagged_dates_first() -> None:
    from engine.review import sections

    base, head = _profile("2024-01-01", "2024-06-30"), _profile("2024-03-01", "2024-08-29")
    shifts = {s.column: s for s in data_shift(base, head)}
    row = sections._shift_row(shifts["when"], (200, 200))
    assert row == "| `when` | 2024-01-01…2024-06-30 | 2024-03-01…2024-08-29 | moved 60 days later |"
    flagged = dataclasses.replace(shifts["when"], flagged=True)
    order = sorted([shifts["x"], flagged], key=sections._shift_order)
    assert [s.column for s in order] == ["when", "x"]


def test_a_date_column_is_flagged_only_when_its_nulls_grow() -> None:
    base, head = (
        _profile("2024-01-01", "2024-06-30"),
        _profile("2024-01-01", "2024-06-30", nulls=40),
    )
    (when,) = [s for s in data_shift(base, head) if s.column == "when"]
    assert when.flagged
    _, new, how = date_cells(when, (200, 200))
    assert new.endswith("· 20% nulls") and how.endswith("⚠️ more nulls")


def test_same_dates_and_a_base_profiled_before_dates_had_a_type() -> None:
    base = _profile("2024-01-01", "2024-06-30")
    (same,) = [s for s in data_shift(base, base) if s.column == "when"]
    assert date_cells(same, (200, 200))[2] == "same dates"
    legacy = DataProfile(
        200, 2, profiles=(ColumnProfile("when", "string", top=(("2024-01-01", 1),)),)
    )
    # "when" can't be compared, but is no new column either: its head range is shown
    (when, x) = data_shift(legacy, base)
    assert (when.kind, when.days, when.flagged, x.kind) == ("date", None, False, "added")
    assert date_cells(when, (200, 200)) == ("—", "2024-01-01…2024-06-30", "—")
    (back,) = [s for s in data_shift(base, legacy) if s.column == "when"]
    assert (back.kind, back.flagged) == ("date", False)


# --- monitoring: drift and quality ------------------------------------------------------


def _sides(reference: list[str | None], current: list[str | None]):
    other = [float(i % 13) for i in range(max(len(reference), len(current)))]
    ref = side_of(pa.table({"when": reference, "x": other[: len(reference)]}), dates=["when"])
    cur = side_of(pa.table({"when": current, "x": other[: len(current)]}), dates=["when"])
    return ref, cur


@pytest.mark.parametrize(("rows", "method"), [(600, "ks"), (3000, "wasserstein")])
def test_dates_half_a_year_later_shift_as_information_and_nothing_drifts(rows, method) -> None:
    ref, cur = _sides(
        days_of("2024-01-01", "2024-06-30", rows), days_of("2024-07-01", "2024-12-31", rows)
    )
    assert ref.types == {"when": "date", "x": "float"}
    drift = data_drift(ref.columns, cur.columns, Monitoring())
    assert [f.name for f in drift.features] == ["x"] and not drift.drifted
    (when,) = drift.dates
    assert (when.kind, when.method, when.drifted) == ("date", method, True)
    assert when.reference_range == ("2024-01-01", "2024-06-30")
    assert when.current_range == ("2024-07-01", "2024-12-31")
    assert when.labels[0] == "2024-01-01" and all(len(x) == 10 for x in when.labels)
    assert when.psi > 1
    quality = check_quality(ref, cur, Schema(columns={"when": Column(type="date")}))
    assert [(f.column, f.check, f.severity) for f in quality] == [("when", "newer-dates", "info")]
    assert f"{rows:,} of {rows:,} dates are newer than training" in quality[0].message
    assert "2024-01-01…2024-06-30; latest 2024-12-31" in quality[0].message


def test_the_same_dates_do_not_shift() -> None:
    dates = days_of("2024-01-01", "2024-06-30", 400)
    ref, cur = _sides(dates, dates[::-1])
    (when,) = data_drift(ref.columns, cur.columns, Monitoring()).dates
    assert not when.drifted and check_quality(ref, cur, Schema()) == []


def test_bad_dates_are_an_error_located_by_row_and_older_dates_a_warning() -> None:
    current: list[str | None] = ["2023-12-01", "2024-02-30", None, "yesterday", "2024-03-01"]
    ref, cur = _sides(days_of("2024-01-01", "2024-06-30", 5), current)
    when = cur.columns["when"]
    assert isinstance(when, Dates) and (when.nulls, when.bad, when.first_bad) == (1, 2, 2)
    findings = check_quality(ref, cur, Schema(columns={"when": Column(type="date", nullable=True)}))
    assert [(f.column, f.check, f.severity) for f in findings] == [
        ("when", "not-a-date", "error"),
        ("when", "nulls", "warning"),
        ("when", "out-of-range", "warning"),
    ]
    assert findings[0].message.startswith("2 value(s) are not dates (first at row 2)")
    assert "yesterday" not in findings[0].message  # the data is never quoted
    assert "1 dates before the trained-on range 2024-01-01…2024-06-30" in findings[2].message


def test_a_date_column_of_numbers_is_a_type_change() -> None:
    ref = side_of(pa.table({"when": ["2024-01-01", "2024-01-02"]}), dates=["when"])
    cur = side_of(pa.table({"when": [20240101, 20240102]}), dates=["when"])
    assert cur.types == {"when": "int"}
    (finding,) = check_quality(ref, cur, Schema())
    assert (finding.check, finding.message) == (
        "type-changed",
        "type int, was date in the reference",
    )
    assert data_drift(ref.columns, cur.columns).skipped == ("when",)


# --- monitoring: the reports ------------------------------------------------------------


def _outcome() -> Outcome:
    ref, cur = _sides(
        days_of("2024-01-01", "2024-06-30", 300), days_of("2024-07-01", "2024-12-31", 300)
    )
    schema = Schema(columns={"when": Column(type="date")})
    return Outcome(
        model="m", environment="prod", version="v1", source_commit="f" * 40,
        reference="stored sample", current="batch b.csv", reference_rows=300,
        current_rows=300, data=data_drift(ref.columns, cur.columns, Monitoring()),
        quality=tuple(check_quality(ref, cur, schema)),
    )  # fmt: skip


def test_reports_show_date_ranges_in_dates_and_the_verdict_stays_ok() -> None:
    outcome = _outcome()
    assert outcome.status == "ok"
    text = markdown([outcome])
    assert text.startswith("## m in prod: no drift") and "0 of 1 features drifted" in text
    row = next(line for line in text.splitlines() if line.startswith("| `when`"))
    assert "| 2024-01-01…2024-06-30 | 2024-07-01…2024-12-31 | K-S p-value |" in row
    assert row.endswith("| yes |")
    assert '"2024-01-01"' in text  # the chart's axis is in dates
    assert "- **info** `when` newer-dates: 300 of 300 dates are newer than training" in text
    page = html([outcome])
    assert "<td>2024-01-01…2024-06-30</td><td>2024-07-01…2024-12-31</td>" in page
    assert "when (shifted)" in page


def test_json_lists_dates_apart_and_matches_its_schema() -> None:
    data = json.loads(json.dumps(as_dict([_outcome()])))
    jsonschema.validate(data, SCHEMA)
    (model,) = data["models"]
    (when,) = model["data"]["dates"]
    assert when["kind"] == "date" and when["reference_range"] == ["2024-01-01", "2024-06-30"]
    assert [f["name"] for f in model["data"]["features"]] == ["x"]
    assert model["quality"][0]["severity"] == "info"
    assert np.isfinite(when["score"])
