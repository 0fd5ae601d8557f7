"""Reading CSV and Parquet files, a window's rows and columns only where the format allows (Parquet
row-group pushdown); timestamps as naive UTC."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import DataValidationError

# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """What a read asks for: the columns (None: all) and the rows ``start <= timestamp < end``
    (pushed down into Parquet when its timestamp column is a timestamp type)."""

    timestamp: str | None = None
    columns: tuple[str, ...] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def windowed(self) -> bool:
        return self.timestamp is not None and (self.start is not None or self.end is not None)


def read_source(path: Path, read: Read | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, or every such file in a folder (same columns each)."""
    read = read or Read()
    if not path.exists():
        raise DataValidationError(f"Data path {path} does not exist.")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _READERS and p.is_file())
        if not files:
            raise DataValidationError(f"Data folder {path} holds no .csv or .parquet files.")
        parts = [_read_file(p, read) for p in files]
        first = list(parts[0].columns)
        for p, part in zip(files[1:], parts[1:], strict=True):
            if list(part.columns) != first:
                raise DataValidationError(
                    f"{p} has columns {list(part.columns)}, but {files[0].name} has {first}: "
                    "files in one data folder must share their columns."
                )
        frame = pd.concat(parts, ignore_index=True)
        spans = [part.attrs["span"] for part in parts if part.attrs.get("span")]
        frame.attrs["filtered"] = any(part.attrs.get("filtered") for part in parts)
        if spans:
            frame.attrs["span"] = (min(a for a, _ in spans), max(b for _, b in spans))
        return frame
    return _read_file(path, read)


def _read_file(path: Path, read: Read) -> pd.DataFrame:
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(
            f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet (or a folder of them)."
        )
    try:
        if kind == "csv":
            wanted = None if read.columns is None else set(read.columns)
            frame = pd.read_csv(path, usecols=None if wanted is None else lambda c: c in wanted)
        else:
            frame = _read_parquet(path, read)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"{path} is empty: no header and no rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(f"{path} cannot be read as {kind.upper()}: {first}") from exc
    if frame.empty and not frame.attrs.get("filtered"):
        raise DataValidationError(f"{path} has a header but no rows.")
    return frame


def _read_parquet(path: Path, read: Read) -> pd.DataFrame:
    """Only the columns and rows asked for, where the file's types allow the push-down."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    columns = None if read.columns is None else [c for c in read.columns if c in schema.names]
    filters = None
    ts = read.timestamp or ""
    if read.windowed and ts in schema.names and pa.types.is_timestamp(schema.field(ts).type):
        tz = schema.field(ts).type.tz

        def at(t: dt.datetime) -> pd.Timestamp:  # naive timestamps are UTC, as when parsed
            return pd.Timestamp(t).tz_localize("UTC") if tz else pd.Timestamp(t)

        filters = [(ts, ">=", at(read.start))] if read.start is not None else []
        filters += [(ts, "<", at(read.end))] if read.end is not None else []
    frame = pd.read_parquet(path, columns=columns, filters=filters or None)
    frame.attrs["filtered"] = bool(filters)
    if filters:
        frame.attrs["span"] = _parquet_span(path, ts)
    return frame


def _parquet_span(path: Path, ts: str) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last timestamp of a Parquet file, from its timestamp column alone."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=[ts]).column(ts)
    if len(column) == 0:
        return None
    bounds = pc.min_max(column)
    return (
        _naive_utc(bounds["min"].as_py()),
        _naive_utc(bounds["max"].as_py()),
    )


def _naive_utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t
