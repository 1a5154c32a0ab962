"""DVC pointers: the ``*.dvc`` files in git that name a data file's content by its md5.

``dvc add data/x.csv`` writes ``data/x.csv.dvc``, and that plain form is the only one the
engine accepts::

    outs:
    - md5: 3f2a9c0e4b1d8e7f6a5b4c3d2e1f0a9b
      size: 1234
      hash: md5
      path: x.csv

A ``.dvc`` file can say much more, and most of it tells DVC *where to read from*:
``deps`` makes it an import stage (DVC reads a local path such as ``/etc/passwd`` or an
``http://`` URL), ``frozen``, ``wdir`` and an output ``path`` like ``../../x`` move what is
read, ``remote`` and ``cache`` redirect or skip the content store, ``hash: etag`` swaps
the md5 for something else. Pull requests write these files and privileged jobs read the
data they name, so :func:`parse` accepts the plain form only and refuses anything else
with a :class:`~engine.errors.PointerError` located at the offending line: a pointer can
then name content by hash and nothing more, and the bytes read are checked against that
hash (:mod:`engine.data.content`).

Pure: bytes in, a :class:`Pointer` or a located error out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.errors import PointerError, Problem

if TYPE_CHECKING:
    import yaml

MAX_BYTES = 64 * 1024
MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
# Keys that only annotate: DVC never reads data differently because of them.
_TOP_KEYS = frozenset({"outs", "desc", "meta"})
_OUT_KEYS = frozenset(
    {"md5", "size", "path", "hash", "nfiles", "isexec", "desc", "type", "labels", "meta"}
)
_WHY = {
    "deps": "makes this an import stage, which DVC reads from another path or URL",
    "frozen": "marks an import stage, which DVC reads from another path or URL",
    "md5": "is the hash of an import or pipeline stage, not of data",
    "wdir": "moves the place DVC reads the data from",
    "remote": "sends DVC to a remote other than the repository's own",
    "cache": "keeps the data out of DVC's content store",
    "push": "keeps the data out of the repository's remote",
    "files": "lists a cloud-versioned folder, read by URL rather than by hash",
    "version_id": "names a cloud object version, read by URL rather than by hash",
    "etag": "names content by a server's tag rather than by md5",
    "checksum": "names content by a server's checksum rather than by md5",
}


@dataclass(frozen=True)
class Pointer:
    """A plain DVC pointer: the content ``md5`` of the output ``out`` next to ``file``."""

    file: str
    """The pointer's repository path, e.g. ``data/x.csv.dvc``."""
    out: str
    """The output's repository path, e.g. ``data/x.csv``."""
    md5: str
    """32 hex digits; a folder's hash ends in ``.dir``."""
    size: int | None = None
    legacy: bool = False
    """Written by DVC 2 (no ``hash: md5`` line): its md5 is of text with CRLF read as LF."""

    @property
    def hash_name(self) -> str:
        """DVC's name for how :attr:`md5` was computed."""
        return "md5-dos2unix" if self.legacy else "md5"


def parse(data: bytes, file: str) -> Pointer:
    """The pointer ``file`` holds, or a :class:`PointerError` located where it is not plain."""
    redo = f"run `dvc add {out_of(file)}` and commit {file}"
    if len(data) > MAX_BYTES:
        raise _refuse(file, 1, 1, f"this pointer is larger than {MAX_BYTES // 1024} KiB: {redo}")
    written = _as_dvc_writes_it(data, file)
    return written if written is not None else _parse_yaml(data, file, redo)


# The pointer as `dvc add` writes it, read line by line without a YAML parser: PyYAML's
# import alone costs more than reading every pointer of a revision. Only the exact form
# is read here: one `outs:` entry of `key: value` lines, every key one of DVC's plain
# ones and every value a plain YAML scalar of these ASCII characters, which YAML reads
# as exactly its text. Anything else (quotes, comments, other keys or spacing, non-ASCII
# names) and every pointer this reader would refuse go to the YAML reader, which decides
# and locates (tests/unit/test_pointers.py holds both to the same answers).
_VALUE = r"[A-Za-z0-9_.][A-Za-z0-9_.+-]*(?: [A-Za-z0-9_.+-]+)*"
_LINE = re.compile(rf"(- |  )(md5|size|nfiles|isexec|hash|path): ({_VALUE})")


def _as_dvc_writes_it(data: bytes, file: str) -> Pointer | None:
    """The pointer, when ``data`` is in the exact form DVC writes; None for the YAML reader."""
    if not data.isascii():
        return None
    lines = data.decode("ascii").split("\n")
    if len(lines) < 3 or lines[0] != "outs:" or lines[-1] != "":
        return None
    entry: dict[str, str] = {}
    for number, line in enumerate(lines[1:-1]):
        found = _LINE.fullmatch(line)
        if found is None or (found[1] == "- ") != (number == 0) or found[2] in entry:
            return None
        entry[found[2]] = found[3]
    md5, size, hash_name = entry.get("md5"), entry.get("size"), entry.get("hash")
    if (
        entry.get("path") != PurePosixPath(out_of(file)).name
        or hash_name not in (None, "md5")
        or md5 is None
        or not MD5.match(md5)
        or (size is not None and not size.isdigit())
    ):
        return None
    count = int(size) if size is not None else None
    return Pointer(file, out_of(file), md5, count, legacy=hash_name is None)


