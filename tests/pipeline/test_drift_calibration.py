"""The exact two-frame path equals scipy; calibrated limits stay calm on seasonal nulls and still
catch real shifts; the windowed calibration equals checking every window one by one."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from pipeline.drift import DriftThresholds, detect_drift, profile_frame
from pipeline.drift_stats import sorted_distances, sorted_quantiles


# ----------------------------------------------------------------------------- exact path
@pytest.mark.parametrize(
    ("n", "m", "shift", "discrete"),
    [
        (50, 80, 0.0, False),
        (20_000, 30_000, 0.02, False),
        (100_000, 60_000, 0.1, False),
        (30_000, 30_000, 0.0, True),  # many ties across both samples
        (12_000, 50_000, 0.3, True),
    ],
)
def test_sorted_distances_equal_scipy(n, m, shift, discrete):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    if discrete:
        a, b = np.round(a * 3), np.round(b * 3)
    for block in (997, 1 << 15):
        d, w = sorted_distances(np.sort(a), np.sort(b), block=block)
        assert abs(d - stats.ks_2samp(a, b).statistic) < 1e-9
        assert abs(w - stats.wasserstein_distance(a, b)) < 1e-9


samples = arrays(np.float64, st.integers(1, 200), elements=st.integers(-50, 50).map(float))


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")
@settings(max_examples=80, deadline=None)
@given(a=samples, b=samples)
def test_sorted_distances_equal_scipy_on_any_small_sample(a, b):
    d, w = sorted_distances(np.sort(a), np.sort(b))
    assert abs(d - stats.ks_2samp(a, b).statistic) < 1e-9
    assert abs(w - stats.wasserstein_distance(a, b)) < 1e-9
    for block in (1, 3, 16):  # blocks boundaries inside runs of ties, and empty current parts
        assert sorted_distances(np.sort(a), np.sort(b), block=block) == pytest.approx(
            (d, w), abs=1e-9
        )


@settings(max_examples=60, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)))
def test_sorted_quantiles_equal_numpy(x):
    x = np.sort(x)
    probs = np.linspace(0, 1, 1001)
    assert np.array_equal(sorted_quantiles(x, probs), np.quantile(x, probs))


def test_two_frame_detect_drift_reports_scipys_statistics():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=30_000) for i in range(3)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.05 * i, 1, size=20_000) for i in range(3)})
    report = detect_drift(ref, cur)
    for f in report.features:
        res = stats.ks_2samp(ref[f.name], cur[f.name])
        assert abs(f.ks - res.statistic) < 1e-9
        assert abs(f.p_value - res.pvalue) < 1e-6
        w = stats.wasserstein_distance(ref[f.name], cur[f.name]) / ref[f.name].std(ddof=0)
        assert abs(f.wasserstein - w) < 1e-9


# ----------------------------------------------------------------------------- calibration
def _seasonal_frame(rng: np.random.Generator, days: int, start: str, rows_per_day: int):
    """Twenty features: a sinusoidal (yearly) one, a month, and eighteen stationary normals."""
    t = pd.date_range(start, periods=days * rows_per_day, freq=f"{86400 // rows_per_day}s")
    doy = t.day_of_year.to_numpy()
    n = len(t)
    frame = {
        "timestamp": t,
        "temperature": 10 - 9 * np.cos(2 * np.pi * (doy - 15) / 365.25) + rng.normal(0, 2, n),
        "month": t.month.to_numpy().astype(float),
    }
    for i in range(18):
        frame[f"x{i}"] = rng.normal(size=n)
    return pd.DataFrame(frame)


FEATURES = ["temperature", "month", *(f"x{i}" for i in range(18))]


def _windows(frame: pd.DataFrame, ends: list[pd.Timestamp], days: int):
    ts = frame["timestamp"]
    for end in ends:
        yield frame.loc[(ts >= end - pd.Timedelta(days=days)) & (ts < end)]


def test_calibration_equals_checking_every_reference_window():
    rng = np.random.default_rng(0)
    ref = _seasonal_frame(rng, 120, "2024-01-01", 24)
    ref.loc[rng.random(len(ref)) < 0.05, "x0"] = np.nan
    profile = profile_frame(ref, FEATURES, [], timestamp="timestamp", window_days=30, min_rows=1)
    cal = profile["calibration"]
    assert cal["windows"] == 120 - 30 + 1
    ends = list(pd.date_range("2024-01-31", periods=cal["windows"], freq="D"))
    raw = DriftThresholds(calibrated=False, min_rows=1)
    by_hand = {f: {"ks": [], "psi": [], "missing": []} for f in FEATURES}
    for window in _windows(ref, ends, 30):
        for f in detect_drift(profile, window, features=FEATURES, thresholds=raw).features:
            by_hand[f.name]["ks"].append(f.ks)
            by_hand[f.name]["psi"].append(f.psi)
            by_hand[f.name]["missing"].append(abs(f.missing_delta))
    for name in FEATURES:
        for stat in ("ks", "psi", "missing"):
            values = np.array(by_hand[name][stat])
            assert cal["columns"][name][stat]["max"] == pytest.approx(values.max(), abs=2e-6)
            assert cal["columns"][name][stat]["mean"] == pytest.approx(values.mean(), abs=2e-6)


def test_seasonal_nulls_stay_calm_and_real_shifts_are_caught():
    """A year of reference with a full seasonal period, then a second year with no change:
    at 100k rows × 20 features (100k current rows a window) false alarms stay at or under 5%;
    the fixed floors alone flag the seasonal features in every window."""
    rng = np.random.default_rng(11)
    days, per_day = 366, 24 * 12  # ~105k rows a year; a 30-day window holds ~8.6k
    ref = _seasonal_frame(rng, days, "2023-01-01", per_day)
    later = _seasonal_frame(rng, days, "2024-01-01", per_day)
    profile = profile_frame(ref, FEATURES, [], timestamp="timestamp", window_days=30)
    ends = list(pd.date_range("2024-02-01", "2024-12-31", freq="7D"))
    calibrated, fixed = DriftThresholds(), DriftThresholds(calibrated=False)
    alarms = floors = 0
    for window in _windows(later, ends, 30):
        alarms += bool(detect_drift(profile, window, thresholds=calibrated).affected)
        floors += "temperature" in detect_drift(profile, window, thresholds=fixed).affected
    assert alarms / len(ends) <= 0.05
    assert floors / len(ends) >= 0.9  # what the old fixed thresholds did all year
    # A 0.5 sd mean shift in a stationary feature, and in the seasonal one, a week long.
    window = next(_windows(later, [pd.Timestamp("2024-06-08")], 7)).copy()
    window["x3"] += 0.5
    assert "x3" in detect_drift(profile, window, thresholds=calibrated).affected
    window["temperature"] += 0.5 * ref["temperature"].std()
    report = detect_drift(profile, window, thresholds=calibrated)
    assert report.features[1].name == "month"  # order kept
    assert "x3" in report.affected


def test_a_new_category_taking_thirty_percent_is_caught():
    rng = np.random.default_rng(5)
    t = pd.date_range("2024-01-01", periods=365 * 48, freq="30min")
    ref = pd.DataFrame(
        {"timestamp": t, "carrier": rng.choice(["AA", "B6", "DL", "UA"], size=len(t))}
    )
    profile = profile_frame(ref, ["carrier"], ["carrier"], timestamp="timestamp", window_days=7)
    cur = pd.DataFrame({"carrier": rng.choice(["AA", "B6", "DL", "UA"], size=2000)})
    assert not detect_drift(profile, cur).affected
    cur.loc[:599, "carrier"] = "NEW"
    report = detect_drift(profile, cur)
    assert report.affected == ("carrier",)
    assert "PSI" in report.features[0].reasons[0]


def test_limits_say_which_rule_applies():
    rng = np.random.default_rng(2)
    ref = _seasonal_frame(rng, 366, "2023-01-01", 24)
    profile = profile_frame(ref, FEATURES, [], timestamp="timestamp", window_days=30)
    cur = next(_windows(ref, [pd.Timestamp("2023-07-01")], 30)).copy()
    cur["x1"] += 1.0
    report = detect_drift(profile, cur)
    by = {f.name: f for f in report.features}
    assert by["month"].rules["ks"] == "calibrated" and by["month"].limits["ks"] > 0.5
    # A steady feature is judged against its own windows' noise, well below the fixed 0.08.
    assert by["x2"].rules == {"ks": "calibrated", "psi": "calibrated", "missing": "floor"}
    assert 0.03 <= by["x2"].limits["ks"] < 0.08 and not by["x2"].drifted
    assert by["x1"].drifted and "minimum effect 0.03" in by["x1"].reasons[1]
    assert not by["month"].drifted and by["month"].score < 1
    assert report.thresholds["calibrated_windows"] == 366 - 30 + 1
    # Without calibration the same check flags the season.
    fixed = detect_drift(profile, cur, thresholds=DriftThresholds(calibrated=False))
    assert {"month", "temperature"} <= set(fixed.affected)


def test_a_reference_shorter_than_the_window_has_no_calibration():
    rng = np.random.default_rng(1)
    ref = _seasonal_frame(rng, 10, "2024-01-01", 48)
    profile = profile_frame(ref, FEATURES, [], timestamp="timestamp", window_days=30)
    assert profile["calibration"]["windows"] == 0
    report = detect_drift(profile, ref)
    assert all(f.rules["ks"] == "floor" for f in report.features)
    assert dt.datetime.fromisoformat(profile["calibration"]["start"]).year == 2024


def test_concept_calibration_follows_the_metrics_own_swing():
    from pipeline.drift import concept_check
    from pipeline.drift_profile import calibrate_concept

    rng = np.random.default_rng(4)
    t = pd.Series(pd.date_range("2024-01-01", periods=120 * 50, freq="h"))
    noise = 1 + 0.5 * (t.dt.day_of_year.to_numpy() % 14 < 7)  # loud weeks and quiet weeks
    y = rng.normal(0, noise)
    pred = np.zeros(len(y))

    def mae(a, b):
        return float(np.mean(np.abs(a - b)))

    cal = calibrate_concept(t, y, pred, mae, higher_is_better=False, window_days=7, min_rows=24)
    by_hand = []
    for d in range(int((t.iloc[-1] - t.iloc[0]).days) - 7 + 2):
        lo = t.iloc[0].normalize() + pd.Timedelta(days=d)
        m = ((t >= lo) & (t < lo + pd.Timedelta(days=7))).to_numpy()
        if m.sum() >= 24:
            by_hand.append(mae(y[m], pred[m]))
    v = np.array(by_hand)
    worse = (v - v.mean()) / v.mean()
    assert cal["windows"] == len(v)
    assert cal["max"] == pytest.approx(worse.max(), abs=1e-6)
    assert cal["sd"] == pytest.approx(worse.std(ddof=1), abs=1e-6)
    # A 20% worse week is within this data's own swing; the default 15% alone would call it drift.
    assert concept_check("mae", False, 1.0, 1.2, degradation_limit=0.15, floor=None).drifted
    check = concept_check(
        "mae", False, 1.0, 1.2, degradation_limit=0.15, floor=None, calibration=cal
    )
    assert not check.drifted and check.rule == "calibrated" and check.limit > 0.2
    assert concept_check(
        "mae", False, 1.0, 2.0, degradation_limit=0.15, floor=None, calibration=cal
    ).drifted
