"""Evaluation: metrics, a vectorised paired bootstrap, and the champion/challenger comparison.

The bootstrap draws resamples as count vectors (how often each holdout row is drawn) and computes
every metric from weighted sums, so one set of draws serves both models (paired) and every metric,
and the work is a few matrix products per chunk of resamples instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from pipeline.config import METRICS, metric_higher_is_better
from pipeline.measures import default_measure, scaled
from pipeline.reports import Comparison, MetricInterval

_EPS = np.finfo(np.float64).eps
CHUNK_CELLS = 2_000_000  # resamples x rows per chunk: bounds memory at ~32 MB per chunk


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
        return _wmean(w, np.abs(y - p) / np.maximum(np.abs(y), _EPS))
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
        q = np.clip(p, _EPS, 1 - _EPS)
        return _wmean(w, -(y * np.log(q) + (1 - y) * np.log(1 - q)))
    tp, fp, fn, tn = _confusion(w, y, p)
    if metric == "accuracy":
        return (tp + tn) / w.sum(axis=1)
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
