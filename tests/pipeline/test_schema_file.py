"""Explicit schemas: 'modelgate schema infer' writes one, and runs with schema_path follow it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest

from pipeline import cli, schema_file
from pipeline.config import load_config
from pipeline.data import load_dataset, split_windows
from pipeline.errors import ConfigError, DataValidationError

HOURS = 24 * 120  # 120 days, two flights an hour
ROWS = 2 * HOURS


def _flights() -> pd.DataFrame:
    """Flights-shaped text: New York local times written US-style (no 2 AM on the day DST
    begins), numbers with thousands separators, an airport code, a zip code (digits, so
    numeric unless the file says otherwise) and a flight number that is the key."""
    rng = np.random.default_rng(0)
    hours = pd.date_range("2025-01-01", periods=HOURS, freq="h", tz="America/New_York")
    t = hours.repeat(2)
    return pd.DataFrame(
        {
            "time": t.strftime("%m/%d/%Y %I:%M %p"),
            "flight": np.arange(ROWS) % 997 + 1000,
            "origin": rng.choice(["EWR", "JFK", "LGA"], ROWS),
            "zip": rng.choice(["07114", "11430", "11371"], ROWS),
            "distance": [f"{d:,}" for d in rng.integers(200, 4000, ROWS)],
            "dep_delay": rng.normal(10, 5, ROWS).round(1),
            "arr_delay": rng.normal(5, 20, ROWS).round(1),
        }
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    frame = _flights()
    frame.to_csv(root / "flights.csv", index=False)
    schema, notes = schema_file.infer(
        pd.read_csv(root / "flights.csv", dtype={"zip": str}),
        source="flights.csv",
        timestamp="time",
        target="arr_delay",
        keys=None,
        timezone="America/New_York",
    )
    text = schema_file.to_toml(schema, notes, source="flights.csv", rows=len(frame))
    # The user's edit: zip codes are digits but categories.
    edited = text.replace(
        '[columns."zip"]\nkind = "numeric"', '[columns."zip"]\nkind = "categorical"'
    )
    assert edited != text
    (root / "schema.toml").write_text(edited)
    return {"root": root, "schema": schema, "text": text, "frame": frame}


def test_infer_writes_kinds_levels_format_zone_and_keys(written):
    schema, text = written["schema"], written["text"]
    kinds = dict(schema.kinds)
    assert kinds["distance"] == "numeric"  # "1,400" is a number, not a category
    assert kinds["origin"] == "categorical" and kinds["zip"] == "numeric"  # digits
    assert dict(schema.levels)["origin"] == ("EWR", "JFK", "LGA")
    assert schema.timestamp_format == "%m/%d/%Y %I:%M %p"
    assert schema.keys == ("flight",)
    assert 'timezone = "America/New_York"' in text
    loaded = schema_file.load(written["root"] / "schema.toml")
    assert dict(loaded.kinds) == {**kinds, "zip": "categorical"}  # with the user's edit
    assert dataclasses.replace(loaded, kinds=schema.kinds, path="") == schema


def _cfg(written, **settings):
    env = {
        "MODELGATE_TARGET": "arr_delay",
        "MODELGATE_TIMESTAMP_COLUMN": "time",
        "MODELGATE_TIMEZONE": "America/New_York",
        "MODELGATE_SCHEMA_PATH": str(written["root"] / "schema.toml"),
        "MODELGATE_TRAIN_DAYS": "60",
        "MODELGATE_HOLDOUT_DAYS": "20",
    }
    env.update({f"MODELGATE_{k.upper()}": str(v) for k, v in settings.items()})
    return load_config(env=env, path=os.devnull)


def test_a_run_follows_the_file_kinds_keys_and_zone(written):
    cfg = _cfg(written)
    ds = load_dataset(cfg, written["root"] / "flights.csv")
    assert "zip" in ds.schema.categorical  # digits, but the file says categorical
    assert "flight" not in ds.schema.features  # a key, not a feature
    assert ds.frame["time"].iloc[0] == pd.Timestamp("2025-01-01 05:00")  # New York to UTC
    assert len(split_windows(ds, cfg, dt.datetime(2025, 4, 1)).holdout) == 2 * 20 * 24


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(time=f["time"].where(f.index != 7, "13/01/2025 05:00")),
            "column 'time' has a date that does not match '%m/%d/%Y %I:%M %p' '13/01/2025 05:00' (row 9",
        ),
        (lambda f: f.drop(columns="zip"), "feature column 'zip' is missing"),
        (lambda f: f.assign(gate="A1"), "unexpected column 'gate' is not in schema.toml"),
        (
            lambda f: f.assign(origin=f["origin"].map({"EWR": "1", "JFK": "2", "LGA": "3"})),
            "schema drift in column 'origin': values {EWR, JFK, LGA} → {1, 2, 3}",
        ),
    ],
    ids=["format", "missing", "extra", "recoded"],
)
def test_data_that_breaks_the_file_is_refused_in_one_line(written, tmp_path, change, message):
    path = tmp_path / "changed.csv"
    change(written["frame"].copy()).to_csv(path, index=False)
    cfg = _cfg(written)
    with pytest.raises(DataValidationError) as err:
        split_windows(load_dataset(cfg, path), cfg, dt.datetime(2025, 4, 1))
    assert message in str(err.value)


def test_the_file_and_the_settings_must_agree(written):
    cfg = _cfg(written, timezone="UTC")
    with pytest.raises(
        ConfigError, match="timezone is 'America/New_York' but the timezone setting is 'UTC'"
    ):
        load_dataset(cfg, written["root"] / "flights.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp = 1", "'timestamp' must be a non-empty string"),
        ('timestamp = "t"\ntarget = "y"\n', "names no [columns.NAME] tables"),
        ('timestamp = "t"\ntarget = "y"\n[columns.y]\nkind = "text"\n', "column 'y' needs kind"),
        ('timestamp = "t"\ntarget = "y"\ncolour = 1\n', "unknown key 'colour'"),
        ("[[", "is not valid TOML"),
    ],
)
def test_a_bad_schema_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "s.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        schema_file.load(path)


def test_the_cli_prints_the_file_and_refuses_a_missing_column(written, capsys, monkeypatch):
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    data = str(written["root"] / "flights.csv")
    assert cli.main(["schema", "infer", data, "--timestamp", "time", "--target", "arr_delay"]) == 0
    out = capsys.readouterr().out
    assert 'timestamp_format = "%m/%d/%Y %I:%M %p"' in out and '[columns."origin"]' in out
    assert cli.main(["schema", "infer", data, "--timestamp", "when"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"modelgate: error: {data}: timestamp column 'when' is missing."]


def test_keys_are_a_pair_when_no_single_column_identifies_rows():
    """As in the real 2013 flights: a flight is its carrier and number (measured there too)."""
    frame = pd.DataFrame(
        {
            "time": ["2025-01-01 05:00"] * 4 + ["2025-01-01 06:00"] * 2,
            "carrier": ["UA", "UA", "AA", "AA", "UA", "AA"],
            "flight": [1, 2, 1, 2, 1, 1],
            "delay": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    schema, notes = schema_file.infer(
        frame, source="f.csv", timestamp="time", target="delay", keys=None
    )
    assert schema.keys == ("carrier", "flight") and notes["keys"].startswith("inferred")
    alone = frame.drop_duplicates("time")
    schema, notes = schema_file.infer(
        alone, source="f.csv", timestamp="time", target="delay", keys=None
    )
    assert schema.keys == () and "timestamp alone" in notes["keys"]
    with pytest.raises(DataValidationError, match="2 rows share their time and carrier: not a key"):
        schema_file.infer(
            frame, source="f.csv", timestamp="time", target="delay", keys=("carrier",)
        )
