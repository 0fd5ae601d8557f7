"""The built-in demo source: a hospital's daily bed occupancy per ward, with a scripted data
and concept drift. Seeded and reproducible."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from pipeline.config import Config

DEMO_SOURCE = "demo data"
OVERFLOW = (
    "overflow"  # with target = "overflow": 1 when a ward's occupancy is half its capacity or more
)
DEMO_DAYS = 3 * 366
WARD_TYPES = ("medical", "surgical", "icu", "pediatric", "maternity", "geriatric")
_LOS_BY_TYPE = {
    "medical": 5.0,
    "surgical": 4.0,
    "icu": 7.0,
    "pediatric": 3.0,
    "maternity": 2.5,
    "geriatric": 9.0,
}


# --------------------------------------------------------------------------------------------
def demo_frame(cfg: Config) -> pd.DataFrame:
    """The built-in demo: one row per ward and day, seeded and reproducible.

    From ``demo_data_drift_date`` emergency admissions run about 45% higher (a new catchment area:
    data drift); from ``demo_concept_drift_date`` a discharge bottleneck makes long stays fill beds
    faster (the target's relation to ``los_days`` changes: concept drift). With ``target =
    "overflow"`` the target is a flag, a ward at half its capacity or more, in place of the
    occupancy it comes from (the demo fleet's classification model).
    """
    frame = _demo_frame(
        cfg.demo_start,
        cfg.demo_wards,
        cfg.seed,
        cfg.demo_data_drift_date,
        cfg.demo_concept_drift_date,
    ).copy()
    if cfg.target == OVERFLOW:  # the demo fleet's classifier: is a ward above half its beds?
        frame[OVERFLOW] = (frame["occupancy"] >= 0.5 * frame["capacity"]).astype("int64")
        frame = frame.drop(columns="occupancy")  # the flag's source is not a feature of it
    return frame


@lru_cache(maxsize=4)
def _demo_frame(
    start: str, wards: int, seed: int, drift_date: str, concept_date: str
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=DEMO_DAYS, freq="D")
    n_days = len(days)
    ward_names = [f"W{i + 1:02d}" for i in range(wards)]
    ward_types = [WARD_TYPES[i % len(WARD_TYPES)] for i in range(wards)]
    capacity = rng.integers(18, 61, size=wards).astype(float)

    doy = days.day_of_year.to_numpy()
    dow = days.day_of_week.to_numpy()
    season = np.cos(2 * np.pi * (doy - 15) / 365.25)  # +1 mid-January, -1 mid-July
    temp = 11 - 9 * season + rng.normal(0, 3, n_days)
    flu = np.clip(25 + 35 * np.maximum(season, 0) ** 2 + rng.normal(0, 6, n_days), 0, None)
    drift = days >= pd.Timestamp(drift_date)
    concept = days >= pd.Timestamp(concept_date)

    frames = []
    for w in range(wards):
        wt = ward_types[w]
        cap = capacity[w]
        weekday = np.where(dow < 5, 1.0, 0.7)
        emerg_rate = cap * 0.05 * (1 + 0.08 * np.maximum(season, 0)) * np.where(drift, 1.45, 1.0)
        emergency = rng.poisson(emerg_rate).astype(float)
        planned = rng.poisson(cap * 0.06 * weekday * (1.6 if wt == "surgical" else 1.0)).astype(
            float
        )
        los = np.clip(
            _LOS_BY_TYPE[wt] * (1 + 0.03 * season) + rng.normal(0, 0.8, n_days), 0.5, None
        )
        staff = np.round(cap / 4 * weekday + rng.normal(0, 1.0, n_days), 0)
        admissions = emergency + planned
        # Occupied beds: inflow times length of stay (Little's law) plus flu pressure and noise.
        base = 0.16 * admissions * los + 0.05 * flu * (wt in ("medical", "geriatric", "pediatric"))
        bottleneck = np.where(concept, 0.09 * admissions * los**1.3, 0.0)
        occ = base + bottleneck + 0.25 * cap + rng.normal(0, 1.2, n_days) - 0.8 * (dow >= 5)
        occ = np.clip(occ, 0, cap * 1.15)
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": days,
                    "ward": ward_names[w],
                    "ward_type": wt,
                    "capacity": cap,
                    "day_of_week": dow.astype(np.int64),
                    "month": days.month.to_numpy().astype(np.int64),
                    "outdoor_temp_c": np.round(temp, 1),
                    "flu_index": np.round(flu, 1),
                    "emergency_admissions": emergency,
                    "planned_admissions": planned,
                    "los_days": np.round(los, 2),
                    "staff_on_duty": staff,
                    "occupancy": np.round(occ, 2),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True).sort_values(["timestamp", "ward"], kind="stable")
    return out.reset_index(drop=True)
