"""A folder of monthly files: a run reads (and checks) only the files holding its window's rows,
and a file whose columns differ is named with only the columns that differ."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest

from pipeline import loop
from pipeline.config import load_config
from pipeline.data import demo_frame, load_dataset, split_windows
from pipeline.data_read import Read, read_source
from pipeline.errors import DataValidationError


@pytest.fixture(scope="module")
def cfg():
    return load_config(env={"MODELGATE_TRAIN_DAYS": "60"}, path=os.devnull)


def _monthly(cfg, folder, kind, change_last=None):
    """The demo's first six months of 2024, one file per month; the last one changed."""
    frame = demo_frame(cfg)
    frame = frame[frame["timestamp"] < "2024-07-01"]
    months = frame["timestamp"].dt.strftime("%Y-%m")
    folder.mkdir()
    for i, (month, part) in enumerate(frame.groupby(months)):
        part = part.reset_index(drop=True)
        if change_last is not None and i == months.nunique() - 1:
            part = change_last(part)
        if kind == "csv":
            part.to_csv(folder / f"{month}.csv", index=False)
        else:
            part.to_parquet(folder / f"{month}.parquet", index=False)
    return frame.reset_index(drop=True)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_file_that_gained_a_column_refuses_only_the_runs_that_read_it(cfg, tmp_path, kind):
    folder = tmp_path / kind
    _monthly(cfg, folder, kind, change_last=lambda p: p.assign(gate="A1"))
    may = dt.datetime(2024, 5, 1)  # reads March and April (60 + 30 days), not June
    ds = load_dataset(cfg, folder, start=dt.datetime(2024, 2, 1), end=may)
    w = split_windows(ds, cfg, may)
    assert len(w.train) and len(w.holdout) and "gate" not in ds.frame.columns
    # The source's span is still the whole folder's, for messages.
    assert ds.span is not None and ds.span[1] >= dt.datetime(2024, 6, 30)
    ctx = loop.RunContext(run_id="p", as_of=may, data_path=folder)
    assert loop.preflight(cfg, None, ctx)["holdout_rows"] == len(w.holdout)
    july = loop.RunContext(run_id="p", as_of=dt.datetime(2024, 7, 1), data_path=folder)
    with pytest.raises(DataValidationError) as err:
        loop.preflight(cfg, None, july)
    message = str(err.value)
    assert f"2024-06.{kind} has column 'gate', unlike" in message
    assert "emergency_admissions" not in message  # not both headers, only the difference


def test_the_message_names_lost_and_gained_columns_only(cfg, tmp_path):
    folder = tmp_path / "f"
    _monthly(cfg, folder, "csv", lambda p: p.drop(columns=["month", "flu_index"]).assign(x=1))
    with pytest.raises(DataValidationError) as err:
        read_source(folder, Read())
    assert str(err.value).startswith(str(folder / "2024-06.csv") + " has column 'x' and no")
    assert "no columns 'month', 'flu_index', unlike 2024-01.csv" in str(err.value)


def test_the_same_columns_in_another_order_are_one_source(cfg, tmp_path):
    folder = tmp_path / "o"
    frame = _monthly(cfg, folder, "csv", lambda p: p[list(reversed(p.columns))])
    read = read_source(folder, Read())
    pd.testing.assert_frame_equal(
        read[frame.columns].sort_values(["timestamp", "ward"]).reset_index(drop=True),
        frame.astype({"timestamp": str}).sort_values(["timestamp", "ward"]).reset_index(drop=True),
        check_dtype=False,
    )
