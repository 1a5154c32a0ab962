"""Model fingerprints: the content hash that *is* a model version.

A version is the SHA-256 of a canonical JSON document holding everything that decides
what training produces, and nothing else:

- the model definition without its prose (description, owners, tags);
- the content of its feature set, without the set's name or prose, so that renaming a
  feature set (or moving it inline) does not retrain anything;
- the parts of its dataset that decide the training rows: source, target, id column and
  split (see :func:`dataset_part` for why the schema and checks are left out);
- the data's content hash (the md5 recorded in the DVC pointer, read from git);
- :data:`TRAINING_SEMANTICS_VERSION` and the scikit-learn version.

Same fingerprint, same model: the store never trains it twice. Pydantic dumps every
field with its default filled in, so writing a default value out, reordering keys,
quoting, comments and flow vs block style never change a fingerprint.

Pure: no I/O. :func:`data_hash` reads pointer files from a ``{path: bytes}`` mapping
that the caller took from git or the working tree.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.data.pointers import linked, parse
from engine.definitions.names import PROSE_FIELDS
from engine.errors import DataError

if TYPE_CHECKING:
    from engine.definitions.formats import Dataset, FeatureSpec, Model

TRAINING_SEMANTICS_VERSION = 2
"""Bump when training code changes what the same definition produces (splitting, pipeline
assembly, metric computation): every model then gets a new version and is retrained.

2: the split assigns rows by a salted hash of their identity (engine.training.split)
instead of scikit-learn's shuffle of row positions."""

FORMAT = 1  # the layout of the hashed document itself
SHORT = 12


def fingerprint(
    model: Model,
    features: FeatureSpec | None,
    dataset: Dataset,
    data_hash: str,
    sklearn_version: str,
    *,
    semantics: int = TRAINING_SEMANTICS_VERSION,
) -> str:
    """The SHA-256 (hex) of everything that determines the trained ``model``.

    ``features`` is the model's resolved feature set: the named set it refers to, its
    inline spec, or None when it has none. ``dataset`` is the dataset it names.
    """
    _check(model, features, dataset)
    document = {
        "format": FORMAT,
        "semantics": semantics,
        "sklearn": sklearn_version,
        "model": {
            **model_part(model),
            "dataset": dataset_part(dataset),
            "features": features_part(features),
        },
        "data": data_hash,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _check(model: Model, features: FeatureSpec | None, dataset: Dataset) -> None:
    if model.features is not None and features is None:
        raise ValueError(
            f"model {model.name!r} uses feature set {model.features!r}, which was not given"
        )
    if dataset.name != model.dataset:
        raise ValueError(
            f"model {model.name!r} is trained on {model.dataset!r}, not on {dataset.name!r}"
        )


class Fingerprints:
    """:func:`fingerprint` for many models at once, with its pieces remembered.

    A plan fingerprints every model at two revisions, and most models share their
    dataset and feature set with dozens of others and are unchanged between the two.
    This computes each dataset's and feature set's canonical JSON once, joins it into
    the same document text :func:`fingerprint` hashes (the tests check the two agree),
    and computes each (model, features, dataset, data) combination once. Definitions
    are frozen and recognised by identity: the parse cache hands out one validated
    object for the same bytes at both revisions; this keeps them alive.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[Any, ...], tuple[str, tuple[object, ...]]] = {}
        self._parts: dict[int, tuple[str, object]] = {}
        # stand-ins for the dataset and feature set in the one dump per model, replaced by
        # their cached text: random, so no definition's own string can look like them
        token = secrets.token_hex(16)
        self._slots = (f"{token}:dataset", f"{token}:features")

    def __call__(
        self,
        model: Model,
        features: FeatureSpec | None,
        dataset: Dataset,
        data_hash: str,
        sklearn_version: str,
        *,
        semantics: int = TRAINING_SEMANTICS_VERSION,
    ) -> str:
        """The same value as ``fingerprint(...)`` with these arguments."""
        key = (id(model), id(features), id(dataset), data_hash, sklearn_version, semantics)
        done = self._done.get(key)
        if done is not None:
            return done[0]
        _check(model, features, dataset)
        slot_d, slot_f = self._slots
        document = {
            "format": FORMAT,
            "semantics": semantics,
            "sklearn": sklearn_version,
            "model": {**model_part(model), "dataset": slot_d, "features": slot_f},
            "data": data_hash,
        }
        text = (
            canonical_json(document)
            .replace(f'"{slot_d}"', self._part(dataset, dataset_part), 1)
            .replace(f'"{slot_f}"', self._part(features, features_part), 1)
        )
        fp = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._done[key] = (fp, (model, features, dataset))
        return fp

    def _part(self, spec: Any, dump: Any) -> str:
        if id(spec) not in self._parts:
            self._parts[id(spec)] = (canonical_json(dump(spec)), spec)
        return self._parts[id(spec)][0]


def short(fp: str) -> str:
    """The version id shown to people: the first 12 hex characters of a fingerprint."""
    return fp[:SHORT]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return _CANONICAL.encode(value)


# json.dumps with these options, without building an encoder per call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def model_part(model: Model) -> dict[str, Any]:
    """The model definition as hashed: all but prose, gates, budget and monitoring.

    Gates judge a version, a budget limits its training and monitoring thresholds judge
    its live data; none shapes it, so tightening one re-evaluates the stored version
    instead of retraining it. ``dataset`` and ``features`` are still references here (a
    name or an inline spec); :func:`fingerprint` replaces them with the content they
    resolve to.
    """
    # what model_part_of keeps of the whole dump, without serializing the rest (none of
    # these fields has an alias or a serializer; a test checks the two agree)
    return model.model_dump(mode="json", by_alias=True, exclude=_NOT_HASHED_NAMES)


_NOT_HASHED = frozenset({*PROSE_FIELDS, "gates", "budget", "monitoring"})
_NOT_HASHED_NAMES = set(_NOT_HASHED)  # pydantic's exclude takes a set or a dict


def model_part_of(dump: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`model_part` of a model's JSON dump (``Entry.dump``)."""
    return {key: value for key, value in dump.items() if key not in _NOT_HASHED}


def features_part(features: FeatureSpec | None) -> dict[str, Any] | None:
    """A feature set's content: what :class:`FeatureSpec` declares, without name or prose."""
    if features is None:
        return None
    from engine.definitions.formats import FeatureSpec

    dumped = features.model_dump(mode="json", by_alias=True)
    return {key: dumped[key] for key in _spec_keys(FeatureSpec)}


@functools.cache
def _spec_keys(spec: Any) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in spec.model_fields.items())