def _parse_yaml(data: bytes, file: str, redo: str) -> Pointer:
    """:func:`parse` by the YAML parser: every form YAML allows, every located refusal."""
    import yaml  # on first use: a run that reads only plain pointers never imports PyYAML

    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar stays text
    try:
        root = yaml.compose(data.decode("utf-8"), Loader=loader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise _refuse(
            file, line, col, f"this is not a DVC pointer (not valid YAML): {redo}"
        ) from None
    top = _mapping(root, file, "this is not a DVC pointer (expected `outs:`)", redo)
    _only(top, _TOP_KEYS, file, redo)
    if "outs" not in top:
        raise _refuse(file, *_at(root), f"this pointer has no `outs:` entry: {redo}")
    outs_key, outs = top["outs"]
    if not isinstance(outs, yaml.SequenceNode) or len(outs.value) != 1:
        raise _refuse(
            file, *_at(outs_key), f"a pointer must have exactly one entry under `outs`: {redo}"
        )
    entry = _mapping(outs.value[0], file, "the `outs` entry is not a mapping", redo)
    _only(entry, _OUT_KEYS, file, redo)
    return _pointer(file, entry, _at(outs.value[0]), redo)


def out_of(file: str) -> str:
    """The data path a pointer file tracks: ``data/x.csv.dvc`` → ``data/x.csv``."""
    return file.removesuffix(".dvc")


def _pointer(
    file: str, entry: dict[str, tuple[yaml.Node, Any]], where: tuple[int, int], redo: str
) -> Pointer:
    name = PurePosixPath(out_of(file)).name
    path = _text(entry, "path")
    if path != name:
        line, col = _at(entry["path"][1]) if "path" in entry else where
        raise _refuse(
            file,
            line,
            col,
            f"the output must be `path: {name}`, the data beside the pointer: {redo}",
        )
    hash_name = _text(entry, "hash")
    if hash_name not in (None, "md5"):
        raise _refuse(
            file,
            *_at(entry["hash"][1]),
            f"`hash: {_short(hash_name or '')}` is not md5, the only hash the engine reads: {redo}",
        )
    md5 = _text(entry, "md5")
    if md5 is None or not MD5.match(md5):
        line, col = _at(entry["md5"][1]) if "md5" in entry else where
        raise _refuse(
            file, line, col, f"this pointer records no md5 (32 hex digits) for {name}: {redo}"
        )
    size = _text(entry, "size")
    if size is not None and not size.isdigit():
        raise _refuse(file, *_at(entry["size"][1]), f"the size is not a count of bytes: {redo}")
    return Pointer(
        file, out_of(file), md5, int(size) if size is not None else None, hash_name is None
    )


def _mapping(
    node: yaml.Node | None, file: str, what: str, redo: str
) -> dict[str, tuple[yaml.Node, Any]]:
    """A mapping node's entries by key text: (key node, value node)."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise _refuse(file, *_at(node), f"{what}: {redo}")
    entries: dict[str, tuple[yaml.Node, Any]] = {}
    for key, value in node.value:
        text = key.value if isinstance(key, yaml.ScalarNode) else ""
        if not text or text in entries:
            raise _refuse(file, *_at(key), f"a duplicate or unreadable key: {redo}")
        entries[text] = (key, value)
    return entries


def _only(
    entries: dict[str, tuple[yaml.Node, Any]], allowed: frozenset[str], file: str, redo: str
) -> None:
    for text, (key, _) in entries.items():
        if text not in allowed:
            why = _WHY.get(text, "is not part of a plain pointer")
            raise _refuse(
                file,
                *_at(key),
                f"`{_short(text)}` {why}; the engine reads only plain pointers as "
                f"`dvc add` writes them: {redo}",
            )


def _text(entries: dict[str, tuple[yaml.Node, Any]], key: str) -> str | None:
    if key not in entries:
        return None
    import yaml

    node = entries[key][1]
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _at(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:  # an empty document
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def linked(file: str) -> PointerError:
    """The error for a pointer ``file`` that is a symbolic link (never followed, as a
    definition that is one: docs/security.md), located at the link, at a revision or in
    the working tree alike."""
    data = out_of(file)
    return PointerError(
        Problem(
            file,
            message=(
                f"{file} is a symbolic link, which mlops never follows (the content of "
                f"{data} is not known): a DVC pointer must be a regular file; replace the "
                "link with the pointer it points to (`git rm` the link, copy the target in "
                f"its place, `git add` it), or run `dvc add {data}` and commit {file}"
            ),
            rule="symlink",
        )
    )


def _refuse(file: str, line: int, col: int, message: str) -> PointerError:
    return PointerError(Problem(file, line, col, message, rule="data"))


__all__ = ["MD5", "Pointer", "linked", "out_of", "parse"]
