"""Data checks, content hashes and summaries, on plain tables and the bad-CSV corpus.

The corpus (tests/data/bad/*.csv) is checked against tests/data/churn.yaml; each case
breaks one rule and the exact, located messages are asserted.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from engine.data.profile import ColumnProfile, DataProfile, summarize
from engine.data.tables import Finding, check_table, read_csv, to_frame, to_problems
from engine.definitions.formats import Dataset
from engine.definitions.loading import Entry, load
from engine.errors import DataError

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def churn() -> Entry[Dataset]:
    defs = load({"mlops/datasets/churn.yaml": (DATA / "churn.yaml").read_bytes()})
    assert not defs.problems
    return defs.datasets["churn"]


def dataset(**fields: object) -> Dataset:
    base: dict[str, object] = {"name": "d", "source": {"path": "data/d.csv"}, "target": "y"}
    return Dataset.model_validate(base | fields)


def messages(ds: Dataset, table: pa.Table) -> list[str]:
    return [f.message for f in check_table(ds, table)]


# --- the corpus -------------------------------------------------------------------------

Y = "mlops/datasets/churn.yaml"
CORPUS = {
    "missing_target": [
        f"{Y}:4:9: error: target column 'churned' is missing from the data; did you mean 'churn'?",
    ],
    "text_in_int": [
        f"{Y}:9:17: error: column 'age' is declared int but has 3 rows with text (rows 2, 4, 6)",
    ],
    "fractional_int": [
        f"{Y}:9:17: error: column 'age' is declared int but has 1 row with fractional "
        "numbers (row 1)",
    ],
    "out_of_range": [
        f"{Y}:9:27: error: column 'age' has 2 rows below min 18 (rows 2, 6)",
        f"{Y}:9:36: error: column 'age' has 2 rows above max 120 (rows 3, 4)",
        f"{Y}:10:32: error: column 'income' has 1 row below min 0 (row 5)",
    ],
    "nulls": [
        f"{Y}:9:10: error: column 'age' has 2 missing values but is not nullable: fill them "
        "or declare nullable: true",
    ],
    "too_few_rows": [f"{Y}:13:20: error: the data has 2 rows, fewer than min_rows (5)"],
    "unexpected_values": [
        f"{Y}:11:34: error: column 'plan' has 3 rows with values not in ['basic', 'pro'] "
        "(rows 1, 3, 4)",
        f"{Y}:12:34: error: column 'churned' has 1 row with values not in [0, 1] (row 2)",
    ],
    "mostly_empty": [
        f"{Y}:11:11: error: column 'plan' has 2 missing values but is not nullable: fill "
        "them or declare nullable: true",
        f"{Y}:13:42: error: column 'income' is 60% missing (3 of 5 rows), above "
        "max_null_fraction 0.5",
    ],
    "duplicate_ids": [
        f"{Y}:5:12: error: id column 'customer_id' has 2 ids on more than one row "
        "(rows 2, 3, 4, 5); ids must be unique",
    ],
}


def test_the_corpus_is_complete() -> None:
    cases = {p.stem for p in (DATA / "bad").glob("*.csv")}
    assert cases == set(CORPUS) | {"ragged", "empty"}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_each_bad_csv_gives_exact_located_problems(case: str, churn: Entry[Dataset]) -> None:
    table = read_csv(DATA / "bad" / f"{case}.csv", churn.spec, name="data/churn.csv")
    problems = to_problems(churn.doc, check_table(churn.spec, table))
    assert [p.render() for p in problems] == CORPUS[case]
    assert {p.rule for p in problems} == {"data"}


CSV = "data/churn.csv"
IN_CSV = {
    "text_in_int": [
        f"{CSV}:3:3: error: column 'age' holds text where int is declared, here and on "
        f"lines 5, 7 ({Y}:9)",
    ],
    "out_of_range": [
        f"{CSV}:3:3: error: column 'age' is below min 18, here and on line 7 ({Y}:9)",
        f"{CSV}:4:3: error: column 'age' is above max 120, here and on line 5 ({Y}:9)",
        f"{CSV}:6:6: error: column 'income' is below min 0 ({Y}:10)",
    ],
    "duplicate_ids": [
        f"{CSV}:3:1: error: column 'customer_id' repeats an id, here and on lines 4, 5, 6 ({Y}:5)",
    ],
}


@pytest.mark.parametrize("case", sorted(IN_CSV))
def test_problems_with_cells_point_at_the_csv_line_and_column(
    case: str, churn: Entry[Dataset]
) -> None:
    """Issue 11: a bad cell is shown where it is in the CSV, not at the dataset's YAML."""
    path = DATA / "bad" / f"{case}.csv"
    table = read_csv(path, churn.spec, name=CSV)
    problems = to_problems(churn.doc, check_table(churn.spec, table), (path, CSV))
    assert [p.render() for p in problems] == IN_CSV[case]


