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
    timezone: str = "UTC"  # of naive timestamps (the ``timezone`` setting)

    @property
    def windowed(self) -> bool:
        return self.timestamp is not None and (self.start is not None or self.end is not None)


def read_source(path: Path, read: Read | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, or every such file in a folder (same columns each)."""
    read = read or Read()
    if not path.exists():
        raise DataValidationError(f"Data path {path} does not exist.")
    if path.is_dir():
        everything = folder_files(path)
        files = window_files(path, read)
        parts = [_read_file(p, read) for p in files]
        first = set(parts[0].columns)
        for p, part in zip(files[1:], parts[1:], strict=True):
            if set(part.columns) != first:
                raise DataValidationError(_differ(p, part.columns, files[0], parts[0].columns))
        frame = pd.concat(parts, ignore_index=True)
        spans = [part.attrs["span"] for part in parts if part.attrs.get("span")]
        if len(files) < len(everything):  # the files not read still bound the source's times
            spans = [sp for f in everything if (sp := file_span(f, read))]
        frame.attrs["filtered"] = any(part.attrs.get("filtered") for part in parts)
        if spans:
            frame.attrs["span"] = (min(a for a, _ in spans), max(b for _, b in spans))
        return frame
    return _read_file(path, read)


def folder_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in _READERS and p.is_file())
    if not files:
        raise DataValidationError(f"Data folder {path} holds no .csv or .parquet files.")
    return files


def window_files(path: Path, read: Read) -> list[Path]:
    """The files of a folder that hold rows of the read's window: a monthly file that gained a
    column refuses only the runs that read it. Without a window (or when no file's times can be
    told, or none overlaps) every file."""
    files = folder_files(path)
    if not read.windowed:
        return files
    # A file's span is read as if UTC; a day's slack covers the zone of naive times.
    day = dt.timedelta(days=1)
    lo = read.start - day if read.start is not None and read.start > dt.datetime.min + day else None
    hi = read.end + day if read.end is not None and read.end < dt.datetime.max - day else None
    chosen = [
        f
        for f in files
        if (sp := file_span(f, read)) is None
        or ((hi is None or sp[0] < hi) and (lo is None or sp[1] >= lo))
    ]
    return chosen or files


def file_span(path: Path, read: Read) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last timestamp of one file (None when they cannot be told: the read reports
    why), remembered while the file is unchanged."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns, read.timestamp)
    if key not in _SPANS:
        _SPANS[key] = _span_of(path, read.timestamp or "")
    return _SPANS[key]


def _span_of(path: Path, ts: str) -> tuple[dt.datetime, dt.datetime] | None:
    try:
        if _READERS.get(path.suffix.lower()) == "parquet":
            column = pd.read_parquet(path, columns=[ts])[ts]
        else:
            column = pd.read_csv(path, usecols=[ts])[ts]
        parsed = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError, KeyError):
        return None
    if len(parsed) == 0 or parsed.isna().any():
        return None
    return _naive_utc(parsed.min().to_pydatetime()), _naive_utc(parsed.max().to_pydatetime())


_SPANS: dict[tuple[object, ...], tuple[dt.datetime, dt.datetime] | None] = {}


def _differ(path: Path, columns: pd.Index, first: Path, first_columns: pd.Index) -> str:
    """Only the columns that differ, not both headers."""
    gained = [str(c) for c in columns if c not in set(first_columns)]
    lost = [str(c) for c in first_columns if c not in set(columns)]
    what = []
    if gained:
        what.append(f"column{'s' if len(gained) > 1 else ''} {', '.join(map(repr, gained))}")
    if lost:
        what.append(f"no column{'s' if len(lost) > 1 else ''} {', '.join(map(repr, lost))}")
    return (
        f"{path} has {' and '.join(what)}, unlike {first.name}: files in one data folder must "
        "share their columns (set 'features' to read only the columns a model needs)."
    )


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

        local = not tz and read.timezone != "UTC"
        margin = dt.timedelta(days=1) if local else dt.timedelta(0)

        def at(t: dt.datetime) -> pd.Timestamp:
            """A UTC bound in the column's terms: a naive column holds wall-clock times of the
            ``timezone`` setting, so its bound is widened by a day (DST) and the load slices."""
            if tz:
                return pd.Timestamp(t).tz_localize("UTC")
            if local:
                utc = pd.Timestamp(t).tz_localize("UTC")
                return utc.tz_convert(read.timezone).tz_localize(None)
            return pd.Timestamp(t)

        filters = [(ts, ">=", at(read.start) - margin)] if read.start is not None else []
        filters += [(ts, "<", at(read.end) + margin)] if read.end is not None else []
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
