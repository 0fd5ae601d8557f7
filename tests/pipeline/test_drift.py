"""Drift statistics: equal to scipy and a reference PSI, properties, edge cases, false alarms, power."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from pipeline.drift import DriftThresholds, detect_drift, ks, profile_frame, psi


def reference_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """The textbook PSI: decile edges of the reference, open ends, floor for empty bins."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    total = 0.0
    for lo, hi in itertools.pairwise(full):
        r = max(np.mean((ref > lo) & (ref <= hi)), 1e-4)
        c = max(np.mean((cur > lo) & (cur <= hi)), 1e-4)
        total += (c - r) * np.log(c / r)
    return total


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [
        (40, 70, 0.0),
        (40, 70, 1.0),
        (3000, 5000, 0.05),
        (9000, 10000, 0.0),
        (20000, 30000, 0.0),
        (20000, 30000, 0.02),
        (50000, 12000, 0.05),
        (100000, 100000, 0.01),
    ],
)
def test_ks_equals_scipy(n, m, shift):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    ours, theirs = ks(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert abs(ours.p_value - theirs.pvalue) < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_psi_equals_the_reference_implementation(seed):
    rng = np.random.default_rng(seed)
    a = rng.gamma(2, size=5000)
    b = rng.gamma(2.2, size=3000) + (seed - 2) * 0.1
    assert psi(a, b) == pytest.approx(reference_psi(a, b), rel=1e-12, abs=1e-12)


finite = arrays(np.float64, st.integers(20, 300), elements=st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(x=finite)
def test_psi_of_a_sample_with_itself_is_zero(x):
    assert psi(x, x) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(x=finite, y=finite)
def test_psi_is_never_negative(x, y):
    assert psi(x, y) >= 0


# Integers up to 1e5 (and their cubes) are exact in float64, so x**3 + 7 is strictly increasing there;
# a transform that rounds (arctan, exp) would merge neighbouring values and change D legitimately.
exact_ints = arrays(
    np.float64, st.integers(20, 300), elements=st.integers(-(10**5), 10**5).map(float)
)


@settings(max_examples=60, deadline=None)
@given(x=exact_ints, y=exact_ints, seed=st.integers(0, 1000))
def test_ks_is_invariant_to_order_and_monotone_transforms(x, y, seed):
    base = ks(x, y)
    rng = np.random.default_rng(seed)
    shuffled = ks(rng.permutation(x), rng.permutation(y))
    cubed = ks(x**3 + 7, y**3 + 7)  # strictly increasing
    assert shuffled.statistic == base.statistic
    assert cubed.statistic == base.statistic


def _frame(rng, n, k=20, shift=0.0, missing=0.0):
    f = pd.DataFrame({f"x{i:02d}": rng.normal(size=n) for i in range(k)})
    f["x00"] += shift
    if missing:
        f.loc[rng.random(n) < missing, "x01"] = np.nan
    return f


IMPORTANCE = {f"x{i:02d}": 1.0 / (i + 1) for i in range(20)}  # x00, x01, x02 are the top 3


def test_profile_is_close_to_the_full_data_statistics():
    rng = np.random.default_rng(3)
    ref, cur = _frame(rng, 50_000, k=4), _frame(rng, 20_000, k=4, shift=0.1)
    cur["x03"] = np.round(cur["x03"], 1)  # ties
    ref["x03"] = np.round(ref["x03"], 1)
    exact = detect_drift(ref, cur)
    fast = detect_drift(profile_frame(ref, list(ref.columns), []), cur)
    for e, f in zip(exact.features, fast.features, strict=True):
        assert abs(e.ks - f.ks) <= 0.002, e.name
        assert f.psi == pytest.approx(e.psi, abs=1e-12)
        assert f.wasserstein == pytest.approx(e.wasserstein, rel=0.03, abs=0.002)
        assert e.drifted == f.drifted


@pytest.mark.parametrize("reps", [8])
def test_no_false_alarms_on_twenty_null_features(reps):
    """100k rows, 20 independent features, no drift: the dataset rule stays quiet (bench runs 100)."""
    rng = np.random.default_rng(11)
    profile = profile_frame(_frame(rng, 100_000), list(IMPORTANCE), [])
    alarms = sum(
        detect_drift(profile, _frame(rng, 100_000), importance=IMPORTANCE).drift_detected
        for _ in range(reps)
    )
    assert alarms == 0


def test_a_quarter_sigma_shift_in_an_important_feature_is_flagged():
    rng = np.random.default_rng(12)
    profile = profile_frame(_frame(rng, 100_000), list(IMPORTANCE), [])
    report = detect_drift(profile, _frame(rng, 100_000, shift=0.25), importance=IMPORTANCE)
    assert report.drift_detected and report.drift_type == "data" and report.affected == ("x00",)
    assert "x00" in report.recommendation and report.drift_score >= 1


def test_a_thirty_point_rise_in_missing_share_is_flagged():
    rng = np.random.default_rng(13)
    profile = profile_frame(_frame(rng, 20_000), list(IMPORTANCE), [])
    report = detect_drift(profile, _frame(rng, 20_000, missing=0.3), importance=IMPORTANCE)
    (x01,) = [f for f in report.features if f.name == "x01"]
    assert x01.drifted and x01.missing_delta == pytest.approx(0.3, abs=0.02)
    assert report.drift_detected and "missing share" in " ".join(x01.reasons)


def test_significance_can_be_required_after_bh():
    rng = np.random.default_rng(14)
    ref, cur = _frame(rng, 400, k=3), _frame(rng, 250, k=3)
    loose = detect_drift(ref, cur, thresholds=DriftThresholds(ks=0.01))
    strict = detect_drift(ref, cur, thresholds=DriftThresholds(ks=0.01, require_significance=True))
    assert all(f.drifted for f in loose.features)
    assert not any(f.drifted for f in strict.features)
    assert all(f.p_adjusted is not None and f.p_adjusted >= f.p_value for f in strict.features)


def test_edge_cases_have_defined_results():
    rng = np.random.default_rng(15)
    n = 500
    ref = pd.DataFrame(
        {
            "const": np.ones(n),
            "nan": np.full(n, np.nan),
            "cat": rng.choice(["a", "b"], n),
            "mixed": rng.choice(["1", "2", "x"], n),
        }
    )
    cur = pd.DataFrame(
        {
            "const": np.ones(n),
            "nan": np.full(n, np.nan),
            "cat": rng.choice(["a", "c"], n),
            "mixed": rng.choice(["1", "2", "x"], n),
        }
    )
    report = detect_drift(ref, cur, categorical=["cat", "mixed"])
    by = {f.name: f for f in report.features}
    assert not by["const"].drifted and by["const"].ks == 0 and by["const"].psi == 0
    assert not by["nan"].drifted and by["nan"].missing_delta == 0 and by["nan"].psi == 0
    assert by["cat"].drifted and by["cat"].psi > 1  # 'c' lands in the unseen bucket
    assert not by["mixed"].drifted
    assert all(np.isfinite(f.score) for f in report.features)


@pytest.mark.parametrize("rows", [0, 1, 199])
def test_small_windows_say_insufficient_data(rows):
    rng = np.random.default_rng(16)
    report = detect_drift(_frame(rng, 1000, k=2), _frame(rng, 1000, k=2).iloc[:rows])
    assert report.status == "insufficient_data" and not report.drift_detected
    assert "Insufficient data" in report.recommendation and report.features == ()


def test_a_missing_current_column_is_a_clear_error():
    from pipeline.errors import DataValidationError

    rng = np.random.default_rng(17)
    with pytest.raises(DataValidationError, match="column 'x01' of the reference is missing"):
        detect_drift(
            _frame(rng, 300, k=2),
            _frame(rng, 300, k=2).drop(columns="x01"),
            features=["x00", "x01"],
        )


@pytest.mark.parametrize(
    ("higher", "ref", "cur", "floor", "drifted", "below"),
    [
        (False, 1.0, 1.2, None, True, False),  # MAE 20% worse
        (False, 1.0, 1.1, 1.05, False, True),  # 10% worse: no concept drift, but past the floor
        (True, 0.80, 0.70, None, False, False),  # AUC 12.5% worse
        (True, 0.80, 0.60, 0.65, True, True),
        (False, 1.0, 0.8, None, False, False),  # better
    ],
)
def test_concept_check(higher, ref, cur, floor, drifted, below):
    from pipeline.drift import concept_check

    c = concept_check("m", higher, ref, cur, degradation_limit=0.15, floor=floor)
    assert (c.drifted, c.below_floor) == (drifted, below)
    assert c.degradation == pytest.approx((cur - ref) / ref * (-1 if higher else 1))


def test_concept_drift_makes_the_report_concept_or_both():
    from pipeline.drift import concept_check

    rng = np.random.default_rng(18)
    ref = _frame(rng, 2000, k=3)
    concept = concept_check("mae", False, 1.0, 1.5, degradation_limit=0.15, floor=None)
    quiet = detect_drift(ref, _frame(rng, 2000, k=3), concept=concept)
    loud = detect_drift(ref, _frame(rng, 2000, k=3, shift=1.0), concept=concept)
    assert (
        quiet.drift_type == "concept"
        and quiet.drift_detected
        and "degraded +50.0%" in quiet.recommendation
    )
    assert loud.drift_type == "both" and loud.drift_score >= 1
