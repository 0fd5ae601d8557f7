"""An explicit schema: ``modelgate schema infer DATA > schema.toml`` writes one, and with the
``schema_path`` setting every run checks its data against it.

The file names the timestamp (its format and the zone of naive times), the target, the key
columns, and each column's kind (numeric or categorical) with the categorical levels where they
are few. Runs then take the kinds from the file instead of guessing them, parse the timestamps
with the file's format (``01/02/2025`` is never read as February 1st by one file and January 2nd
by the next), and judge a categorical whose values changed as schema drift, as against a
champion's training levels. Every problem is one line naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data_columns import _is_numeric_like
from pipeline.data_schema import MAX_LEVELS, Schema
from pipeline.errors import ConfigError, DataValidationError

KINDS = ("numeric", "categorical")
# Formats tried in order on a text timestamp column; the first that reads every value wins.
FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSchema:
    """What a schema file says about the data."""

    timestamp: str
    timestamp_format: str  # a strftime format, "mixed" (any readable date) or "native"
    timezone: str
    target: str
    keys: tuple[str, ...]
    kinds: tuple[tuple[str, str], ...]  # (column, kind), in the file's order
    levels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    path: str = ""

    @property
    def features(self) -> tuple[str, ...]:
        skip = {self.timestamp, self.target, *self.keys}
        return tuple(c for c, _ in self.kinds if c not in skip)

    def as_expected(self) -> Schema:
        """The schema a run's data must match, as a champion's would be."""
        kinds = dict(self.kinds)
        return Schema(
            features=self.features,
            categorical=tuple(c for c in self.features if kinds[c] == "categorical"),
            target=self.target,
            timestamp=self.timestamp,
            levels=tuple((c, v) for c, v in self.levels if c in self.features),
        )


# --------------------------------------------------------------------------------------------
# Inferring
# --------------------------------------------------------------------------------------------
def infer(
    frame: pd.DataFrame,
    *,
    source: str,
    timestamp: str,
    target: str,
    keys: tuple[str, ...] | None,
    decimal: str = ".",
    timezone: str = "UTC",
) -> tuple[DataSchema, dict[str, str]]:
    """A schema for ``frame`` and a comment per column (counts, candidates) for the file."""
    for name, what in ((timestamp, "timestamp"), (target, "target")):
        if name not in frame.columns:
            raise DataValidationError(f"{source}: {what} column {name!r} is missing.")
    for k in keys or ():
        if k not in frame.columns:
            raise DataValidationError(f"{source}: key column {k!r} is missing.")
    notes: dict[str, str] = {}
    kinds, levels = [], []
    for c in (str(c) for c in frame.columns):
        if c == timestamp:
            continue
        col = frame[c]
        kind = "numeric" if _is_numeric_like(col, source, c, decimal) else "categorical"
        kinds.append((c, kind))
        empty = int(col.isna().sum())
        note = [f"{empty:,} empty"] if empty else []
        if kind == "categorical":
            values = sorted(col.dropna().astype(str).unique())
            if len(values) <= MAX_LEVELS:
                levels.append((c, tuple(values)))
            else:
                note.append(f"{len(values):,} levels: too many to list")
        notes[c] = ", ".join(note)
    fmt, notes[timestamp] = _timestamp_format(frame[timestamp])
    keys, notes["keys"] = _keys(frame, timestamp, target, keys, source)
    schema = DataSchema(
        timestamp=timestamp,
        timestamp_format=fmt,
        timezone=timezone,
        target=target,
        keys=keys,
        kinds=tuple(kinds),
        levels=tuple(levels),
    )
    return schema, notes


def _timestamp_format(col: pd.Series) -> tuple[str, str]:
    if pd.api.types.is_datetime64_any_dtype(col):
        return "native", "a datetime column"
    values = col.dropna().astype(str).str.strip()
    fits = [f for f in FORMATS if pd.to_datetime(values, format=f, errors="coerce").notna().all()]
    if not fits:
        return "mixed", "no single format reads every value: any readable date"
    also = [f for f in fits[1:] if {"%m", "%d"} <= set(f.replace("%", " %").split())]
    if also and fits[0].startswith("%m/%d"):
        return fits[0], f"also fits {also[0]!r}: check which the data means"
    return fits[0], ""


def _keys(
    frame: pd.DataFrame, ts: str, target: str, keys: tuple[str, ...] | None, source: str
) -> tuple[tuple[str, ...], str]:
    if keys is not None:
        dupes = int(frame.duplicated(subset=[ts, *keys]).sum())
        if dupes:
            raise DataValidationError(
                f"{source}: {dupes:,} rows share their {ts} and {', '.join(keys)}: not a key."
            )
        return tuple(keys), "given"
    if not frame.duplicated(subset=[ts]).any():
        return (), "none needed: the timestamp alone identifies every row"
    # Columns that could name a series: whole numbers or text, never empty.
    usable = [
        str(c)
        for c in frame.columns
        if c not in (ts, target)
        and not pd.api.types.is_float_dtype(frame[c])
        and frame[c].notna().all()
    ]
    levels = {c: int(frame[c].nunique()) for c in usable}
    singles = [(c,) for c in usable if not frame.duplicated(subset=[ts, c]).any()]
    pairs = (
        []
        if singles
        else [  # a flight is its carrier and number
            (a, b)
            for i, a in enumerate(sorted(usable, key=levels.__getitem__)[:12])
            for b in sorted(usable, key=levels.__getitem__)[i + 1 : 12]
            if not frame.duplicated(subset=[ts, a, b]).any()
        ]
    )
    candidates = singles or pairs
    if not candidates:
        return (), "no column or pair identifies a row with the timestamp; name keys with --keys"
    best = min(candidates, key=lambda k: sum(levels[c] for c in k))
    others = [", ".join(k) for k in candidates if k != best]
    also = f"; also unique: {'; '.join(others[:3])}" if others else ""
    return best, (
        f"inferred: with the timestamp it identifies every row{also}. Keys are not features "
        "unless 'features' names them"
    )


def to_toml(schema: DataSchema, notes: dict[str, str], *, source: str, rows: int) -> str:
    """The schema as a TOML file, with the counts as comments."""
    lines = [
        f"# ModelGate schema of {source} ({rows:,} rows), by 'modelgate schema infer'.",
        "# Set schema_path to this file: runs then check their data against it.",
        f"timestamp = {_q(schema.timestamp)}",
        f"timestamp_format = {_q(schema.timestamp_format)}"
        + (f"  # {notes[schema.timestamp]}" if notes.get(schema.timestamp) else ""),
        f"timezone = {_q(schema.timezone)}  # the zone of times written without one",
        f"target = {_q(schema.target)}",
        f"keys = [{', '.join(map(_q, schema.keys))}]  # {notes.get('keys', '')}",
    ]
    levels = dict(schema.levels)
    for column, kind in schema.kinds:
        lines += ["", f"[columns.{_q(column)}]", f"kind = {_q(kind)}"]
        if column in levels:
            lines.append(f"levels = [{', '.join(map(_q, levels[column]))}]")
        if notes.get(column):
            lines.append(f"# {notes[column]}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def load(path: Path) -> DataSchema:
    """The schema file at ``path``, checked; remembered while the file is unchanged."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"Schema file {path} cannot be read: {exc.strerror}.") from exc
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = _parse(path)
    return _LOADED[key]


