"""The store's pure rules: which skops types are trusted, which URLs are local."""

import pytest

from engine.store import is_trusted_type
from engine.store.backends import scheme_of


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._tree.Tree",
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
        "numpy",
    ],
)
def test_scikit_learn_numpy_and_scipy_types_are_trusted(name):
    assert is_trusted_type(name)


@pytest.mark.parametrize(
    "name",
    [
        "builtins.eval",
        "os.system",
        "sklearnx.Evil",  # a prefix is a module boundary, not a string prefix
        "tests.func.test_store.Intruder",
        "numpy.load",  # unpickles with allow_pickle=True
        "numpy.f2py.compile",
        "numpy.testing._private.utils.runstring",
        "sklearn.utils._testing.assert_run_python_script_without_output",
    ],
)
def test_other_types_and_dangerous_corners_are_not(name):
    assert not is_trusted_type(name)


def test_extra_prefixes_extend_the_allow_list_but_not_the_denied_corners():
    assert is_trusted_type("xgboost.core.Booster", ("sklearn", "xgboost"))
    assert not is_trusted_type("xgboost.core.Booster")
    assert not is_trusted_type("numpy.load", ("numpy",))


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
