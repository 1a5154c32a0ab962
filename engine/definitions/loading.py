"""Turn the bytes of ``mlops/`` files into typed definitions and located problems.

Pure: the caller reads the files (from the working tree or from a git revision) and
hands over ``{path: bytes}``; this module parses, validates against the pydantic models
and maps every error back to the line and column of the YAML node it concerns. Problems
are collected, never raised, so that one run reports every mistake at once.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from engine.definitions.names import FOLDERS, kind_of
from engine.definitions.parse_cache import blob_id
from engine.definitions.yamlfile import Located, YamlProblem, parse_value
from engine.errors import Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from engine.definitions.formats import Dataset, FeatureSet, Model, Project

T = TypeVar("T", covariant=True)

IMPORT_PATH_HINT = "name the module too, e.g. sklearn.ensemble.RandomForestClassifier"


class Entry(Generic[T]):
    """One valid definition: the file it came from, its located YAML, its typed value.

    ``blob`` is the file's git blob id when it was loaded through a parse cache. A file
    the cache knows as valid gets its typed value (``spec``) only when it is first asked
    for: a plan over thousands of unchanged models never builds most of them, and a
    reader of plain facts (:attr:`dump`) never builds it at all once the cache knows them.
    """

    __slots__ = ("_dump", "_make", "_name", "_spec", "blob", "doc", "kind", "memo", "path")

    def __init__(
        self,
        path: str,
        doc: Located,
        spec: T | None = None,
        *,
        blob: str | None = None,
        make: Callable[[], T] | None = None,
        kind: str = "",
        memo: Parses | None = None,
    ) -> None:
        if spec is None and make is None:
            raise ValueError("an entry needs its spec or a way to make it")
        self.path, self.doc, self.blob = path, doc, blob
        self._spec, self._make = spec, make
        self.kind, self.memo = kind, memo
        self._dump: dict[str, Any] | None = None
        self._name: str | None = None

    @property
    def spec(self) -> T:
        """The validated definition."""
        if self._spec is None:
            assert self._make is not None
            self._spec = self._make()
        return self._spec

    @property
    def dump(self) -> dict[str, Any]:
        """The validated definition as JSON data, every default filled in: what
        ``spec.model_dump(mode="json", by_alias=True)`` gives (do not modify it).

        Remembered in the parse cache by blob id (a fact of this engine's code, like
        validity), so a run that reads only such facts (the review of stored versions)
        does not build the spec, nor import the format classes, once a run has.
        """
        if self._dump is None:
            key = f"dump:{self.kind}:{self.blob}" if self.memo and self.blob else None
            found = self.memo.recall(key) if self.memo is not None and key else None
            if not isinstance(found, dict):
                found = self.spec.model_dump(mode="json", by_alias=True)  # type: ignore[attr-defined]
                if self.memo is not None and key:
                    self.memo.remember(key, found)
            self._dump = found
        return self._dump

    @property
    def name(self) -> str:
        """The definition's name (a valid file's ``name:``), without building its spec."""
        if self._name is None:
            value = self.doc.value.get("name") if isinstance(self.doc.value, dict) else None
            self._name = value if isinstance(value, str) else _stem(self.path)
        return self._name

    def __repr__(self) -> str:
        return f"Entry({self.path!r}, blob={self.blob!r})"


@dataclass
class Definitions:
    """Every definition of a repository at one point in time, plus what was wrong."""

    project: Entry[Project] | None = None
    datasets: dict[str, Entry[Dataset]] = field(default_factory=dict)
    features: dict[str, Entry[FeatureSet]] = field(default_factory=dict)
    models: dict[str, Entry[Model]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    """Names of definitions whose file exists but failed to load (no cascade errors)."""
    memo: Parses | None = field(default=None, repr=False, compare=False)
    """The parse cache they were loaded through: later checks remember facts in it."""

    @property
    def settings(self) -> Project:
        """The project file, or the embedded defaults when there is none."""
        if self.project:
            return self.project.spec
        from engine.definitions.formats import Project

        return Project()

    @property
    def settings_dump(self) -> dict[str, Any]:
        """:attr:`settings` as JSON data (:attr:`Entry.dump`), without building them."""
        if self.project:
            return self.project.dump
        return self.settings.model_dump(mode="json", by_alias=True)


class Parses(Protocol):
    """Earlier parses by content (:class:`engine.definitions.parse_cache.ParseCache`).

    ``specs`` keeps validated definitions by (kind, ``id`` of the cached plain value):
    the cache keeps each value alive and returns that same object for the same bytes.
    """

    specs: dict[tuple[str, int], Any]
    entries: dict[tuple[str, str], Entry[Any]]
    """Valid definitions by (path, blob id): a path holding the same blob in another
    revision (or a share of it) is that same entry."""

    def knows(self, blob: str) -> bool: ...

    def lookup(self, blob: str, path: str, source: Callable[[], bytes]) -> Located | None: ...

    def put(self, data: bytes, doc: Located, blob: str | None = None) -> None: ...

    def recall(self, key: str) -> Any: ...

    def remember(self, key: str, value: Any) -> None: ...


def load(
    files: Mapping[str, bytes], cache: Parses | None = None, ids: Mapping[str, str] | None = None
) -> Definitions:
    """Load every definition among ``files`` (repository path to content).

    ``cache`` answers for files parsed before (by content), so only changed files are
    parsed; the result is the same with or without it. When ``files`` knows each path's
    git blob id (``files.ids``, as :class:`engine.gitrepo.Tree` does), the bytes of a
    file the cache knows are not even read; ``files.fetch(paths)``, if there, reads the
    others at once. ``ids`` gives the blob ids of plain bytes computed already.

    A definition that is a symbolic link (``files.links``, as :mod:`engine.gitrepo`
    lists them, never followed) is an error at its path: it would otherwise not exist.
    """
    defs = Definitions(memo=cache)
    for path in getattr(files, "links", ()):
        problem = link_problem(path)
        if problem is not None:
            defs.problems.append(problem)
            defs.invalid.add(_stem(path))
    listed = [(path, kind) for path in sorted(files) if (kind := kind_of(path)) is not None]
    if ids is None:
        ids = getattr(files, "ids", None)
    if cache is None:
        ids = None
    if cache is not None and ids is not None and hasattr(files, "fetch"):
        files.fetch([path for path, _ in listed if not cache.knows(ids[path])])
    known = cache.entries if cache is not None else {}
    for path, kind in listed:
        entry = known.get((path, ids[path])) if ids is not None and known else None
        if entry is not None:  # the same file in the other revision: the same entry
            _register(defs, kind, entry)
            continue
        try:
            doc, blob = _document(files, path, cache, ids)
        except YamlProblem as exc:
            defs.problems.append(exc.problem)
            defs.invalid.add(_stem(path))
            continue
        if cache is None:
            spec, problems = _validate(kind, doc)
        else:
            spec = cache.specs.get((kind, id(doc.value)))
            problems = []
            if spec is None and blob is not None and cache.recall(f"valid:{kind}:{blob}"):
                # valid when this engine last read these bytes: build the spec when asked
                make = functools.partial(_valid_spec, kind, doc, cache)
                entry = Entry(path, doc, blob=blob, make=make, kind=kind, memo=cache)
                cache.entries[(path, blob)] = entry
                _register(defs, kind, entry)
                continue
            if spec is None:
                spec, problems = _validate(kind, doc)
                if spec is not None:
                    # the cache hands out the same value object for the same bytes, so
                    # the two revisions of a plan validate each unchanged file once
                    cache.specs[(kind, id(doc.value))] = spec
                    cache.remember(f"valid:{kind}:{blob}", True)
        defs.problems.extend(problems)
        if spec is None:
            defs.invalid.add(_declared_name(doc) or _stem(path))
            continue
        entry = Entry(path, doc, spec, blob=blob, kind=kind, memo=cache)
        if cache is not None and blob is not None:
            cache.entries[(path, blob)] = entry
        _register(defs, kind, entry)
    return defs


def link_problem(path: str) -> Problem | None:
    """The error for a symbolic link where definitions are read, or None for another path.

    Links are refused as they are in data paths (docs/security.md): never followed, so
    that nothing outside the repository is read and a commit and its checkout agree.
    """
    kind = kind_of(path)
    if kind is not None:
        what = f"this {kind} definition is not loaded"
        fix = "replace the link with the file it points to"
    elif path == "mlops" or (path.startswith("mlops/") and path[6:] in FOLDERS):
        what = "no definition in it is loaded"
        fix = "replace the link with the folder it points to"
    else:
        return None
    return Problem(
        path,
        message=(
            f"{path} is a symbolic link, which mlops never follows ({what}): definitions "
            f"must be regular files in regular folders; {fix} (`git rm` the link, copy the "
            "target in its place, `git add` it)"
        ),
        rule="symlink",
    )


def prepare(cache: Parses, path: str, data: bytes, blob: str) -> None:
    """Parse and validate one file ahead of :func:`load`, into ``cache``.

    For a caller that has the bytes before the others (a blob just read from git while
    git reads the next): :func:`load` then finds the parse and the typed value in the
    cache. A file with a problem is left alone; :func:`load` reads it again and
    reports the problem where it is.
    """
    kind = kind_of(path)
    if kind is None or cache.knows(blob):
        return
    try:
        doc = parse_value(data, path)
    except YamlProblem:
        return
    cache.put(data, doc, blob)
    spec, _ = _validate(kind, doc)
    if spec is None:
        return
    cache.specs[(kind, id(doc.value))] = spec
    cache.remember(f"valid:{kind}:{blob}", True)


def _valid_spec(kind: str, doc: Located, cache: Parses) -> Any:
    spec = cache.specs.get((kind, id(doc.value)))
    if spec is None:
        spec, problems = _validate(kind, doc)
        if spec is None:  # only if the cache lied, which its MAC and code key prevent
            raise RuntimeError(f"{doc.path} was cached as valid but is not: {problems}")
        cache.specs[(kind, id(doc.value))] = spec
    return spec


def _document(
    files: Mapping[str, bytes], path: str, cache: Parses | None, ids: Mapping[str, str] | None
) -> tuple[Located, str | None]:
    """The parse of ``files[path]`` (from the cache when it knows the bytes), its blob id."""
    if cache is None:
        return parse_value(files[path], path), None
    if ids is not None:
        blob = ids[path]
        doc = cache.lookup(blob, path, lambda: files[path])
    else:
        data = files[path]
        blob = blob_id(data)
        doc = cache.lookup(blob, path, lambda: data)
    if doc is None:
        data = files[path]
        doc = parse_value(data, path)
        cache.put(data, doc, blob)
    return doc, blob


def _register(defs: Definitions, kind: str, entry: Entry[Any]) -> None:
    if kind == "project":
        defs.project = entry
        return
    table: dict[str, Any] = (
        defs.models if kind == "model" else defs.datasets if kind == "dataset" else defs.features
    )
    name = entry.name
    stem = _stem(entry.path)
    if stem != name:
        defs.problems.append(
            entry.doc.problem(
                ("name",),
                f"name {name!r} does not match the file name: rename the file to "
                f"{name}.yaml or set name: {stem}",
                rule="file-name",
            )
        )
    if name in table:
        defs.problems.append(
            entry.doc.problem(
                ("name",),
                f"{kind} {name!r} is already defined in {table[name].path}: names must be unique",
                rule="duplicate-name",
            )
        )
        return
    table[name] = entry


def _stem(path: str) -> str:
    """``PurePosixPath(path).stem`` without building a path (thousands of files a run)."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def _declared_name(doc: Located) -> str | None:
    value = doc.value.get("name") if isinstance(doc.value, dict) else None
    return value if isinstance(value, str) else None


