"""The paired bootstrap of an improvement: rows, or whole groups of rows, resampled.

Resamples are drawn as count vectors (how often each holdout row, or each group, is drawn) and
every metric is computed from weighted sums, so one set of draws serves both models (paired) and
the work is a few matrix products per chunk of resamples instead of a Python loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import metric_higher_is_better
from pipeline.errors import ModelGateError
from pipeline.measures import default_measure, scaled
from pipeline.metrics import EPS as _EPS
from pipeline.metrics import _smape_rows, score, weighted_metric
from pipeline.reports import MetricInterval

CHUNK_CELLS = 2_000_000  # resamples x rows per chunk: bounds memory at ~32 MB per chunk
BUCKET = re.compile(r"^(\d+)(min|h|D)$")  # a time bucket for bootstrap_group: 30min, 1h, 1D


def holdout_groups(
    frame: pd.DataFrame, setting: str, timestamp: str
) -> tuple[np.ndarray | None, str]:
    """The bootstrap's groups for the holdout ``frame`` by the ``bootstrap_group`` setting, and
    how they read ("rows", "rows sharing a time_hour", "1h buckets of ts", "column ward").

    ``"auto"`` (the default) groups rows that share a timestamp when any do (a hundred flights
    share each hour's weather), else resamples rows; ``"rows"`` always resamples rows; a time
    bucket (``"30min"``, ``"1h"``, ``"1D"``) groups by the floored timestamp; anything else names
    a column whose values are the groups (a missing value is a group of its own).
    """
    if setting == "rows" or len(frame) == 0:
        return None, "rows"
    if setting == "auto":
        stamps = frame[timestamp]
        if stamps.nunique(dropna=False) == len(stamps):
            return None, "rows"
        codes, label = pd.factorize(stamps, use_na_sentinel=False)[0], f"rows sharing a {timestamp}"
    elif m := BUCKET.match(setting):
        floored = pd.to_datetime(frame[timestamp]).dt.floor(f"{m[1]}{m[2]}")
        codes, label = (
            pd.factorize(floored, use_na_sentinel=False)[0],
            f"{setting} buckets of {timestamp}",
        )
    elif setting in frame.columns:
        codes, label = pd.factorize(frame[setting], use_na_sentinel=False)[0], f"column {setting}"
    else:
        raise ModelGateError(
            f"bootstrap_group: {setting!r} is neither a column of the data, a time bucket "
            "(30min, 1h, 1D) nor 'auto' or 'rows'."
        )
    return np.asarray(codes, dtype=np.int64), label


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
    groups: np.ndarray | None = None,
) -> BootstrapResult:
    """Resample holdout rows with replacement; both models are scored on the same draws.

    With ``groups`` (an int code per row, 0..G-1) whole groups are drawn instead (a cluster
    bootstrap): rows that share an hour's weather, or a key, move together, so the interval is as
    wide as the number of independent groups warrants.

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
    if groups is not None:
        return _group_bootstrap(metric, y, a, b, groups, n_resamples, rng, measure)
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


def _group_bootstrap(
    metric: str,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    groups: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
    measure: str | None,
) -> BootstrapResult:
    """Each resample draws G groups with replacement; a row weighs as often as its group is drawn.
    Means of per-row values come from per-group sums ((B, G) @ G); the other metrics from row
    weights, a chunk of resamples at a time."""
    codes = np.asarray(groups, dtype=np.int64)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    sign = 1.0 if metric_higher_is_better(metric) else -1.0
    la, lb = _mean_loss(metric, y, a), _mean_loss(metric, y, b)
    sizes = np.bincount(codes, minlength=n_groups).astype(float)
    sums_a = None if la is None else np.bincount(codes, la, minlength=n_groups)
    sums_b = None if lb is None else np.bincount(codes, lb, minlength=n_groups)
    cells = n_groups if sums_a is not None else len(y) + n_groups
    chunk = max(1, min(n_resamples, CHUNK_CELLS // max(cells, 1)))
    imps: list[np.ndarray] = []
    rels: list[np.ndarray] = []
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        drawn = _resample_counts(_resample_indices(rng, n_groups, size))  # (size, G)
        if sums_a is not None and sums_b is not None:
            rows = drawn @ sizes
            ma, mb = (drawn @ sums_a) / rows, (drawn @ sums_b) / rows
            if metric == "rmse":
                ma, mb = np.sqrt(ma), np.sqrt(mb)
        else:
            w = drawn[:, codes]
            ma, mb = weighted_metric(metric, w, y, a), weighted_metric(metric, w, y, b)
        imp = sign * (mb - ma)
        imps.append(imp)
        rels.append(scaled(imp, ma, measure or default_measure(metric)))
        done += size
    return BootstrapResult(improvements=np.concatenate(imps), relative=np.concatenate(rels))


def effective_size(
    metric: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, groups: np.ndarray | None
) -> float:
    """Rows the holdout is worth for this comparison: n divided by the design effect of the
    per-row loss difference under the grouping (Kish), ``n * s^2 / sum_g (D_g - n_g * mean)^2``
    with ``D_g`` the group's sum of differences. n without groups, or when the losses never
    differ. Metrics that are not means of per-row values use the squared error (R²) or the
    squared distance of the probability from the label (classification) as their loss.
    """
    y, a, b = (np.asarray(v, dtype=float) for v in (y, a, b))
    n = len(y)
    if groups is None or n < 2:
        return float(n)
    la, lb = _mean_loss(metric, y, a), _mean_loss(metric, y, b)
    if la is None or lb is None:
        la, lb = (y - a) ** 2, (y - b) ** 2
    d = la - lb
    var = float(d.var())
    codes = np.asarray(groups, dtype=np.int64)
    n_groups = int(codes.max()) + 1
    dev = np.bincount(codes, d - d.mean(), minlength=n_groups)
    between = float(np.dot(dev, dev)) * n_groups / max(n_groups - 1, 1)
    if var <= 0 or between <= 0:
        return float(n)
    return float(min(n, n * n * var / between))


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
