"""The statistics behind a decision: every metric and every segment, both models, with intervals.

One set of bootstrap draws serves the whole table. It is a Poisson bootstrap (each row, or each
group of ``bootstrap_group``, weighs Poisson(1) times in a resample: the large-data form of the
multinomial bootstrap, Hanley & MacGibbon 2006, Chamandy et al. 2012), with the weights looked
up from 16 random bits, so a chunk of resamples is one matrix of weights. Every metric of both
models, overall and per segment, is then a function of a few weighted sums (counts, errors,
squared errors, confusion counts), all of them one matrix product per chunk; only ROC AUC needs
the weights themselves (``pipeline.metrics.weighted_metric``). Rows are sorted by the first
segment column once, so its segments are contiguous slices of that product's inputs.

Improvements are positive when the challenger is better, in each metric's
``improvement_measure``; ``p_worse`` is the one-sided bootstrap p-value of "the challenger is not
worse" (small: it is significantly worse), ``p_better`` its mirror.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipeline.bootstrap import CHUNK_CELLS
from pipeline.config import METRICS, metric_higher_is_better
from pipeline.measures import default_measure, scaled
from pipeline.metrics import EPS, _smape_rows, from_confusion, score, weighted_metric
from pipeline.reports import Delta, finite

MAX_SEGMENTS = 50  # per column, the largest; the rest are pooled as OTHER
OTHER = "(other values)"
MISSING = "(missing)"


def segment_codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """A code per row and the label of each code: the ``MAX_SEGMENTS`` largest values of
    ``column`` (ties by value), the rest pooled as ``OTHER``, a missing value as ``MISSING``."""
    values = frame[column].astype("string").fillna(MISSING).to_numpy(dtype=object)
    labels, codes = np.unique(values, return_inverse=True)
    sizes = np.bincount(codes, minlength=len(labels))
    keep = np.argsort(-sizes, kind="stable")[:MAX_SEGMENTS]
    if len(labels) <= MAX_SEGMENTS:
        return codes.astype(np.int64), [str(v) for v in labels]
    remap = np.full(len(labels), len(keep), dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return remap[codes], [str(labels[k]) for k in keep] + [OTHER]


# Poisson(1) by the inverse CDF over 65,536 equally likely values: each P(k) to within 1/65,536.
_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])
POISSON = np.searchsorted(_CDF * 65536, np.arange(65536) + 0.5).astype(np.float64)


def _weights(
    rng: np.random.Generator, n: int, size: int, groups: np.ndarray | None, n_groups: int
) -> np.ndarray:
    """(size, n) Poisson(1) weights per row, or per group and shared by the group's rows."""
    if groups is None:
        return POISSON[rng.integers(0, 65536, size=(size, n), dtype=np.uint16)]
    drawn = POISSON[rng.integers(0, 65536, size=(size, n_groups), dtype=np.uint16)]
    return drawn[:, groups]


