"""The reference profile saved with a model version, and its calibration.

A profile summarises the training window: per numeric column a 1,001-point quantile sketch, PSI
bins and proportions, missing share, mean and std; per categorical column the category
frequencies. Drift checks read only the current window and compare it with this summary.

Calibration (the approach NannyML takes with its reference chunks): a window as long as a drift
check's slides over the reference one day at a time, and each window's statistics against the
whole reference (KS D, PSI, the change of missing share, computed exactly as a check computes
them from the profile) are summarised per feature: mean, standard deviation and maximum. A feature
whose statistic swings every month inside the reference (month, temperature) then has a limit
that covers those swings; one that never moves has the absolute effect-size floor as its limit.

The windows are counted, not sliced: each row is placed once in its sketch interval and PSI bin,
counts are summed per day, and every window is a difference of two cumulative sums. A year of
daily windows costs about as much as one pass over the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipeline.drift_stats import (
    PROBS,
    PSI_FLOOR,
    bin_proportions,
    psi_edges,
    sort_finite,
    sorted_quantiles,
)

STATS = ("ks", "psi", "missing")


def numeric_profile(raw: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """A numeric column's summary, and its sorted finite values (for exact comparisons)."""
    values, n_nan = sort_finite(raw)
    edges = psi_edges(values)
    has = len(values) > 0
    profile = {
        "kind": "numeric",
        "count": len(raw),
        "n": len(values),
        "missing_share": n_nan / len(raw) if len(raw) else 0.0,
        "quantiles": sorted_quantiles(values, PROBS).tolist() if has else [],
        "psi_edges": edges.tolist(),
        "psi_proportions": bin_proportions(values, edges).tolist(),
        "mean": float(values.mean()) if has else None,
        "std": float(values.std()) if has else None,
    }
    return profile, values


def categorical_profile(col: pd.Series) -> dict[str, Any]:
    counts = col.dropna().astype(str).value_counts()
    total = int(counts.sum())
    return {
        "kind": "categorical",
        "count": len(col),
        "missing_share": float(col.isna().mean()) if len(col) else 0.0,
        "frequencies": {str(k): int(v) / total for k, v in counts.items()} if total else {},
    }


def profile_frame(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    *,
    timestamp: str | None = None,
    window_days: int | None = None,
    min_rows: int = 200,
) -> dict[str, Any]:
    """The reference summary saved with a model version (JSON-able).

    With ``timestamp`` and ``window_days`` it is also calibrated: see the module docstring.
    """
    columns: dict[str, Any] = {}
    for name in features:
        if name in categorical:
            columns[name] = categorical_profile(frame[name])
        else:
            columns[name], _ = numeric_profile(frame[name].to_numpy(dtype=float))
    profile: dict[str, Any] = {"version": 2, "rows": len(frame), "columns": columns}
    if timestamp is not None and window_days is not None:
        profile["calibration"] = calibrate(frame, timestamp, columns, window_days, min_rows)
    return profile