def _validate(kind: str, doc: Located) -> tuple[Any, list[Problem]]:
    from pydantic import ValidationError

    from engine.definitions.formats import KINDS

    model = KINDS[kind]
    if not isinstance(doc.value, dict):
        return None, [
            doc.problem(
                (),
                f"a {kind} definition is a mapping of keys to values, "
                f"not a {type(doc.value).__name__}",
                rule="schema",
            )
        ]
    try:
        return model.model_validate(doc.value), []
    except ValidationError as exc:
        return None, _problems(model, doc, exc.errors(include_url=False))


def _problems(model: type[BaseModel], doc: Located, errors: Iterable[Any]) -> list[Problem]:
    seen: dict[tuple[Any, ...], Problem] = {}
    for err in errors:
        loc = _document_path(doc.value, tuple(err["loc"]), keep_last=err["type"] == "missing")
        message = _message(model, loc, err)
        if loc in seen:  # one per node: union members report the same place twice
            continue
        rule = "import-path" if message.endswith(IMPORT_PATH_HINT) else "schema"
        seen[loc] = doc.problem(
            loc, message, key=err["type"] in ("extra_forbidden", "missing"), rule=rule
        )
    return list(seen.values())


def _document_path(value: Any, loc: tuple[Any, ...], *, keep_last: bool) -> tuple[Any, ...]:
    """Drop pydantic's union tags from ``loc`` so it names nodes of the document."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        in_dict = isinstance(value, dict) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and part < len(value)
        if in_dict or in_list:
            value = value[part]
        elif keep_last and i == len(loc) - 1:
            pass
        else:
            continue
        out.append(part)
    return tuple(out)


def _message(model: type[BaseModel], loc: tuple[Any, ...], err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        suffix = (
            f"; did you mean {hint[0]!r}?"
            if hint
            else (f"; allowed keys: {', '.join(sorted(allowed))}" if allowed else "")
        )
        return f"unknown key {where!r}{suffix}"
    if kind == "missing":
        return f"missing required key {where!r}"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "class":
        return f"{where}: {err['input']!r} is not an import path: {IMPORT_PATH_HINT}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = "expected a mapping of keys to values"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at document path ``loc`` of a ``model`` file may have."""
    from pydantic import BaseModel

    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for tp in candidates:
            for inner in _unwrap(tp):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    for name, info in inner.model_fields.items():
                        if part in (name, info.alias):
                            nxt.append(info.annotation)
                elif typing.get_origin(inner) in (dict, list):
                    nxt.append(typing.get_args(inner)[-1])
        candidates = nxt
    keys: list[str] = []
    for tp in candidates:
        for inner in _unwrap(tp):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                keys += [info.alias or name for name, info in inner.model_fields.items()]
    return keys


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for arg in typing.get_args(tp) for x in _unwrap(arg)]
    return [tp]


__all__ = [
    "IMPORT_PATH_HINT",
    "Definitions",
    "Entry",
    "allowed_keys",
    "link_problem",
    "load",
    "prepare",
]
