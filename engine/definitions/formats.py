"""The definition formats: datasets, feature sets, models and the project file.

These pydantic models are the single source of truth for the files under ``mlops/``:
the JSON Schemas in ``schemas/`` are generated from them (``mlops schemas``), and a test
fails when the committed schemas drift. Descriptions and examples here become the hover
help an editor shows. Everything in this module is pure: no I/O, no heavy imports.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from engine.definitions.names import (
    BINARY_ONLY_METRICS,
    CLASSIFICATION_METRICS,
    FOLDERS,
    IMPORT_PATH_PATTERN,
    LOWER_IS_BETTER,
    METRICS_BY_TASK,
    NAME_PATTERN,
    PERMISSIONS,
    PROSE_FIELDS,
    REGRESSION_METRICS,
    SKLEARN_LOADERS,
    Task,
    kind_of,
    lower_is_better,
)

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="Letters, digits, '.', '_' or '-'; at most 64."),
]
Scalar = str | int | float | bool


class Strict(BaseModel):
    """Base of every definition model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Prose(Strict):
    """Fields for people; they never change a model's fingerprint."""

    description: str | None = Field(None, description="What this is, for people.")
    owners: list[str] = Field(
        default_factory=list, description="Who to ask.", examples=[["@ml-team"]]
    )
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")


# --- datasets ---------------------------------------------------------------------------


class Source(Strict):
    """Where a dataset's rows come from: exactly one of ``sklearn`` or ``path``."""

    sklearn: Literal[SKLEARN_LOADERS] | None = Field(  # type: ignore[valid-type]
        None, description="A loader that scikit-learn ships.", examples=["load_breast_cancer"]
    )
    path: str | None = Field(
        None,
        description="Repository-relative path to a .csv or .parquet file tracked by DVC.",
        examples=["data/churn.csv"],
    )

    @field_validator("path")
    @classmethod
    def _confined(cls, value: str | None) -> str | None:
        return None if value is None else check_repo_path(value)

    @model_validator(mode="after")
    def _one(self) -> Source:
        if (self.sklearn is None) == (self.path is None):
            raise ValueError(
                "give exactly one of 'sklearn' (a loader) or 'path' (a DVC-tracked file)"
            )
        return self


def check_repo_path(value: str) -> str:
    """Refuse paths that are absolute or leave the repository; return the normal form."""
    if not value or "\\" in value or "\0" in value or re.match(r"^[A-Za-z]:", value):
        raise ValueError(
            f"{value!r} is not a repository-relative path: use a path like data/file.csv"
        )
    path = PurePosixPath(value)
    if path.is_absolute():
        raise ValueError(f"{value!r} is absolute: use a path relative to the repository root")
    if ".." in path.parts:
        raise ValueError(f"{value!r} leaves the repository: data must live inside it")
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{value!r} is neither .csv nor .parquet")
    return str(path)


class Column(Strict):
    """The declared schema of one column."""

    type: Literal["int", "float", "string", "bool", "date"] = Field(
        description="The column's type. Ints are accepted where floats are declared. A "
        "`date` is an ISO-8601 calendar date (`2024-05-31`; a Parquet date or timestamp "
        "column too): checked, profiled (its range and a histogram over time) and "
        "monitored as dates, but not a model input, like the id column (derive numbers "
        "from it in the data, such as a month or a day of the week)."
    )
    min: float | None = Field(None, description="Smallest allowed value.")
    max: float | None = Field(None, description="Largest allowed value.")
    values: list[Scalar] | None = Field(
        None, description="The allowed values, for categorical columns.", examples=[[0, 1]]
    )
    nullable: bool = Field(False, description="Whether missing values are allowed.")

    @model_validator(mode="after")
    def _bounds(self) -> Column:
        if self.type == "date" and (self.min is not None or self.max is not None):
            raise ValueError("min and max bound numbers; a date column takes neither")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Schema(Strict):
    """Columns the data must have, with their types and bounds."""

    columns: dict[str, Column] = Field(
        default_factory=dict,
        description="Column name to its declared schema.",
        examples=[{"mean radius": {"type": "float", "min": 0}}],
    )