def test_findings_without_cells_stay_at_the_definition(churn: Entry[Dataset]) -> None:
    path = DATA / "bad" / "too_few_rows.csv"
    table = read_csv(path, churn.spec, name=CSV)
    problems = to_problems(churn.doc, check_table(churn.spec, table), (path, CSV))
    assert [p.render() for p in problems] == CORPUS["too_few_rows"]


def test_cells_are_found_past_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    from engine.data.cells import cell_positions

    path = tmp_path / "x.csv"
    path.write_bytes(
        b'"name","note",score\r\n\r\nada,"two\r\nlines",1\n\nbob,"a, ""quoted"" comma",x\nbea,,3\n'
    )
    ds = dataset(schema={"columns": {"score": {"type": "int"}}}, target="score")
    table = read_csv(path, ds)
    assert table.column("score").to_pylist() == ["1", "x", "3"]  # Arrow agrees on the rows
    assert cell_positions(path, [0, 1, 2], "score") == {0: (4, 8), 1: (6, 27), 2: (7, 6)}
    assert cell_positions(path, [0], "note") == {0: (3, 5)}
    assert cell_positions(path, [9], "score") == {}
    assert cell_positions(path, [0], "nope") == {}
    path.write_bytes("\ufeffid,score\n1,x\n".encode())  # a byte-order mark, as Excel writes
    assert cell_positions(path, [0], "id") == {0: (2, 1)}


def test_the_good_csv_passes(churn: Entry[Dataset]) -> None:
    table = read_csv(DATA / "churn.csv", churn.spec)
    assert check_table(churn.spec, table) == []
    assert table.schema.field("plan").type == pa.string()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("ragged", "CSV parse error: Expected 5 columns, got 6"),  # never the row itself
        ("empty", "Empty CSV file"),
    ],
)
def test_unreadable_csv_is_a_data_error(case: str, reason: str, churn: Entry[Dataset]) -> None:
    with pytest.raises(DataError) as err:
        read_csv(DATA / "bad" / f"{case}.csv", churn.spec, name="data/churn.csv")
    assert str(err.value) == (
        f"data/churn.csv can't be read as CSV ({reason}): fix the file, then run "
        "`dvc add data/churn.csv`"
    )


