"""Naive baselines and the gate they set: what each baseline predicts, and a table of decisions
for a challenger that does or does not beat it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.baselines import constant, naive
from pipeline.evaluation import compare
from pipeline.policy import Policy, decide
from pipeline.reports import Comparison, MetricInterval


@pytest.mark.parametrize(
    ("task", "metric", "label", "value"),
    [
        ("regression", "rmse", "training mean", 26.0),
        ("regression", "r2", "training mean", 26.0),
        ("regression", "mae", "training median", 3.0),
        ("regression", "smape", "training median", 3.0),
        ("classification", "roc_auc", "training base rate", 0.6),
    ],
)
def test_the_constant_each_metric_is_best_at(task, metric, label, value):
    y = np.array([1.0, 2.0, 3.0, 4.0, 120.0]) if task == "regression" else np.array([1, 0, 1, 1, 0])
    assert constant(task, metric, y) == (label, pytest.approx(value))


def _series() -> tuple[pd.DataFrame, pd.DataFrame]:
    days = pd.date_range("2025-01-01", periods=20, freq="D")
    frame = pd.DataFrame(
        {
            "ts": np.repeat(days, 2),
            "ward": ["a", "b"] * 20,
            "y": np.r_[[float(i) for i in range(40)]],
        }
    )
    return frame[frame.ts < "2025-01-15"], frame[frame.ts >= "2025-01-15"]


def test_last_value_follows_each_key_and_falls_back_for_new_ones():
    train, holdout = _series()
    holdout = pd.concat(
        [holdout, pd.DataFrame({"ts": [holdout.ts.max()], "ward": ["c"], "y": [0.0]})]
    )
    b = naive(
        "last_value",
        task="regression",
        metric="mae",
        train=train,
        holdout=holdout,
        target="y",
        timestamp="ts",
        keys=("ward",),
    )
    assert b is not None
    assert list(b.predictions[:2]) == [26.0, 27.0]  # ward a's and b's last training values
    assert b.predictions[-1] == np.median(train.y)  # ward c was never seen
    assert b.fallback_rows == 1 and "training median for 1 rows" in b.label


def test_seasonal_naive_reads_one_season_back_also_inside_the_holdout():
    train, holdout = _series()
    b = naive(
        "seasonal_naive",
        task="regression",
        metric="rmse",
        train=train,
        holdout=holdout,
        target="y",
        timestamp="ts",
        keys=("ward",),
        season_days=7,
    )
    assert b is not None and b.fallback_rows == 0
    # 2025-01-15 (rows 28, 29) is forecast by 2025-01-08 (rows 14, 15); 01-20 by 01-13.
    assert list(b.predictions[:2]) == [14.0, 15.0]
    assert list(b.predictions[-2:]) == [24.0, 25.0]
    assert b.label == "value 7 days earlier per ward"


def test_none_means_no_baseline():
    train, holdout = _series()
    assert (
        naive(
            "none",
            task="regression",
            metric="mae",
            train=train,
            holdout=holdout,
            target="y",
            timestamp="ts",
        )
        is None
    )


def _comparison(**kw) -> Comparison:
    base = dict(
        metric="mae",
        higher_is_better=False,
        challenger_version=2,
        champion_version=1,
        challenger_value=9.0,
        champion_value=10.0,
        relative_improvement=0.1,
        absolute_improvement=1.0,
        interval=MetricInterval(low=0.5, high=1.5, level=0.95),
        p_value=0.001,
        ttest_p_value=0.001,
        n_holdout=900,
        n_resamples=2000,
        baseline="training median",
        baseline_value=9.5,
        baseline_improvement=0.05,
        baseline_p_value=0.01,
    )
    return Comparison(**{**base, **kw})


BEHIND = dict(baseline_value=8.5, baseline_improvement=-0.06, baseline_p_value=0.97)
UNSURE = dict(baseline_improvement=0.01, baseline_p_value=0.3)


@pytest.mark.parametrize(
    ("case", "kw", "outcome", "says"),
    [
        (
            "first model beats the baseline",
            dict(
                champion_version=None,
                champion_value=None,
                relative_improvement=None,
                p_value=None,
                interval=None,
            ),
            "promote",
            "it beats the naive baseline (training median: mae 9.5) by +5.00%",
        ),
        (
            "first model behind the baseline",
            dict(
                champion_version=None,
                champion_value=None,
                relative_improvement=None,
                p_value=None,
                interval=None,
                **BEHIND,
            ),
            "review",
            "does not beat the naive baseline (training median: mae 8.5)",
        ),
        (
            "clear win over the champion, behind the baseline",
            BEHIND,
            "review",
            "clears the auto-promotion bar (+5.00%, p < 0.05), but it does not beat",
        ),
        (
            "clear win over the champion, unsure over the baseline",
            UNSURE,
            "review",
            "p = 0.3, alpha 0.05",
        ),
        (
            "small win, behind the baseline",
            dict(relative_improvement=0.03, **BEHIND),
            "review",
            "Also, it does not beat the naive baseline",
        ),
        (
            "loss, behind the baseline",
            dict(relative_improvement=-0.03, **BEHIND),
            "reject",
            "the champion stays",
        ),
        ("clear win, beats the baseline", {}, "promote", "it beats the naive baseline"),
        (
            "no baseline recorded",
            dict(
                baseline=None, baseline_value=None, baseline_improvement=None, baseline_p_value=None
            ),
            "promote",
            "significant",
        ),
    ],
)
def test_the_baseline_gate(case, kw, outcome, says):
    d = decide(_comparison(**kw), Policy())
    assert d.outcome == outcome, case
    assert says in " ".join(d.reasons), case


def test_compare_scores_the_baseline_on_the_same_rows():
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, size=3000)
    good = y + rng.normal(0, 1, size=3000)
    from pipeline.baselines import Baseline

    flat = Baseline("training mean", np.full(3000, 10.0))
    c = compare(
        task="regression",
        metric="rmse",
        y=y,
        challenger_pred=good,
        challenger_version=1,
        champion_pred=None,
        champion_version=None,
        n_resamples=1000,
        seed=1,
        baseline=flat,
    )
    assert c.baseline == "training mean"
    assert c.baseline_value == pytest.approx(np.sqrt(np.mean((y - 10.0) ** 2)))
    assert c.baseline_improvement > 0.5 and c.baseline_p_value < 0.01
    assert decide(c, Policy()).outcome == "promote"
    worse = compare(
        task="regression",
        metric="rmse",
        y=y,
        challenger_pred=y + rng.normal(0, 4, 3000),
        challenger_version=1,
        champion_pred=None,
        champion_version=None,
        n_resamples=1000,
        seed=1,
        baseline=flat,
    )
    assert worse.baseline_improvement < 0 and decide(worse, Policy()).outcome == "review"
