"""Cost that follows the window: a windowed load returns exactly the window's rows, Parquet reads
only them, other sources are validated once and sliced, and the row count reads one column."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline import data as data_mod
from pipeline.config import load_config
from pipeline.data import Read, count_rows, demo_frame, load_dataset, read_source, split_windows
from pipeline.errors import DataValidationError

START, END = dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 15)


@pytest.fixture
def cfg():
    return load_config(env={"MODELGATE_KEY_COLUMNS": "ward"}, path=os.devnull)


@pytest.fixture
def files(cfg, tmp_path) -> dict[str, Path]:
    frame = demo_frame(cfg).iloc[: 12 * 200]  # 200 days of 12 wards from 2024-01-01
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    text = frame.astype({"timestamp": str})
    text.to_parquet(tmp_path / "text.parquet", index=False)  # timestamps as text: no push-down
    return {
        "csv": tmp_path / "d.csv",
        "parquet": tmp_path / "d.parquet",
        "text": tmp_path / "text.parquet",
    }


@pytest.mark.parametrize("kind", ["csv", "parquet", "text"])
def test_a_window_is_the_slice_of_the_whole(cfg, files, kind):
    whole = load_dataset(cfg, files[kind]).frame
    window = load_dataset(cfg, files[kind], start=START, end=END)
    ts = whole["timestamp"]
    expected = whole.loc[(ts >= START) & (ts < END)].reset_index(drop=True)
    pd.testing.assert_frame_equal(window.frame, expected, check_dtype=False)
    assert len(window.frame) == 14 * 12
    assert window.span == (dt.datetime(2024, 1, 1), dt.datetime(2024, 7, 18))


def test_parquet_reads_only_the_window(files):
    read = Read(timestamp="timestamp", start=START, end=END)
    frame = read_source(files["parquet"], read)
    assert len(frame) == 14 * 12 and frame.attrs["filtered"]
    assert not read_source(files["text"], read).attrs.get("filtered")  # read whole, sliced later


def test_a_bad_row_outside_a_parquet_window_is_not_read_but_one_inside_is_refused(
    cfg, files, tmp_path
):
    schema = load_dataset(cfg, files["parquet"]).schema  # the champion's: los_days is numeric
    frame = demo_frame(cfg).iloc[: 12 * 200].copy()
    frame["los_days"] = frame["los_days"].astype(str)
    frame.loc[:59, "los_days"] = "abc"  # 2024-01-01 to 01-05, outside the window (over 5% in)
    frame.to_parquet(tmp_path / "bad.parquet", index=False)
    bad = tmp_path / "bad.parquet"
    assert len(load_dataset(cfg, bad, schema, start=START, end=END).frame) == 168
    with pytest.raises(DataValidationError, match="'los_days' must be numeric but holds 'abc'"):
        load_dataset(cfg, bad, schema, start=dt.datetime(2024, 1, 1), end=END)


def test_a_source_is_read_once_while_unchanged(cfg, files, monkeypatch):
    reads = []
    real = data_mod.read_source
    monkeypatch.setattr(data_mod, "read_source", lambda *a, **k: reads.append(a) or real(*a, **k))
    data_mod._LOADED.clear()
    for day in range(3):  # three daily windows of a CSV: one read and validation
        load_dataset(cfg, files["csv"], start=START + dt.timedelta(days=day), end=END)
    assert len(reads) == 1
    frame = pd.read_csv(files["csv"]).iloc[:-12]
    frame.to_csv(files["csv"], index=False)  # the file changes: read again
    os.utime(files["csv"], ns=(1, 1))
    assert load_dataset(cfg, files["csv"]).span[1] == dt.datetime(2024, 7, 17)
    assert len(reads) == 2


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_row_count_reads_the_timestamps_alone(cfg, files, kind):
    whole = load_dataset(cfg, files[kind]).frame["timestamp"]
    for start, end in ((START, END), (dt.datetime(2023, 1, 1), dt.datetime(2030, 1, 1))):
        assert count_rows(cfg, files[kind], start, end) == int(
            ((whole >= start) & (whole < end)).sum()
        )
    assert count_rows(cfg, None, START, END) == 14 * cfg.demo_wards


def test_a_date_without_data_says_what_the_data_covers(cfg, files):
    late = dt.datetime(2026, 1, 1)
    ds = load_dataset(cfg, files["parquet"], start=late - dt.timedelta(days=395), end=late)
    with pytest.raises(
        DataValidationError, match="is empty \\(data covers 2024-01-01 to 2024-07-18\\)"
    ):
        split_windows(ds, cfg, late)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_key_that_is_also_a_feature_is_read_once(files, kind):
    """Found on the real 2013 flights: key_columns 'carrier,flight' with carrier a feature read
    the column twice, and the Parquet read refused it as 'appears more than once'."""
    cfg = load_config(
        env={
            "MODELGATE_KEY_COLUMNS": "ward,ward_type",
            "MODELGATE_FEATURES": "ward,capacity,flu_index",
            "MODELGATE_BOOTSTRAP_GROUP": "ward",
        },
        path=os.devnull,
    )
    ds = load_dataset(cfg, files[kind], start=START, end=END)
    assert list(ds.frame.columns) == [
        "timestamp",
        "ward",
        "capacity",
        "flu_index",
        "occupancy",
        "ward_type",
    ]
