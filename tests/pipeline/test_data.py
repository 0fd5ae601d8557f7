"""pipeline.data: the demo source, reading files, validation against a schema, windows, fingerprints."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config, load_config
from pipeline.data import (
    DEMO_DAYS,
    Schema,
    demo_frame,
    fingerprint,
    load_dataset,
    split_windows,
    validate_frame,
)
from pipeline.errors import DataValidationError

SEEDS = (42, 7, 2024)
DEMO_COLUMNS = [
    "timestamp",
    "ward",
    "ward_type",
    "capacity",
    "day_of_week",
    "month",
    "outdoor_temp_c",
    "flu_index",
    "emergency_admissions",
    "planned_admissions",
    "los_days",
    "staff_on_duty",
    "occupancy",
]


def make_cfg(**settings: object) -> Config:
    env = {f"MODELGATE_{k.upper()}": str(v) for k, v in settings.items()}
    return load_config(env=env, path=os.devnull)


@pytest.fixture(scope="module")
def cfg() -> Config:
    return make_cfg(seed=42)


def between(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]


# ------------------------------------------------------------------------------------ demo frame
@pytest.mark.parametrize("seed", SEEDS)
def test_demo_frame_is_reproducible_for_a_seed(seed):
    a, b = demo_frame(make_cfg(seed=seed)), demo_frame(make_cfg(seed=seed))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(("seed", "other"), [(42, 7), (7, 2024)])
def test_a_different_seed_gives_different_data(seed, other):
    a, b = demo_frame(make_cfg(seed=seed)), demo_frame(make_cfg(seed=other))
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    assert not a.equals(b)
    assert not np.allclose(a["occupancy"], b["occupancy"])


def test_demo_frame_returns_a_copy_the_caller_may_change(cfg):
    first = demo_frame(cfg)
    first.loc[0, "occupancy"] = -1.0
    assert demo_frame(cfg).loc[0, "occupancy"] != -1.0


def test_demo_frame_has_the_documented_columns(cfg):
    f = demo_frame(cfg)
    assert list(f.columns) == DEMO_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(f["timestamp"])
    numeric = [c for c in DEMO_COLUMNS if c not in ("timestamp", "ward", "ward_type")]
    assert all(pd.api.types.is_numeric_dtype(f[c]) for c in numeric)
    assert not f.isna().any().any()


@pytest.mark.parametrize("wards", [3, 12])
def test_demo_frame_has_one_row_per_ward_and_day(wards):
    cfg = make_cfg(seed=42, demo_wards=wards)
    f = demo_frame(cfg)
    assert len(f) == DEMO_DAYS * wards
    assert not f.duplicated(["timestamp", "ward"]).any()
    assert f["ward"].nunique() == wards
    assert f.groupby("timestamp")["ward"].nunique().eq(wards).all()
    days = pd.date_range(cfg.demo_start, periods=DEMO_DAYS, freq="D")
    assert (pd.DatetimeIndex(f["timestamp"].unique()) == days).all()
    assert f["timestamp"].is_monotonic_increasing
    # A ward keeps its type and capacity every day.
    assert f.groupby("ward")[["ward_type", "capacity"]].nunique().eq(1).all().all()


@pytest.mark.parametrize("seed", SEEDS)
def test_emergency_admissions_run_higher_after_the_data_drift_date(seed):
    cfg = make_cfg(seed=seed)
    f = demo_frame(cfg)
    drift = pd.Timestamp(cfg.demo_data_drift_date)
    year = pd.DateOffset(years=1)

    def mean(start: pd.Timestamp, end: pd.Timestamp) -> float:
        return float(between(f, str(start), str(end))["emergency_admissions"].mean())

    # The same calendar year before and after the drift date, so the season cancels out.
    after = mean(drift, drift + year) / mean(drift - year, drift)
    # The four months before the drift against the same months a year earlier: no change yet.
    before = mean(drift - pd.DateOffset(months=4), drift) / mean(
        drift - year - pd.DateOffset(months=4), drift - year
    )
    assert after > 1.3
    assert 0.9 < before < 1.1


def _design(d: pd.DataFrame) -> np.ndarray:
    admissions = d["emergency_admissions"] + d["planned_admissions"]
    return np.column_stack([admissions * d["los_days"], d["capacity"], np.ones(len(d))])


@pytest.mark.parametrize("seed", SEEDS)
def test_occupancy_relation_changes_after_the_concept_drift_date(seed):
    cfg = make_cfg(seed=seed)
    f = demo_frame(cfg)
    concept = pd.Timestamp(cfg.demo_concept_drift_date)
    # Fit after the data drift but before the concept drift, so only the relation can change.
    fit = between(f, cfg.demo_data_drift_date, str(concept))
    coef, *_ = np.linalg.lstsq(_design(fit), fit["occupancy"], rcond=None)

    def rmse(d: pd.DataFrame) -> float:
        return float(np.sqrt(np.mean((d["occupancy"] - _design(d) @ coef) ** 2)))

    in_sample = rmse(fit)
    earlier = rmse(between(f, str(concept - pd.DateOffset(months=4)), str(concept)))
    later = rmse(between(f, str(concept), str(concept + pd.DateOffset(months=3))))
    assert earlier < 1.3 * in_sample  # the fit carries to other pre-drift days
    assert later > 2.5 * in_sample  # ... but not past the concept drift
    residual = between(f, str(concept), str(concept + pd.DateOffset(months=3)))
    assert float(np.mean(residual["occupancy"] - _design(residual) @ coef)) > 2  # beds fill up


# ---------------------------------------------------------------------------------- time windows
@pytest.fixture(scope="module")
def demo(cfg):
    return load_dataset(cfg)


AS_OFS = [
    dt.datetime(2025, 3, 1),
    dt.datetime(2025, 3, 1, 2),
    dt.datetime(2025, 8, 17, 13, 30),
    dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("as_of", AS_OFS, ids=str)
@pytest.mark.parametrize(("train_days", "holdout_days"), [(365, 30), (60, 7)])
def test_windows_respect_as_of_holdout_and_training_span(demo, as_of, train_days, holdout_days):
    cfg = make_cfg(seed=42, train_days=train_days, holdout_days=holdout_days)
    w = split_windows(demo, cfg, as_of)
    naive = as_of.replace(tzinfo=None)
    assert w.as_of == naive
    assert w.holdout_start == naive - dt.timedelta(days=holdout_days)
    assert w.train_start == w.holdout_start - dt.timedelta(days=train_days)
    hold, train = w.holdout["timestamp"], w.train["timestamp"]
    assert hold.max() < naive and train.max() < naive  # nothing at or after as_of
    assert hold.min() >= w.holdout_start
    assert train.max() < w.holdout_start  # training strictly before the holdout
    assert train.min() >= w.train_start
    # Daily data: the holdout covers holdout_days days and training spans train_days days.
    assert hold.dt.normalize().nunique() == holdout_days
    assert train.dt.normalize().nunique() == train_days
    assert len(w.train) == train_days * 12 and len(w.holdout) == holdout_days * 12


def test_window_edges_at_midnight(demo, cfg):
    as_of = dt.datetime(2025, 3, 1)
    w = split_windows(demo, cfg, as_of)
    assert w.holdout["timestamp"].max() == pd.Timestamp("2025-02-28")  # as_of itself is out
    assert w.holdout["timestamp"].min() == pd.Timestamp("2025-01-30")  # holdout start is in
    assert w.train["timestamp"].max() == pd.Timestamp("2025-01-29")
    # 365 days before 2025-01-30 (2024 is a leap year); the training start is in.
    assert w.train["timestamp"].min() == pd.Timestamp("2024-01-31")


def test_rows_at_or_after_as_of_cannot_change_the_windows(demo, cfg):
    as_of = dt.datetime(2025, 6, 1, 2)
    frame = demo.frame.copy()
    later = frame["timestamp"] >= as_of
    frame.loc[later, "occupancy"] = 1e6
    frame.loc[later, "ward_type"] = "changed"
    spoiled = type(demo)(frame=frame, schema=demo.schema, source=demo.source)
    truncated = type(demo)(frame=frame[~later], schema=demo.schema, source=demo.source)
    base = split_windows(demo, cfg, as_of)
    for other in (split_windows(spoiled, cfg, as_of), split_windows(truncated, cfg, as_of)):
        pd.testing.assert_frame_equal(base.train, other.train)
        pd.testing.assert_frame_equal(base.holdout, other.holdout)


# ------------------------------------------------------------------------------ reading sources
@pytest.fixture(scope="module")
def sample(cfg):
    f = demo_frame(cfg)
    return between(f, "2024-01-01", "2024-03-01").reset_index(drop=True)


@pytest.fixture(scope="module")
def sources(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    sample.to_csv(root / "data.csv", index=False)
    sample.to_parquet(root / "data.parquet", index=False)
    folder = root / "folder"
    folder.mkdir()
    # Three files, named so that the newest rows come first: the loader sorts by time anyway.
    for name, (start, end) in zip(
        ("a.csv", "b.csv", "c.csv"),
        [("2024-02-10", "2024-03-01"), ("2024-01-20", "2024-02-10"), ("2024-01-01", "2024-01-20")],
        strict=True,
    ):
        between(sample, start, end).to_csv(folder / name, index=False)
    return {"csv": root / "data.csv", "parquet": root / "data.parquet", "folder": folder}


@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
def test_csv_parquet_and_a_folder_give_the_same_frame(cfg, sample, sources, kind):
    expected = validate_frame(sample, cfg, source="memory")
    ds = load_dataset(cfg, sources[kind])
    assert ds.source == str(sources[kind])
    assert ds.schema == expected.schema
    assert len(ds.frame) == len(sample)
    pd.testing.assert_frame_equal(ds.frame, expected.frame, check_dtype=False)
    assert ds.frame["timestamp"].is_monotonic_increasing


def test_all_three_sources_agree_with_each_other(cfg, sources):
    frames = [load_dataset(cfg, sources[k]).frame for k in ("csv", "parquet", "folder")]
    fps = {fingerprint(f.astype({"timestamp": "datetime64[ns]"})) for f in frames}
    assert len(fps) == 1


# ------------------------------------------------------------------------ validation vs a schema
@pytest.fixture(scope="module")
def champion_schema(cfg, sample) -> Schema:
    return validate_frame(sample, cfg, source="champion").schema


def test_the_champions_own_data_matches_its_schema(cfg, sample, champion_schema):
    ds = validate_frame(sample, cfg, source="x", expected=champion_schema)
    assert ds.schema == champion_schema
    assert champion_schema.categorical == ("ward", "ward_type")


@pytest.mark.parametrize("extra", ["bed_colour", "Unnamed: 0"])
def test_an_extra_column_is_an_error(cfg, sample, champion_schema, extra):
    with pytest.raises(DataValidationError, match=f"new.csv: unexpected column '{extra}'"):
        validate_frame(
            sample.assign(**{extra: 1.0}), cfg, source="new.csv", expected=champion_schema
        )


def test_a_missing_feature_is_an_error(cfg, sample, champion_schema):
    with pytest.raises(DataValidationError, match="feature column 'flu_index' is missing"):
        validate_frame(
            sample.drop(columns="flu_index"), cfg, source="new.csv", expected=champion_schema
        )


@pytest.mark.parametrize(
    ("column", "value"),
    [("capacity", "large"), ("los_days", "long"), ("staff_on_duty", "full")],
)
def test_a_numeric_column_that_became_text_is_an_error(cfg, sample, champion_schema, column, value):
    changed = sample.assign(**{column: value})
    with pytest.raises(
        DataValidationError, match=f"new.csv: column '{column}' must be numeric but holds '{value}'"
    ):
        validate_frame(changed, cfg, source="new.csv", expected=champion_schema)


def test_a_numeric_column_that_became_boolean_is_an_error(cfg, sample, champion_schema):
    changed = sample.assign(capacity=sample["capacity"] > 30)
    with pytest.raises(DataValidationError, match="column 'capacity' is boolean"):
        validate_frame(changed, cfg, source="new.csv", expected=champion_schema)


# ---------------------------------------------------------------------------------- fingerprint
def test_fingerprint_is_stable_across_calls_and_copies(sample):
    first = fingerprint(sample)
    assert fingerprint(sample) == first
    assert fingerprint(sample.copy()) == first
    assert fingerprint(sample.set_index(sample.index + 1000)) == first  # the index is not content
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize(
    ("column", "row", "value"),
    [("occupancy", 3, 12.34), ("los_days", 0, 99.0), ("ward", 7, "W99"), ("capacity", 500, 1.0)],
)
def test_fingerprint_changes_with_one_value(sample, column, row, value):
    changed = sample.copy()
    assert changed.loc[row, column] != value
    changed.loc[row, column] = value
    assert fingerprint(changed) != fingerprint(sample)


def test_fingerprint_changes_with_a_column_name_or_row_order(sample):
    assert fingerprint(sample.rename(columns={"ward": "unit"})) != fingerprint(sample)
    assert fingerprint(sample.iloc[::-1]) != fingerprint(sample)


def test_fingerprint_is_the_same_in_another_process(sample):
    small = sample.iloc[:50].reset_index(drop=True)
    code = (
        "import os, pandas as pd\n"
        "from pipeline.config import load_config\n"
        "from pipeline.data import demo_frame, fingerprint\n"
        "f = demo_frame(load_config(env={'MODELGATE_SEED': '42'}, path=os.devnull))\n"
        "print(fingerprint(f.iloc[:50].reset_index(drop=True)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == fingerprint(small)


def test_the_champions_schema_decides_what_is_categorical(cfg):
    f = demo_frame(cfg).iloc[:1000]
    schema = validate_frame(f, cfg, source="x").schema
    changed = Schema(
        features=schema.features,
        categorical=(*schema.categorical, "capacity"),
        target=schema.target,
        timestamp=schema.timestamp,
    )
    assert validate_frame(f, cfg, source="x", expected=changed).frame["capacity"].dtype == object
    as_numbers = f.assign(ward_type=np.arange(len(f)) % 3)  # numbers where it saw categories
    assert (
        validate_frame(as_numbers, cfg, source="x", expected=schema).schema.categorical
        == schema.categorical
    )


def test_keys_never_become_features_unless_named_and_stay_beside_them(cfg):
    """A trial's flight number silently became a feature when 'features' was unset; keys and a
    bootstrap group column are kept beside the features for the baselines and the bootstrap."""
    frame = demo_frame(cfg).head(400).assign(flight=lambda f: np.arange(len(f)) % 37)
    keyed = make_cfg(key_columns="ward,flight", bootstrap_group="ward_type")
    ds = validate_frame(frame, keyed, source="flights.csv", key_columns=keyed.key_columns)
    assert "flight" not in ds.schema.features and "ward" not in ds.schema.features
    assert "ward_type" in ds.schema.features  # a group column may be a feature too
    assert {"ward", "flight"} <= set(ds.frame.columns)
    named = make_cfg(key_columns="ward", features="ward,capacity")
    ds = validate_frame(frame, named, source="flights.csv", key_columns=named.key_columns)
    assert ds.schema.features == ("ward", "capacity")
    plain = validate_frame(frame, cfg, source="flights.csv")  # no keys configured: all columns
    assert "flight" in plain.schema.features


def _typed(cfg, **columns):
    frame = demo_frame(cfg).head(400).reset_index(drop=True)
    return validate_frame(frame.assign(**columns), cfg, source="typed.csv")


def test_numbers_stored_as_text_are_numeric_never_silently_categorical(cfg):
    """A trial's '1,400', '39,02', Parquet '1400' and '?' tokens all became categories."""
    n = 400
    plain = [str(1000 + i) for i in range(n)]
    grouped = [f"{1 + i // 1000},{i % 1000:03d}" for i in range(1000, 1000 + n)]
    tokens = [("?" if i % 40 == 0 else f"{i / 10:.1f}") for i in range(n)]  # 2.5% '?'
    ds = _typed(cfg, staff_text=plain, beds=grouped, dose=tokens, site=["EWR", "JFK"] * (n // 2))
    assert {"staff_text", "beds", "dose"} <= set(ds.schema.numeric)
    assert "site" in ds.schema.categorical
    assert ds.frame["beds"].iloc[0] == 2000.0 and ds.frame["staff_text"].iloc[1] == 1001.0
    assert ds.frame["dose"].isna().sum() == 10
    assert ds.notes == (
        "typed.csv: column 'dose' is numeric; 10 non-numeric values ('?') read as missing.",
    )


def test_a_decimal_comma_is_an_error_until_the_setting_names_it(cfg):
    commas = [f"{i // 100},{i % 100:02d}" for i in range(3900, 4300)]  # 39,00 ... 42,99
    with pytest.raises(
        DataValidationError,
        match=r"column 'temp' holds numbers written with ',' as the decimal mark \('39,00'\); set decimal = ','",
    ):
        _typed(cfg, temp=commas)
    ds = _typed(make_cfg(decimal=","), temp=commas, beds=["1.400"] * 400)
    assert ds.frame["temp"].iloc[2] == pytest.approx(39.02)
    assert ds.frame["beds"].iloc[0] == 1400.0


def test_text_that_is_mostly_not_numbers_stays_categorical(cfg):
    mixed = [("n/a" if i % 10 == 0 else str(i)) for i in range(400)]  # 10% text: not >= 95%
    assert "code" in _typed(cfg, code=mixed).schema.categorical
