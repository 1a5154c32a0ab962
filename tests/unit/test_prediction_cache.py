"""The decoded-predictions cache: the same columns as decoding, and never a forged entry."""

from __future__ import annotations

import numpy as np
import pytest

from engine.review.prediction_cache import read_columns


@pytest.fixture(autouse=True)
def own_key(tmp_path, monkeypatch):
    # the MAC key lives in the user's cache directory: a fresh one per test
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "user-cache"))


def decoder(columns):
    calls = []

    def decode(path):
        calls.append(path)
        return {k: v.copy() for k, v in columns.items()}

    return decode, calls


def same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].tolist() == b[name].tolist(), name


def test_the_second_read_is_the_cached_copy_of_the_same_columns(tmp_path):
    parquet = tmp_path / "predictions.parquet"
    parquet.write_bytes(b"stand-in parquet bytes")
    columns = {
        "row_id": np.array(["a", "b", "ü"], dtype=object),
        "y_true": np.array([0, 1, 1]),
        "proba_1": np.array([0.1, 0.9, 0.55]),
    }
    decode, calls = decoder(columns)
    first = read_columns(parquet, decode, tmp_path / "cache")
    second = read_columns(parquet, decode, tmp_path / "cache")
    assert len(calls) == 1
    same(first, columns)
    same(second, columns)
    parquet.write_bytes(b"other bytes")  # another file: another key
    read_columns(parquet, decode, tmp_path / "cache")
    assert len(calls) == 2


def test_a_forged_or_corrupt_entry_is_ignored(tmp_path):
    parquet = tmp_path / "predictions.parquet"
    parquet.write_bytes(b"stand-in parquet bytes")
    columns = {"y_pred": np.array([1, 0, 1])}
    decode, calls = decoder(columns)
    read_columns(parquet, decode, tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    mac, _, body = entry.read_bytes().partition(b"\n")
    forged = body.replace(b"\x01\x00\x00\x00\x00\x00\x00\x00", b"\x07\x00\x00\x00\x00\x00\x00\x00")
    assert forged != body
    entry.write_bytes(mac + b"\n" + forged)
    same(read_columns(parquet, decode, tmp_path / "cache"), columns)
    entry.write_bytes(b"garbage")
    same(read_columns(parquet, decode, tmp_path / "cache"), columns)
    assert len(calls) == 3


def test_columns_that_are_not_plain_numbers_or_text_are_not_cached(tmp_path):
    parquet = tmp_path / "predictions.parquet"
    parquet.write_bytes(b"stand-in parquet bytes")
    decode, calls = decoder({"y_true": np.array(["x", None], dtype=object)})
    read_columns(parquet, decode, tmp_path / "cache")
    read_columns(parquet, decode, tmp_path / "cache")
    assert len(calls) == 2
    assert not (tmp_path / "cache").exists()
