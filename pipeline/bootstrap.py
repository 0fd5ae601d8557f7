"""The paired bootstrap of an improvement: rows, or whole groups of rows, resampled.

Resamples are drawn as count vectors (how often each holdout row, or each group, is drawn) and
every metric is computed from weighted sums, so one set of draws serves both models (paired) and
the work is a few matrix products per chunk of resamples instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.config import metric_higher_is_better
from pipeline.measures import default_measure, scaled
from pipeline.metrics import EPS as _EPS
from pipeline.metrics import _smape_rows, score, weighted_metric
from pipeline.reports import MetricInterval

CHUNK_CELLS = 2_000_000  # resamples x rows per chunk: bounds memory at ~32 MB per chunk


# --------------------------------------------------------------------------------------------
# Paired bootstrap
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapResult:
    """Resampled improvements (challenger better is positive) of the primary metric."""

    improvements: np.ndarray  # absolute, in metric units
    relative: np.ndarray

    def interval(self, level: float) -> MetricInterval:
        lo, hi = np.nanquantile(self.improvements, [(1 - level) / 2, (1 + level) / 2])
        return MetricInterval(low=float(lo), high=float(hi), level=level)

    @property
    def p_value(self) -> float:
        """One-sided: the share of resamples in which the challenger is not better (+1 smoothing)."""
        imp = self.improvements[~np.isnan(self.improvements)]
        return float((1 + np.count_nonzero(imp <= 0)) / (len(imp) + 1))


def _resample_indices(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(size, n) row indices drawn with replacement; int32 halves the cost of drawing them."""
    return rng.integers(0, n, size=(size, n), dtype=np.int32 if n < 2**31 else np.int64)


def _resample_counts(idx: np.ndarray) -> np.ndarray:
    """(size, n) counts of how often each row is drawn in each resample (multinomial, exact)."""
    size, n = idx.shape
    flat = idx.astype(np.int64) + (np.arange(size, dtype=np.int64) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)


class _AucSorter:
    """ROC AUC of resamples without re-sorting: rows are ranked once by score, each resample is
    turned into counts in rank order, and AUC is the positives' share of negatives ranked below."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        order = np.argsort(p, kind="stable")
        self.rank = np.empty(len(p), dtype=np.int64)
        self.rank[order] = np.arange(len(p))
        ps = p[order]
        self.is_pos = y[order].astype(bool)
        self.starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
        self.ties = len(self.starts) < len(p)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        size, n = idx.shape
        flat = self.rank[idx] + (np.arange(size, dtype=np.int64) * n)[:, None]
        w = np.bincount(flat.ravel(), minlength=size * n).reshape(size, n)
        neg = np.where(self.is_pos, 0, w)
        pos = w - neg
        if self.ties:
            neg = np.add.reduceat(neg, self.starts, axis=1)
            pos = np.add.reduceat(pos, self.starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        wins = (pos * below).sum(axis=1) + 0.5 * (pos * neg).sum(axis=1)
        denom = pos.sum(axis=1).astype(float) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, wins / denom, np.nan)


def _mean_loss(metric: str, y: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """Per-row values whose mean is the metric (RMSE: whose mean is its square), else None."""
    if metric == "mae":
        return np.abs(y - p)
    if metric == "rmse":
        return (y - p) ** 2
    if metric == "mape":
        return np.abs(y - p) / np.maximum(np.abs(y), _EPS)
    if metric == "smape":
        return _smape_rows(y, p)
    if metric == "log_loss":
        q = np.clip(p, _EPS, 1 - _EPS)
        return -(y * np.log(q) + (1 - y) * np.log(1 - q))
    if metric == "accuracy":
        return ((p >= 0.5) == y.astype(bool)).astype(float)
    return None


def paired_bootstrap(
    metric: str,
    y: np.ndarray,
    champion_pred: np.ndarray,
    challenger_pred: np.ndarray,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    measure: str | None = None,
) -> BootstrapResult:
    """Resample holdout rows with replacement; both models are scored on the same draws.

    Metrics that are means of per-row values are resampled by gathering both models' values in
    one pass; the others (ROC AUC, R², F1, precision, recall) from resample counts and weighted sums.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=500)
    >>> good, bad = y + rng.normal(0, 0.5, 500), y + rng.normal(0, 1.0, 500)
    >>> res = paired_bootstrap("mae", y, bad, good, n_resamples=1000, rng=np.random.default_rng(1))
    >>> res.p_value < 0.01
    True
    """
    y = np.asarray(y, dtype=float)
    a = np.asarray(champion_pred, dtype=float)
    b = np.asarray(challenger_pred, dtype=float)
    n = len(y)
    sign = 1.0 if metric_higher_is_better(metric) else -1.0
    la, lb = _mean_loss(metric, y, a), _mean_loss(metric, y, b)
    auc_a = _AucSorter(y, a) if metric == "roc_auc" else None
    auc_b = _AucSorter(y, b) if metric == "roc_auc" else None
    chunk = max(1, min(n_resamples, CHUNK_CELLS // max(n, 1)))
    imps: list[np.ndarray] = []
    rels: list[np.ndarray] = []
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        idx = _resample_indices(rng, n, size)
        if la is not None and lb is not None:
            ma, mb = la[idx].mean(axis=1), lb[idx].mean(axis=1)  # same draws for both models
            if metric == "rmse":
                ma, mb = np.sqrt(ma), np.sqrt(mb)
        elif auc_a is not None and auc_b is not None:
            ma, mb = auc_a(idx), auc_b(idx)
        else:
            w = _resample_counts(idx)
            ma = weighted_metric(metric, w, y, a)
            mb = weighted_metric(metric, w, y, b)
        imp = sign * (mb - ma)
        imps.append(imp)
        rels.append(scaled(imp, ma, measure or default_measure(metric)))
        done += size
    return BootstrapResult(improvements=np.concatenate(imps), relative=np.concatenate(rels))


def paired_bootstrap_loop(
    metric: str,
    y: np.ndarray,
    champion_pred: np.ndarray,
    challenger_pred: np.ndarray,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    scorer: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> np.ndarray:
    """The textbook loop (one resample at a time), kept as the benchmark's baseline and a test oracle."""
    sign = 1.0 if metric_higher_is_better(metric) else -1.0
    n = len(y)
    fn = scorer or (lambda yy, pp: score(metric, yy, pp))
    out = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        out[i] = sign * (fn(y[idx], challenger_pred[idx]) - fn(y[idx], champion_pred[idx]))
    return out
