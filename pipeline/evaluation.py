"""Evaluation: the champion/challenger comparison on one holdout, with its bootstrap and baseline.

Metrics live in ``pipeline.metrics`` and the bootstrap in ``pipeline.bootstrap``; both are
re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from pipeline.baselines import Baseline
from pipeline.bootstrap import (
    CHUNK_CELLS,
    BootstrapResult,
    effective_size,
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


def _over_baseline(
    metric: str,
    y: np.ndarray,
    baseline: Baseline,
    challenger_pred: np.ndarray,
    ch_metrics: dict[str, float],
    n_resamples: int,
    seed: int,
    measure: str,
    groups: np.ndarray | None,
) -> dict[str, Any]:
    """The challenger against the naive baseline on the same rows and the same kind of draws."""
    value = score(metric, y, baseline.predictions)
    sign = 1.0 if metric_higher_is_better(metric) else -1.0
    boot = paired_bootstrap(
        metric,
        y,
        baseline.predictions,
        challenger_pred,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed + 1),
        measure=measure,
        groups=groups,
    )
    return {
        "baseline": baseline.label,
        "baseline_value": value,
        "baseline_improvement": float(scaled(sign * (ch_metrics[metric] - value), value, measure)),
        "baseline_p_value": boot.p_value,
    }


def _lower_bound(relative: np.ndarray, alpha: float) -> float | None:
    finite = relative[np.isfinite(relative)]
    return float(np.quantile(finite, alpha)) if len(finite) else None


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
    alpha: float = 0.05,
    holdout_start: str = "",
    holdout_end: str = "",
    measure: str | None = None,
    baseline: Baseline | None = None,
    groups: np.ndarray | None = None,
    group_label: str = "rows",
) -> Comparison:
    """Score both models on the same rows; bootstrap the primary metric's improvement, measured
    as ``measure`` says (default: ``pipeline.measures.default_measure``), over the champion and
    over the naive ``baseline``. With ``groups`` (a code per row) the bootstrap draws whole groups.
    ``improvement_lower`` is the one-sided (1 - ``alpha``) lower bound of the improvement.
    """
    measure = measure or default_measure(metric)
    y = np.asarray(y, dtype=float)
    higher = metric_higher_is_better(metric)
    invalid = validity(challenger_pred)
    ch_metrics = {} if invalid else all_metrics(task, y, challenger_pred)
    champion_invalid = None if champion_pred is None else validity(champion_pred)
    # What the holdout is worth, against the champion when it can score it, else the baseline.
    yardstick = (
        champion_pred
        if champion_pred is not None and champion_version is not None and not champion_invalid
        else None
        if baseline is None
        else baseline.predictions
    )
    sampling: dict[str, Any] = dict(
        bootstrap_groups=group_label,
        n_groups=None if groups is None else int(np.max(groups, initial=-1)) + 1,
        effective_n=None
        if invalid or yardstick is None
        else effective_size(metric, y, yardstick, challenger_pred, groups),
    )
    if baseline is not None and not invalid:
        sampling.update(
            _over_baseline(
                metric, y, baseline, challenger_pred, ch_metrics, n_resamples, seed, measure, groups
            )
        )
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
        **sampling,
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
        groups=groups,
    )
    ttest_p: float | None = None
    if task == "regression":
        d = _per_row_loss(metric, y, champion_pred) - _per_row_loss(metric, y, challenger_pred)
        if groups is not None:  # one paired difference per group: the groups are the units
            d = np.bincount(groups, d) / np.maximum(np.bincount(groups), 1)
        if len(d) > 1 and np.ptp(d) > 0:
            ttest_p = float(stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    return Comparison(
        champion_version=champion_version,
        challenger_value=ch_value,
        champion_value=champ_value,
        relative_improvement=float(relative),
        absolute_improvement=float(absolute),
        interval=boot.interval(level),
        improvement_lower=_lower_bound(boot.relative, alpha),
        p_value=boot.p_value,
        ttest_p_value=ttest_p,
        n_resamples=n_resamples,
        champion_metrics=champ_metrics,
        **base,
    )
