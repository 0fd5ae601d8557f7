"""Schema drift of a categorical's values: a trial recoded EWR/JFK/LGA as 1/2/3 and the next
challenger, which had seen the new codes, was promoted over a champion that had not."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest

from pipeline import loop, monitor
from pipeline.config import load_config
from pipeline.data import Schema, demo_frame
from pipeline.errors import DataValidationError
from registry import Registry
from tests.conftest import make_env

RECODED = "2025-03-01"
CODES = {"EWR": "1", "JFK": "2", "LGA": "3"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A champion trained on origin EWR/JFK/LGA; the data recodes origin from March 2025 on,
    and a new airport takes 10% of the rows from May."""
    root = tmp_path_factory.mktemp("schema-drift")
    cfg = load_config(env=make_env(root / "mg"), path=os.devnull)
    f = demo_frame(cfg)
    f = f[f["timestamp"] < "2025-07-01"].reset_index(drop=True)
    f["origin"] = np.array(["EWR", "JFK", "LGA"])[f.index % 3]
    late = f["timestamp"] >= RECODED
    recoded = f.assign(origin=f["origin"].where(~late, f["origin"].map(CODES)))
    recoded.to_csv(root / "recoded.csv", index=False)
    grown = f.assign(
        origin=f["origin"].where(~((f["timestamp"] >= "2025-05-01") & (f.index % 10 == 0)), "SWF")
    )
    grown.to_csv(root / "grown.csv", index=False)
    ctx = loop.RunContext(
        run_id="champion", as_of=dt.datetime(2025, 2, 1), force=True, data_path=root / "recoded.csv"
    )
    with Registry.open(cfg, create=True) as reg:
        loop.check_triggers(cfg, reg, ctx)
        v = loop.train_challenger(cfg, reg, ctx)["version"]
        res = loop.evaluate_challenger(cfg, reg, ctx, v)
        loop.promote(cfg, reg, ctx, v, res["champion"])
        schema = Schema.from_dict(reg.get_version(v).schema)
    return {"root": root, "cfg": cfg, "schema": schema}


def test_the_champion_keeps_the_levels_it_was_trained_on(world):
    levels = dict(world["schema"].levels)
    assert levels["origin"] == ("EWR", "JFK", "LGA")
    assert len(levels["ward"]) == 12


def test_a_recoded_category_is_refused_naming_both_value_sets(world):
    cfg = world["cfg"]
    ctx = loop.RunContext(
        run_id="after", as_of=dt.datetime(2025, 4, 1), data_path=world["root"] / "recoded.csv"
    )
    with Registry.open(cfg) as reg:
        before = reg.current_champion()
        with pytest.raises(DataValidationError) as err:
            loop.preflight(cfg, reg, ctx)
        assert "schema drift in column 'origin': values {EWR, JFK, LGA} → {1, 2, 3}; 100%" in str(
            err.value
        )
        assert "the holdout 2025-03-02 to 2025-04-01" in str(err.value)
        # The drift monitor says the same instead of judging drift on codes it cannot compare.
        with pytest.raises(DataValidationError, match="schema drift in column 'origin'"):
            monitor.drift_check(cfg, reg, ctx)
        assert reg.current_champion() == before


def test_a_recoding_inside_the_training_window_only_is_not_schema_drift_of_the_holdout(world):
    """Before the recoding reaches the holdout, nothing is refused (the champion's levels are
    judged on the rows a comparison scores)."""
    cfg = world["cfg"]
    ctx = loop.RunContext(
        run_id="before", as_of=dt.datetime(2025, 2, 20), data_path=world["root"] / "recoded.csv"
    )
    with Registry.open(cfg) as reg:
        assert loop.preflight(cfg, reg, ctx)["holdout_rows"] > 0


def test_a_new_value_in_a_few_rows_is_not_schema_drift(world):
    cfg = world["cfg"]
    ctx = loop.RunContext(
        run_id="grown", as_of=dt.datetime(2025, 6, 1), data_path=world["root"] / "grown.csv"
    )
    with Registry.open(cfg) as reg:
        assert loop.preflight(cfg, reg, ctx)["holdout_rows"] > 0
