"""DeLong's interval for ROC AUC: placements against a brute-force pair count, the
estimate against scikit-learn, and the interval against the paired bootstrap it replaces
from ``DELONG_FROM`` rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.review.delong import placements
from engine.review.pairing import aligned
from engine.review.significance import DELONG_FROM, paired_bootstrap
from tests.unit.test_significance import pair_of


def test_placements_count_pairs_by_brute_force_ties_half():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(60), 1)  # many ties
    positive = rng.random(60) < 0.4
    auc, influence = placements(scores, positive)
    pos, neg = scores[positive], scores[~positive]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert auc == pytest.approx(pairs.mean(), abs=1e-15)
    assert auc == pytest.approx(roc_auc_score(positive, scores), abs=1e-15)
    want_pos = (pairs.mean(axis=1) - auc) / pos.size
    want_neg = (pairs.mean(axis=0) - auc) / neg.size
    assert np.allclose(influence[positive], want_pos)
    assert np.allclose(influence[~positive], want_neg)


@pytest.mark.parametrize("k", [2, 3])
def test_delong_agrees_with_the_bootstrap_and_scikit_learn(k, monkeypatch):
    n = DELONG_FROM * 2
    base, head = pair_of(np.random.default_rng(k), n=n, k=k, round_to=2, metrics=["roc_auc"])
    paired = aligned(base, head)
    delong = paired_bootstrap(paired, ["roc_auc"])["roc_auc"]
    assert delong.method == "delong" and delong.resamples == 0
    assert delong.estimate == pytest.approx(
        head.metrics["roc_auc"] - base.metrics["roc_auc"], abs=1e-12
    )
    monkeypatch.setattr("engine.review.significance.DELONG_FROM", n + 1)
    boot = paired_bootstrap(paired, ["roc_auc"], resamples=2000)["roc_auc"]
    assert boot.method == "bootstrap"
    assert boot.estimate == pytest.approx(delong.estimate, abs=1e-12)
    width = boot.high - boot.low
    # the two intervals' ends agree within 5% of the width (bootstrap noise at 2,000)
    assert delong.low == pytest.approx(boot.low, abs=0.05 * width)
    assert delong.high == pytest.approx(boot.high, abs=0.05 * width)


def test_identical_and_single_class_test_sets():
    n = DELONG_FROM
    base, head = pair_of(np.random.default_rng(4), n=n)
    same = paired_bootstrap(aligned(base, base), ["roc_auc"])["roc_auc"]
    assert (same.low, same.high, same.estimate) == (0.0, 0.0, 0.0)
    one = aligned(base, head)
    one = type(one)(**{**one.__dict__, "y_true": np.zeros(n, dtype=int)})
    assert paired_bootstrap(one, ["roc_auc"]) == {}
