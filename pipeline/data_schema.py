"""What a validated source is: its schema, the validated frame, and a run's time windows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

MAX_LEVELS = 50  # a categorical with more training values keeps no level list


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """What a model was trained on: feature names, which are categorical, target and timestamp."""

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    timestamp: str
    # The values each categorical feature held in training, where they are few (at most
    # MAX_LEVELS); a version from before has none, and nothing is checked against them.
    # (column, sorted values) pairs: a tuple, so that a schema stays hashable (a cache key).
    levels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical)

    def with_levels(self, rows: pd.DataFrame) -> Schema:
        """This schema with the levels of ``rows`` (a version's training window)."""
        levels = []
        for c in self.categorical:
            values = rows[c].dropna().astype(str).unique()
            if len(values) <= MAX_LEVELS:
                levels.append((c, tuple(sorted(values))))
        return dataclasses.replace(self, levels=tuple(levels))

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "features": list(self.features),
            "categorical": list(self.categorical),
            "target": self.target,
            "timestamp": self.timestamp,
        }
        if self.levels:
            out["levels"] = {c: list(v) for c, v in self.levels}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(
            features=tuple(d["features"]),
            categorical=tuple(d["categorical"]),
            target=str(d["target"]),
            timestamp=str(d["timestamp"]),
            levels=tuple((str(c), tuple(map(str, v))) for c, v in (d.get("levels") or {}).items()),
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
    # The champion's schema the data was checked against (its levels judge schema drift).
    expected: Schema | None = None


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
