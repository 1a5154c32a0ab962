"""The allow-list of scikit-learn classes a definition may name, and the checks against it.

Definitions name classes by import path (``sklearn.ensemble.RandomForestClassifier``).
Importing a name to learn what it is would run whatever code it points at, and importing
scikit-learn alone costs more than a whole ``mlops validate`` may take. So what the engine
knows about scikit-learn (every public classifier and regressor, a fixed list of
transformers, their parameters and scikit-learn's own parameter constraints) is computed
once per installed version by ``build_catalog`` and cached as JSON; the engine ships the
file for the scikit-learn release it is locked to (:data:`SHIPPED`), so a fresh machine
builds nothing:

    catalog = Catalog.load()     # reads <cache dir>/catalog-sklearn-<version>.json (~25 ms)
    catalog.check_estimator("sklearn.ensemble.RandomForestClassifier",
                            {"max_depth": "deep"}, "classification")   # -> [Issue]
    catalog.check_transformer("sklearn.preprocessing.StandardScaler", {})
    catalog.resolve("sklearn.ensemble.RandomForestClassifier")        # -> the class

Training uses the module-level ``resolve(path, extra_allowed)`` and ``instantiate(path,
params, extra_allowed)``, which load the catalog once per process.

Checks never import a name that is off the list; only the paths a project adds in
``allow_estimators`` are imported, to learn their kind and parameters. An ``Issue`` names
the key it concerns (``("class",)``, ``("params", "max_depth")``) so the caller, which knows
where the YAML nodes are, turns it into a located ``Problem``.

Constraints are serialized as tagged JSON objects: ``{"interval": {...}}``,
``{"options": [...]}``, ``{"none": true}``, ``{"instance_of": "numbers.Integral"}``... (see
``engine/param_constraints.py`` for what each accepts); one that can't be serialized becomes
``{"any": true}``, so the catalog never refuses what scikit-learn would accept.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.definitions import param_constraints as constraints
from engine.definitions.catalog_format import (
    FORMAT,
    PROJECT_FILE,
    TRANSFORMERS,
    ClassInfo,
    Kind,
    sklearn_version,
)
from engine.definitions.user_cache import cache_dir
from engine.errors import DefinitionError, Severity

if TYPE_CHECKING:
    pass

EXAMPLE = {
    "classifier": "sklearn.ensemble.RandomForestClassifier",
    "regressor": "sklearn.ensemble.RandomForestRegressor",
    "transformer": "sklearn.preprocessing.StandardScaler",
}
KIND_OF_TASK: dict[str, Kind] = {"classification": "classifier", "regression": "regressor"}
CLASS = ("class",)
SHIPPED = Path(__file__).with_name("catalogs")
"""Catalogs built for the scikit-learn release the engine is locked to, shipped in the
package (``python -m engine.definitions.catalog`` writes the installed one there): a
fresh CI runner reads it instead of importing all of scikit-learn to build it (~3 s).
The catalog is a function of scikit-learn's code (its classes, signatures, constraints
and deprecations), so the file for a version is the file a build would write: a test
holds it to that, byte for byte (its digest keys remembered checks)."""


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a class reference; ``key`` is the node it concerns."""

    key: tuple[str, ...]
    message: str
    severity: Severity = "error"


