"""Data: the built-in demo source, bring-your-own files, validation and time windows.

Rows are chosen by time relative to the run's ``as_of`` (the Airflow data interval end), never by
the wall clock. Every problem is a ``DataValidationError`` naming the source, the column and the
offending value or count, raised before anything trains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataValidationError

DEMO_SOURCE = "demo data"
DEMO_DAYS = 3 * 366
WARD_TYPES = ("medical", "surgical", "icu", "pediatric", "maternity", "geriatric")
_LOS_BY_TYPE = {
    "medical": 5.0,
    "surgical": 4.0,
    "icu": 7.0,
    "pediatric": 3.0,
    "maternity": 2.5,
    "geriatric": 9.0,
}


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Windows:
    """Training rows strictly before the holdout; the holdout is the last days before ``as_of``."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    train_start: dt.datetime
    holdout_start: dt.datetime
    as_of: dt.datetime


# --------------------------------------------------------------------------------------------
# Demo data: a hospital's daily bed occupancy per ward, with a scripted data and concept drift.
# --------------------------------------------------------------------------------------------
def demo_frame(cfg: Config) -> pd.DataFrame:
    """The built-in demo: one row per ward and day, seeded and reproducible.

    From ``demo_data_drift_date`` emergency admissions run about 45% higher (a new catchment area:
    data drift); from ``demo_concept_drift_date`` a discharge bottleneck makes long stays fill beds
    faster (the target's relation to ``los_days`` changes: concept drift).
    """
    return _demo_frame(
        cfg.demo_start,
        cfg.demo_wards,
        cfg.seed,
        cfg.demo_data_drift_date,
        cfg.demo_concept_drift_date,
    ).copy()


