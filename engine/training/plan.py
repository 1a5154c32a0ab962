"""The change plan: which models a change between two revisions affects, and why.

A model is affected when its fingerprint (see :mod:`engine.training.fingerprint`) differs between
the base and the head revision. The plan does not look at the git diff itself: editing
a README, reformatting YAML or rewording a description leaves every fingerprint alone
and so plans nothing, while a new DVC pointer for a dataset replans every model trained
on it, and an edited feature set every model using it.

For each affected model the plan explains itself with :class:`Reason` values naming the
file and the field that moved (``mlops/models/cancer-rf.yaml: estimator.params.max_depth
8 → 10``). A model that cannot be fingerprinted at head (its file is invalid, or what it
refers to is) is reported as ``invalid`` with its problems instead of stopping the plan.

Pure: the caller reads both revisions (``engine.gitrepo.read_tree``), loads them
(``engine.definitions.loading.load``) and hands over two :class:`Snapshot` values;
:func:`engine.training.planning.compute_plan` does exactly that.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from engine.definitions.loading import Definitions, Entry
from engine.definitions.names import kind_of
from engine.definitions.yamlfile import YamlProblem, parse
from engine.errors import DataError, PointerError, Problem
from engine.training.fingerprint import (
    TRAINING_SEMANTICS_VERSION,
    Fingerprints,
    dataset_part_of,
    features_part_of,
    model_part_of,
    pointer_for,
    short,
    source_hash,
)

if TYPE_CHECKING:
    from engine.definitions.formats import Dataset, FeatureSpec, Model

Status = Literal["changed", "new", "removed", "unchanged", "invalid"]
_MAX_VALUE_CHARS = 40
_MAX_LIST_CHARS = 300  # a list changed in length: shown whole up to this, else what moved


@dataclass(frozen=True)
class Snapshot:
    """The definitions at one revision, with what else decides a version there."""

    definitions: Definitions
    files: Mapping[str, bytes]
    """Repository path to content; the ``*.dvc`` pointers are what the plan reads here."""
    sklearn_version: str
    semantics: int = TRAINING_SEMANTICS_VERSION
    problems: Sequence[Problem] = ()
    """Problems found by checks beyond loading (cross-references), added to the loader's."""


@dataclass(frozen=True)
class Reason:
    """One thing that moved: a field of a file, a file's content, or the toolchain."""

    path: str
    """The file that changed; empty for the toolchain (scikit-learn, training semantics)."""
    field: str = ""
    """Dotted path of the field within the file, e.g. ``estimator.params.max_depth``."""
    before: str | None = None
    after: str | None = None
    note: str = ""

    def render(self) -> str:
        """One line, e.g. ``mlops/datasets/iris.yaml: split.seed 7 → 8``."""
        what = " ".join(p for p in (self.field, self.note) if p)
        if self.before is not None and self.after is not None:
            what += f" {self.before} → {self.after}"
        return f"{self.path}: {what}" if self.path else what

    def as_dict(self) -> dict[str, object]:
        """The reason as plain data."""
        return {
            "path": self.path,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "note": self.note,
            "text": self.render(),
        }


