"""Evaluation: the champion/challenger comparison on one holdout, with its bootstrap and baseline.

Metrics live in ``pipeline.metrics`` and the bootstrap in ``pipeline.bootstrap``; both are
re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from pipeline.bootstrap import (
    CHUNK_CELLS,
    BootstrapResult,
    paired_bootstrap,
    paired_bootstrap_loop,
)
from pipeline.config import metric_higher_is_better
from pipeline.measures import default_measure, scaled
from pipeline.metrics import EPS as _EPS
from pipeline.metrics import _smape_rows, all_metrics, score, weighted_metric
from pipeline.reports import Comparison

__all__ = [
    "CHUNK_CELLS",
    "BootstrapResult",
    "all_metrics",
    "compare",
    "paired_bootstrap",
    "paired_bootstrap_loop",
    "score",
    "validity",
    "weighted_metric",
]


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------
def validity(pred: np.ndarray) -> str | None:
    """Why predictions cannot be trusted (NaN, infinite, constant), or None."""
    pred = np.asarray(pred, dtype=float)
    if not np.isfinite(pred).all():
        bad = int((~np.isfinite(pred)).sum())
        return f"the challenger's predictions contain {bad} NaN or infinite values of {len(pred)}"
    if len(pred) > 1 and np.ptp(pred) == 0:
        return f"the challenger predicts the constant {float(pred[0]):.6g} for all {len(pred)} holdout rows"
    return None


def _per_row_loss(metric: str, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    if metric in ("rmse", "r2"):
        return (y - p) ** 2
    if metric == "mape":
        return np.abs(y - p) / np.maximum(np.abs(y), _EPS)
    if metric == "smape":
        return _smape_rows(y, p)
    return np.abs(y - p)


def compare(
    *,
    task: str,
    metric: str,
    y: np.ndarray,
    challenger_pred: np.ndarray,
    challenger_version: int,
    champion_pred: np.ndarray | None,
    champion_version: int | None,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
    holdout_start: str = "",
    holdout_end: str = "",
    measure: str | None = None,
) -> Comparison:
    """Score both models on the same rows; bootstrap the primary metric's improvement, measured
    as ``measure`` says (default: ``pipeline.measures.default_measure``)."""
    measure = measure or default_measure(metric)
    y = np.asarray(y, dtype=float)
    higher = metric_higher_is_better(metric)
    invalid = validity(challenger_pred)
    ch_metrics = {} if invalid else all_metrics(task, y, challenger_pred)
    base: dict[str, Any] = dict(
        metric=metric,
        higher_is_better=higher,
        challenger_version=challenger_version,
        n_holdout=len(y),
        holdout_start=holdout_start,
        holdout_end=holdout_end,
        challenger_valid=invalid is None,
        invalid_reason=invalid,
        challenger_metrics=ch_metrics,
        improvement_measure=measure,
    )
    ch_value = ch_metrics.get(metric, float("nan"))
    # Without a usable champion, or with an invalid challenger, there is nothing to test.
    untested: dict[str, Any] = dict(
        base,
        challenger_value=ch_value,
        relative_improvement=None,
        absolute_improvement=None,
        interval=None,
        p_value=None,
        ttest_p_value=None,
        n_resamples=0,
    )
    if champion_pred is None or champion_version is None:
        return Comparison(champion_version=None, champion_value=None, **untested)
    champion_invalid = validity(champion_pred)
    if champion_invalid is not None:  # a champion that cannot score this holdout is no yardstick
        return Comparison(
            champion_version=champion_version,
            champion_value=None,
            champion_invalid_reason=champion_invalid.replace("the challenger", "the champion"),
            **untested,
        )
    champ_metrics = all_metrics(task, y, champion_pred)
    champ_value = champ_metrics[metric]
    if invalid:
        return Comparison(
            champion_version=champion_version,
            champion_value=champ_value,
            champion_metrics=champ_metrics,
            **untested,
        )
    sign = 1.0 if higher else -1.0
    absolute = sign * (ch_value - champ_value)
    relative = float(scaled(absolute, champ_value, measure))
    boot = paired_bootstrap(
        metric,
        y,
        champion_pred,
        challenger_pred,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
        measure=measure,
    )
    ttest_p: float | None = None
    if task == "regression":
        la, lb = _per_row_loss(metric, y, champion_pred), _per_row_loss(metric, y, challenger_pred)
        if np.ptp(la - lb) > 0:
            ttest_p = float(stats.ttest_rel(la, lb, alternative="greater").pvalue)
    return Comparison(
        champion_version=champion_version,
        challenger_value=ch_value,
        champion_value=champ_value,
        relative_improvement=float(relative),
        absolute_improvement=float(absolute),
        interval=boot.interval(level),
        p_value=boot.p_value,
        ttest_p_value=ttest_p,
        n_resamples=n_resamples,
        champion_metrics=champ_metrics,
        **base,
    )
