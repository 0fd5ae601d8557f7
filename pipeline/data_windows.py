"""A run's time windows: training rows strictly before the holdout, the holdout the last days
before ``as_of``; rows without a target are left out of both, counted, and kept for drift."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.data_read import _naive_utc
from pipeline.data_schema import Dataset, Windows
from pipeline.errors import DataValidationError


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
    first, last = ds.span if ds.span else (ts.min(), ts.max())
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    check_levels(ds, holdout, f"the holdout {holdout_start:%Y-%m-%d} to {as_of:%Y-%m-%d}", cfg)
    train, unlabelled_train = _labelled(train, ds, cfg)
    holdout, unlabelled_holdout = _labelled(holdout, ds, cfg)
    rows = len(train) + len(holdout) + unlabelled_train + unlabelled_holdout
    unlabelled = unlabelled_train + unlabelled_holdout
    if rows and unlabelled / rows > cfg.max_unlabelled_share:
        raise DataValidationError(
            f"{ds.source}: target {ds.schema.target!r} is missing in {unlabelled:,} of the "
            f"{rows:,} rows from {train_start:%Y-%m-%d} to {as_of:%Y-%m-%d} "
            f"({unlabelled / rows:.1%}); at most {cfg.max_unlabelled_share:.0%} may be unlabelled "
            "(max_unlabelled_share)."
        )
    for rows, name, start, end, minimum, unlabelled in (
        (holdout, "holdout", holdout_start, as_of, cfg.min_holdout_rows, unlabelled_holdout),
        (train, "training", train_start, holdout_start, cfg.min_train_rows, unlabelled_train),
    ):
        if len(rows) + unlabelled == 0:
            raise DataValidationError(
                f"{ds.source}: the {name} window {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty "
                f"(data covers {span})."
            )
        if len(rows) < minimum:
            counted = f"{len(rows)} labelled rows" if unlabelled else f"{len(rows)} rows"
            raise DataValidationError(
                f"{ds.source}: the {name} window {start:%Y-%m-%d} to {end:%Y-%m-%d} has {counted}; "
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
        unlabelled_train=unlabelled_train,
        unlabelled_holdout=unlabelled_holdout,
    )


def _labelled(rows: pd.DataFrame, ds: Dataset, cfg: Config) -> tuple[pd.DataFrame, int]:
    """The rows with a target (classification labels as 0/1 ints), and how many had none."""
    y = rows[ds.schema.target]
    missing = y.isna()
    if missing.any():
        rows = rows.loc[~missing].reset_index(drop=True)
    if cfg.task == "classification":
        rows = rows.assign(**{ds.schema.target: rows[ds.schema.target].astype(np.int64)})
    return rows, int(missing.sum())


def check_levels(ds: Dataset, rows: pd.DataFrame, what: str, cfg: Config) -> None:
    """Schema drift: a categorical feature whose values in ``rows`` are mostly ones the champion
    never saw in training (a trial recoded EWR/JFK/LGA as 1/2/3, and the next challenger, which
    had seen the new codes, was promoted over a champion that had not)."""
    expected = ds.expected
    if expected is None or not len(rows):
        return
    for column, known in expected.levels:
        if column not in rows.columns:
            continue
        values = rows[column].dropna().astype(str)
        if not len(values):
            continue
        new = ~values.isin(known)
        share = float(new.mean())
        if share > cfg.max_new_level_share:
            now = sorted(values.unique())
            raise DataValidationError(
                f"{ds.source}: schema drift in column {column!r}: values {_set(known)} → "
                f"{_set(now)}; {share:.0%} of the rows of {what} hold values the champion never "
                f"saw (max_new_level_share {cfg.max_new_level_share:.0%}). Fix the data, or set "
                "max_new_level_share = 1 to accept it."
            )


def _set(values: tuple[str, ...] | list[str], most: int = 8) -> str:
    shown = ", ".join(values[:most]) + (f", … ({len(values)} in all)" if len(values) > most else "")
    return "{" + shown + "}"