@lru_cache(maxsize=4)
def _demo_frame(
    start: str, wards: int, seed: int, drift_date: str, concept_date: str
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=DEMO_DAYS, freq="D")
    n_days = len(days)
    ward_names = [f"W{i + 1:02d}" for i in range(wards)]
    ward_types = [WARD_TYPES[i % len(WARD_TYPES)] for i in range(wards)]
    capacity = rng.integers(18, 61, size=wards).astype(float)

    doy = days.day_of_year.to_numpy()
    dow = days.day_of_week.to_numpy()
    season = np.cos(2 * np.pi * (doy - 15) / 365.25)  # +1 mid-January, -1 mid-July
    temp = 11 - 9 * season + rng.normal(0, 3, n_days)
    flu = np.clip(25 + 35 * np.maximum(season, 0) ** 2 + rng.normal(0, 6, n_days), 0, None)
    drift = days >= pd.Timestamp(drift_date)
    concept = days >= pd.Timestamp(concept_date)

    frames = []
    for w in range(wards):
        wt = ward_types[w]
        cap = capacity[w]
        weekday = np.where(dow < 5, 1.0, 0.7)
        emerg_rate = cap * 0.05 * (1 + 0.08 * np.maximum(season, 0)) * np.where(drift, 1.45, 1.0)
        emergency = rng.poisson(emerg_rate).astype(float)
        planned = rng.poisson(cap * 0.06 * weekday * (1.6 if wt == "surgical" else 1.0)).astype(
            float
        )
        los = np.clip(
            _LOS_BY_TYPE[wt] * (1 + 0.03 * season) + rng.normal(0, 0.8, n_days), 0.5, None
        )
        staff = np.round(cap / 4 * weekday + rng.normal(0, 1.0, n_days), 0)
        admissions = emergency + planned
        # Occupied beds: inflow times length of stay (Little's law) plus flu pressure and noise.
        base = 0.16 * admissions * los + 0.05 * flu * (wt in ("medical", "geriatric", "pediatric"))
        bottleneck = np.where(concept, 0.09 * admissions * los**1.3, 0.0)
        occ = base + bottleneck + 0.25 * cap + rng.normal(0, 1.2, n_days) - 0.8 * (dow >= 5)
        occ = np.clip(occ, 0, cap * 1.15)
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": days,
                    "ward": ward_names[w],
                    "ward_type": wt,
                    "capacity": cap,
                    "day_of_week": dow.astype(np.int64),
                    "month": days.month.to_numpy().astype(np.int64),
                    "outdoor_temp_c": np.round(temp, 1),
                    "flu_index": np.round(flu, 1),
                    "emergency_admissions": emergency,
                    "planned_admissions": planned,
                    "los_days": np.round(los, 2),
                    "staff_on_duty": staff,
                    "occupancy": np.round(occ, 2),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True).sort_values(["timestamp", "ward"], kind="stable")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_source(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or every such file in a folder (same columns each)."""
    if not path.exists():
        raise DataValidationError(f"Data path {path} does not exist.")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _READERS and p.is_file())
        if not files:
            raise DataValidationError(f"Data folder {path} holds no .csv or .parquet files.")
        parts = [_read_file(p) for p in files]
        first = list(parts[0].columns)
        for p, part in zip(files[1:], parts[1:], strict=True):
            if list(part.columns) != first:
                raise DataValidationError(
                    f"{p} has columns {list(part.columns)}, but {files[0].name} has {first}: "
                    "files in one data folder must share their columns."
                )
        return pd.concat(parts, ignore_index=True)
    return _read_file(path)


def _read_file(path: Path) -> pd.DataFrame:
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(
            f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet (or a folder of them)."
        )
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"{path} is empty: no header and no rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(f"{path} cannot be read as {kind.upper()}: {first}") from exc
    if frame.empty:
        raise DataValidationError(f"{path} has a header but no rows.")
    return frame


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def load_dataset(
    cfg: Config, data_path: Path | None = None, expected: Schema | None = None
) -> Dataset:
    """Load the configured source (``data_path`` wins over ``cfg.data_path``) and validate it.

    ``expected`` is the champion's schema: when given, the data must have the same feature columns
    with the same kinds (numeric or categorical).
    """
    path = data_path if data_path is not None else cfg.data_path
    if path is None:
        frame, source = demo_frame(cfg), DEMO_SOURCE
        key: tuple[str, ...] | None = cfg.key_columns if cfg.key_columns is not None else ("ward",)
    else:
        frame, source = read_source(Path(path)), str(path)
        key = cfg.key_columns
    return validate_frame(frame, cfg, source=source, expected=expected, key_columns=key)


def validate_frame(
    frame: pd.DataFrame,
    cfg: Config,
    *,
    source: str,
    expected: Schema | None = None,
    key_columns: tuple[str, ...] | None = None,
) -> Dataset:
    """Check columns, types, timestamps and target; return a time-sorted copy with parsed dates."""
    ts, target = cfg.timestamp_column, cfg.target
    cols = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise DataValidationError(f"{source}: column {dupes[0]!r} appears more than once.")
    for name, what in ((ts, "timestamp"), (target, "target")):
        if name not in cols:
            raise DataValidationError(
                f"{source}: {what} column {name!r} is missing (columns: {', '.join(map(repr, cols))})."
            )

    if cfg.features is not None:
        features = tuple(cfg.features)
    elif expected is not None:
        features = expected.features
    else:
        features = tuple(c for c in cols if c not in (ts, target))
    missing = [f for f in features if f not in cols]
    if missing:
        raise DataValidationError(
            f"{source}: feature column {missing[0]!r} is missing"
            + (f" ({len(missing)} missing: {', '.join(missing)})" if len(missing) > 1 else "")
            + "."
        )
    if cfg.features is None and expected is not None:
        extra = [c for c in cols if c not in (ts, target) and c not in features]
        if extra:
            raise DataValidationError(
                f"{source}: unexpected column {extra[0]!r} is not in the champion's schema "
                f"({', '.join(features)}); set 'features' to choose columns explicitly."
            )
    if not features:
        raise DataValidationError(f"{source}: no feature columns besides {ts!r} and {target!r}.")

    # Timestamps: every value must parse.
    frame[ts] = _parse_timestamps(frame[ts], source, ts)

    # Feature kinds: categorical by config, by the champion's schema, or by dtype.
    if cfg.categorical_features is not None:
        categorical = tuple(c for c in features if c in cfg.categorical_features)
    elif expected is not None:
        categorical = tuple(c for c in features if c in expected.categorical)
    else:
        categorical = tuple(c for c in features if not _is_numeric_like(frame[c]))
    for c in features:
        if c in categorical:
            frame[c] = frame[c].astype("string").astype(object).where(frame[c].notna(), None)
        else:
            frame[c] = _to_numeric(frame[c], source, c, expected is not None)
            if np.isinf(frame[c].to_numpy(dtype=float)).any():
                row = int(np.flatnonzero(np.isinf(frame[c].to_numpy(dtype=float)))[0])
                raise DataValidationError(
                    f"{source}: column {c!r} holds an infinite value (row {row + 2})."
                )
        if frame[c].isna().all():
            raise DataValidationError(f"{source}: column {c!r} is entirely empty.")

    frame[target] = _validate_target(frame[target], cfg, source)

    keys = [ts, *(key_columns or ())]
    for k in keys[1:]:
        if k not in cols:
            raise DataValidationError(f"{source}: key column {k!r} is missing.")
    dup_mask = frame.duplicated(
        subset=keys if key_columns else [*keys, *features, target], keep="first"
    )
    if dup_mask.any():
        first = frame.loc[dup_mask].iloc[0]
        what = "timestamp and " + ", ".join(key_columns) if key_columns else "timestamp and values"
        raise DataValidationError(
            f"{source}: {int(dup_mask.sum())} duplicate rows (same {what}); first at "
            f"{first[ts]:%Y-%m-%d %H:%M}."
        )

    frame = frame.sort_values(ts, kind="stable").reset_index(drop=True)
    schema = Schema(features=features, categorical=categorical, target=target, timestamp=ts)
    return Dataset(frame=frame[[ts, *features, target]], schema=schema, source=source)


def _show(value: Any) -> str:
    """A value as a user would write it: 'abc', 2024-13-45, inf — not np.float64(inf)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _parse_timestamps(col: pd.Series, source: str, name: str) -> pd.Series:
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DataValidationError(
            f"{source}: column {name!r} has an empty timestamp (row {row + 2})."
        )
    parsed = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"{source}: column {name!r} has an unparseable date {_show(col.iloc[row])} (row {row + 2}; "
            f"{int(bad.sum())} bad in all)."
        )
    return parsed.dt.tz_localize(None)