@dataclass
class Catalog:
    """The allow-list with what is known of each class; checks are pure given this data."""

    sklearn_version: str
    classes: dict[str, ClassInfo]
    _extra: dict[str, ClassInfo | str] = field(default_factory=dict, repr=False)
    _verdicts: dict[tuple[Any, ...], tuple[Issue | None, ClassInfo]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Each (class, parameter, scalar value) checked once: thousands of models repeat them."""
    digest: str | None = field(default=None, compare=False)
    """A hash of the data it was loaded from (:meth:`load`), so that checks found clean
    can be remembered against it; None for a catalog made otherwise."""

    @classmethod
    def load(cls, directory: Path | None = None, shipped: Path | None = SHIPPED) -> Catalog:
        """The catalog of the installed scikit-learn: from the cache, else the one shipped
        with the engine for this version (``shipped``), else built and cached."""
        version = sklearn_version()
        name = f"catalog-sklearn-{version}.json"
        path = (directory or cache_dir()) / name
        for source in (path, None if shipped is None else shipped / name):
            if source is None:
                continue
            try:
                raw = source.read_bytes()
                return cls._digested(cls.from_data(json.loads(raw), version), raw)
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                pass  # missing, unreadable, corrupt or stale: the next, or build it again
        data = build_catalog()
        text = catalog_text(data)
        _write_atomically(path, text)
        return cls._digested(cls.from_data(data, version), text.encode())

    @staticmethod
    def _digested(catalog: Catalog, raw: bytes) -> Catalog:
        catalog.digest = hashlib.sha256(raw).hexdigest()
        return catalog

    @classmethod
    def from_data(cls, data: Mapping[str, Any], version: str | None = None) -> Catalog:
        """A catalog from ``build_catalog``'s output; ``ValueError`` if malformed or stale."""
        if data.get("format") != FORMAT:
            raise ValueError(f"catalog format {data.get('format')!r}, expected {FORMAT}")
        if version is not None and data.get("sklearn") != version:
            raise ValueError(f"catalog of scikit-learn {data.get('sklearn')}, not {version}")
        classes = {p: ClassInfo.from_data(p, d) for p, d in data["classes"].items()}
        return cls(str(data["sklearn"]), classes)

    # --- checks ---------------------------------------------------------------------------

    def check_estimator(
        self, path: str, params: Mapping[str, Any], task: str, extra_allowed: Collection[str] = ()
    ) -> list[Issue]:
        """What is wrong with ``estimator: {class: path, params: params}`` for ``task``."""
        want = KIND_OF_TASK.get(task, "unknown")
        info = self.lookup(path, extra_allowed)
        if info is None or isinstance(info, str):
            return [Issue(CLASS, info or self._off_list(path, "estimator", want))]
        issues = []
        if info.kind == "transformer":
            example = EXAMPLE.get(want, EXAMPLE["classifier"])
            why = "list it among the feature steps, and use an estimator such as"
            issues.append(
                Issue(CLASS, f"{path!r} is a transformer, not an estimator: {why} {example} here")
            )
        elif "unknown" not in (want, info.kind) and info.kind != want:
            other = "regression" if task == "classification" else "classification"
            such_as = self._counterpart(path, want)
            issues.append(
                Issue(
                    CLASS,
                    f"{path!r} is a {info.kind}, but the task is {task}: "
                    f"use a {want} such as {such_as}, or set task: {other}",
                )
            )
        if info.deprecated:
            issues.append(Issue(CLASS, f"{path!r} is deprecated: {info.deprecated}", "warning"))
        return issues + self._check_params(info, params)

    def check_transformer(self, path: str, params: Mapping[str, Any]) -> list[Issue]:
        """What is wrong with a feature step ``{class: path, params: params}``."""
        info = self.classes.get(path)
        if info is None:
            return [Issue(CLASS, self._off_list(path, "transformer", "transformer"))]
        if info.kind != "transformer":
            why = f"feature steps take transformers such as {EXAMPLE['transformer']}"
            return [
                Issue(
                    CLASS,
                    f"{path!r} is a {info.kind}, not a transformer: {why}; the "
                    "model's estimator goes under estimator.class",
                )
            ]
        return self._check_params(info, params)

    def check_params(
        self, path: str, params: Mapping[str, Any], extra_allowed: Collection[str] = ()
    ) -> list[Issue]:
        """Only the parameter checks (names and values), e.g. for search-space candidates.

        Returns nothing for a path off the list: ``check_estimator`` reports that.
        """
        info = self.lookup(path, extra_allowed)
        return self._check_params(info, params, partial=True) if isinstance(info, ClassInfo) else []

    def lookup(self, path: str, extra_allowed: Collection[str] = ()) -> ClassInfo | str | None:
        """The class's info; None when off the list; a message when an extra one won't import.

        Only paths in ``extra_allowed`` are ever imported (once per catalog).
        """
        if path in self.classes:
            return self.classes[path]
        if path not in extra_allowed:
            return None
        if path not in self._extra:
            from engine.definitions.catalog_build import inspect_extra

            self._extra[path] = inspect_extra(path)
        return self._extra[path]

    def resolve(self, path: str, extra_allowed: Collection[str] = ()) -> type:
        """The class behind an allowed path; ``DefinitionError`` (not importing it) otherwise."""
        info = self.lookup(path, extra_allowed)
        if info is None or isinstance(info, str):
            how = f"name one from scikit-learn, or add it to allow_estimators in {PROJECT_FILE}"
            raise DefinitionError(
                info or f"{path!r} is not an allowed estimator or transformer: {how}"
            )
        return _import_class(path)  # type: ignore[no-any-return]

    def prepare_params(
        self, path: str, params: Mapping[str, Any], extra_allowed: Collection[str] = ()
    ) -> dict[str, Any]:
        """Constructor arguments from YAML values: a list becomes a tuple where one is wanted.

        YAML has no tuples, yet a few parameters (``MinMaxScaler.feature_range``) accept
        only a tuple; ``check_*`` accept a list there, and training passes it through this.
        """
        info = self.lookup(path, extra_allowed)
        known = info.params if isinstance(info, ClassInfo) else {}
        return {k: constraints.as_constructor_value(known.get(k, []), v) for k, v in params.items()}

    # --- messages -------------------------------------------------------------------------

    def _check_params(
        self, info: ClassInfo, params: Mapping[str, Any], partial: bool = False
    ) -> list[Issue]:
        release = f"scikit-learn {self.sklearn_version}"
        issues = [self._param_issue(info, str(k), v, release) for k, v in params.items()]
        missing = [] if partial else [n for n in info.required if n not in params]
        return [i for i in issues if i] + [
            Issue(("params",), f"{info.path} needs the parameter {n!r}, which has no default")
            for n in missing
        ]

    def _param_issue(self, info: ClassInfo, name: str, value: Any, release: str) -> Issue | None:
        if not isinstance(value, constraints.JSON_SCALARS):
            return _param_issue(info, name, value, release)
        # repr in the key: 1, 1.0 and True (or 0.0 and -0.0) are equal but read differently
        key = (id(info), name, type(value), repr(value))
        if key not in self._verdicts:  # the info is kept with the verdict: its id stays its own
            self._verdicts[key] = (_param_issue(info, name, value, release), info)
        return self._verdicts[key][0]

    def _off_list(self, path: str, role: str, want: Kind) -> str:
        kinds = ("transformer",) if role == "transformer" else ("classifier", "regressor")
        guess = _closest(path, [p for p, i in self.classes.items() if i.kind in kinds])
        head = f"{path!r} is not an allowed {role}: "
        if role == "transformer":
            names = ", ".join(p.rsplit(".", 1)[1] for p in TRANSFORMERS if p in self.classes)
            return head + (
                f"did you mean {guess}?"
                if guess
                else f"use one of {names} (from sklearn.impute and sklearn.preprocessing; "
                "nothing that runs code, such as FunctionTransformer)"
            )
        allow = f"add it to allow_estimators in {PROJECT_FILE}"
        if guess:
            return head + f"did you mean {guess}? Otherwise {allow}"
        example = EXAMPLE.get(want, EXAMPLE["classifier"])
        return head + f"use a scikit-learn estimator such as {example}, or {allow}"

    def _counterpart(self, path: str, want: Kind) -> str:
        """The class of the wanted kind a user most likely meant (Ridge -> RidgeClassifier)."""
        name = path.rsplit(".", 1)[-1]
        swaps = [("Regressor", "Classifier"), ("SVR", "SVC")]
        if want == "classifier":
            names = [name.replace(a, b) for a, b in swaps] + [name + "Classifier"]
        else:
            names = [name.replace(b, a) for a, b in swaps] + [name.removesuffix("Classifier")]
        by_name = {p.rsplit(".", 1)[1]: p for p, i in self.classes.items() if i.kind == want}
        found = [by_name[n] for n in names if n in by_name and n != name]
        return found[0] if found else EXAMPLE.get(want, EXAMPLE["classifier"])


def _closest(path: str, candidates: list[str]) -> str | None:
    """The allowed path the user most likely meant: same class name, or a close typo of it."""
    import difflib

    name = path.rsplit(".", 1)[-1]
    by_name = {p.rsplit(".", 1)[1]: p for p in candidates}
    # A high cutoff: "did you mean SGDClassifier?" for xgboost.XGBClassifier would mislead.
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.88)
    return by_name[close[0]] if close else None


