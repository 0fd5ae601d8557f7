"""One column at a time: timestamps, numbers stored as text, the target; each problem a one-line
``DataValidationError`` naming the source, the column, the row and the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataValidationError
from pipeline.measures import check_target


def _line(col: pd.Series, position: int) -> int:
    """The file line of a row (header = line 1): rows keep their place in the file when a window
    of them is validated."""
    label = col.index[position]
    return int(label) + 2 if isinstance(label, (int, np.integer)) else position + 2


def _show(value: Any) -> str:
    """A value as a user would write it: 'abc', 2024-13-45, inf — not np.float64(inf)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


# A written time that carries its zone: '…05:00+01:00', '…05:00Z', '…05:00 UTC'.
_ZONED = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)$"


def _parse_timestamps(
    col: pd.Series, source: str, name: str, timezone: str = "UTC", fmt: str = "mixed"
) -> pd.Series:
    """Naive UTC times. A time written without a zone is a wall-clock time in ``timezone``
    (the ``timezone`` setting); in the hour a DST change repeats, the first (summer) reading is
    taken, and a time the change skips moves forward to the first that exists."""
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DataValidationError(
            f"{source}: column {name!r} has an empty timestamp (row {_line(col, row)})."
        )
    exact = fmt not in ("mixed", "native") and not pd.api.types.is_datetime64_any_dtype(col)
    parsed = pd.to_datetime(col, errors="coerce", utc=True, format=fmt if exact else "mixed")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        why = f"a date that does not match {fmt!r}" if exact else "an unparseable date"
        raise DataValidationError(
            f"{source}: column {name!r} has {why} {_show(col.iloc[row])} (row {_line(col, row)}; "
            f"{int(bad.sum())} bad in all)."
        )
    if timezone == "UTC":
        return parsed.dt.tz_localize(None)
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(col):
        naive = np.ones(len(col), dtype=bool)
    else:
        naive = ~col.astype(str).str.strip().str.contains(_ZONED, case=False, regex=True).to_numpy()
    if not naive.any():
        return parsed.dt.tz_localize(None)
    wall = parsed[naive].dt.tz_localize(None)
    local = wall.dt.tz_localize(
        timezone, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
    ).dt.tz_convert("UTC")
    out = parsed.copy()
    out[naive] = local
    return out.dt.tz_localize(None)


# A text column whose values parse as numbers in at least this share of its non-empty rows is
# numeric: its other values ('?', 'n/a') are read as missing and reported, never a category.
NUMERIC_SHARE = 0.95
_GROUPED = {  # a number with thousands separators, for each decimal mark
    ".": (r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", ","),
    ",": (r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", "."),
}


def _parse_text_numbers(col: pd.Series, decimal: str) -> pd.Series:
    """Numbers written as text ("1400", "1,400", or "39,02" with ``decimal = ","``) as floats;
    anything else NaN."""
    text = col.astype("string").str.strip()
    pattern, thousands = _GROUPED[decimal]
    grouped = text.str.fullmatch(pattern).fillna(False).astype(bool)
    text = text.where(~grouped, text.str.replace(thousands, "", regex=False))
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text.astype(object), errors="coerce").astype(float)


def _is_numeric_like(col: pd.Series, source: str = "", name: str = "", decimal: str = ".") -> bool:
    """Numbers, or text that is numbers in at least 95% of its non-empty rows. Text that would
    be numbers with the other decimal mark is an error: never silently a category."""
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    values = col.dropna()
    if len(values) == 0 or not (
        pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
    ):
        return False
    if _parse_text_numbers(values, decimal).notna().mean() >= NUMERIC_SHARE:
        return True
    other = "," if decimal == "." else "."
    if _parse_text_numbers(values, other).notna().mean() >= NUMERIC_SHARE:
        example = next(v for v in values.astype(str) if other in v)
        raise DataValidationError(
            f"{source}: column {name!r} holds numbers written with {other!r} as the decimal mark "
            f"({example!r}); set decimal = {other!r}, or name the column in categorical_features."
        )
    return False


def _to_numeric(
    col: pd.Series, source: str, name: str, tolerate: bool, decimal: str = "."
) -> tuple[pd.Series, str | None]:
    """The column as floats, and a note on the non-numeric values read as missing (``tolerate``:
    up to 5% of its non-empty rows; more, or any without it, is an error naming the first)."""
    if pd.api.types.is_bool_dtype(col):
        raise DataValidationError(
            f"{source}: column {name!r} is boolean but the model expects numbers."
        )
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float), None
    converted = _parse_text_numbers(col, decimal)
    bad = converted.isna() & col.notna()
    present = int(col.notna().sum())
    if bad.any() and (not tolerate or bad.sum() > (1 - NUMERIC_SHARE) * present):
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"{source}: column {name!r} must be numeric but holds {_show(col.iloc[row])} (row {_line(col, row)}; "
            f"{int(bad.sum())} non-numeric values)."
        )
    note = None
    if bad.any():
        tokens = list(dict.fromkeys(col[bad].astype(str)))
        shown = ", ".join(map(repr, tokens[:5])) + (", …" if len(tokens) > 5 else "")
        note = (
            f"{source}: column {name!r} is numeric; {int(bad.sum())} non-numeric "
            f"value{'s' if bad.sum() > 1 else ''} ({shown}) read as missing."
        )
    return converted, note


def _validate_target(col: pd.Series, cfg: Config, source: str) -> pd.Series:
    """The target as numbers; a missing value (an unlabelled row) stays NaN: such rows are left
    out of training and the holdout (``split_windows``) and kept for drift."""
    name = cfg.target
    if cfg.task == "regression":
        values, _ = _to_numeric(col, source, name, False, cfg.decimal)
        arr = values.to_numpy(dtype=float)
        bad = np.isinf(arr)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{source}: target {name!r} has {int(bad.sum())} infinite "
                f"value{'s' if bad.sum() > 1 else ''} "
                f"(first {_show(col.iloc[row])} at row {_line(col, row)})."
            )
        labelled = arr[np.isfinite(arr)]
        if (problem := check_target(labelled, cfg.primary_metric, source, name)) is not None:
            raise DataValidationError(problem)
        return values
    missing = col.isna().to_numpy()
    if missing.all():  # a window of rows not labelled yet: drift needs no labels
        return pd.Series(np.nan, index=col.index, dtype=float)
    labels = sorted(col[~missing].astype(str).unique())
    if len(labels) != 2:
        raise DataValidationError(
            f"{source}: binary classification needs exactly 2 classes in target {name!r}; found "
            f"{len(labels)}: {', '.join(labels[:5])}{'…' if len(labels) > 5 else ''}."
        )
    positive = (
        "1" if labels == ["0", "1"] else ("True" if labels == ["False", "True"] else labels[1])
    )
    return pd.Series(
        np.where(missing, np.nan, (col.astype(str) == positive).to_numpy(dtype=float)),
        index=col.index,
    )
