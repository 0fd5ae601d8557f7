"""Triggers that scale with the data and a minimum interval between automatic retrainings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

from pipeline.reports import VolumeFacts
from pipeline.triggers import evaluate_triggers

AS_OF = dt.datetime(2025, 6, 1, 2)


def _volume(cfg, new_rows, train_rows):
    report = evaluate_triggers(
        cfg,
        as_of=AS_OF,
        run_type="manual",
        force=False,
        facts=VolumeFacts(
            champion_as_of=AS_OF - dt.timedelta(days=5),
            new_rows=new_rows,
            train_rows=train_rows,
            last_retraining=None,
        ),
    )
    return next(c for c in report.checks if c.name == "data_volume")


@pytest.mark.parametrize(
    ("new_rows", "train_rows", "share", "fired", "limit"),
    [
        (1000, 2000, 0.25, False, 1001),  # small data: the absolute 1,000 rows decide (more than)
        (1001, 2000, 0.25, True, 1001),
        (20_000, 330_000, 0.25, False, 82_500),  # real data: a quarter of 330k training rows
        (82_500, 330_000, 0.25, True, 82_500),
        (2000, 330_000, 0.0, True, 1001),  # the relative form turned off
        (1500, None, 0.25, True, 1001),  # training rows unknown
    ],
)
def test_data_volume_scales_with_the_champions_training_rows(
    cfg, new_rows, train_rows, share, fired, limit
):
    check = _volume(dataclasses.replace(cfg, new_rows_share=share), new_rows, train_rows)
    assert (check.fired, check.threshold) == (fired, limit)
    assert str(new_rows) in check.detail and "champion's training run" in check.detail


def _report(cfg, *, run_type, force=False, last_days=None):
    return evaluate_triggers(
        cfg,
        as_of=AS_OF,
        run_type=run_type,
        force=force,
        facts=VolumeFacts(
            champion_as_of=AS_OF - dt.timedelta(days=40),
            new_rows=5000,
            train_rows=4000,
            last_retraining=None if last_days is None else AS_OF - dt.timedelta(days=last_days),
        ),
    )


def test_the_minimum_interval_holds_automatic_triggers_back(cfg):
    held = _report(cfg, run_type="manual", last_days=5)
    assert {"model_age", "data_volume"} <= set(held.reasons) and held.held
    assert held.retrain is False
    interval = next(c for c in held.checks if c.name == "min_interval")
    assert not interval.fired and interval.value == 5.0 and "holds" in interval.detail
    clear = _report(cfg, run_type="manual", last_days=14)
    assert clear.retrain is True and not clear.held
    assert _report(cfg, run_type="manual").retrain is True  # no retraining yet


def test_scheduled_and_forced_runs_train_inside_the_interval(cfg):
    assert _report(cfg, run_type="scheduled", last_days=1).retrain is True
    assert _report(cfg, run_type="manual", force=True, last_days=1).retrain is True


def test_the_old_cooldown_name_still_sets_the_interval(tmp_path):
    from pipeline.config import load_config

    toml = tmp_path / "m.toml"
    toml.write_text("drift_cooldown_days = 3\n")
    assert load_config(env={}, path=toml).min_retrain_interval_days == 3
    env = {"MODELGATE_DRIFT_COOLDOWN_DAYS": "4"}
    assert load_config(env=env, path=os.devnull).min_retrain_interval_days == 4


def test_a_requested_reason_the_run_measured_firing_is_listed_once(cfg):
    report = evaluate_triggers(
        cfg,
        as_of=AS_OF,
        run_type="manual",
        force=False,
        facts=VolumeFacts(
            champion_as_of=AS_OF - dt.timedelta(days=5),
            new_rows=5000,
            train_rows=4000,
            last_retraining=None,
        ),
        extra=("data_volume", "data_drift", "data_drift"),
    )
    assert report.reasons == ("data_volume", "data_drift")
    requested = [c for c in report.checks if c.detail.startswith("requested by the caller")]
    assert [c.name for c in requested] == ["data_drift"]