SIZE_CAPS = {"n_estimators": 10_000, "max_iter": 100_000}
"""Upper bounds the engine adds to scikit-learn's own (which have none for these).

Both parameters scale the work of a fit linearly and have defaults of 100 to 1,000; a
forest of 10,000 trees or 100,000 solver iterations is already far past what a review
job should run, and a larger value is a typo or an attempt to hold the job. The time
budget (``budget.seconds``) still bounds everything below the caps."""


def _param_issue(info: ClassInfo, name: str, value: Any, release: str) -> Issue | None:
    key, shown = ("params", name), f"{name}={constraints.show(value)}"
    checks = info.params.get(name)
    if checks is None:
        return None if info.open else Issue(key, _unknown_param(info, name))
    if not any(constraints.satisfies(c, value) for c in checks):
        must = constraints.describe(checks, value)
        return Issue(key, f"{shown} is not valid for {info.path}: it must be {must}")
    cap = SIZE_CAPS.get(name)
    if cap is not None and isinstance(value, int | float) and value > cap:
        return Issue(
            key,
            f"{shown} is more than the engine allows ({cap:,}): a fit that size would hold "
            f"the review job for hours; use at most {cap:,}",
        )
    deprecated = constraints.deprecation(checks, value)
    if deprecated == "option":
        return Issue(key, f"{shown} is deprecated in {release} ({info.path})", "warning")
    if deprecated == "parameter":
        what = f"the parameter {name!r} of {info.path}"
        return Issue(key, f"{what} is deprecated in {release}: leave it out", "warning")
    return None