@dataclass(frozen=True)
class PlannedModel:
    """One model's place in the plan."""

    name: str
    status: Status
    path: str
    """The model's file (at head; at base for a removed model)."""
    base_fingerprint: str | None = None
    head_fingerprint: str | None = None
    reasons: tuple[Reason, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def base_version(self) -> str | None:
        """The version id at base, as shown to people."""
        return short(self.base_fingerprint) if self.base_fingerprint else None

    @property
    def head_version(self) -> str | None:
        """The version id at head, as shown to people."""
        return short(self.head_fingerprint) if self.head_fingerprint else None


@dataclass(frozen=True)
class Plan:
    """Every model at base or head, sorted by name, and problems that belong to none."""

    models: tuple[PlannedModel, ...] = ()
    problems: tuple[Problem, ...] = ()
    base_commit: str | None = None
    head_commit: str | None = None

    def with_status(self, *statuses: Status) -> list[PlannedModel]:
        """The models whose status is one of ``statuses``."""
        return [m for m in self.models if m.status in statuses]

    @property
    def to_train(self) -> list[PlannedModel]:
        """The models to train: changed and new."""
        return self.with_status("changed", "new")

    @property
    def has_work(self) -> bool:
        """Whether any model needs training (GitHub rejects a matrix with no entries)."""
        return bool(self.to_train)


def plan(base: Snapshot | None, head: Snapshot) -> Plan:
    """Compare every model's version at ``base`` and ``head`` (``None``: all are new)."""
    # both revisions: each unchanged model is hashed once, and its key computed once
    prints = Fingerprints()
    seen: _Seen = {}
    head_side = _side(head, prints, seen)
    base_side = _side(base, prints, seen) if base is not None else _Side({}, {}, [])
    models: list[PlannedModel] = []
    for name in sorted(set(head_side.resolved) | set(head_side.invalid) | set(base_side.resolved)):
        models.append(_plan_model(name, base_side, head_side))
    attached = {p for m in models for p in m.problems}
    loose = sorted({p for p in head_side.problems if p not in attached})
    return Plan(tuple(models), tuple(loose))


def remember_fingerprints(snap: Snapshot) -> None:
    """Fingerprint every model of ``snap`` that resolves, into its parse cache, as
    :func:`plan` would: for a process warming that cache (:mod:`engine.training.parallel`)."""
    _side(snap, Fingerprints(), {})


def plan_to_json(result: Plan) -> dict[str, Any]:
    """The plan as plain data, for ``mlops plan --json`` and the report bundle."""
    return {
        "base": result.base_commit,
        "head": result.head_commit,
        "has_work": result.has_work,
        "models": [
            {
                "name": m.name,
                "status": m.status,
                "path": m.path,
                "base_version": m.base_version,
                "head_version": m.head_version,
                "base_fingerprint": m.base_fingerprint,
                "head_fingerprint": m.head_fingerprint,
                "reasons": [r.as_dict() for r in m.reasons],
                "problems": [p.as_dict() for p in m.problems],
            }
            for m in result.models
        ],
        "problems": [p.as_dict() for p in result.problems],
    }


def plan_matrix(result: Plan) -> dict[str, list[dict[str, str]]]:
    """The GitHub Actions matrix of models to train; check ``has_work`` before using it."""
    return {
        "include": [
            {"model": m.name, "version": short(m.head_fingerprint or "")} for m in result.to_train
        ]
    }


# --- resolving one revision -------------------------------------------------------------


class _Resolved(NamedTuple):
    """A fingerprinted model with what it was computed from, for explaining changes.

    (A named tuple: two are made for every model of a plan, five times quicker than a
    frozen dataclass.)
    """

    entry: Entry[Model]
    features: Entry[Any] | None
    dataset: Entry[Dataset]
    data_hash: str
    pointer: str | None
    fingerprint: str


_Seen = dict[tuple[Any, ...], str]
"""Fingerprints of one plan by the identity of their inputs (entries, data, versions)."""


@dataclass
class _Side:
    resolved: dict[str, _Resolved]
    invalid: dict[str, tuple[str, list[Problem]]]
    problems: list[Problem]
    snapshot: Snapshot | None = None


def _side(snap: Snapshot, prints: Fingerprints, seen: _Seen) -> _Side:
    defs = snap.definitions
    problems = [*defs.problems, *snap.problems]
    by_path: dict[str, list[Problem]] = {}
    for p in problems:
        if p.severity == "error":
            by_path.setdefault(p.path, []).append(p)
    side = _Side({}, {}, problems, snap)
    # the datasets' sources from their dumps: an unchanged file's spec is never built
    sources = {name: entry.dump["source"] for name, entry in defs.datasets.items()}
    hashes = {name: _data_hash(entry, snap) for name, entry in defs.datasets.items()}
    pointers = {
        name: pointer_for(source["path"], snap.files) if source["path"] else None
        for name, source in sources.items()
    }
    for name, entry in defs.models.items():
        found, trouble = _resolve(entry, snap, by_path, (hashes, pointers), prints, seen)
        if found is not None:
            side.resolved[name] = found
        else:
            side.invalid[name] = (entry.path, trouble)
    for path, trouble in by_path.items():
        if kind_of(path) == "model" and not any(e.path == path for e in defs.models.values()):
            side.invalid.setdefault(_declared_name(path, snap.files), (path, trouble))
    return side


def _data_hash(entry: Entry[Dataset], snap: Snapshot) -> str | Problem:
    source = entry.dump["source"]
    try:
        return source_hash(source["sklearn"], source["path"], snap.files, snap.sklearn_version)
    except PointerError as exc:
        return exc.problem  # located in the pointer itself
    except DataError as exc:
        return entry.doc.problem(("source", "path"), str(exc), rule="data")


def _resolve(
    entry: Entry[Model],
    snap: Snapshot,
    by_path: Mapping[str, list[Problem]],
    per_dataset: tuple[Mapping[str, str | Problem], Mapping[str, str | None]],
    prints: Fingerprints,
    seen: _Seen,
) -> tuple[_Resolved | None, list[Problem]]:
    hashes, pointers = per_dataset
    defs, value = snap.definitions, entry.doc.value
    # the references as written (a valid file's values): the spec is built only if needed
    dataset_name, ref = value["dataset"], value.get("features")
    trouble = list(by_path.get(entry.path, []))
    dataset = defs.datasets.get(dataset_name)
    if dataset is None:
        trouble += _missing(entry, "dataset", dataset_name, defs, by_path)
    else:
        trouble += by_path.get(dataset.path, [])
    features: Entry[Any] | None = None
    if isinstance(ref, str):
        features = defs.features.get(ref)
        if features is None:
            trouble += _missing(entry, "features", ref, defs, by_path)
        else:
            trouble += by_path.get(features.path, [])
    if dataset is None or trouble:
        return None, sorted(set(trouble))
    content = hashes[dataset_name]
    if isinstance(content, Problem):
        return None, [content]
    # the same entries (one object per path and blob in both revisions) and the same data
    inputs = (id(entry), id(features), id(dataset), content, snap.sklearn_version, snap.semantics)
    fp = seen.get(inputs)
    if fp is not None:
        return _Resolved(entry, features, dataset, content, pointers[dataset_name], fp), []
    memo = defs.memo
    key = _fingerprint_key(entry, features, dataset, content, snap) if memo is not None else None
    fp = memo.recall(key) if memo is not None and key is not None else None
    if not isinstance(fp, str):
        model = entry.spec
        spec: FeatureSpec | None = features.spec if features is not None else None
        if spec is None and isinstance(model.features, _feature_spec()):
            spec = model.features
        fp = prints(
            model, spec, dataset.spec, content, snap.sklearn_version, semantics=snap.semantics
        )
        if memo is not None and key is not None:
            memo.remember(key, fp)
    seen[inputs] = fp
    return _Resolved(entry, features, dataset, content, pointers[dataset_name], fp), []


@functools.cache
def _feature_spec() -> type[FeatureSpec]:
    """The format class, imported once (not once a model: thousands a plan)."""
    from engine.definitions.formats import FeatureSpec

    return FeatureSpec


def _fingerprint_key(
    entry: Entry[Model],
    features: Entry[Any] | None,
    dataset: Entry[Dataset],
    content: str,
    snap: Snapshot,
) -> str | None:
    """The memo key of a fingerprint: every input, the definitions by blob id."""
    if entry.blob is None or dataset.blob is None:
        return None
    features_blob = "-" if features is None else features.blob
    if features_blob is None:
        return None
    # a fixed number of fields, none but the md5 from a pointer could hold a line break
    # (and one there would add a field): two different inputs never join the same
    inputs = "\n".join(
        (
            entry.blob,
            dataset.blob,
            features_blob,
            content,
            snap.sklearn_version,
            str(snap.semantics),
        )
    )
    return "fingerprint:" + hashlib.sha256(inputs.encode()).hexdigest()


def _missing(
    entry: Entry[Model],
    key: str,
    name: str,
    defs: Definitions,
    by_path: Mapping[str, list[Problem]],
) -> list[Problem]:
    folder, what = ("datasets", "dataset") if key == "dataset" else ("features", "feature set")
    line, col = entry.doc.where((key,))
    if any(
        p.path == entry.path and (p.line, p.col) == (line, col) for p in by_path.get(entry.path, [])
    ):
        return []  # already reported (by the cross-reference checks)
    if name in defs.invalid:
        # Its own file's problems say what to fix; list them with the model.
        own = [
            p for ext in (".yaml", ".yml") for p in by_path.get(f"mlops/{folder}/{name}{ext}", [])
        ]
        return [
            entry.doc.problem(
                (key,), f"{what} {name!r} is invalid: fix its file first", rule="reference"
            ),
            *own,
        ]
    return [
        entry.doc.problem(
            (key,),
            f"unknown {what} {name!r}: add mlops/{folder}/{name}.yaml or fix the name",
            rule="reference",
        )
    ]


def _declared_name(path: str, files: Mapping[str, bytes]) -> str:
    # The loader names an unloadable model by its declared name, else by its file's stem.
    try:
        value = parse(files[path], path).value if path in files else None
    except YamlProblem:
        value = None
    name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) else PurePosixPath(path).stem


