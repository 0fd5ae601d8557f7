"""How an improvement is measured, so that the promotion thresholds mean the same at any level.

A relative change is right for errors (MAE 4.0 -> 3.8 is 5% better whatever the scale), but not
for bounded scores: with the champion at ROC AUC 0.968, "5% better" would need AUC 1.016. For a
score whose best value is 1 (ROC AUC, accuracy, F1, precision, recall, R²) the default is the
**reduction of the remaining error**, ``(challenger - champion) / (1 - champion)``: 0.968 -> 0.970
removes 6% of the 0.032 left, and 5% is reachable at every level. ``improvement_measure`` sets
``relative``, ``error_reduction`` or ``absolute`` per metric.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.setting import METRICS

BOUNDED = frozenset({"roc_auc", "accuracy", "f1", "precision", "recall", "r2"})  # best value 1
MEASURES = ("relative", "error_reduction", "absolute")


def default_measure(metric: str) -> str:
    return "error_reduction" if metric in BOUNDED else "relative"


def measure_for(metric: str, overrides: Mapping[str, str] | None = None) -> str:
    return (overrides or {}).get(metric) or default_measure(metric)


def check_measures(value: Mapping[str, object]) -> bool:
    """Every key a metric, every value a measure, ``error_reduction`` only for bounded scores."""
    metrics = {m for ms in METRICS.values() for m in ms}
    return all(
        k in metrics and v in MEASURES and (v != "error_reduction" or k in BOUNDED)
        for k, v in value.items()
    )


def scaled(absolute: np.ndarray | float, champion: np.ndarray | float, measure: str) -> np.ndarray:
    """The improvement (positive: the challenger is better) in the measure's units, from the
    absolute improvement and the champion's value (per resample, or the point estimate). A
    champion with no error left (score 1) makes any loss -inf and a tie 0."""
    a = np.asarray(absolute, dtype=float)
    c = np.asarray(champion, dtype=float)
    if measure == "absolute":
        return a
    scale = np.abs(c) if measure == "relative" else 1.0 - c
    with np.errstate(invalid="ignore", divide="ignore"):
        out = a / scale
    return np.where(scale == 0, np.where(a > 0, np.inf, np.where(a < 0, -np.inf, 0.0)), out)


def describe(measure: str, metric: str) -> str:
    """How the figure reads in a sentence: '... improvement +5.2% (<describe>)'."""
    if measure == "error_reduction":
        return f"of the remaining error 1 − {metric}"
    if measure == "absolute":
        return f"absolute, in {metric} units"
    return "relative"


def check_target(values: np.ndarray, metric: str, source: str, target: str) -> str | None:
    """Why ``metric`` cannot judge this target, in one line, or None: MAPE divides by the actual
    value, so a target with zeros makes it explode (~1e15 per zero); sMAPE does not."""
    if metric != "mape":
        return None
    zeros = np.flatnonzero(np.asarray(values, dtype=float) == 0)
    if len(zeros) == 0:
        return None
    return (
        f"{source}: target {target!r} is 0 in {len(zeros)} rows, and MAPE divides by it; "
        'set primary_metric = "smape" (or mae).'
    )