def _is_numeric_like(col: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(col):
        return False
    return bool(pd.api.types.is_numeric_dtype(col))


def _to_numeric(col: pd.Series, source: str, name: str, strict_kind: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        raise DataValidationError(
            f"{source}: column {name!r} is boolean but the model expects numbers."
        )
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"{source}: column {name!r} must be numeric but holds {_show(col.iloc[row])} (row {row + 2}; "
            f"{int(bad.sum())} non-numeric values)."
        )
    return converted.astype(float)


def _validate_target(col: pd.Series, cfg: Config, source: str) -> pd.Series:
    name = cfg.target
    if cfg.task == "regression":
        values = _to_numeric(col, source, name, True)
        arr = values.to_numpy(dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{source}: target {name!r} has {int(bad.sum())} missing or infinite values "
                f"(first {_show(col.iloc[row])} at row {row + 2})."
            )
        return values
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DataValidationError(
            f"{source}: target {name!r} has {int(col.isna().sum())} missing labels (first at row {row + 2})."
        )
    labels = sorted(col.astype(str).unique())
    if len(labels) != 2:
        raise DataValidationError(
            f"{source}: binary classification needs exactly 2 classes in target {name!r}; found "
            f"{len(labels)}: {', '.join(labels[:5])}{'…' if len(labels) > 5 else ''}."
        )
    positive = (
        "1" if labels == ["0", "1"] else ("True" if labels == ["False", "True"] else labels[1])
    )
    return (col.astype(str) == positive).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Time windows
# --------------------------------------------------------------------------------------------
def split_windows(ds: Dataset, cfg: Config, as_of: dt.datetime) -> Windows:
    """Training window ``[as_of - holdout - train_days, as_of - holdout)`` and holdout
    ``[as_of - holdout_days, as_of)``; rows at or after ``as_of`` are never used."""
    as_of = _naive_utc(as_of)
    try:
        holdout_start = as_of - dt.timedelta(days=cfg.holdout_days)
        train_start = holdout_start - dt.timedelta(days=cfg.train_days)
    except OverflowError as exc:
        raise DataValidationError(
            f"{ds.source}: train_days={cfg.train_days} and holdout_days={cfg.holdout_days} before "
            f"{as_of:%Y-%m-%d} reach before the year 1."
        ) from exc
    ts = ds.frame[ds.schema.timestamp]
    train = ds.frame.loc[(ts >= train_start) & (ts < holdout_start)].reset_index(drop=True)
    holdout = ds.frame.loc[(ts >= holdout_start) & (ts < as_of)].reset_index(drop=True)
    span = f"{ts.min():%Y-%m-%d} to {ts.max():%Y-%m-%d}"
    for rows, name, start, end, minimum in (
        (holdout, "holdout", holdout_start, as_of, cfg.min_holdout_rows),
        (train, "training", train_start, holdout_start, cfg.min_train_rows),
    ):
        if len(rows) == 0:
            raise DataValidationError(
                f"{ds.source}: the {name} window {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty "
                f"(data covers {span})."
            )
        if len(rows) < minimum:
            raise DataValidationError(
                f"{ds.source}: the {name} window {start:%Y-%m-%d} to {end:%Y-%m-%d} has {len(rows)} rows; "
                f"at least {minimum} are needed (min_{'holdout' if name == 'holdout' else 'train'}_rows)."
            )
    y = train[ds.schema.target]
    if cfg.task == "classification" and y.nunique() < 2:
        raise DataValidationError(
            f"{ds.source}: the training window {train_start:%Y-%m-%d} to {holdout_start:%Y-%m-%d} holds "
            f"only one class of {ds.schema.target!r}."
        )
    return Windows(
        train=train,
        holdout=holdout,
        train_start=train_start,
        holdout_start=holdout_start,
        as_of=as_of,
    )


def rows_between(ds: Dataset, start: dt.datetime, end: dt.datetime) -> int:
    """Labelled rows with ``start <= timestamp < end``."""
    ts = ds.frame[ds.schema.timestamp]
    return int(((ts >= _naive_utc(start)) & (ts < _naive_utc(end))).sum())


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the rows' content, stable across processes (pandas' row hash, not ``hash()``)."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _naive_utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t
