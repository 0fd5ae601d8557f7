"""Demo data and time windows: reproducible, drifting where scripted, never looking past as_of."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.data import (
    Schema,
    demo_frame,
    fingerprint,
    load_dataset,
    split_windows,
    validate_frame,
)
from pipeline.errors import DataValidationError


@pytest.fixture(scope="module")
def cfg():
    return load_config(env={}, path=os.devnull)


def test_demo_is_reproducible_and_seeded(cfg):
    a, b = demo_frame(cfg), demo_frame(cfg)
    pd.testing.assert_frame_equal(a, b)
    other = demo_frame(load_config(env={"MODELGATE_SEED": "7"}, path=os.devnull))
    assert not a["occupancy"].equals(other["occupancy"])
    assert a.groupby("timestamp")["ward"].nunique().eq(cfg.demo_wards).all()
    assert {
        "timestamp",
        "ward",
        "ward_type",
        "los_days",
        "emergency_admissions",
        "occupancy",
    } <= set(a.columns)


def test_demo_has_its_scripted_drifts(cfg):
    f = demo_frame(cfg)
    before = f[(f.timestamp >= "2024-05-01") & (f.timestamp < "2024-09-01")]
    after = f[(f.timestamp >= "2025-05-01") & (f.timestamp < "2025-07-01")]
    same_season = f[(f.timestamp >= "2024-05-01") & (f.timestamp < "2024-07-01")]
    assert after.emergency_admissions.mean() > 1.3 * same_season.emergency_admissions.mean()

    # Concept drift: the same inputs fill more beds after the bottleneck starts.
    def x(d):
        return np.column_stack(
            [d.emergency_admissions + d.planned_admissions, d.los_days, np.ones(len(d))]
        )

    coef, *_ = np.linalg.lstsq(x(before), before.occupancy, rcond=None)
    late = f[(f.timestamp >= "2025-08-01") & (f.timestamp < "2025-10-01")]
    assert np.mean(late.occupancy - x(late) @ coef) > 3 * abs(
        np.mean(before.occupancy - x(before) @ coef)
    )


def test_windows_never_look_past_as_of(cfg):
    ds = load_dataset(cfg)
    as_of = dt.datetime(2025, 3, 1, 2)
    w = split_windows(ds, cfg, as_of)
    assert w.holdout.timestamp.max() < as_of and w.train.timestamp.max() < w.holdout_start
    assert w.holdout.timestamp.min() >= as_of - dt.timedelta(days=cfg.holdout_days)
    assert w.train.timestamp.min() >= w.holdout_start - dt.timedelta(days=cfg.train_days)
    assert w.holdout_start == as_of - dt.timedelta(days=cfg.holdout_days)


def test_csv_parquet_and_folder_give_the_same_rows(cfg, tmp_path):
    f = demo_frame(cfg)
    f = f[f.timestamp < "2024-03-01"]
    f.to_csv(tmp_path / "d.csv", index=False)
    f.to_parquet(tmp_path / "d.parquet")
    (tmp_path / "dir").mkdir()
    f.iloc[:500].to_csv(tmp_path / "dir" / "a.csv", index=False)
    f.iloc[500:].to_csv(tmp_path / "dir" / "b.csv", index=False)
    frames = [load_dataset(cfg, tmp_path / name).frame for name in ("d.csv", "d.parquet", "dir")]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other, check_dtype=False)


def test_champion_schema_is_enforced(cfg):
    f = demo_frame(cfg).iloc[:1000]
    schema = validate_frame(f, cfg, source="x").schema
    with pytest.raises(DataValidationError, match="unexpected column 'new'"):
        validate_frame(f.assign(new=1.0), cfg, source="x", expected=schema)
    changed = Schema(
        features=schema.features,
        categorical=(*schema.categorical, "capacity"),
        target=schema.target,
        timestamp=schema.timestamp,
    )
    assert validate_frame(f, cfg, source="x", expected=changed).frame["capacity"].dtype == object
    as_text = f.assign(ward_type=np.arange(len(f)) % 3)  # numbers where the champion saw categories
    assert (
        validate_frame(as_text, cfg, source="x", expected=schema).schema.categorical
        == schema.categorical
    )


def test_fingerprint_is_stable_and_sensitive(cfg):
    f = demo_frame(cfg).iloc[:500].copy()
    assert fingerprint(f) == fingerprint(f.copy())
    f.loc[3, "occupancy"] += 0.01
    assert fingerprint(f) != fingerprint(demo_frame(cfg).iloc[:500])