def test_a_value_arrow_quotes_is_cut_from_the_reason(churn: Entry[Dataset], tmp_path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text('customer_id,age,income,plan,churned\n"s3cr3t,1\n')
    with pytest.raises(DataError) as err:
        read_csv(bad, churn.spec, name="data/churn.csv")
    assert "s3cr3t" not in str(err.value) and "Expected 5 columns, got 1" in str(err.value)


# --- types ------------------------------------------------------------------------------


def test_declared_string_columns_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "zip.csv"
    path.write_text("zip,y\n02134,1\n,0\n")
    ds = dataset(schema={"columns": {"zip": {"type": "string", "nullable": True}}})
    table = read_csv(path, ds)
    assert table.column("zip").to_pylist() == ["02134", None]
    assert check_table(ds, table) == []


def test_float_accepts_ints_and_int_accepts_integral_floats() -> None:
    ds = dataset(schema={"columns": {"a": {"type": "float"}, "b": {"type": "int"}}})
    table = pa.table({"a": [1, 2], "b": [1.0, 3.0], "y": [0, 1]})
    assert check_table(ds, table) == []


def test_bool_accepts_zero_and_one_but_not_other_numbers() -> None:
    ds = dataset(schema={"columns": {"a": {"type": "bool"}, "b": {"type": "bool"}}})
    table = pa.table({"a": [0, 1, None], "b": [0, 2, 3], "y": [0, 1, 1]})
    assert messages(ds, table) == [
        "column 'a' has 1 missing value but is not nullable: fill them or declare nullable: true",
        "column 'b' is declared bool but has 2 rows with numbers other than 0 and 1 (rows 2, 3)",
    ]


def test_a_type_arrow_cannot_convert_is_named() -> None:
    ds = dataset(schema={"columns": {"a": {"type": "string"}, "b": {"type": "int"}}})
    table = pa.table({"a": [1.5, 2.5], "b": [True, False], "y": [0, 1]})
    assert messages(ds, table) == [
        "column 'a' is declared string but holds double values",
        "column 'b' is declared int but holds bool values",
    ]


def test_a_wrong_type_is_not_also_checked_for_range_or_values() -> None:
    column = {"type": "int", "min": 0, "max": 1, "values": [0, 1]}
    ds = dataset(schema={"columns": {"a": column}})
    table = pa.table({"a": ["x", "5"], "y": [0, 1]})
    assert messages(ds, table) == ["column 'a' is declared int but has 1 row with text (row 1)"]


def test_dictionary_columns_are_checked_as_their_values() -> None:
    ds = dataset(schema={"columns": {"c": {"type": "string", "values": ["a", "b"]}}})
    table = pa.table({"c": pa.array(["a", "z", "b"]).dictionary_encode(), "y": [0, 1, 0]})
    assert messages(ds, table) == ["column 'c' has 1 row with values not in ['a', 'b'] (row 2)"]


# --- values, nulls, rows ----------------------------------------------------------------


def test_unexpected_values_show_five_rows_and_count_the_rest() -> None:
    ds = dataset(schema={"columns": {"y": {"type": "int", "values": [0, 1]}}})
    table = pa.table({"y": [0, 1, *range(2, 10), 9, None]})
    assert messages(ds, table) == [
        "column 'y' has 1 missing value but is not nullable: fill them or declare nullable: true",
        "column 'y' has 9 rows with values not in [0, 1] (rows 3, 4, 5, 6, 7 and 4 more)",
    ]


def test_allowed_values_of_another_type_are_compared_in_the_columns_type() -> None:
    ds = dataset(
        schema={
            "columns": {
                "s": {"type": "string", "values": [1, 2]},
                "y": {"type": "float", "values": [0, 1]},
            }
        }
    )
    table = pa.table({"s": ["1", "2", "3"], "y": [0.0, 1.0, 0.5]})
    assert messages(ds, table) == [
        "column 's' has 1 row with values not in [1, 2] (row 3)",
        "column 'y' has 1 row with values not in [0, 1] (row 3)",
    ]


def test_nan_counts_as_missing() -> None:
    ds = dataset(
        schema={"columns": {"x": {"type": "float", "min": 0}}}, checks={"max_null_fraction": 0.25}
    )
    table = pa.table({"x": [1.0, math.nan, None, 2.0], "y": [0, 1, 0, 1]})
    assert [(f.loc, f.message) for f in check_table(ds, table)] == [
        (
            ("schema", "columns", "x", "nullable"),
            "column 'x' has 2 missing values but is not nullable: fill them or declare "
            "nullable: true",
        ),
        (
            ("checks", "max_null_fraction"),
            "column 'x' is 50% missing (2 of 4 rows), above max_null_fraction 0.25",
        ),
    ]


def test_null_fraction_names_the_worst_column_then_the_others() -> None:
    ds = dataset(checks={"max_null_fraction": 0.1})
    table = pa.table(
        {"a": [None, 1, 2, 3], "b": [None, None, None, 1], "c": [None, 1, 2, 3], "y": [0, 1, 0, 1]}
    )
    assert messages(ds, table) == [
        "column 'b' is 75% missing (3 of 4 rows), above max_null_fraction 0.1; so are 'a', 'c'"
    ]


def test_row_bounds() -> None:
    table = pa.table({"y": [0, 1, 0]})
    assert check_table(dataset(checks={"max_rows": 2}), table) == [
        Finding(("checks", "max_rows"), "the data has 3 rows, more than max_rows (2)")
    ]
    assert messages(dataset(checks={"min_rows": 3, "max_rows": 3}), table) == []
    empty = dataset(checks={"min_rows": 1, "max_null_fraction": 0})
    assert messages(empty, pa.table({"y": pa.array([], pa.int64())})) == [
        "the data has 0 rows, fewer than min_rows (1)"
    ]


def test_missing_declared_column_lists_what_the_data_has() -> None:
    ds = dataset(schema={"columns": {"zzz": {"type": "int"}}})
    assert check_table(ds, pa.table({"a": [1], "y": [1]})) == [
        Finding(
            ("schema", "columns", "zzz"),
            "column 'zzz' is declared in the schema but is missing from the data (its "
            "columns: 'a', 'y')",
        )
    ]


def test_target_and_id_column_must_be_present_and_filled() -> None:
    ds = dataset(id_column="id")
    assert check_table(ds, pa.table({"x": [1]})) == [
        Finding(("target",), "target column 'y' is missing from the data (its columns: 'x')"),
        Finding(("id_column",), "id column 'id' is missing from the data (its columns: 'x')"),
    ]
    assert messages(ds, pa.table({"id": [1, None], "y": [None, 1]})) == [
        "target column 'y' has 1 missing value: every row needs one",
        "id column 'id' has 1 missing value: every row needs one",
    ]


def test_duplicate_column_names_are_reported() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array([0])], ["a", "a", "y"])
    assert check_table(dataset(), table) == [
        Finding((), "column 'a' appears more than once in the data: rename or drop the copies")
    ]


