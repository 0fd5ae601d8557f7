"""Data: the built-in demo source, bring-your-own files, validation and time windows.

Reading files lives in ``data_read``, checking one column at a time in ``data_columns``, the
types in ``data_schema`` and the windows in ``data_windows``; this module loads (windowed,
cached) and validates a frame into a ``Dataset``.

Rows are chosen by time relative to the run's ``as_of`` (the Airflow data interval end), never by
the wall clock. Every problem is a ``DataValidationError`` naming the source, the column and the
offending value or count, raised before anything trains.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import schema_file
from pipeline.config import Config
from pipeline.data_columns import (
    _is_numeric_like,
    _line,
    _parse_timestamps,
    _to_numeric,
    _validate_target,
)
from pipeline.data_read import _READERS, Read, _naive_utc, read_source, window_files
from pipeline.data_schema import Dataset, Schema, Windows
from pipeline.data_windows import check_levels, split_windows
from pipeline.demo_data import DEMO_DAYS, DEMO_SOURCE, demo_frame
from pipeline.errors import DataValidationError

__all__ = [
    "DEMO_DAYS",
    "DEMO_SOURCE",
    "Dataset",
    "Read",
    "Schema",
    "Windows",
    "check_levels",
    "count_rows",
    "demo_frame",
    "fingerprint",
    "load_dataset",
    "read_source",
    "split_windows",
    "validate_frame",
]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def load_dataset(
    cfg: Config,
    data_path: Path | None = None,
    expected: Schema | None = None,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Dataset:
    """Load the configured source (``data_path`` wins over ``cfg.data_path``) and validate it.

    ``expected`` is the champion's schema: when given, the data must have the same feature columns
    with the same kinds (numeric or categorical). ``start``/``end``: only the rows with
    ``start <= timestamp < end`` are returned. Parquet with a timestamp column reads and validates
    only those rows, so a run's cost follows its window; any other source is read and validated
    whole, once while its files are unchanged (a few loads are remembered per process), and
    sliced. Either way the tasks of a run in one process read a source once.
    """
    chosen = data_path if data_path is not None else cfg.data_path
    path = None if chosen is None else Path(chosen)
    source = None if path is None else _signature(path)
    settings = (expected, _validation_settings(cfg))
    start, end = (_naive_utc(t) if t is not None else None for t in (start, end))
    if path is not None and _pushdown(path, cfg.timestamp_column):
        # Parquet with a timestamp column: read and validate only the window.
        # (Sliced again: with a non-UTC timezone the read's bounds carry a day's margin.)
        loaded = _remember(
            (source, start, end, *settings), lambda: _load(cfg, path, expected, start, end)
        )
        return _slice(loaded, start, end) if cfg.timezone != "UTC" else loaded
    # CSV (or text timestamps): the file is read whole anyway, so it is validated whole, once
    # while it is unchanged, and each window is a slice of the time-sorted rows. Of a folder,
    # only the files holding rows of the window are read (and checked).
    if path is not None and path.is_dir() and (start is not None or end is not None):
        read = Read(timestamp=cfg.timestamp_column, start=start, end=end)
        files = tuple(str(f) for f in window_files(path, read))
        full = _remember((source, files, *settings), lambda: _load(cfg, path, expected, start, end))
        return _slice(full, start, end)
    full = _remember((source, None, None, *settings), lambda: _load(cfg, path, expected))
    return _slice(full, start, end)


def _remember(key: tuple[Any, ...], load: Callable[[], Dataset]) -> Dataset:
    cached = _LOADED.get(key)
    if cached is not None:
        _LOADED.move_to_end(key)
        return cached
    ds = load()
    _LOADED[key] = ds
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return ds


def _slice(ds: Dataset, start: dt.datetime | None, end: dt.datetime | None) -> Dataset:
    if start is None and end is None:
        return ds
    ts = ds.frame[ds.schema.timestamp].to_numpy(dtype="datetime64[ns]")
    lo = 0 if start is None else int(np.searchsorted(ts, np.datetime64(start, "ns"), "left"))
    hi = len(ts) if end is None else int(np.searchsorted(ts, np.datetime64(end, "ns"), "left"))
    frame = ds.frame.iloc[lo:hi].reset_index(drop=True)
    return dataclasses.replace(ds, frame=frame)


def _pushdown(path: Path, timestamp: str) -> bool:
    """Whether a window's rows can be read alone: Parquet whose timestamp column is a timestamp."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        if not files or any(_READERS.get(f.suffix.lower()) != "parquet" for f in files):
            return False
        for f in files:
            schema = pq.read_schema(f)
            if timestamp not in schema.names or not pa.types.is_timestamp(
                schema.field(timestamp).type
            ):
                return False
    except (OSError, ValueError, pa.ArrowException):
        return False  # the ordinary read reports what is wrong
    return True