# --- comparing the two revisions --------------------------------------------------------


def _plan_model(name: str, base: _Side, head: _Side) -> PlannedModel:
    before = base.resolved.get(name)
    if name in head.invalid:
        path, trouble = head.invalid[name]
        return PlannedModel(
            name,
            "invalid",
            path,
            base_fingerprint=before.fingerprint if before else None,
            problems=tuple(trouble),
        )
    after = head.resolved.get(name)
    if after is None:
        assert before is not None
        return PlannedModel(name, "removed", before.entry.path, base_fingerprint=before.fingerprint)
    if before is None:
        if name in base.invalid:
            reason = Reason(base.invalid[name][0], note="was invalid at base")
            return PlannedModel(
                name,
                "changed",
                after.entry.path,
                head_fingerprint=after.fingerprint,
                reasons=(reason,),
            )
        return PlannedModel(name, "new", after.entry.path, head_fingerprint=after.fingerprint)
    if before.fingerprint == after.fingerprint:
        return PlannedModel(
            name,
            "unchanged",
            after.entry.path,
            base_fingerprint=before.fingerprint,
            head_fingerprint=after.fingerprint,
        )
    assert base.snapshot is not None and head.snapshot is not None
    reasons = _reasons(before, after, base.snapshot, head.snapshot)
    return PlannedModel(
        name, "changed", after.entry.path, before.fingerprint, after.fingerprint, tuple(reasons)
    )


