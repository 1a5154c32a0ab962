"""DVC pointers: the plain form ``dvc add`` writes is read; anything that steers DVC is refused."""

from __future__ import annotations

import pytest

from engine.data.pointers import Pointer, parse
from engine.errors import PointerError

MD5 = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
FILE = "data/x.csv.dvc"
REDO = "run `dvc add data/x.csv` and commit data/x.csv.dvc"


def test_the_pointer_dvc_add_writes():
    text = f"outs:\n- md5: {MD5}\n  size: 1024\n  hash: md5\n  path: x.csv\n"
    assert parse(text.encode(), FILE) == Pointer(FILE, "data/x.csv", MD5, 1024, legacy=False)


def test_a_dvc2_pointer_is_legacy_and_keeps_an_all_digit_md5_as_written():
    digits = "01234567890123456789012345678901"
    pointer = parse(f"outs:\n- md5: {digits}\n  path: x.csv\n".encode(), FILE)
    assert (pointer.md5, pointer.legacy, pointer.hash_name) == (digits, True, "md5-dos2unix")


def test_annotations_are_allowed_and_a_folder_has_a_dir_hash():
    text = f"desc: churn\nouts:\n- md5: {MD5}.dir\n  nfiles: 3\n  desc: raw\n  path: raw\n"
    assert parse(text.encode(), "data/raw.dvc").md5 == MD5 + ".dir"


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (
            f"frozen: true\ndeps:\n- path: /etc/passwd\nouts:\n- md5: {MD5}\n  path: x.csv\n",
            (1, 1),
            "`frozen` marks an import stage",
        ),
        (
            f"outs:\n- md5: {MD5}\n  path: x.csv\ndeps:\n- path: http://127.0.0.1:1/x\n",
            (4, 1),
            "`deps` makes this an import stage, which DVC reads from another path or URL",
        ),
        (f"md5: {MD5}\nouts:\n- md5: {MD5}\n  path: x.csv\n", (1, 1), "`md5` is the hash"),
        (f"wdir: /etc\nouts:\n- md5: {MD5}\n  path: x.csv\n", (1, 1), "`wdir` moves the place"),
        (f"outs:\n- md5: {MD5}\n  path: x.csv\n  remote: evil\n", (4, 3), "`remote` sends DVC"),
        (f"outs:\n- md5: {MD5}\n  path: x.csv\n  cache: false\n", (4, 3), "`cache` keeps"),
        (f"outs:\n- md5: {MD5}\n  path: x.csv\n  url: http://x\n", (4, 3), "`url` is not part"),
        (f"outs:\n- md5: {MD5}\n  hash: sha256\n  path: x.csv\n", (3, 9), "`hash: sha256` is not"),
        ("outs:\n- etag: abc\n  path: x.csv\n", (2, 3), "`etag` names content by a server"),
        (
            f"outs:\n- md5: {MD5}\n  path: ../../etc/passwd\n",
            (3, 9),
            "the output must be `path: x.csv`",
        ),
        (f"outs:\n- md5: {MD5}\n", (2, 3), "the output must be `path: x.csv`"),
        (
            f"outs:\n- md5: {MD5}\n  path: x.csv\n- md5: {MD5}\n  path: y.csv\n",
            (1, 1),
            "exactly one entry under `outs`",
        ),
        ("outs:\n- md5: xyz\n  path: x.csv\n", (2, 8), "records no md5 (32 hex digits)"),
        ("outs:\n- path: x.csv\n", (2, 3), "records no md5"),
        (f"outs:\n- md5: {MD5}\n  size: -1\n  path: x.csv\n", (3, 9), "size is not a count"),
        ("", (1, 1), "this is not a DVC pointer (expected `outs:`)"),
        ("- a list\n", (1, 1), "this is not a DVC pointer (expected `outs:`)"),
        ("outs: [\n", (2, 1), "not valid YAML"),
        ("outs: nope\n", (1, 1), "exactly one entry under `outs`"),
        ("desc: no outs\n", (1, 1), "has no `outs:` entry"),
    ],
)
def test_anything_but_a_plain_pointer_is_refused_where_it_is_written(text, where, says):
    with pytest.raises(PointerError) as err:
        parse(text.encode(), FILE)
    problem = err.value.problem
    assert (problem.path, problem.line, problem.col) == (FILE, *where)
    assert says in problem.message and problem.message.endswith(REDO)
    assert str(err.value).startswith(f"{FILE}:{where[0]}:{where[1]}: ")


@pytest.mark.parametrize(
    "data", [b"\xff\xfe", b"outs:\n- md5: " + b"a" * 32 + b"\n" * 70_000], ids=["binary", "huge"]
)
def test_what_is_not_text_or_too_large_is_refused(data):
    with pytest.raises(PointerError, match=r"run `dvc add data/x\.csv`"):
        parse(data, FILE)


def test_a_refusal_never_quotes_more_than_a_short_key():
    long_key = "k" * 500
    with pytest.raises(PointerError) as err:
        parse(f"{long_key}: 1\nouts:\n- md5: {MD5}\n  path: x.csv\n".encode(), FILE)
    assert long_key not in str(err.value) and "kkk..." in str(err.value)