# A few recent loads, so the tasks of one run (and the daily checks of a simulation) read a file
# once; bounded, since each holds the rows it read.
_LOADED: OrderedDict[tuple[Any, ...], Dataset] = OrderedDict()
_LOADED_MAX = 4


def _validation_settings(cfg: Config) -> tuple[Any, ...]:
    return (
        cfg.task,
        cfg.target,
        cfg.timestamp_column,
        cfg.features,
        cfg.categorical_features,
        cfg.decimal,
        cfg.timezone,
        _schema_signature(cfg),
        cfg.key_columns,
        cfg.demo_start,
        cfg.demo_wards,
        cfg.seed,
        cfg.demo_data_drift_date,
        cfg.demo_concept_drift_date,
    )


def _schema_signature(cfg: Config) -> tuple[Any, ...] | None:
    """The schema file's identity (a changed file is a new validation)."""
    if cfg.schema_path is None:
        return None
    return _signature(cfg.schema_path)


def _signature(path: Path) -> tuple[Any, ...]:
    """What identifies a source's content: each file's path, size and modification time."""
    try:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        return (str(path), *((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    except OSError:
        return (str(path), None)  # unreadable: the read itself reports it, and nothing is kept


def _load(
    cfg: Config,
    path: Path | None,
    expected: Schema | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Dataset:
    fmt, expected_name = "mixed", "the champion's schema"
    if (schema_path := cfg.schema_path) is not None:  # explicit: kinds, keys, levels, format
        declared = schema_file.load(schema_path)
        schema_file.check_settings(
            declared, timestamp=cfg.timestamp_column, target=cfg.target, timezone=cfg.timezone
        )
        fmt = declared.timestamp_format
        if cfg.key_columns is None and declared.keys:
            cfg = dataclasses.replace(cfg, key_columns=declared.keys)
        if expected is None:
            expected, expected_name = declared.as_expected(), schema_path.name
    if path is None:
        frame, source = demo_frame(cfg), DEMO_SOURCE
        key: tuple[str, ...] | None = cfg.key_columns if cfg.key_columns is not None else ("ward",)
    else:
        key = cfg.key_columns
        # Only the named columns when the features are explicit (else every column is checked).
        # Each column once: a key may be a feature too (a real flights run read 'carrier' twice).
        columns = (
            tuple(
                dict.fromkeys(
                    (
                        cfg.timestamp_column,
                        cfg.target,
                        *cfg.features,
                        *(key or ()),
                        *_group_column(cfg),
                    )
                )
            )
            if cfg.features is not None
            else None
        )
        read = Read(
            timestamp=cfg.timestamp_column,
            columns=columns,
            start=start,
            end=end,
            timezone=cfg.timezone,
        )
        frame, source = read_source(path, read), str(path)
    return validate_frame(
        frame,
        cfg,
        source=source,
        expected=expected,
        key_columns=key,
        timestamp_format=fmt,
        expected_name=expected_name,
    )


def validate_frame(
    frame: pd.DataFrame,
    cfg: Config,
    *,
    source: str,
    expected: Schema | None = None,
    key_columns: tuple[str, ...] | None = None,
    timestamp_format: str = "mixed",
    expected_name: str = "the champion's schema",
) -> Dataset:
    """Check columns, types, timestamps and target; return a time-sorted copy with parsed dates.

    A frame whose read kept only a window of rows (``attrs["filtered"]``) is checked as read,
    except that a feature may be empty in a window."""
    ts, target = cfg.timestamp_column, cfg.target
    span = frame.attrs.get("span")
    windowed = bool(frame.attrs.get("filtered"))
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

    # Key, timestamp and target are never features unless 'features' names them. (The demo's
    # ward is its implied key and a feature on purpose: only configured keys are left out.)
    not_features = {ts, target, *(cfg.key_columns or ())}
    if cfg.features is not None:
        features = tuple(cfg.features)
    elif expected is not None:
        features = expected.features
    else:
        features = tuple(c for c in cols if c not in not_features)
    missing = [f for f in features if f not in cols]
    if missing:
        raise DataValidationError(
            f"{source}: feature column {missing[0]!r} is missing"
            + (f" ({len(missing)} missing: {', '.join(missing)})" if len(missing) > 1 else "")
            + "."
        )
    if cfg.features is None and expected is not None:
        extra = [c for c in cols if c not in not_features and c not in features]
        if extra:
            raise DataValidationError(
                f"{source}: unexpected column {extra[0]!r} is not in {expected_name} "
                f"({', '.join(features)}); set 'features' to choose columns explicitly."
            )
    if not features:
        raise DataValidationError(f"{source}: no feature columns besides {ts!r} and {target!r}.")

    # Timestamps: every value must parse.
    frame[ts] = _parse_timestamps(frame[ts], source, ts, cfg.timezone, timestamp_format)
    if span is None and len(frame):
        span = (frame[ts].min().to_pydatetime(), frame[ts].max().to_pydatetime())

    # Feature kinds: categorical by config, by the champion's schema, or by what the values are
    # (text that is numbers in 95% of rows is numeric; its other values are noted as missing).
    notes: list[str] = []
    if cfg.categorical_features is not None:
        categorical = tuple(c for c in features if c in cfg.categorical_features)
    elif expected is not None:
        categorical = tuple(c for c in features if c in expected.categorical)
    else:
        categorical = tuple(
            c for c in features if not _is_numeric_like(frame[c], source, c, cfg.decimal)
        )
    for c in features:
        if c in categorical:
            frame[c] = frame[c].astype("string").astype(object).where(frame[c].notna(), None)
        else:
            frame[c], note = _to_numeric(frame[c], source, c, True, cfg.decimal)
            if note:
                notes.append(note)
            if np.isinf(frame[c].to_numpy(dtype=float)).any():
                row = int(np.flatnonzero(np.isinf(frame[c].to_numpy(dtype=float)))[0])
                raise DataValidationError(
                    f"{source}: column {c!r} holds an infinite value (row {_line(frame[c], row)})."
                )
        if frame[c].isna().all() and not windowed:  # a window may hold a gap; the source may not
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
    # Keys and a bootstrap group column stay beside the features: baselines follow the keys'
    # series and the bootstrap draws the groups, but nothing trains on them.
    beside = [
        c
        for c in dict.fromkeys((*(key_columns or ()), *_group_column(cfg)))
        if c in cols and c not in (ts, target, *features)
    ]
    columns = [ts, *features, target, *beside]
    return Dataset(
        frame=frame[columns],
        schema=schema,
        source=source,
        span=span,
        notes=tuple(notes),
        expected=expected,
    )


def _group_column(cfg: Config) -> tuple[str, ...]:
    """The column ``bootstrap_group`` names, if it names one (not auto, rows or a bucket)."""
    from pipeline.bootstrap import BUCKET

    group = cfg.bootstrap_group
    return () if group in ("auto", "rows") or BUCKET.match(group) else (group,)


# --------------------------------------------------------------------------------------------
# Counting and fingerprints
# --------------------------------------------------------------------------------------------
def count_rows(cfg: Config, data_path: Path | None, start: dt.datetime, end: dt.datetime) -> int:
    """Labelled rows with ``start <= timestamp < end``, reading the timestamp and target columns
    alone (the data volume trigger needs a count of new labels, not the rows)."""
    path = data_path if data_path is not None else cfg.data_path
    ts = cfg.timestamp_column
    key = (None if path is None else _signature(Path(path)), ts, _validation_settings(cfg))
    stamps = _STAMPS.get(key)
    if stamps is None:
        if path is None:
            column = demo_frame(cfg)[ts]
        else:
            read = read_source(Path(path), Read(timestamp=ts, columns=(ts, cfg.target)))
            if cfg.target in read.columns:  # a missing target is reported by the run's read
                read = read.loc[read[cfg.target].notna()]
            column = _parse_timestamps(read[ts], str(path), ts, cfg.timezone)
        stamps = np.sort(column.to_numpy(dtype="datetime64[ns]"))
        _STAMPS.clear()  # one source's timestamps at a time
        _STAMPS[key] = stamps
    lo, hi = (np.datetime64(_naive_utc(t), "ns") for t in (start, end))
    return int(np.searchsorted(stamps, hi, "left") - np.searchsorted(stamps, lo, "left"))


_STAMPS: dict[tuple[Any, ...], np.ndarray] = {}


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the rows' content, stable across processes (pandas' row hash, not ``hash()``)."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