def _reasons(a: _Resolved, b: _Resolved, sa: Snapshot, sb: Snapshot) -> list[Reason]:
    path = b.entry.path
    # from the definitions' dumps (remembered by blob), as the fingerprints hash them
    ma, mb = a.entry.dump, b.entry.dump
    out = [Reason(path, f, x, y) for f, x, y in diff(model_part_of(ma), model_part_of(mb))]
    if isinstance(ma["features"], str) and ma["features"] == mb["features"]:
        assert a.features is not None and b.features is not None
        fa, fb = features_part_of(a.features.dump), features_part_of(b.features.dump)
        out += [Reason(b.features.path, f, x, y) for f, x, y in diff(fa, fb)]
    if ma["dataset"] == mb["dataset"]:
        da, db = dataset_part_of(a.dataset.dump), dataset_part_of(b.dataset.dump)
        out += [Reason(b.dataset.path, f, x, y) for f, x, y in diff(da, db)]
        if da["source"] == db["source"] and a.data_hash != b.data_hash and b.pointer:
            note = f"content changed (md5 {_abbrev(a.data_hash)} → {_abbrev(b.data_hash)})"
            out.append(Reason(b.pointer, note=note))
    if sa.sklearn_version != sb.sklearn_version:
        out.append(Reason("", "scikit-learn", sa.sklearn_version, sb.sklearn_version))
    if sa.semantics != sb.semantics:
        out.append(Reason("", "training semantics", str(sa.semantics), str(sb.semantics)))
    return out or [Reason(path, note="fingerprint changed")]


def _abbrev(md5: str) -> str:
    return md5[:8] + "…"


def diff(a: Any, b: Any, at: str = "") -> list[tuple[str, str | None, str | None]]:
    """The leaves where two JSON values differ: ``(dotted path, before, after)``.

    Values longer than a glance (40 characters) are left out of the pair (``None``).
    Lists of different lengths are reported as a whole, old → new (columns by name, steps
    by class), or, when that is too long to read, by what was added and removed.
    """
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{at}.{key}" if at else str(key)
            out += diff(a.get(key, _ABSENT), b.get(key, _ABSENT), sub)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(at, *_list_change(a, b))]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += diff(x, y, f"{at}.{i}" if at else str(i))
        return out
    before, after = _show(a), _show(b)
    if len(before) > _MAX_VALUE_CHARS or len(after) > _MAX_VALUE_CHARS:
        return [(at, None, None)]
    return [(at, before, after)]


def _list_change(a: list[Any], b: list[Any]) -> tuple[str, str]:
    """Old and new list, whole (columns, steps by class); what moved, when too long for that."""
    before, after = _show_list(a), _show_list(b)
    if len(before) + len(after) <= _MAX_LIST_CHARS:
        return before, after
    old, new = [_item(x) for x in a], [_item(x) for x in b]
    moved = [f"+{x}" for x in new if x not in old] + [f"-{x}" for x in old if x not in new]
    what = ", ".join(moved)
    if len(what) > _MAX_LIST_CHARS:
        what = what[: _MAX_LIST_CHARS - 1] + "…"
    return f"{len(a)} items", f"{len(b)} items" + (f" ({what})" if what else "")


def _show_list(values: list[Any]) -> str:
    return "[" + ", ".join(_item(v) for v in values) + "]"


def _item(value: Any) -> str:
    """A list item in a glance: a step by its class and params, anything else as JSON."""
    if isinstance(value, dict) and isinstance(value.get("class"), str):
        params = value.get("params") or {}
        args = ", ".join(f"{k}={_show(v)}" for k, v in sorted(params.items()))
        return f"{value['class'].rsplit('.', 1)[-1]}({args})"
    return json.dumps(value, ensure_ascii=False)


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