class Checks(Strict):
    """Data-quality bounds checked on every load."""

    min_rows: int | None = Field(None, ge=0, description="Fewest rows allowed.")
    max_rows: int | None = Field(None, ge=0, description="Most rows allowed.")
    max_null_fraction: float | None = Field(
        None, ge=0, le=1, description="Largest fraction of missing values in any column."
    )


class Split(Strict):
    """How the data is split into train and test sets: by row, stable as rows change.

    A row's side comes from a hash of its ``id_column`` value (or of its content),
    salted by the seed, so adding or removing rows never moves the others.
    """

    test_size: float = Field(0.25, gt=0, lt=1, description="Fraction of rows held out.")
    seed: int = Field(0, ge=0, description="Salt of the row hashes that decide each row's side.")
    stratify: bool = Field(
        True, description="Hold out test_size of each class exactly (classification)."
    )


class Dataset(Prose):
    """A dataset: where the data comes from, what it must look like, how it is split."""

    name: Name
    source: Source = Field(
        description="Where the data comes from.",
        examples=[{"sklearn": "load_iris"}, {"path": "data/churn.csv"}],
    )
    target: str = Field(description="The column to predict.", examples=["target"])
    id_column: str | None = Field(
        None,
        description="A column of unique row ids: the split and lineage identify rows by it "
        "(default: by the row's content).",
    )
    schema_: Schema = Field(default_factory=Schema, alias="schema")
    checks: Checks = Field(default_factory=Checks)
    split: Split = Field(default_factory=Split)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- feature sets -----------------------------------------------------------------------


