"""Partial labels: rows without a target leave training and the holdout, with a count, and stay
for drift; above max_unlabelled_share the run is refused in one line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import numpy as np
import pytest

from pipeline import loop
from pipeline.config import load_config
from pipeline.data import count_rows, demo_frame, load_dataset, split_windows, validate_frame
from pipeline.errors import DataValidationError
from registry import Registry
from tests.conftest import make_env

AS_OF = dt.datetime(2025, 2, 1)


@pytest.fixture(scope="module")
def cfg():
    return load_config(env={}, path=os.devnull)


@pytest.fixture(scope="module")
def frame(cfg):
    """The demo's first 13 months with 3% of the targets blanked (every 33rd row)."""
    f = demo_frame(cfg)
    f = f[f["timestamp"] < "2025-03-01"].reset_index(drop=True)
    return f.assign(occupancy=f["occupancy"].where(f.index % 33 != 5))


def test_unlabelled_rows_leave_the_windows_with_a_count_and_stay_for_drift(cfg, frame):
    ds = validate_frame(frame, cfg, source="partial.csv")
    assert len(ds.frame) == len(frame)  # drift reads every row, labelled or not
    w = split_windows(ds, cfg, AS_OF)
    assert w.unlabelled_train > 0 and w.unlabelled_holdout > 0
    for rows in (w.train, w.holdout):
        assert rows["occupancy"].notna().all()
    ts = ds.frame["timestamp"]
    in_holdout = (ts >= w.holdout_start) & (ts < AS_OF)
    assert len(w.holdout) + w.unlabelled_holdout == int(in_holdout.sum())


def test_too_many_unlabelled_rows_are_refused_naming_the_share(cfg, frame):
    strict = dataclasses.replace(cfg, max_unlabelled_share=0.01)
    ds = validate_frame(frame, strict, source="partial.csv")
    with pytest.raises(DataValidationError, match=r"target 'occupancy' is missing in [\d,]+ of"):
        split_windows(ds, strict, AS_OF)
    with pytest.raises(DataValidationError, match=r"\(3\.0%\); at most 1% may be unlabelled"):
        split_windows(ds, strict, AS_OF)


def test_classification_labels_may_be_missing_and_stay_0_1_ints(cfg, frame):
    clf = dataclasses.replace(
        cfg,
        task="classification",
        target="busy",
        primary_metric="roc_auc",
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
    )
    labelled = frame.assign(
        busy=np.where(frame["occupancy"] > frame["occupancy"].median(), "yes", "no")
    )
    labelled["busy"] = labelled["busy"].where(frame["occupancy"].notna(), None)
    ds = validate_frame(labelled.drop(columns="occupancy"), clf, source="busy.csv")
    w = split_windows(ds, clf, AS_OF)
    assert w.train["busy"].dtype == np.int64 and set(w.train["busy"]) == {0, 1}
    assert w.unlabelled_train > 0


def test_the_data_volume_trigger_counts_labelled_rows_only(cfg, frame, tmp_path):
    path = tmp_path / "partial.csv"
    frame.to_csv(path, index=False)
    start, end = dt.datetime(2025, 1, 1), AS_OF
    ts = frame["timestamp"]
    window = frame[(ts >= "2025-01-01") & (ts < "2025-02-01")]
    assert count_rows(cfg, path, start, end) == int(window["occupancy"].notna().sum())
    assert count_rows(cfg, path, start, end) < len(window)


def test_a_run_records_what_it_left_out(frame, tmp_path):
    """Through the loop's own steps: the comparison stores the unlabelled rows it left out and
    the notification facts carry them."""
    path = tmp_path / "partial.csv"
    frame.to_csv(path, index=False)
    cfg = load_config(env=make_env(tmp_path / "mg"), path=os.devnull)
    ctx = loop.RunContext(run_id="partial", as_of=AS_OF, force=True, data_path=path)
    with Registry.open(cfg, create=True) as reg:
        loop.check_triggers(cfg, reg, ctx)
        v = loop.train_challenger(cfg, reg, ctx)["version"]
        loop.evaluate_challenger(cfg, reg, ctx, v)
        comp = reg.comparison("partial")
        facts = reg.comparison_facts("partial")
    ds = load_dataset(cfg, path)
    w = split_windows(ds, cfg, AS_OF)
    assert comp["unlabelled_holdout"] == w.unlabelled_holdout > 0
    assert comp["unlabelled_train"] == w.unlabelled_train > 0
    assert comp["n_holdout"] == len(w.holdout)
    assert facts["unlabelled_holdout"] == w.unlabelled_holdout
