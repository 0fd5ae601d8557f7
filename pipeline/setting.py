"""One setting's description (name, type, default, check, README sentence) and the checks the
settings share; the settings themselves are in ``settings_run`` and ``settings_watch``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TASKS = ("regression", "classification")
METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "rmse", "r2", "mape", "smape"),
    "classification": ("roc_auc", "f1", "accuracy", "precision", "recall", "log_loss"),
}
DEFAULT_METRIC = {"regression": "mae", "classification": "roc_auc"}
DEFAULT_ESTIMATOR = {
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One configurable value: its name, type, default, and the sentence the README shows."""

    name: str
    kind: str  # "path", "str", "int", "float", "bool", "list", "table"
    default: Any
    doc: str
    check: Callable[[Any], bool] | None = None
    valid: str = ""
    aliases: tuple[str, ...] = ()
    optional: bool = False

    @property
    def env(self) -> str:
        return "MODELGATE_" + self.name.upper()


def positive(x: Any) -> bool:
    return bool(x > 0)


def unit(x: Any) -> bool:
    return bool(0 < x < 1)


def non_negative(x: Any) -> bool:
    return bool(x >= 0)


def percent(x: Any) -> bool:
    try:
        return 0 <= float(x) <= 100
    except ValueError:
        return False
