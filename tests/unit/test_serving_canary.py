"""Canary traffic: a seeded weight split, and a kserve.Model that honours it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from engine.serving.canary import Split
from engine.serving.inputs import Field, Signature
from engine.serving.model import VERSION_HEADER, CanaryModel, PinnedModel
from engine.serving.pinned import PinnedVersion


def test_the_split_sends_about_the_percent_and_the_same_key_the_same_way():
    split = Split(20, seed=7)
    keys = [f"req-{i}" for i in range(5000)]
    choices = [split.to_canary(k) for k in keys]
    assert 0.18 < sum(choices) / len(keys) < 0.22
    assert choices == [Split(20, seed=7).to_canary(k) for k in keys]  # sticky per seed
    assert choices != [Split(20, seed=8).to_canary(k) for k in keys]


def test_without_a_key_the_split_follows_the_seed():
    a, b, c = Split(50, seed=3), Split(50, seed=3), Split(50, seed=4)
    sequence = [a.to_canary() for _ in range(200)]
    assert sequence == [b.to_canary() for _ in range(200)]
    assert sequence != [c.to_canary() for _ in range(200)]
    assert 60 < sum(sequence) < 140


@pytest.mark.parametrize("percent", [0, 100])
def test_the_extremes_send_all_or_nothing(percent):
    split = Split(percent, seed=1)
    assert {split.to_canary(f"k{i}") for i in range(500)} == {percent == 100}


@pytest.mark.parametrize("percent", [-1, 101, True])
def test_a_percent_outside_0_to_100_is_refused(percent):
    with pytest.raises(ValueError, match="0 to 100"):
        Split(percent)


def pinned(version: str, c: float) -> PinnedVersion:
    data = load_iris(as_frame=True)
    names = list(data.feature_names)
    estimator = LogisticRegression(C=c, max_iter=500).fit(data.data, data.target)
    return PinnedVersion(
        model="iris",
        environment="staging",
        version=version,
        fingerprint=version * 4 + "0" * 16,
        source_commit="a" * 40,
        sha256="",
        task="classification",
        estimator=estimator,
        signature=Signature(tuple(Field(n, "float", False) for n in names)),
        classes=(0, 1, 2),
    )


def test_the_canary_model_answers_with_the_version_the_split_or_the_client_chose():
    stable = PinnedModel(pinned("aaaaaaaaaaaa", 1.0), None)
    canary = PinnedModel(pinned("bbbbbbbbbbbb", 0.01), None)
    model = CanaryModel(stable, canary, Split(25, seed=11))
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    answered = []
    for i in range(400):
        headers: dict[str, str] = {}
        reply = model.predict(row, {"x-request-id": f"r{i}"}, headers)
        assert reply["model_version"] == headers[VERSION_HEADER]
        answered.append(reply["model_version"])
    share = answered.count("bbbbbbbbbbbb") / len(answered)
    assert 0.18 < share < 0.32
    again = [model.predict(row, {"x-request-id": f"r{i}"}, {})["model_version"] for i in range(400)]
    assert again == answered
    asked = model.predict(row, {VERSION_HEADER: "bbbbbbbbbbbb", "x-request-id": "r0"}, {})
    assert asked["model_version"] == "bbbbbbbbbbbb"
    assert set(model.versions) >= {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}
    frame = pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=stable.pinned.signature.names)
    assert np.asarray(stable.pinned.score(frame)[1]).shape == (1, 3)
