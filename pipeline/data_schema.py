"""What a validated source is: its schema, the validated frame, and a run's time windows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """What a model was trained on: feature names, which are categorical, target and timestamp."""

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    timestamp: str

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical)

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "categorical": list(self.categorical),
            "target": self.target,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(
            features=tuple(d["features"]),
            categorical=tuple(d["categorical"]),
            target=str(d["target"]),
            timestamp=str(d["timestamp"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """A validated frame, sorted by time, with where it came from (for messages)."""

    frame: pd.DataFrame
    schema: Schema
    source: str
    # First and last timestamp of the whole source (a windowed load holds only part of it).
    span: tuple[dt.datetime, dt.datetime] | None = None
    # What validation chose and the user should know (non-numeric values read as missing).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Windows:
    """Training rows strictly before the holdout; the holdout is the last days before ``as_of``."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    train_start: dt.datetime
    holdout_start: dt.datetime
    as_of: dt.datetime
    # Rows of each window without a target: left out of it (and kept for drift).
    unlabelled_train: int = 0
    unlabelled_holdout: int = 0
