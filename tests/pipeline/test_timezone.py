"""Naive local times: the timezone setting says where they were written; all is stored in UTC.
A trial's '01/01/2025 05:00 AM' from New York was silently taken as 05:00 UTC."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd

from pipeline.config import load_config
from pipeline.data import demo_frame, load_dataset
from pipeline.data_columns import _parse_timestamps


def _parse(values, zone):
    return list(_parse_timestamps(pd.Series(values), "t.csv", "ts", zone))


def test_a_naive_time_is_read_in_the_configured_zone():
    got = _parse(["01/01/2025 05:00 AM", "07/01/2025 05:00 PM"], "America/New_York")
    assert got == [pd.Timestamp("2025-01-01 10:00"), pd.Timestamp("2025-07-01 21:00")]
    assert _parse(["01/01/2025 05:00 AM"], "UTC") == [pd.Timestamp("2025-01-01 05:00")]


def test_a_time_with_an_offset_keeps_it_whatever_the_zone():
    got = _parse(
        ["2025-01-01T05:00:00+01:00", "2025-01-01T05:00Z", "2025-01-01 05:00"], "Asia/Tokyo"
    )
    assert got == [
        pd.Timestamp("2025-01-01 04:00"),
        pd.Timestamp("2025-01-01 05:00"),
        pd.Timestamp("2024-12-31 20:00"),  # Tokyo is UTC+9
    ]


def test_dst_changes_take_the_first_reading_and_skip_forward():
    # New York 2025-11-02 01:30 happens twice (EDT, then EST); 2025-03-09 02:30 never happens.
    got = _parse(["2025-11-02 01:30", "2025-03-09 02:30"], "America/New_York")
    assert got == [pd.Timestamp("2025-11-02 05:30"), pd.Timestamp("2025-03-09 07:00")]


def test_a_parquet_window_of_naive_local_times_is_exactly_the_slice(tmp_path):
    cfg = load_config(
        env={"MODELGATE_TIMEZONE": "America/New_York", "MODELGATE_KEY_COLUMNS": "ward"},
        path=os.devnull,
    )
    demo_frame(cfg).iloc[: 12 * 200].to_parquet(tmp_path / "d.parquet", index=False)
    start, end = dt.datetime(2024, 3, 1, 5), dt.datetime(2024, 3, 15, 5)
    whole = load_dataset(cfg, tmp_path / "d.parquet").frame
    ts = whole["timestamp"]
    expected = whole[(ts >= start) & (ts < end)].reset_index(drop=True)
    window = load_dataset(cfg, tmp_path / "d.parquet", start=start, end=end).frame
    pd.testing.assert_frame_equal(window, expected)
    # The demo's midnight rows are New York midnights: 05:00 UTC, 04:00 from March 11 (DST begins at 2 AM on the 10th),
    # so the window holds March 15's midnight (04:00 UTC) too.
    hours = window.groupby(window["timestamp"].dt.date)["timestamp"].first().dt.hour
    assert list(hours[:10]) == [5] * 10 and list(hours[10:]) == [4] * 5 and len(window) == 15 * 12