def test_no_finding_quotes_a_value_of_the_data() -> None:
    # Findings reach pull-request comments; the data may be private. Every rule that
    # looks at values breaks here, on a secret that must never be echoed.
    secret = "s3cr3t-value"
    ds = dataset(
        id_column="id",
        schema={
            "columns": {
                "id": {"type": "string"},
                "n": {"type": "int", "min": 0, "max": 10},
                "f": {"type": "int"},
                "b": {"type": "bool"},
                "c": {"type": "string", "values": ["a"]},
                "y": {"type": "int", "values": [0, 1]},
            }
        },
    )
    table = pa.table(
        {
            "id": [secret, secret, "x"],
            "n": [-31337, 31337, 5],
            "f": ["a" + secret, "1", "2"],
            "b": [271828, 0, 1],
            "c": ["a", secret, "a"],
            "y": [0, 1, 314159],
        }
    )
    found = messages(ds, table)
    assert len(found) == 7
    shown = " ".join(found)
    for value in (secret, "31337", "271828", "314159"):
        assert value not in shown
    assert "column 'n' has 1 row below min 0 (row 1)" in found
    assert "column 'c' has 1 row with values not in ['a'] (row 2)" in found


def test_long_column_names_from_the_data_are_cut_in_messages() -> None:
    long = "x" * 100
    (message,) = messages(dataset(), pa.table({long: [1]}))
    assert message == (f"target column 'y' is missing from the data (its columns: '{'x' * 37}...')")


# --- summaries --------------------------------------------------------------------------


def test_summarize() -> None:
    table = pa.table(
        {
            "x": [1.0, 2.0, None, 3.0],
            "c": ["b", "a", "b", None],
            "k": [1, 1, 2, 1],
            "flag": [True, False, True, True],
        }
    )
    assert summarize(table) == DataProfile(
        rows=4,
        columns=4,
        profiles=(
            ColumnProfile("x", "double", 1, mean=2.0, std=1.0, min=1.0, max=3.0),
            ColumnProfile("c", "string", 1, top=(("b", 2), ("a", 1))),
            ColumnProfile("k", "int64", 0, mean=1.25, std=0.5, min=1, max=2, top=((1, 3), (2, 1))),
            ColumnProfile("flag", "bool", 0, top=((True, 3), (False, 1))),
        ),
    )


def test_summarize_leaves_out_the_id_column() -> None:
    table = pa.table({"customer": ["c1", "c2", "c3"], "x": [1.0, 2.0, 3.0]})
    profile = summarize(table, skip=["customer"])
    assert [c.name for c in profile.profiles] == ["x"]
    assert (profile.rows, profile.columns, profile.skipped) == (3, 1, ("customer",))


def test_summarize_keeps_many_valued_ints_numeric_only() -> None:
    (column,) = summarize(pa.table({"n": list(range(100))})).profiles
    assert column.top == ()
    assert (column.min, column.max) == (0, 99)


def test_to_frame() -> None:
    frame = to_frame(pa.table({"a": [1, 2], "y": ["u", "v"]}))
    assert list(frame.columns) == ["a", "y"]
    assert frame["a"].tolist() == [1, 2]


# --- date columns ------------------------------------------------------------------------


def _dated(values: list[object], kind: object = None):
    import pyarrow as pa

    from engine.definitions.formats import Dataset

    dataset = Dataset.model_validate(
        {
            "name": "d",
            "source": {"path": "data/d.csv"},
            "target": "y",
            "schema": {
                "columns": {"y": {"type": "int"}, "when": {"type": "date", "nullable": True}}
            },
        }
    )
    table = pa.table({"y": [1] * len(values), "when": pa.array(values, kind)})
    return dataset, table


def test_iso_dates_and_missing_values_pass():
    from engine.data.checks import check_table

    assert check_table(*_dated(["2024-05-31", None, "2024-02-29"])) == []


def test_a_bad_date_is_found_at_its_row_and_column_without_its_value():
    from engine.data.checks import check_table

    findings = check_table(*_dated(["2024-05-31", "2024-13-01", "2023-02-29", "31/05/2024"]))
    (finding,) = findings
    assert finding.column == "when" and finding.rows == (1, 2, 3)  # indices from 0
    assert finding.loc == ("schema", "columns", "when", "type")
    assert finding.message.startswith("when: row 2 is not a date")
    assert "3 rows in all" in finding.message and "2024-13-01" not in finding.message


def test_typed_date_columns_pass_and_numbers_do_not():
    import datetime

    import pyarrow as pa

    from engine.data.checks import check_table

    assert check_table(*_dated([datetime.date(2024, 5, 31)], pa.date32())) == []
    (finding,) = check_table(*_dated([20240531], pa.int64()))
    assert "declared date but holds int64" in finding.message


def test_a_date_column_takes_no_bounds():
    import pydantic
    import pytest

    from engine.definitions.formats import Column

    with pytest.raises(pydantic.ValidationError, match="a date column takes neither"):
        Column.model_validate({"type": "date", "min": 0})
