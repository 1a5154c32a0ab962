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


# --- the exact form, read without YAML ------------------------------------------------------

# What DVC 3.67 wrote for `dvc add` of these files (quotes, an exec bit, a folder, a name
# YAML would read as a boolean), and a DVC 2 pointer (no `hash:` line).
WRITTEN = {
    "data/x.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 4\n  hash: md5\n  path: x.csv\n",
    "data/folder.dvc": (
        f"outs:\n- md5: {MD5}.dir\n  size: 4\n  nfiles: 2\n  hash: md5\n  path: folder\n"
    ),
    "data/exec.sh.dvc": (
        f"outs:\n- md5: {MD5}\n  size: 2\n  isexec: true\n  hash: md5\n  path: exec.sh\n"
    ),
    "data/with space.csv.dvc": (
        f"outs:\n- md5: {MD5}\n  size: 2\n  hash: md5\n  path: with space.csv\n"
    ),
    "data/empty.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 0\n  hash: md5\n  path: empty.csv\n",
    "data/legacy.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 7\n  path: legacy.csv\n",
    # read by YAML: quoted, non-ASCII, a leading dash, a colon
    "data/true.dvc": f"outs:\n- md5: {MD5}\n  size: 3\n  hash: md5\n  path: 'true'\n",
    "data/#hash.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 2\n  hash: md5\n  path: '#hash.csv'\n",
    "data/données.csv.dvc": (f"outs:\n- md5: {MD5}\n  size: 2\n  hash: md5\n  path: données.csv\n"),
    "data/-dash.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 2\n  hash: md5\n  path: -dash.csv\n",
    "data/a:b.csv.dvc": f"outs:\n- md5: {MD5}\n  size: 2\n  hash: md5\n  path: a:b.csv\n",
}
BY_LINES = 6  # the first six are read line by line


def answer(file, data, read):
    """What ``read`` makes of a pointer: the Pointer, or the refusal's problems."""
    try:
        return read(data, file)
    except PointerError as exc:
        return ("refused", str(exc), exc.problem)


def by_yaml(data, file):
    from engine.data.pointers import _parse_yaml, out_of

    return _parse_yaml(data, file, f"run `dvc add {out_of(file)}` and commit {file}")


def test_what_dvc_writes_is_read_without_yaml_as_yaml_reads_it():
    from engine.data.pointers import _as_dvc_writes_it

    for number, (file, text) in enumerate(WRITTEN.items()):
        data = text.encode()
        assert (_as_dvc_writes_it(data, file) is not None) == (number < BY_LINES), file
        assert isinstance(parse(data, file), Pointer)
        assert answer(file, data, parse) == answer(file, data, by_yaml), file


# Characters that matter to YAML (indicators, spacing, line breaks YAML knows and ASCII
# does not), and some that do not.
NOISE = [
    " ", "  ", "\t", "\n", "\r", "\r\n", "#", " #", "'", '"', ":", ": ", "-", "- ", "?", ",",
    "[", "]", "{", "}", "&", "*", "!", "|", ">", "%", "@", "`", "\\", ".", "...", "---",
    "a", "Z", "0", "9", "_", "+", "é", "\u2028", "\x85", "\ufeff", "\x00", "~", "null",
    "md5", "size", "path", "hash", "nfiles", "isexec", "desc", "x.csv", "1024",
]  # fmt: skip


VALUES = [
    MD5, MD5 + ".dir", MD5.upper(), MD5[:-1], "md5", "sha256", "x.csv", "x.csv ", " x.csv",
    "x  .csv", "x .csv", "x.csv.", ".x.csv", "0", "012", "1e3", "1024", "-1", "+1", "true",
    "null", "~", "folder", "exec.sh", "with space.csv", "empty.csv", "legacy.csv", "",
]  # fmt: skip


def jumbled(text, rng):
    """``text`` with one to three edits: noise inserted, characters cut, lines moved, a
    value replaced."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        at = rng.randrange(len(text) + 1)
        action = rng.random()
        lines = text.split("\n")
        if action < 0.3:
            text = text[:at] + rng.choice(NOISE) + text[at:]
        elif action < 0.5:
            text = text[:at] + text[at + rng.randint(1, 4) :]
        elif action < 0.7:
            line = lines.pop(rng.randrange(len(lines)))
            lines.insert(rng.randrange(len(lines) + 1), line)
            text = "\n".join(lines)
        else:
            number = rng.randrange(len(lines))
            key, sep, _ = lines[number].partition(": ")
            lines[number] = key + (sep or ": ") + rng.choice(VALUES)
            text = "\n".join(lines)
    return text


def test_jumbled_pointers_read_and_fail_as_yaml_reads_them():
    """Whatever the line reader takes, YAML reads the same; the rest is YAML's answer."""
    import random

    from engine.data.pointers import _as_dvc_writes_it

    rng = random.Random(0)
    lines = 0
    for _ in range(4000):
        file, text = rng.choice(list(WRITTEN.items()))
        data = jumbled(text, rng).encode("utf-8", "surrogatepass")
        lines += _as_dvc_writes_it(data, file) is not None
        assert answer(file, data, parse) == answer(file, data, by_yaml), (file, data)
    assert lines > 100  # and the line reader took its share


def test_every_value_in_every_line_reads_as_yaml_reads_it():
    from engine.data.pointers import _as_dvc_writes_it

    lines = 0
    for file, text in list(WRITTEN.items())[:BY_LINES]:
        for number, line in enumerate(text.split("\n")[:-1]):
            for value in VALUES:
                changed = text.split("\n")
                changed[number] = line.partition(": ")[0] + ": " + value
                data = "\n".join(changed).encode()
                lines += _as_dvc_writes_it(data, file) is not None
                assert answer(file, data, parse) == answer(file, data, by_yaml), (file, data)
    assert lines > 30
