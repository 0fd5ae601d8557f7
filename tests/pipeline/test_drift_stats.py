"""The large-sample KS p-value equals scipy's in every branch of its distribution, and threads
change nothing but the time."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from pipeline.drift import detect_drift
from pipeline.drift_stats import EXACT_KS_MAX, ks_p_value, ks_sorted, smirnov_sf
from pipeline.threads import available_cores, map_ordered, thread_limit


@pytest.mark.parametrize("n", [141, 5_000, 250_000])
def test_smirnov_sf_equals_scipys(n):
    for z in np.linspace(1.0, 14.0, 14):
        x = z / np.sqrt(n)
        want = special.smirnov(n, x)
        if want > 1e-300:
            assert smirnov_sf(n, x) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("n", [10_001, 60_000, 250_000])
def test_large_sample_p_value_equals_scipys_over_every_branch(n):
    """From p near 1 through scipy's series band (n d^2 in [2.2, 370)) to its tail."""
    for z in np.linspace(0.2, 6.0, 30):
        d = z / np.sqrt(n / 2)
        want = float(np.clip(stats.kstwo.sf(d, round(n / 2)), 0, 1))
        assert abs(ks_p_value(d, n, n) - want) < 1e-7 * max(1.0, want)
        if want > 1e-7:
            assert ks_p_value(d, n, n) == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(20_000, 20_000, 0.035), (50_000, 12_000, 0.03), (300_000, 200_000, 0.008)],
)
def test_ks_sorted_equals_ks_2samp_in_the_series_band(n, m, shift):
    rng = np.random.default_rng(n - m)
    a, b = np.sort(rng.normal(size=n)), np.sort(rng.normal(shift, 1, size=m))
    ours, theirs = ks_sorted(a, b), stats.ks_2samp(a, b)
    assert max(n, m) > EXACT_KS_MAX
    assert abs(ours.statistic - theirs.statistic) < 1e-12
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-8)
    assert 1e-7 < theirs.pvalue < 0.05  # the band where scipy is slow and the series is summed here


def _frames(rows: int, cols: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    ref = {f"x{i}": rng.normal(size=rows) for i in range(cols)}
    cur = {f"x{i}": rng.normal(0.02 * i, 1, size=rows) for i in range(cols)}
    ref["site"] = rng.choice(list("abc"), size=rows)
    cur["site"] = rng.choice(list("abcd"), size=rows)
    ref["x1"][::7] = np.nan
    return pd.DataFrame(ref), pd.DataFrame(cur)


def test_threads_change_nothing_but_the_time():
    ref, cur = _frames(30_000, 6)
    one = detect_drift(ref, cur, n_threads=1).to_dict()
    four = detect_drift(ref, cur, n_threads=4).to_dict()
    assert one == four
    assert one["features"][0]["name"] == "x0"  # input order, whatever finished first


def test_detect_drift_uses_the_threads_it_is_given(monkeypatch):
    seen: set[str] = set()
    import pipeline.drift as drift

    original = drift._numeric

    def spy(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(drift, "_numeric", spy)
    ref, cur = _frames(2_000, 6)
    detect_drift(ref, cur, n_threads=1)
    assert seen == {threading.main_thread().name}
    seen.clear()
    detect_drift(ref, cur, n_threads=3)
    assert seen and all(name.startswith("modelgate") for name in seen)


def test_map_ordered_keeps_order_and_raises_the_first_error():
    assert map_ordered(lambda x: -x, range(50), n_threads=4) == [-x for x in range(50)]

    def boom(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    with pytest.raises(ValueError, match="three"):
        map_ordered(boom, range(10), n_threads=3)


def test_thread_limit_defaults_to_the_available_cores():
    assert thread_limit(0) == available_cores() >= 1
    assert thread_limit(3) == 3
