"""The store's pure rules: which skops types are trusted (exactly), which URLs are local."""

import pytest

from engine.store import untrusted
from engine.store.backends import scheme_of
from engine.store.trusted_types import REVIEWED_FUNCTIONS, TRUSTED_TYPES


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._tree.Tree",
        "numpy.dtype",
    ],
)
def test_the_types_of_the_engines_own_pipelines_are_trusted(name):
    assert untrusted([name]) == []


@pytest.mark.parametrize(
    "name",
    [
        "builtins.eval",
        "os.system",
        "numpy.save",  # writes a file when a reduce node calls it
        "numpy.load",  # unpickles with allow_pickle=True
        "numpy.lib._npyio_impl.load",
        "numpy.f2py.compile",
        "numpy.testing._private.utils.runstring",
        "scipy.datasets.face",  # downloads
        "sklearn.datasets.fetch_openml",  # downloads
        "sklearn.utils._testing.assert_run_python_script_without_output",
        "sklearn.utils.all_estimators",  # imports every module
        "sklearn",
        "sklearn.pipeline",
        "sklearn.pipeline.Pipelinex",
        "tests.func.test_store.Intruder",
    ],
)
def test_anything_else_under_the_trusted_packages_is_not(name):
    assert untrusted(["sklearn.pipeline.Pipeline", name]) == [name]


def test_extra_names_are_exact_not_prefixes():
    assert untrusted(["xgboost.core.Booster"], allow=["xgboost.core.Booster"]) == []
    assert untrusted(["xgboost.core.Booster"], allow=["xgboost", "xgboost.core"]) == [
        "xgboost.core.Booster"
    ]


def test_the_list_holds_classes_only_but_the_reviewed_functions():
    from engine.training.artifact_types import is_class

    assert not [name for name in TRUSTED_TYPES if not is_class(name)]
    assert all(not is_class(name) for name in REVIEWED_FUNCTIONS)
    assert not TRUSTED_TYPES & set(REVIEWED_FUNCTIONS)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        (".mlops/store", ""),
        ("/abs/store", ""),
        ("C:\\store", ""),
        ("file:///tmp/store", "file"),
        ("s3://bucket/models", "s3"),
        ("GS://bucket", "gs"),
        ("remote://storage/models", "remote"),
        ("webdavs://host/path", "webdavs"),
    ],
)
def test_scheme_of_url(url, scheme):
    assert scheme_of(url) == scheme