class Step(Strict):
    """One allow-listed scikit-learn transformer with its parameters."""

    class_: str = Field(
        alias="class",
        pattern=IMPORT_PATH_PATTERN,
        description="Import path of an allow-listed scikit-learn transformer.",
        examples=["sklearn.preprocessing.StandardScaler"],
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor arguments.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Transform(Strict):
    """A chain of transformers applied to a group of columns."""

    columns: list[str] = Field(
        min_length=1, description="The input columns this chain reads.", examples=[["age"]]
    )
    steps: list[Step] = Field(min_length=1, description="Transformers, applied in order.")


class FeatureSpec(Strict):
    """Input columns and per-group transformer chains; other inputs pass through."""

    columns: list[str] | None = Field(
        None, description="The input columns (default: every column but the target)."
    )
    transforms: list[Transform] = Field(
        default_factory=list, description="Transformer chains, one per column group."
    )
    remainder: Literal["passthrough", "drop"] = Field(
        "passthrough", description="What happens to input columns no chain reads."
    )


class FeatureSet(FeatureSpec, Prose):
    """A named, reusable feature set (``mlops/features/<name>.yaml``)."""

    name: Name


# --- models -----------------------------------------------------------------------------


class Estimator(Strict):
    """The estimator: an allow-listed import path and its parameters."""

    class_: str = Field(
        alias="class",
        pattern=IMPORT_PATH_PATTERN,
        description="Import path of a scikit-learn estimator (or one the project allows).",
        examples=["sklearn.ensemble.RandomForestClassifier"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Constructor arguments.",
        examples=[{"n_estimators": 300, "random_state": 0}],
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


RELATIVE = re.compile(r"^\d+(\.\d+)?%$")


class Gate(Strict):
    """Bounds a metric must respect for the model to pass."""

    min: float | None = Field(None, description="Absolute floor.")
    max: float | None = Field(None, description="Absolute ceiling.")
    max_drop: float | str | None = Field(
        None,
        description="Largest allowed regression against the baseline: absolute (0.01) or "
        "relative ('2%'). Direction-aware: for lower-is-better metrics a rise is a drop.",
        examples=[0.01, "2%"],
    )

    @field_validator("max_drop")
    @classmethod
    def _drop(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and not RELATIVE.match(value):
            raise ValueError(f"{value!r} is neither a number nor a percentage such as '2%'")
        if isinstance(value, float | int) and value < 0:
            raise ValueError("max_drop must not be negative")
        return value


class Search(Strict):
    """Hyper-parameter search with cross-validation; the best candidate is kept."""

    method: Literal["grid", "random"] = "grid"
    space: dict[str, list[Any]] = Field(
        description="Parameter name to candidate values.",
        examples=[{"n_estimators": [100, 300], "max_depth": [4, 8]}],
    )
    cv: int = Field(3, ge=2, le=20, description="Folds.")
    n_iter: int = Field(
        10, ge=1, le=1000, description="Candidates drawn (random search); at most 1,000."
    )
    seed: int = Field(0, ge=0)


class Monitoring(Strict):
    """How ``mlops monitor`` judges drift for this model; the defaults are Evidently's.

    Per feature, a p-value test decides at or below its significance level and a
    distance decides at or above its threshold (see ``engine/monitoring/drift.py``).
    """

    small_sample: int = Field(
        1000,
        ge=1,
        description="Reference rows up to which p-value tests are used (KS, chi-square, "
        "z-test); above it, distances (Wasserstein, Jensen-Shannon).",
    )
    ks_threshold: float = Field(
        0.05, gt=0, lt=1, description="Kolmogorov-Smirnov significance level (numeric)."
    )
    chi2_threshold: float = Field(
        0.05, gt=0, lt=1, description="Chi-square significance level (categorical)."
    )
    z_threshold: float = Field(
        0.05, gt=0, lt=1, description="Two-proportion z-test significance level (binary)."
    )
    wasserstein_threshold: float = Field(
        0.1, gt=0, description="Wasserstein distance, in reference standard deviations."
    )
    jensen_shannon_threshold: float = Field(
        0.1, gt=0, le=1, description="Jensen-Shannon distance (natural log)."
    )
    psi_threshold: float = Field(
        0.2, gt=0, description="PSI above which the report marks a shift (informative)."
    )
    drift_share: float = Field(
        0.5, gt=0, le=1, description="Share of drifted features at which the data drifted."
    )
    performance_drop: float = Field(
        0.0,
        ge=0,
        description="Live drop of the primary metric tolerated before it counts, on top "
        "of being significant.",
    )
    window: str = Field(
        "1d",
        pattern=r"^[1-9][0-9]*[smhd]$",
        description="Width of a live-performance time window: 30m, 6h, 1d...",
    )


DEFAULT_SECONDS = 1800.0
DEFAULT_MEMORY_MB = 4096


class Budget(Strict):
    """The time and memory one training may take before it counts as failed.

    Training runs inside the review and comment jobs, so a definition such as
    ``n_estimators: 100000000`` must not hold them for hours. Each training runs in its
    own worker process under these limits; one over budget fails for that model with a
    message, and nothing is stored. The project file's budget is the ceiling: a model's
    own budget can only lower it, since a pull request edits the model's file.
    """

    seconds: float = Field(
        DEFAULT_SECONDS,
        gt=0,
        le=86400,
        description="Wall-clock seconds for one training (data, fit, search, evaluation).",
    )
    memory_mb: int = Field(
        DEFAULT_MEMORY_MB,
        ge=64,
        le=1_048_576,
        description="Megabytes of memory the training may add to its worker process.",
    )

    def within(self, ceiling: Budget) -> Budget:
        """This budget, but never above ``ceiling`` (the project file's)."""
        return Budget(
            seconds=min(self.seconds, ceiling.seconds),
            memory_mb=min(self.memory_mb, ceiling.memory_mb),
        )


FeaturesRef = Annotated[
    Annotated[str, Tag("name"), Field(pattern=NAME_PATTERN)]
    | Annotated[FeatureSpec, Tag("inline")]
    | Annotated[None, Tag("none")],
    Discriminator(lambda v: "none" if v is None else "name" if isinstance(v, str) else "inline"),
]


class Model(Prose):
    """A model: data, features, estimator, metrics and the gates it must pass."""

    name: Name
    dataset: Name = Field(description="Name of a dataset in mlops/datasets/.")
    features: FeaturesRef = Field(
        None, description="Name of a feature set in mlops/features/, or one written inline."
    )
    task: Task
    estimator: Estimator
    metrics: list[str] = Field(
        min_length=1,
        description="Metrics computed on the test split.",
        examples=[["accuracy", "f1", "roc_auc"]],
    )
    primary_metric: str = Field(description="The metric a version is judged by.")
    gates: dict[str, Gate] = Field(default_factory=dict, description="Metric name to bounds.")
    cv: int | None = Field(None, ge=2, le=20, description="Add K-fold cross-validated scores.")
    search: Search | None = None
    monitoring: Monitoring = Field(
        default_factory=Monitoring, description="Drift thresholds for mlops monitor."
    )
    budget: Budget | None = Field(
        None,
        description="Time and memory for one training; at most the project file's budget.",
        examples=[{"seconds": 600, "memory_mb": 2048}],
    )


# --- the project file -------------------------------------------------------------------


class Store(Strict):
    """Where model versions live."""

    url: str = Field(
        ".mlops/store",
        description="A local folder (relative to the repository) or any DVC remote URL.",
        examples=[".mlops/store", "s3://bucket/mlops"],
    )


class Serving(Strict):
    """How a pinned model runs in a cluster: the ``InferenceService`` promotion writes.

    Set under ``serving:`` in the project file (every environment) or in one environment
    (which replaces the fields it sets); unset fields keep the engine's defaults.
    """

    image: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$",
        description="The container image running `mlops serve`.",
        examples=["ghcr.io/acme/mlops:1.4.0"],
    )
    resources: dict[Literal["requests", "limits"], dict[str, str]] | None = Field(
        None,
        description="Kubernetes resources of the predictor container.",
        examples=[{"requests": {"cpu": "200m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}],
    )
    namespace: str | None = Field(
        None, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description="Kubernetes namespace."
    )
    logger_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="Where KServe's payload logger sends requests and responses (CloudEvents).",
        examples=["http://message-dumper.monitoring.svc.cluster.local"],
    )
    min_replicas: int | None = Field(
        None, ge=0, le=1000, description="Predictor replicas, at least."
    )

    def over(self, base: Serving) -> Serving:
        """These settings on top of ``base``: the fields set here win."""
        return base.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})


class Watch(Strict):
    """What the scheduled monitor (``monitor.yml``) reads as an environment's current data.

    Paths are relative to the repository root of the monitor's checkout: a folder the
    serving layer's logs are synced into (or a DVC-tracked one the workflow pulls), or
    a batch file. Exactly one of ``logs`` and ``current``.
    """

    logs: str | None = Field(
        None,
        description="Prediction logs: a file or folder of JSON lines, relative to the repository.",
        examples=["monitoring/staging/logs"],
    )
    current: str | None = Field(
        None,
        description="A batch (CSV or Parquet), relative to the repository; with the "
        "target column its labels count too.",
        examples=["monitoring/staging/batch.parquet"],
    )
    labels: str | None = Field(
        None,
        description="Labels keyed by request id for the logs (CSV or JSON lines).",
        examples=["monitoring/staging/labels.csv"],
    )
    since: str = Field(
        "7d",
        description=(
            "The window of logged requests that drift and service health judge (a span: 30m, "
            "24h, 7d); labels, which arrive late, also join requests before it."
        ),
        examples=["24h"],
    )

    @field_validator("logs", "current", "labels")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.replace("\\", "/").split("/")
        if value.startswith(("/", "~")) or ":" in parts[0] or ".." in parts or not value.strip():
            raise ValueError(
                f"{value!r} must be a path inside the repository, relative to its root "
                "(no leading /, ~ or drive, no ..)"
            )
        return value

    @field_validator("since")
    @classmethod
    def _span(cls, value: str) -> str:
        if not re.match(r"^[1-9][0-9]*[smhd]$", value):
            raise ValueError(f"{value!r} is not a span: write a number and s, m, h or d (24h)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Watch:
        if (self.logs is None) == (self.current is None):
            raise ValueError("give exactly one of `logs` (prediction logs) and `current` (a batch)")
        if self.labels is not None and self.logs is None:
            raise ValueError("`labels` joins prediction logs: a batch carries its own target")
        return self


class Environment(Strict):
    """An environment: its branch and the policy for promoting into it."""

    branch: str = Field(description="The environment branch.", examples=["env/staging"])
    requires: list[Name] = Field(
        default_factory=list, description="Environments a version must be live in first."
    )
    approvals: int = Field(0, ge=0, description="Approving reviews needed on the PR head.")
    allow: list[str] = Field(
        default_factory=lambda: ["write", "maintain", "admin"],
        description="Who may promote: permission levels, @user or @org/team.",
        examples=[["maintain", "admin", "@alice"]],
    )
    from_default_branch: bool = Field(
        False,
        description="The version must come from a commit on the default branch (after a "
        "squash or rebase merge, one of its newest 20 commits that trains the same version: "
        "the pin then names that commit).",
    )
    allow_forks: bool = Field(False, description="Accept commands on pull requests from forks.")
    serving: Serving | None = Field(
        None, description="Serving settings for this environment, over the project's."
    )
    strategy: Literal["direct", "canary", "blue-green"] = Field(
        "direct",
        description="direct: a promotion moves all traffic at once; canary: "
        "`promote --canary N` may first give a new version N% beside the live one; "
        "blue-green: a promotion loads the version in the idle slot, promoting it again "
        "switches all traffic to it, and the previous slot stays loaded for a rollback.",
    )
    monitoring: Watch | None = Field(
        None, description="What the scheduled monitor reads as this environment's current data."
    )
    retrain_on_drift: bool = Field(
        False,
        description="When the scheduled monitor finds data drift in a model here, open a pull "
        "request that adds the labelled current rows to the model's dataset as a new "
        "DVC-tracked version (one open pull request per model and environment).",
    )

    @model_validator(mode="after")
    def _retrain_needs_data(self) -> Environment:
        if self.retrain_on_drift and self.monitoring is None:
            raise ValueError(
                "`retrain_on_drift: true` needs a `monitoring:` source (the rows to add); "
                "add `monitoring: {current: PATH}` or `monitoring: {logs: DIR, labels: FILE}`"
            )
        return self

    @field_validator("allow")
    @classmethod
    def _who(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in PERMISSIONS and not re.match(
                r"^@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$", item
            ):
                raise ValueError(
                    f"{item!r} is neither a permission ({', '.join(PERMISSIONS)}) "
                    "nor @user or @org/team"
                )
        return value


class Project(Strict):
    """The project file, ``mlops/project.yaml``."""

    store: Store = Field(default_factory=Store)
    default_branch: str = Field("main", description="The branch versions are trained on.")
    environments: dict[Name, Environment] = Field(default_factory=dict)
    allow_estimators: list[str] = Field(
        default_factory=list,
        description="Import paths of estimators beyond scikit-learn's to allow.",
        examples=[["xgboost.XGBClassifier"]],
    )
    budget: Budget = Field(
        default_factory=Budget,
        description="Time and memory for one training of any model, and the ceiling of "
        "a model's own budget.",
    )
    serving: Serving = Field(
        default_factory=Serving,
        description="How promoted models are served (the manifests on environment branches).",
    )

    @field_validator("allow_estimators")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(IMPORT_PATH_PATTERN, item):
                raise ValueError(f"{item!r} is not an import path such as package.module.Class")
        return value


KINDS: dict[str, type[Strict]] = {
    "dataset": Dataset,
    "feature-set": FeatureSet,
    "model": Model,
    "project": Project,
}


__all__ = [
    "BINARY_ONLY_METRICS",
    "CLASSIFICATION_METRICS",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_SECONDS",
    "FOLDERS",
    "IMPORT_PATH_PATTERN",
    "KINDS",
    "LOWER_IS_BETTER",
    "METRICS_BY_TASK",
    "NAME_PATTERN",
    "PERMISSIONS",
    "PROSE_FIELDS",
    "REGRESSION_METRICS",
    "RELATIVE",
    "SKLEARN_LOADERS",
    "Budget",
    "Checks",
    "Column",
    "Dataset",
    "Environment",
    "Estimator",
    "FeatureSet",
    "FeatureSpec",
    "FeaturesRef",
    "Gate",
    "Model",
    "Monitoring",
    "Name",
    "Project",
    "Prose",
    "Scalar",
    "Schema",
    "Search",
    "Serving",
    "Source",
    "Split",
    "Step",
    "Store",
    "Strict",
    "Task",
    "Transform",
    "Watch",
    "check_repo_path",
    "kind_of",
    "lower_is_better",
]
