"""The cluster bootstrap: groups from the holdout, equal to the row bootstrap when every group is
one row, honest on clustered nulls where the row bootstrap is not, and the effective size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.bootstrap import effective_size, holdout_groups, paired_bootstrap
from pipeline.errors import ModelGateError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(
                ["2025-01-01 00:10", "2025-01-01 00:10", "2025-01-01 00:50", "2025-01-01 01:20"]
            ),
            "ward": ["a", "b", "a", None],
        }
    )


@pytest.mark.parametrize(
    ("setting", "codes", "label"),
    [
        ("auto", [0, 0, 1, 2], "rows sharing a ts"),
        ("rows", None, "rows"),
        ("1h", [0, 0, 0, 1], "1h buckets of ts"),
        ("30min", [0, 0, 1, 2], "30min buckets of ts"),
        ("ward", [0, 1, 0, 2], "column ward"),  # a missing value is a group of its own
    ],
)
def test_holdout_groups_follow_the_setting(setting, codes, label):
    got, text = holdout_groups(_frame(), setting, "ts")
    assert text == label
    assert (got is None and codes is None) or list(got) == codes


def test_auto_resamples_rows_when_no_timestamp_repeats():
    frame = _frame().drop_duplicates("ts")
    assert holdout_groups(frame, "auto", "ts") == (None, "rows")


def test_an_unknown_group_is_one_line_naming_it():
    with pytest.raises(ModelGateError, match=r"^bootstrap_group: 'flight' is neither a column"):
        holdout_groups(_frame(), "flight", "ts")


@pytest.mark.parametrize("metric", ["mae", "rmse", "r2", "roc_auc", "f1", "log_loss"])
def test_one_row_groups_are_the_row_bootstrap(metric):
    rng = np.random.default_rng(4)
    n = 400
    if metric in ("roc_auc", "f1", "log_loss"):
        y = (rng.random(n) < 0.4).astype(float)
        a, b = (
            np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1),
            np.clip(y * 0.4 + rng.random(n) * 0.6, 0, 1),
        )
    else:
        y = rng.normal(size=n)
        a, b = y + rng.normal(0, 1, n), y + rng.normal(0, 0.9, n)
    rows = paired_bootstrap(metric, y, a, b, n_resamples=300, rng=np.random.default_rng(9))
    groups = paired_bootstrap(
        metric, y, a, b, n_resamples=300, rng=np.random.default_rng(9), groups=np.arange(n)
    )
    assert np.allclose(rows.improvements, groups.improvements, rtol=1e-9, atol=1e-12)


def _clustered_null(seed: int, n_groups: int = 60, size: int = 40):
    """Two equally good models whose errors are shared within a group (an hour's weather)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    y = rng.normal(size=n_groups)[g] + rng.normal(size=len(g))
    a = y + rng.normal(size=n_groups)[g] + 0.3 * rng.normal(size=len(g))
    b = y + rng.normal(size=n_groups)[g] + 0.3 * rng.normal(size=len(g))
    return y, a, b, g


def test_on_clustered_nulls_false_wins_stay_at_alpha_and_the_row_bootstrap_fails():
    """300 nulls of 60 groups x 40 rows, alpha 0.05: the cluster bootstrap's false wins stay within
    sampling error of 5% (2 sd is 2.5 points), the row bootstrap's do not."""
    rows, grouped = [], []
    for seed in range(300):
        y, a, b, g = _clustered_null(seed)
        draw = dict(n_resamples=1000, rng=np.random.default_rng(seed + 1))
        rows.append(paired_bootstrap("mae", y, a, b, **draw).p_value < 0.05)
        draw = dict(n_resamples=1000, rng=np.random.default_rng(seed + 1))
        grouped.append(paired_bootstrap("mae", y, a, b, groups=g, **draw).p_value < 0.05)
    assert np.mean(grouped) <= 0.075
    assert np.mean(rows) >= 0.25  # measured: 37% false wins


def test_effective_size_counts_groups_not_rows():
    y, a, b, g = _clustered_null(1)
    n_eff = effective_size("mae", y, a, b, g)
    assert 20 < n_eff < 240  # of 2,400 rows in 60 groups
    assert effective_size("mae", y, a, b, None) == len(y)
    rng = np.random.default_rng(2)
    y = rng.normal(size=2000)
    a, b = y + rng.normal(size=2000), y + rng.normal(size=2000)
    independent = effective_size("mae", y, a, b, rng.integers(0, 200, size=2000))
    assert 1500 < independent <= 2000  # groups of independent rows lose (almost) nothing
