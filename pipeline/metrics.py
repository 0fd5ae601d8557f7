"""Metrics from weighted sums: every metric under many rows of weights at once.

``w`` is (B, n): bootstrap resample counts, group weights, or (1, n) ones for the plain metric, so
one code path scores the holdout, every bootstrap resample and every cluster resample alike.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import METRICS

EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------------
# Metrics from weighted sums. ``w`` is (B, n) resample counts, or (1, n) ones for the plain metric.
# --------------------------------------------------------------------------------------------
def _wmean(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (w @ v) / w.sum(axis=1)


def _roc_auc(w: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    ps, ys, ws = p[order], y[order].astype(bool), w[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])  # first index of each tie group
    neg = np.where(ys, 0.0, ws)
    pos = np.where(ys, ws, 0.0)
    neg_group = np.add.reduceat(neg, starts, axis=1)
    pos_group = np.add.reduceat(pos, starts, axis=1)
    neg_below = np.cumsum(neg_group, axis=1) - neg_group
    wins = (pos_group * (neg_below + 0.5 * neg_group)).sum(axis=1)
    denom = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, wins / denom, np.nan)


def _confusion(w: np.ndarray, y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    hit = p >= 0.5
    yb = y.astype(bool)
    tp = w @ (hit & yb).astype(float)
    fp = w @ (hit & ~yb).astype(float)
    fn = w @ (~hit & yb).astype(float)
    tn = w @ (~hit & ~yb).astype(float)
    return tp, fp, fn, tn


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def weighted_metric(metric: str, w: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The metric under each row of weights ``w`` (shape (B, n)); returns shape (B,)."""
    if metric == "mae":
        return _wmean(w, np.abs(y - p))
    if metric == "rmse":
        return np.sqrt(_wmean(w, (y - p) ** 2))
    if metric == "mape":
        return _wmean(w, np.abs(y - p) / np.maximum(np.abs(y), EPS))
    if metric == "smape":
        return _wmean(w, _smape_rows(y, p))
    if metric == "r2":
        sw = w.sum(axis=1)
        sse = w @ ((y - p) ** 2)
        sst = w @ (y**2) - (w @ y) ** 2 / sw
        # scikit-learn's convention for a constant target: 1 for a perfect fit, else 0
        return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), np.where(sse == 0, 1.0, 0.0))
    if metric == "roc_auc":
        return _roc_auc(w, y, p)
    if metric == "log_loss":
        q = np.clip(p, EPS, 1 - EPS)
        return _wmean(w, -(y * np.log(q) + (1 - y) * np.log(1 - q)))
    return from_confusion(metric, *_confusion(w, y, p))


def from_confusion(
    metric: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> np.ndarray:
    """Accuracy, precision, recall or F1 from (weighted) confusion counts, per row of weights."""
    if metric == "accuracy":
        return np.asarray((tp + tn) / (tp + fp + fn + tn))
    if metric == "precision":
        return _safe_div(tp, tp + fp)
    if metric == "recall":
        return _safe_div(tp, tp + fn)
    if metric == "f1":
        return _safe_div(2 * tp, 2 * tp + fp + fn)
    raise ValueError(f"Unknown metric {metric!r}")


def _smape_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Symmetric absolute percentage error per row, 2|y - p| / (|y| + |p|), in [0, 2]; 0 where
    both are 0 (a perfect forecast of a zero)."""
    denom = np.abs(y) + np.abs(p)
    return np.where(denom > 0, 2 * np.abs(y - p) / np.where(denom > 0, denom, 1.0), 0.0)


def score(metric: str, y: np.ndarray, p: np.ndarray) -> float:
    """One metric on all rows (equal weights)."""
    return float(
        weighted_metric(metric, np.ones((1, len(y))), np.asarray(y, float), np.asarray(p, float))[0]
    )


def all_metrics(task: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {m: score(m, y, p) for m in METRICS[task]}
