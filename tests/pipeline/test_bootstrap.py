"""Metrics and the vectorised paired bootstrap, against scikit-learn and the textbook loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from pipeline.evaluation import (
    _AucSorter,
    _resample_counts,
    _resample_indices,
    compare,
    paired_bootstrap,
    paired_bootstrap_loop,
    score,
    validity,
    weighted_metric,
)

RNG = np.random.default_rng(7)
Y_REG = RNG.normal(20, 5, 400)
P_REG = Y_REG + RNG.normal(0, 2, 400)
Y_BIN = (RNG.random(400) < 0.4).astype(float)
P_BIN = np.clip(np.round(0.3 * Y_BIN + RNG.random(400) * 0.7, 2), 0, 1)  # rounded: many tied scores

SKLEARN = {
    "mae": lambda y, p: skm.mean_absolute_error(y, p),
    "rmse": lambda y, p: skm.root_mean_squared_error(y, p),
    "r2": lambda y, p: skm.r2_score(y, p),
    "mape": lambda y, p: skm.mean_absolute_percentage_error(y, p),
    "roc_auc": lambda y, p: skm.roc_auc_score(y, p),
    "log_loss": lambda y, p: skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)),
    "accuracy": lambda y, p: skm.accuracy_score(y, p >= 0.5),
    "precision": lambda y, p: skm.precision_score(y, p >= 0.5),
    "recall": lambda y, p: skm.recall_score(y, p >= 0.5),
    "f1": lambda y, p: skm.f1_score(y, p >= 0.5),
}
REGRESSION = ("mae", "rmse", "r2", "mape")


def _data(metric):
    return (Y_REG, P_REG) if metric in REGRESSION else (Y_BIN, P_BIN)


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_metrics_equal_scikit_learn(metric):
    y, p = _data(metric)
    assert score(metric, y, p) == pytest.approx(SKLEARN[metric](y, p), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_count_weights_equal_repeated_rows(metric):
    """What the vectorised bootstrap relies on: weights w are the same as repeating rows w times."""
    y, p = _data(metric)
    idx = _resample_indices(np.random.default_rng(3), len(y), 4)
    w = _resample_counts(idx)
    got = weighted_metric(metric, w, y, p)
    want = [SKLEARN[metric](y[i], p[i]) for i in idx]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_auc_sorter_equals_scikit_learn_with_ties():
    idx = _resample_indices(np.random.default_rng(4), len(Y_BIN), 6)
    want = [skm.roc_auc_score(Y_BIN[i], P_BIN[i]) for i in idx]
    np.testing.assert_allclose(_AucSorter(Y_BIN, P_BIN)(idx), want, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), metric=st.sampled_from(["mae", "rmse", "r2", "roc_auc", "f1"])
)
def test_bootstrap_is_seeded_and_deterministic(seed, metric):
    y, p = _data(metric)
    q = p[::-1].copy()
    one = paired_bootstrap(metric, y, p, q, n_resamples=64, rng=np.random.default_rng(seed))
    two = paired_bootstrap(metric, y, p, q, n_resamples=64, rng=np.random.default_rng(seed))
    other = paired_bootstrap(metric, y, p, q, n_resamples=64, rng=np.random.default_rng(seed + 1))
    np.testing.assert_array_equal(one.improvements, two.improvements)
    assert one.p_value == two.p_value
    assert not np.array_equal(one.improvements, other.improvements)


@pytest.mark.parametrize("metric", ["mae", "rmse", "roc_auc", "r2"])
def test_vectorised_bootstrap_matches_the_loop_in_distribution(metric):
    y, champ = _data(metric)
    chall = champ + np.random.default_rng(1).normal(
        0, 0.02 if metric not in REGRESSION else 0.5, len(y)
    )
    if metric not in REGRESSION:
        chall = np.clip(chall, 0, 1)
    vec = paired_bootstrap(
        metric, y, champ, chall, n_resamples=3000, rng=np.random.default_rng(2)
    ).improvements
    ref = paired_bootstrap_loop(
        metric,
        y,
        champ,
        chall,
        n_resamples=3000,
        rng=np.random.default_rng(3),
        scorer=SKLEARN[metric],
    )
    spread = np.std(ref)
    assert abs(np.mean(vec) - np.mean(ref)) < 0.1 * spread
    for q in (0.025, 0.975):
        # a tail quantile of 3,000 draws has a standard error of ~0.07 spread: allow 3.5 of them
        assert abs(np.quantile(vec, q) - np.quantile(ref, q)) < 0.25 * spread
    assert np.std(vec) == pytest.approx(spread, rel=0.1)


def test_p_value_reflects_which_model_is_better():
    y = Y_REG
    good = y + np.random.default_rng(5).normal(0, 1, len(y))
    bad = y + np.random.default_rng(6).normal(0, 3, len(y))
    rng = np.random.default_rng
    assert paired_bootstrap("mae", y, bad, good, n_resamples=1000, rng=rng(0)).p_value < 0.01
    assert paired_bootstrap("mae", y, good, bad, n_resamples=1000, rng=rng(0)).p_value > 0.99
    same = paired_bootstrap("mae", y, good, good, n_resamples=1000, rng=rng(0))
    assert same.p_value == 1.0 and np.all(same.improvements == 0)


def test_compare_without_champion_and_with_invalid_challenger():
    c = compare(
        task="regression",
        metric="mae",
        y=Y_REG,
        challenger_pred=P_REG,
        challenger_version=1,
        champion_pred=None,
        champion_version=None,
        n_resamples=1000,
        seed=0,
    )
    assert c.champion_version is None and c.p_value is None and c.relative_improvement is None
    assert c.challenger_value == pytest.approx(skm.mean_absolute_error(Y_REG, P_REG))
    const = compare(
        task="regression",
        metric="mae",
        y=Y_REG,
        challenger_pred=np.full(400, 3.0),
        challenger_version=2,
        champion_pred=P_REG,
        champion_version=1,
        n_resamples=1000,
        seed=0,
    )
    assert (
        not const.challenger_valid
        and "constant 3" in const.invalid_reason
        and const.p_value is None
    )


@pytest.mark.parametrize(("metric", "task"), [("mae", "regression"), ("roc_auc", "classification")])
def test_compare_signs_improvement_by_metric_direction(metric, task):
    y, p = _data(metric)
    worse = p + np.random.default_rng(9).normal(0, 3 if task == "regression" else 0.4, len(y))
    if task == "classification":
        worse = np.clip(worse, 0, 1)
    c = compare(
        task=task,
        metric=metric,
        y=y,
        challenger_pred=p,
        challenger_version=2,
        champion_pred=worse,
        champion_version=1,
        n_resamples=1000,
        seed=0,
    )
    assert c.relative_improvement > 0 and c.absolute_improvement > 0
    assert c.interval.low < c.absolute_improvement < c.interval.high and c.p_value < 0.05
    assert (c.ttest_p_value is not None) == (task == "regression")
    flipped = compare(
        task=task,
        metric=metric,
        y=y,
        challenger_pred=worse,
        challenger_version=2,
        champion_pred=p,
        champion_version=1,
        n_resamples=1000,
        seed=0,
    )
    assert flipped.relative_improvement < 0 and flipped.p_value > 0.95


@pytest.mark.parametrize(
    ("pred", "text"),
    [
        (np.array([1.0, np.nan, 2.0]), "1 NaN or infinite values of 3"),
        (np.array([1.0, np.inf, 2.0]), "1 NaN or infinite"),
        (np.array([5.0, 5.0, 5.0]), "constant 5 for all 3"),
        (np.array([1.0, 2.0]), None),
    ],
)
def test_validity(pred, text):
    msg = validity(pred)
    assert (msg is None) if text is None else (text in msg)