_LOADED: dict[tuple[Any, ...], DataSchema] = {}


def _parse(path: Path) -> DataSchema:
    from pipeline.catalog import read_toml

    data = read_toml(path, "Schema file")

    def text(key: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"Schema file {path}: '{key}' must be a non-empty string.")
        return value

    unknown = sorted(
        set(data) - {"timestamp", "timestamp_format", "timezone", "target", "keys", "columns"}
    )
    if unknown:
        raise ConfigError(f"Schema file {path}: unknown key {unknown[0]!r}.")
    timestamp, target = text("timestamp"), text("target")
    fmt, timezone = text("timestamp_format", "mixed"), text("timezone", "UTC")
    keys = data.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"Schema file {path}: 'keys' must be a list of column names.")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ConfigError(f"Schema file {path}: it names no [columns.NAME] tables.")
    kinds, levels = [], []
    for name, spec in columns.items():
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise ConfigError(
                f'Schema file {path}: column {name!r} needs kind = "numeric" or "categorical".'
            )
        kinds.append((name, spec["kind"]))
        if "levels" in spec:
            values = spec["levels"]
            if spec["kind"] != "categorical" or not isinstance(values, list):
                raise ConfigError(
                    f"Schema file {path}: column {name!r}: levels are a list, for a categorical."
                )
            levels.append((name, tuple(sorted(map(str, values)))))
    schema = DataSchema(
        timestamp=timestamp,
        timestamp_format=fmt,
        timezone=timezone,
        target=target,
        keys=tuple(keys),
        kinds=tuple(kinds),
        levels=tuple(levels),
        path=str(path),
    )
    if schema.timestamp_format not in ("mixed", "native"):
        try:
            dt.datetime(2025, 1, 2, 3, 4, 5).strftime(schema.timestamp_format)
        except ValueError as exc:
            raise ConfigError(
                f"Schema file {path}: timestamp_format {schema.timestamp_format!r} is not a "
                "strftime format."
            ) from exc
    for name in (schema.target, *schema.keys):
        if name not in dict(kinds):
            raise ConfigError(f"Schema file {path}: {name!r} has no [columns.{name}] table.")
    return schema


def check_settings(schema: DataSchema, *, timestamp: str, target: str, timezone: str) -> None:
    """The file and the settings must agree on what they both name."""
    for key, theirs, ours, setting in (
        ("timestamp", schema.timestamp, timestamp, "timestamp_column"),
        ("target", schema.target, target, "target"),
        ("timezone", schema.timezone, timezone, "timezone"),
    ):
        if theirs != ours:
            raise ConfigError(
                f"Schema file {schema.path}: {key} is {theirs!r} but the {setting} setting is "
                f"{ours!r}; make them agree."
            )