_NOT_CONTENT = frozenset({"name", *PROSE_FIELDS})


def features_part_of(dump: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`features_part` of a feature set's JSON dump: a ``FeatureSet`` declares what
    a ``FeatureSpec`` does, plus its name and prose (a test checks the two agree)."""
    return {key: value for key, value in dump.items() if key not in _NOT_CONTENT}


def dataset_part(dataset: Dataset) -> dict[str, Any]:
    """The parts of a dataset that decide which rows train and which test.

    The schema and checks are left out on purpose: they are verified before training
    and can stop it, but the same rows, split and parameters fit the same model whatever
    bounds are declared, so tightening a check must not retrain every model on the data.
    (If training ever reads the schema, e.g. to cast column types, add it here and bump
    TRAINING_SEMANTICS_VERSION.) The dataset's name is left out too: the model refers
    to the dataset by name, and a rename alone changes no row.
    """
    return dataset_part_of(dataset.model_dump(mode="json", by_alias=True))


def dataset_part_of(dump: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`dataset_part` of a dataset's JSON dump."""
    return {key: dump[key] for key in ("source", "target", "id_column", "split")}


# --- data content hashes ----------------------------------------------------------------


def pointer_for(
    data_path: str, files: Mapping[str, bytes], links: Collection[str] = ()
) -> str | None:
    """The ``.dvc`` pointer tracking ``data_path``: its own, or one of a parent folder.

    A pointer among ``links`` (symbolic links, never followed) is a
    :class:`~engine.errors.PointerError` located at the link.
    """
    candidate = PurePosixPath(data_path)
    while candidate.name:
        pointer = f"{candidate}.dvc"
        if pointer in files:
            return pointer
        if pointer in links:
            raise linked(pointer)
        candidate = candidate.parent
    return None


def data_hash(dataset: Dataset, files: Mapping[str, bytes], sklearn_version: str) -> str:
    """The content hash of a dataset's rows, without reading the data.

    ``sklearn:<loader>:<version>`` for data that scikit-learn ships; for a file, the md5
    in its DVC pointer among ``files``. Raises :class:`DataError` when there is none, and
    :class:`~engine.errors.PointerError` when the pointer is not a plain one
    (:func:`engine.data.pointers.parse`).
    """
    return source_hash(dataset.source.sklearn, dataset.source.path, files, sklearn_version)


def source_hash(
    sklearn: str | None, path: str | None, files: Mapping[str, bytes], sklearn_version: str
) -> str:
    """:func:`data_hash` of a dataset whose source is ``sklearn`` (a loader) or ``path``
    (as its dump has them)."""
    if sklearn is not None:
        return f"sklearn:{sklearn}:{sklearn_version}"
    assert path is not None  # Source validates that exactly one is given
    pointer = pointer_for(path, files, getattr(files, "links", ()))
    if pointer is None:
        raise DataError(
            f"{path} is not tracked by DVC: no {path}.dvc pointer "
            f"in the repository; run `dvc add {path}` and commit the "
            "pointer"
        )
    return parse(files[pointer], pointer).md5


__all__ = [
    "TRAINING_SEMANTICS_VERSION",
    "Fingerprints",
    "canonical_json",
    "data_hash",
    "dataset_part",
    "dataset_part_of",
    "features_part",
    "features_part_of",
    "fingerprint",
    "model_part",
    "model_part_of",
    "pointer_for",
    "short",
    "source_hash",
]
