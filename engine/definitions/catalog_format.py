"""The catalog's shared vocabulary: what one allowed class is, and the cache's format.

Both :mod:`engine.definitions.catalog` (reading and checking) and
:mod:`engine.definitions.catalog_build` (introspecting scikit-learn) use these, so they
live apart from either and neither imports the other's module at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.definitions.param_constraints import Constraint

Kind = Literal["classifier", "regressor", "transformer", "unknown"]


FORMAT = 1
"""Version of the cache file's shape; bump it when ``build_catalog``'s output changes."""


TRANSFORMERS = (
    "sklearn.impute.SimpleImputer",
    "sklearn.impute.KNNImputer",
    "sklearn.impute.MissingIndicator",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.preprocessing.QuantileTransformer",
    "sklearn.preprocessing.PowerTransformer",
    "sklearn.preprocessing.OneHotEncoder",
    "sklearn.preprocessing.OrdinalEncoder",
    "sklearn.preprocessing.TargetEncoder",
    "sklearn.preprocessing.KBinsDiscretizer",
    "sklearn.preprocessing.Binarizer",
    "sklearn.preprocessing.PolynomialFeatures",
    "sklearn.preprocessing.SplineTransformer",
)
"""Feature steps: data in, data out, and no parameter that takes code (no FunctionTransformer)."""


PROJECT_FILE = "mlops/project.yaml"


@dataclass(frozen=True)
class ClassInfo:
    """What the catalog knows about one allowed class."""

    path: str
    kind: Kind
    params: Mapping[str, list[Constraint]]
    """Constructor parameter name to constraints; a value must satisfy one of them."""
    required: tuple[str, ...] = ()
    """Parameters without a default."""
    open: bool = False
    """The constructor takes ``**kwargs``: any parameter name is accepted."""
    deprecated: str | None = None
    """scikit-learn's deprecation message, when the class itself is deprecated."""

    @classmethod
    def from_data(cls, path: str, data: Mapping[str, Any]) -> ClassInfo:
        """Read one entry of the catalog's JSON; ``ValueError`` when it is malformed."""
        kind, params = data["kind"], data["params"]
        if kind not in ("classifier", "regressor", "transformer", "unknown"):
            raise ValueError(f"{path}: unknown kind {kind!r}")
        if not isinstance(params, dict) or not all(
            isinstance(checks, list) and all(isinstance(c, dict) for c in checks)
            for checks in params.values()
        ):
            raise ValueError(f"{path}: params must map names to lists of constraints")
        required, deprecated = tuple(data.get("required", ())), data.get("deprecated")
        return cls(path, kind, params, required, bool(data.get("open")), deprecated)


def sklearn_version() -> str:
    """The installed scikit-learn's version, read from its metadata without importing it
    (nor ``importlib.metadata`` and its e-mail parser: see :mod:`engine.definitions.installed`)."""
    from engine.definitions.installed import metadata_version

    try:
        return metadata_version("scikit-learn")
    except ImportError:  # importlib.metadata.PackageNotFoundError
        raise UserError(
            "scikit-learn is not installed where mlops runs: pip install scikit-learn"
        ) from None
