"""pipeline.evidence: the metric and segment tables from one set of draws, error distributions
for plots, and the feature-importance change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.bootstrap import paired_bootstrap
from pipeline.evidence import (
    MAX_SEGMENTS,
    MISSING,
    OTHER,
    deltas,
    error_distributions,
    importance_change,
    segment_codes,
)
from pipeline.metrics import all_metrics


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, n)
    ward = pd.Series(rng.choice(["A", "B", "C", "D"], n))
    champ = y + rng.normal(0, 4, n)
    chall = y + rng.normal(0, 3, n)
    chall[ward.to_numpy() == "C"] += 8  # the challenger is much worse on ward C
    return y, champ, chall, ward


def test_point_estimates_are_the_metrics_and_segments_cover_every_row():
    y, champ, chall, ward = _data()
    table, segs = deltas(
        task="regression",
        primary="mae",
        y=y,
        champion_pred=champ,
        challenger_pred=chall,
        segments={"ward": ward},
        n_resamples=400,
        seed=1,
    )
    a, b = all_metrics("regression", y, champ), all_metrics("regression", y, chall)
    assert [d.metric for d in table] == list(a)
    for d in table:
        assert d.champion == pytest.approx(a[d.metric]) and d.challenger == pytest.approx(
            b[d.metric]
        )
        assert d.low <= d.improvement <= d.high
    assert sorted(d.value for d in segs) == ["A", "B", "C", "D"]
    assert sum(d.n for d in segs) == len(y)
    by = {d.value: d for d in segs}
    mask = ward.to_numpy() == "C"
    assert by["C"].champion == pytest.approx(np.abs(y - champ)[mask].mean())
    assert by["C"].improvement < -0.5 and by["C"].p_worse < 0.01  # significantly worse
    assert by["A"].improvement > 0 and by["A"].p_better < 0.01


def test_the_primary_interval_agrees_with_the_comparisons_bootstrap():
    """Different draws, same distribution: the tables' interval for the primary metric is the
    comparison's, within Monte Carlo error."""
    y, champ, chall, _ = _data(seed=3)
    table, _ = deltas(
        task="regression", primary="mae", y=y, champion_pred=champ,
        challenger_pred=chall, n_resamples=2000, seed=5,
    )  # fmt: skip
    boot = paired_bootstrap("mae", y, champ, chall, n_resamples=2000, rng=np.random.default_rng(9))
    lo, hi = np.quantile(boot.relative, [0.025, 0.975])
    mae = table[0]
    assert mae.low == pytest.approx(lo, abs=0.01) and mae.high == pytest.approx(hi, abs=0.01)


def test_groups_widen_the_interval():
    """Rows that move together (the challenger's error shifts per group) are drawn as groups."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(60), 50)
    bias = rng.normal(0, 2, 60)[groups]
    y = rng.normal(0, 1, len(groups))
    champ = y + rng.normal(0, 2, len(y))
    chall = y + bias + rng.normal(0, 1, len(y))
    kw = dict(task="regression", primary="mae", y=y, champion_pred=champ, challenger_pred=chall,
              n_resamples=600, seed=2)  # fmt: skip
    rows = deltas(**kw)[0][0]
    grouped = deltas(**kw, groups=groups)[0][0]
    assert (grouped.high - grouped.low) > 1.5 * (rows.high - rows.low)


def test_classification_table_and_second_segment_column():
    rng = np.random.default_rng(6)
    n = 2000
    y = rng.integers(0, 2, n).astype(float)
    champ = np.clip(y * 0.6 + rng.uniform(0, 0.4, n), 0, 1)
    chall = np.clip(y * 0.7 + rng.uniform(0, 0.3, n), 0, 1)
    segs = {
        "site": pd.Series(rng.choice(["x", "y"], n)),
        "tier": pd.Series(rng.choice([1, 2, 3], n)),
    }
    table, by = deltas(
        task="classification", primary="roc_auc", y=y, champion_pred=champ,
        challenger_pred=chall, segments=segs, n_resamples=300, seed=0,
    )  # fmt: skip
    assert {d.metric for d in table} >= {"roc_auc", "f1", "log_loss", "accuracy"}
    assert {(d.column, d.value) for d in by} == {
        ("site", "x"),
        ("site", "y"),
        ("tier", "1"),
        ("tier", "2"),
        ("tier", "3"),
    }
    tier = [d for d in by if d.column == "tier"]
    assert sum(d.n for d in tier) == n and all(np.isfinite(d.low) for d in tier)


def test_segment_codes_pool_the_tail_and_name_missing_values():
    values = [f"v{i:03d}" for i in range(MAX_SEGMENTS + 10) for _ in range(i + 1)] + [None] * 500
    codes, labels = segment_codes(pd.DataFrame({"c": values}), "c")
    assert len(labels) == MAX_SEGMENTS + 1 and labels[-1] == OTHER
    assert MISSING in labels
    assert labels[0] == MISSING  # the largest first
    assert codes.max() == MAX_SEGMENTS


def test_error_distributions_are_small_and_plot_ready():
    y, champ, chall, _ = _data()
    reg = error_distributions("regression", y, champ, chall)
    assert reg["kind"] == "residuals" and set(reg["models"]) == {"champion", "challenger"}
    m = reg["models"]["challenger"]
    assert len(reg["edges"]) == 31 and sum(m["counts"]) == len(y)
    assert m["quantiles"]["p05"] < m["quantiles"]["p50"] < m["quantiles"]["p95"]
    assert sum(m["calibration"]["n"]) == len(y)
    rng = np.random.default_rng(1)
    yc = rng.integers(0, 2, 500).astype(float)
    cls = error_distributions("classification", yc, None, rng.uniform(size=500))
    assert cls["kind"] == "calibration" and set(cls["models"]) == {"challenger"}
    assert sum(cls["models"]["challenger"]["n"]) == 500
    assert error_distributions("regression", y, None, np.full(len(y), np.nan)) == {}


def test_importance_change_largest_first_with_new_and_dropped_features():
    rows = importance_change({"a": 0.5, "b": 0.3, "gone": 0.2}, {"a": 0.4, "b": 0.5, "new": 0.05})
    assert [r["feature"] for r in rows] == ["b", "gone", "a", "new"]
    assert rows[1]["challenger"] is None and rows[1]["change"] == pytest.approx(-0.2)
    assert importance_change(None, {"a": 1.0})[0]["champion"] is None