def _stat_columns(
    task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """The per-row values whose weighted sums give every metric of both models (``a``: the
    champion, ``b``: the challenger), as one (n, K) matrix and the index of each column."""
    cols: dict[str, np.ndarray] = {"one": np.ones(len(y)), "y": y, "y2": y * y}
    for tag, p in (("a", a), ("b", b)):
        if task == "regression":
            e = np.abs(y - p)
            cols[f"{tag}:ae"] = e
            cols[f"{tag}:se"] = e * e
            cols[f"{tag}:ape"] = e / np.maximum(np.abs(y), EPS)
            cols[f"{tag}:sape"] = _smape_rows(y, p)
        else:
            hit, yb = p >= 0.5, y.astype(bool)
            masks = {"tp": hit & yb, "fp": hit & ~yb, "fn": ~hit & yb, "tn": ~hit & ~yb}
            for name, mask in masks.items():
                cols[f"{tag}:{name}"] = mask.astype(float)
            q = np.clip(p, EPS, 1 - EPS)
            cols[f"{tag}:ll"] = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    return np.column_stack(list(cols.values())), {k: i for i, k in enumerate(cols)}


def _from_sums(metric: str, s: np.ndarray, ix: Mapping[str, int], tag: str) -> np.ndarray | None:
    """The metric of model ``tag`` under each resample, from its weighted sums ``s`` (B, K);
    None for ROC AUC, which is not a function of sums. The formulas are
    ``pipeline.metrics.weighted_metric``'s."""
    sw = s[:, ix["one"]]

    def g(name: str) -> np.ndarray:
        return s[:, ix[f"{tag}:{name}"]]

    with np.errstate(invalid="ignore", divide="ignore"):
        if metric in ("mae", "mape", "smape", "log_loss"):
            key = {"mae": "ae", "mape": "ape", "smape": "sape", "log_loss": "ll"}[metric]
            return np.asarray(g(key) / sw)
        if metric == "rmse":
            return np.asarray(np.sqrt(g("se") / sw))
        if metric == "r2":
            sse = g("se")
            sst = s[:, ix["y2"]] - s[:, ix["y"]] ** 2 / sw
            fit = 1 - sse / np.where(sst > 0, sst, 1)
            return np.where(sst > 0, fit, np.where(sse == 0, 1.0, 0.0))
        if metric == "roc_auc":
            return None
        return from_confusion(metric, g("tp"), g("fp"), g("fn"), g("tn"))


def _both(
    metric: str,
    s: np.ndarray,
    ix: Mapping[str, int],
    w: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' metric under each resample; NaN for a resample that drew no row."""
    ma, mb = _from_sums(metric, s, ix, "a"), _from_sums(metric, s, ix, "b")
    if ma is None or mb is None:  # ROC AUC: from the weights
        ma, mb = weighted_metric(metric, w, y, a), weighted_metric(metric, w, y, b)
    empty = s[:, ix["one"]] == 0
    return np.where(empty, np.nan, ma), np.where(empty, np.nan, mb)


def _summary(
    metric: str,
    measure: str,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    draws: np.ndarray,
    level: float,
    **where: Any,
) -> Delta:
    """Point estimates on all rows, interval and p-values from the resampled improvements."""
    higher = metric_higher_is_better(metric)
    sign = 1.0 if higher else -1.0
    champion, challenger = score(metric, y, a), score(metric, y, b)
    improvement = float(scaled(sign * (challenger - champion), champion, measure))
    imp = draws[np.isfinite(draws)]
    low, high = (
        np.quantile(imp, [(1 - level) / 2, (1 + level) / 2]) if len(imp) else (np.nan, np.nan)
    )
    return Delta(
        metric=metric,
        higher_is_better=higher,
        measure=measure,
        n=len(y),
        champion=champion,
        challenger=challenger,
        improvement=improvement,
        low=float(low),
        high=float(high),
        level=level,
        p_worse=float((1 + np.count_nonzero(imp >= 0)) / (len(imp) + 1)),
        p_better=float((1 + np.count_nonzero(imp <= 0)) / (len(imp) + 1)),
        **where,
    )


def deltas(
    *,
    task: str,
    primary: str,
    y: np.ndarray,
    champion_pred: np.ndarray,
    challenger_pred: np.ndarray,
    segments: Mapping[str, pd.DataFrame | pd.Series] | None = None,
    groups: np.ndarray | None = None,
    measures: Mapping[str, str] | None = None,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[tuple[Delta, ...], tuple[Delta, ...]]:
    """Every metric of ``task`` on the whole holdout, and ``primary`` per segment of each column
    in ``segments`` (column name -> the holdout's values, row-aligned with ``y``).

    Returns ``(metrics, segment_deltas)``; the resamples are the same for all of them.
    """
    y = np.asarray(y, dtype=float)
    a = np.asarray(champion_pred, dtype=float)
    b = np.asarray(challenger_pred, dtype=float)
    n = len(y)
    measures = dict(measures or {})
    metrics = METRICS[task]
    columns = {
        col: segment_codes(pd.DataFrame({col: np.asarray(v)}), col)
        for col, v in (segments or {}).items()
    }
    # Sort rows by the first column's segments: its slices of the weight matrix are views.
    order = np.argsort(next(iter(columns.values()))[0], kind="stable") if columns else None
    if order is not None:
        y, a, b = y[order], a[order], b[order]
        groups = None if groups is None else np.asarray(groups)[order]
        columns = {c: (codes[order], labels) for c, (codes, labels) in columns.items()}
    codes_g = None if groups is None else np.asarray(groups, dtype=np.int64)
    n_groups = 0 if codes_g is None or n == 0 else int(codes_g.max()) + 1
    plans = []  # per column: the row permutation (None: already contiguous) and slice bounds
    for i, (_, (codes, labels)) in enumerate(columns.items()):
        perm = None if i == 0 else np.argsort(codes, kind="stable")
        sorted_codes = codes if perm is None else codes[perm]
        bounds = np.searchsorted(sorted_codes, np.arange(len(labels) + 1))
        plans.append((perm, bounds))

    sign = {m: 1.0 if metric_higher_is_better(m) else -1.0 for m in metrics}
    measure = {m: measures.get(m) or default_measure(m) for m in metrics}
    overall: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    by_segment: list[list[list[np.ndarray]]] = [
        [[] for _ in labels] for _, labels in columns.values()
    ]
    rng = np.random.default_rng(
        [seed, 7]
    )  # its own stream: the comparison's draws stay as they were
    stats, ix = _stat_columns(task, y, a, b)
    cuts = [  # per column: its rows in segment order, their sums' inputs, and the slice bounds
        (perm, stats if perm is None else stats[perm], bounds) for perm, bounds in plans
    ]
    chunk = max(1, min(n_resamples, CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < n_resamples and n > 0:
        size = min(chunk, n_resamples - done)
        w = _weights(rng, n, size, codes_g, n_groups)
        sums = w @ stats
        for m in metrics:
            ma, mb = _both(m, sums, ix, w, y, a, b)
            overall[m].append(scaled(sign[m] * (mb - ma), ma, measure[m]))
        for (perm, rows, bounds), store in zip(cuts, by_segment, strict=True):
            ws, ys, as_, bs = (
                (w, y, a, b) if perm is None else (w[:, perm], y[perm], a[perm], b[perm])
            )
            for k in range(len(bounds) - 1):
                lo, hi = bounds[k], bounds[k + 1]
                if hi - lo == 0:
                    continue
                part = ws[:, lo:hi]
                ma, mb = _both(
                    primary, part @ rows[lo:hi], ix, part, ys[lo:hi], as_[lo:hi], bs[lo:hi]
                )
                store[k].append(scaled(sign[primary] * (mb - ma), ma, measure[primary]))
        done += size

    def _cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.array([])

    table = tuple(
        _summary(m, measure[m], y, a, b, _cat(overall[m]), level) for m in metrics if n > 0
    )
    seg_rows: list[Delta] = []
    for (col, (_codes, labels)), (perm, bounds), store in zip(
        columns.items(), plans, by_segment, strict=True
    ):
        ys, as_, bs = (y, a, b) if perm is None else (y[perm], a[perm], b[perm])
        for k, label in enumerate(labels):
            lo, hi = bounds[k], bounds[k + 1]
            if hi - lo == 0:
                continue
            seg_rows.append(
                _summary(
                    primary,
                    measure[primary],
                    ys[lo:hi],
                    as_[lo:hi],
                    bs[lo:hi],
                    _cat(store[k]),
                    level,
                    column=col,
                    value=label,
                )
            )
    return table, tuple(seg_rows)


# --------------------------------------------------------------------------------------------
# Error distributions, for residual and calibration plots
# --------------------------------------------------------------------------------------------
def _bin_means(
    k: np.ndarray, p: np.ndarray, y: np.ndarray
) -> tuple[list[int], list[float | None], list[float | None]]:
    """Rows, mean prediction and mean actual in each of ten bins ``k`` (None: an empty bin)."""
    n = np.bincount(k, minlength=10)
    with np.errstate(invalid="ignore"):
        mean_p, mean_y = np.bincount(k, p, minlength=10) / n, np.bincount(k, y, minlength=10) / n
    return (
        n.tolist(),
        [finite(float(v)) for v in mean_p],
        [finite(float(v)) for v in mean_y],
    )


def error_distributions(
    task: str, y: np.ndarray, champion_pred: np.ndarray | None, challenger_pred: np.ndarray
) -> dict[str, Any]:
    """Small, plot-ready summaries of both models' errors on the holdout.

    Regression: a histogram of residuals (actual − predicted) on shared bins, residual
    quantiles, and the mean actual per decile of the prediction (the calibration of a
    regression). Classification: the reliability curve (mean probability and observed rate per
    tenth of the probability) and a histogram of the probabilities, per model.
    """
    y = np.asarray(y, dtype=float)
    models = {"challenger": np.asarray(challenger_pred, dtype=float)}
    if champion_pred is not None:
        models["champion"] = np.asarray(champion_pred, dtype=float)
    models = {k: v for k, v in models.items() if np.isfinite(v).all()}
    if len(y) == 0 or not models:
        return {}
    if task == "classification":
        edges = np.linspace(0.0, 1.0, 11)
        out: dict[str, Any] = {"kind": "calibration", "edges": edges.tolist(), "models": {}}
        for name, p in models.items():
            n, mean_p, rate = _bin_means(np.clip(np.digitize(p, edges[1:-1]), 0, 9), p, y)
            out["models"][name] = {"n": n, "mean_predicted": mean_p, "observed_rate": rate}
        return out
    residuals = {name: y - p for name, p in models.items()}
    pooled = np.concatenate(list(residuals.values()))
    lo, hi = np.quantile(pooled, [0.005, 0.995])
    if not hi > lo:
        lo, hi = float(pooled.min()) - 0.5, float(pooled.max()) + 0.5
    edges = np.linspace(lo, hi, 31)
    out = {"kind": "residuals", "edges": edges.tolist(), "models": {}}
    for name, r in residuals.items():
        p = models[name]
        counts = np.histogram(np.clip(r, lo, hi), bins=edges)[0]
        deciles = np.quantile(p, np.linspace(0, 1, 11))
        n, mean_p, mean_y = _bin_means(
            np.clip(np.searchsorted(deciles, p, side="right") - 1, 0, 9), p, y
        )
        out["models"][name] = {
            "counts": counts.tolist(),
            "quantiles": dict(
                zip(
                    ("p05", "p25", "p50", "p75", "p95"),
                    (float(v) for v in np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95])),
                    strict=True,
                )
            ),
            "mean_residual": float(r.mean()),
            "calibration": {"n": n, "mean_predicted": mean_p, "mean_actual": mean_y},
        }
    return out


def importance_change(
    champion: Mapping[str, float] | None, challenger: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Each feature's importance for both models and the change, the largest change first."""
    champion = champion or {}
    names: Sequence[str] = list(dict.fromkeys([*challenger, *champion]))
    rows = [
        {
            "feature": f,
            "champion": champion.get(f),
            "challenger": challenger.get(f),
            "change": (challenger.get(f) or 0.0) - (champion.get(f) or 0.0),
        }
        for f in names
    ]
    return sorted(rows, key=lambda r: (-abs(r["change"]), r["feature"]))