def _unknown_param(info: ClassInfo, name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(info.params), n=1, cutoff=0.6)
    if close:
        return f"{info.path} has no parameter {name!r}: did you mean {close[0]!r}?"
    return f"{info.path} has no parameter {name!r}; its parameters are: {', '.join(info.params)}"


# --- for training: one catalog per process -----------------------------------------------

_loaded: Catalog | None = None


def default_catalog() -> Catalog:
    """``Catalog.load()``, once per process."""
    global _loaded
    if _loaded is None:
        _loaded = Catalog.load()
    return _loaded


def resolve(path: str, extra_allowed: Collection[str] = ()) -> type:
    """The class behind an allowed path; ``DefinitionError``, importing nothing, otherwise."""
    return default_catalog().resolve(path, extra_allowed)


def instantiate(path: str, params: Mapping[str, Any], extra_allowed: Collection[str] = ()) -> Any:
    """An instance of an allowed class from YAML params (lists become tuples where needed)."""
    catalog = default_catalog()
    return catalog.resolve(path, extra_allowed)(
        **catalog.prepare_params(path, params, extra_allowed)
    )


# --- the cache ----------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from others
            os.replace(tmp, path)  # readers see the old file or the whole new one
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # the cache is only a speed-up: a read-only home must not stop validation


def catalog_text(data: Mapping[str, Any]) -> str:
    """The cache file's text for ``build_catalog``'s output (the bytes its digest is of)."""
    return json.dumps(data, indent=1, sort_keys=True)


def build_catalog() -> dict[str, Any]:
    """Introspect the installed scikit-learn (imports it): the catalog as JSON-able data."""
    from engine.definitions.catalog_build import build

    return build()


def _import_class(path: str) -> Any:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":  # python -m engine.definitions.catalog: ship the installed one
    SHIPPED.mkdir(exist_ok=True)
    shipped = SHIPPED / f"catalog-sklearn-{sklearn_version()}.json"
    shipped.write_text(catalog_text(build_catalog()), encoding="utf-8")
    print(shipped)
