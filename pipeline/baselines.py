"""Naive baselines: what a model must beat before it may serve.

A challenger is scored against a naive forecast on the same holdout rows (``evaluation.compare``),
and the policy never promotes one automatically that does not beat it with significance
(``policy.decide``). The baselines, by the ``baseline`` setting:

* ``"mean"`` (default): a constant fitted on the training window only. Regression: the training
  mean for squared-error metrics (RMSE, R²), the median for absolute ones (MAE, MAPE, sMAPE), the
  constant each metric is best at. Classification: the training base rate as the predicted
  probability (ROC AUC 0.5; accuracy, F1, precision and recall of always predicting the majority).
* ``"last_value"``: per key (``key_columns``), the last training target before the holdout; keys
  the training window never saw get the constant above.
* ``"seasonal_naive"``: per key, the target one season (``baseline_season_days``) earlier: the
  latest row of the same key at or before ``t - season``, from the training window or from the
  holdout itself (a value a season old is known when ``t`` is forecast). Rows without one get the
  constant above.
* ``"none"``: no baseline gate (the comparison still records nothing for it).

Pure pandas and numpy; no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import ModelGateError

BASELINES = ("mean", "last_value", "seasonal_naive", "none")
MEDIAN_METRICS = frozenset({"mae", "mape", "smape"})


@dataclass(frozen=True, slots=True)
class Baseline:
    """A naive forecast for every holdout row, and what it is called in reasons and pages."""

    label: str
    predictions: np.ndarray
    fallback_rows: int = 0  # rows that got the constant because the naive rule had no value


def constant(task: str, metric: str, y_train: np.ndarray) -> tuple[str, float]:
    """The constant baseline fitted on the training targets, and its label."""
    y = np.asarray(y_train, dtype=float)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise ModelGateError("baseline: the training window has no labelled rows.")
    if task == "classification":
        return "training base rate", float(y.mean())
    if metric in MEDIAN_METRICS:
        return "training median", float(np.median(y))
    return "training mean", float(y.mean())


def naive(
    kind: str,
    *,
    task: str,
    metric: str,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    timestamp: str,
    keys: tuple[str, ...] = (),
    season_days: float = 7.0,
) -> Baseline | None:
    """The ``kind`` baseline's predictions for ``holdout`` (None for ``"none"``)."""
    if kind == "none":
        return None
    if kind not in BASELINES:
        raise ModelGateError(
            f"baseline: unknown kind {kind!r}; choose one of {', '.join(BASELINES)}."
        )
    label, value = constant(task, metric, train[target].to_numpy(dtype=float))
    pred = np.full(len(holdout), value, dtype=float)
    if kind == "mean":
        return Baseline(label, pred)
    if not keys:
        raise ModelGateError(f"baseline {kind!r} needs key_columns (the series to follow).")
    if kind == "last_value":
        last = (
            train.sort_values(timestamp, kind="stable")
            .groupby(list(keys), sort=False)[target]
            .last()
        )
        found = holdout.join(last.rename("_naive"), on=list(keys))["_naive"].to_numpy(dtype=float)
        name = f"last training value per {', '.join(keys)}"
    else:
        found = _season_ago(train, holdout, target, timestamp, keys, season_days)
        name = f"value {season_days:g} days earlier per {', '.join(keys)}"
    missing = ~np.isfinite(found)
    if task == "classification":  # a past label is a 0/1 forecast; keep it a probability
        found = np.clip(found, 0.0, 1.0)
    pred = np.where(missing, pred, found)
    suffix = f" ({label} for {int(missing.sum())} rows without one)" if missing.any() else ""
    return Baseline(name + suffix, pred, int(missing.sum()))


def _season_ago(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    timestamp: str,
    keys: tuple[str, ...],
    season_days: float,
) -> np.ndarray:
    """For each holdout row, the latest target of its key at or before ``t - season``."""
    cols = [*keys, timestamp, target]
    known = pd.concat([train[cols], holdout[cols]], ignore_index=True)
    known = known[np.isfinite(known[target].to_numpy(dtype=float))]
    known = known.sort_values(timestamp, kind="stable")
    query = holdout[list(keys)].copy()
    query["_pos"] = np.arange(len(holdout))
    query["_at"] = holdout[timestamp].to_numpy() - pd.Timedelta(days=season_days)
    query = query.sort_values("_at", kind="stable")
    merged = pd.merge_asof(
        query,
        known.rename(columns={timestamp: "_at", target: "_naive"}),
        on="_at",
        by=list(keys),
        direction="backward",
    )
    out = np.full(len(holdout), np.nan)
    out[merged["_pos"].to_numpy()] = merged["_naive"].to_numpy(dtype=float)
    return out