def calibrate(
    frame: pd.DataFrame,
    timestamp: str,
    columns: dict[str, Any],
    window_days: int,
    min_rows: int,
) -> dict[str, Any]:
    """Per feature and statistic, the mean, sd and maximum over the reference's own windows."""
    ts = pd.to_datetime(frame[timestamp]) if len(frame) else pd.Series([], dtype="datetime64[ns]")
    if len(ts) == 0:
        return {"window_days": window_days, "windows": 0, "columns": {}}
    first = ts.min().normalize()
    day = ((ts - first) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
    n_days = int(day.max()) + 1
    rows = _window_sums(np.bincount(day, minlength=n_days)[:, None], window_days)[:, 0]
    keep = rows >= min_rows
    out: dict[str, Any] = {
        "window_days": window_days,
        "windows": int(keep.sum()),
        "start": first.to_pydatetime().isoformat(),
        "end": (first.to_pydatetime() + dt.timedelta(days=n_days)).isoformat(),
        "columns": {},
    }
    if not keep.any():
        return out
    for name, ref in columns.items():
        col = frame[name]
        if ref["kind"] == "numeric":
            values = _numeric_windows(col.to_numpy(dtype=float), day, n_days, ref, window_days)
        else:
            values = _categorical_windows(col, day, n_days, ref, window_days)
        missing = _window_sums(
            np.bincount(day[col.isna().to_numpy()], minlength=n_days)[:, None], window_days
        )[:, 0]
        values["missing"] = np.abs(missing / np.maximum(rows, 1) - ref["missing_share"])
        out["columns"][name] = {s: _summary(v[keep]) for s, v in values.items()}
    return out


def _summary(v: np.ndarray) -> dict[str, float]:
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": 0.0, "sd": 0.0, "max": 0.0}
    return {
        "mean": round(float(v.mean()), 6),
        "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 6),
        "max": round(float(v.max()), 6),
    }


def _window_sums(per_day: np.ndarray, window_days: int) -> np.ndarray:
    """Sums over every run of ``window_days`` consecutive days (one row per window)."""
    cum = np.vstack([np.zeros((1, per_day.shape[1]), dtype=per_day.dtype), np.cumsum(per_day, 0)])
    if len(per_day) < window_days:
        return np.zeros((0, per_day.shape[1]), dtype=per_day.dtype)
    return cum[window_days:] - cum[:-window_days]


def _per_day(day: np.ndarray, code: np.ndarray, n_days: int, n_codes: int) -> np.ndarray:
    return np.bincount(day * n_codes + code, minlength=n_days * n_codes).reshape(n_days, n_codes)


def _numeric_windows(
    raw: np.ndarray, day: np.ndarray, n_days: int, ref: dict[str, Any], window_days: int
) -> dict[str, np.ndarray]:
    """KS D against the sketch and PSI on the reference bins, for every window at once."""
    fin = np.isfinite(raw)
    x, d = raw[fin], day[fin]
    q = np.asarray(ref["quantiles"], dtype=float)
    if len(q) == 0:
        n = max(n_days - window_days + 1, 0)
        return {"ks": np.zeros(n), "psi": np.zeros(n)}
    # The sketch's CDF at and just below each distinct sketch value, as a check computes it.
    values, first, counts = np.unique(q, return_index=True, return_counts=True)
    at = PROBS[first + counts - 1]
    below = np.where(first > 0, PROBS[np.maximum(first - 1, 0)], 0.0)
    k = len(values)
    # x <= values[j]  <=>  j >= searchsorted(values, x, 'left'): count, then cumulate over j.
    le = _window_sums(_per_day(d, np.searchsorted(values, x, "left"), n_days, k + 1), window_days)
    lt = _window_sums(_per_day(d, np.searchsorted(values, x, "right"), n_days, k + 1), window_days)
    n_w = le.sum(axis=1).astype(float)
    safe = np.maximum(n_w, 1.0)[:, None]
    cur_at = np.cumsum(le, axis=1)[:, :k] / safe
    cur_below = np.cumsum(lt, axis=1)[:, :k] / safe
    ks_d = np.maximum(np.abs(cur_at - at).max(axis=1), np.abs(cur_below - below).max(axis=1))
    edges = np.asarray(ref["psi_edges"], dtype=float)
    bins = _window_sums(
        _per_day(d, np.searchsorted(edges, x, "left"), n_days, len(edges) + 1), window_days
    )
    psi = _psi_rows(np.asarray(ref["psi_proportions"], dtype=float), bins / safe)
    empty = n_w == 0
    ks_d[empty], psi[empty] = np.nan, np.nan
    return {"ks": ks_d, "psi": psi}


def _categorical_windows(
    col: pd.Series, day: np.ndarray, n_days: int, ref: dict[str, Any], window_days: int
) -> dict[str, np.ndarray]:
    present = col.notna().to_numpy()
    cats = list(ref["frequencies"])
    if not cats:
        return {"psi": np.zeros(max(n_days - window_days + 1, 0))}
    lookup = {c: i for i, c in enumerate(cats)}
    codes = np.fromiter(
        (lookup.get(v, len(cats)) for v in col[present].astype(str)), dtype=np.int64
    )
    counts = _window_sums(_per_day(day[present], codes, n_days, len(cats) + 1), window_days)
    n_w = counts.sum(axis=1).astype(float)
    exp_p = np.array([ref["frequencies"][c] for c in cats] + [0.0])
    psi = _psi_rows(exp_p, counts / np.maximum(n_w, 1.0)[:, None])
    psi[n_w == 0] = np.nan
    return {"psi": psi}


def _psi_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """``psi_from_proportions`` for every row of ``cur`` at once."""
    r = np.maximum(ref, PSI_FLOOR)
    c = np.maximum(cur, PSI_FLOOR)
    value = np.sum((c - r) * np.log(c / r), axis=1)
    return np.where(np.abs(value) < 1e-12, 0.0, value)


def calibrate_concept(
    timestamps: pd.Series,
    y: np.ndarray,
    pred: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    higher_is_better: bool,
    window_days: int,
    min_rows: int,
) -> dict[str, Any]:
    """How much the model's metric swings from one ``window_days`` window to the next over its
    training data: each window's relative degradation against the windows' mean (positive =
    worse), summarised as mean, sd and maximum. The level of an in-sample metric is optimistic,
    its week-to-week swing is the data's own (weather, seasons), and that is what a concept check
    must not mistake for a change."""
    out: dict[str, Any] = {"window_days": window_days, "windows": 0}
    if len(timestamps) == 0:
        return out
    ts = pd.to_datetime(timestamps).to_numpy(dtype="datetime64[ns]")
    order = np.argsort(ts, kind="stable")
    ts, y, pred = ts[order], np.asarray(y, float)[order], np.asarray(pred, float)[order]
    first = ts[0].astype("datetime64[D]")
    day = (ts.astype("datetime64[D]") - first).astype(np.int64)
    values = []
    for d in range(int(day[-1]) - window_days + 2):
        lo, hi = np.searchsorted(day, [d, d + window_days], "left")
        if hi - lo >= min_rows:
            values.append(metric(y[lo:hi], pred[lo:hi]))
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2 or v.mean() == 0:
        return out
    worse = (v.mean() - v) / abs(v.mean()) if higher_is_better else (v - v.mean()) / abs(v.mean())
    return {"window_days": window_days, "windows": len(v), **_summary(worse)}
