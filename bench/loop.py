"""Benchmark the retraining loop. One command: ``make bench`` (or ``python bench/loop.py``).

1. One monthly run through real Airflow (``dag.test`` in one process, as ``modelgate simulate`` does)
   versus the same pipeline steps called directly: the difference is Airflow's overhead per run.
2. The paired bootstrap on 100k holdout rows: the vectorised count-matrix form versus a plain Python
   loop over resamples (one fancy-index and one metric call per resample), as a ratio per resample.

Medians of repeated runs; every ratio is against a baseline run in this same process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import cli, loop  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.evaluation import paired_bootstrap, paired_bootstrap_loop  # noqa: E402
from registry import Registry  # noqa: E402

MONTHS = [dt.datetime(2025, m, 1, 2) for m in range(1, 7)]


def _cfg(home: Path):
    env = {"MODELGATE_HOME": str(home)}
    return load_config(env=env, path=os.devnull), env


def pipeline_only(months: list[dt.datetime]) -> list[float]:
    """The loop's steps without Airflow, one run per month; seconds per run."""
    home = Path(tempfile.mkdtemp(prefix="mg-bench-lib-"))
    cfg, _ = _cfg(home)
    times = []
    with Registry.open(cfg, create=True) as reg:
        for i, as_of in enumerate(months):
            ctx = loop.RunContext(run_id=f"bench-{i}", as_of=as_of, reasons=("schedule",))
            t = time.perf_counter()
            loop.run_in_process(cfg, reg, ctx)
            times.append(time.perf_counter() - t)
    return times


def through_airflow(months: list[dt.datetime]) -> tuple[float, list[float]]:
    """Real DAG runs in one Airflow process; returns (process wall time, seconds per dag.test run)."""
    home = Path(tempfile.mkdtemp(prefix="mg-bench-af-"))
    cfg, env_extra = _cfg(home)
    env = cli.airflow_env(cfg)
    env.update(env_extra)
    env["MODELGATE_CONFIG"] = os.devnull
    Registry.open(cfg, create=True).close()
    subprocess.run(
        [cli._airflow(cfg), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = home / "runs.jsonl"
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dags.runner",
            "--dag-id",
            loop.DAG_ID,
            "--out",
            str(out),
            "--conf",
            json.dumps({"reasons": ["schedule"]}),
            *[m.isoformat() for m in months],
        ],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["state"] == "success" for r in rows), rows
    return wall, [r["seconds"] for r in rows]


def bootstrap(
    metric: str, n: int, resamples: int, loop_resamples: int, repeats: int
) -> dict[str, float]:
    """Milliseconds per resample: vectorised, a loop with numpy, a loop with scikit-learn's metric."""
    from sklearn.metrics import mean_absolute_error, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, n)
    champ = y + rng.normal(0, 3.0, n)
    chall = y + rng.normal(0, 2.9, n)
    if metric == "roc_auc":
        y = (y > 50).astype(float)
        numpy_scorer = None  # no short numpy AUC: the textbook loop calls scikit-learn
        sk = roc_auc_score
    else:
        numpy_scorer = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
        sk = mean_absolute_error
    timings: dict[str, list[float]] = {"vectorised": [], "numpy_loop": [], "sklearn_loop": []}
    for r in range(repeats):
        t = time.perf_counter()
        paired_bootstrap(
            metric, y, champ, chall, n_resamples=resamples, rng=np.random.default_rng(r)
        )
        timings["vectorised"].append((time.perf_counter() - t) / resamples)
        for name, scorer in (("numpy_loop", numpy_scorer), ("sklearn_loop", sk)):
            if scorer is None:
                continue
            t = time.perf_counter()
            paired_bootstrap_loop(
                metric,
                y,
                champ,
                chall,
                n_resamples=loop_resamples,
                rng=np.random.default_rng(r),
                scorer=scorer,
            )
            timings[name].append((time.perf_counter() - t) / loop_resamples)
    return {k: statistics.median(v) * 1e3 for k, v in timings.items() if v}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    months = MONTHS[: args.months]

    print(f"== One monthly run ({len(months)} runs, medians) ==")
    lib = pipeline_only(months)
    wall, af = through_airflow(months)
    lib_med, af_med = statistics.median(lib), statistics.median(af)
    startup = wall - sum(af)
    print(f"pipeline work only (library steps):   {lib_med:6.2f} s per run")
    print(f"through Airflow dag.test (in-process): {af_med:6.2f} s per run")
    print(
        f"Airflow overhead per run:              {af_med - lib_med:6.2f} s ({(af_med - lib_med) / af_med:.0%} of a run)"
    )
    print(f"Airflow process start-up (once):       {startup:6.2f} s")
    print(f"ratio Airflow run / pipeline work:     {af_med / lib_med:6.2f}x")

    print(f"\n== Paired bootstrap, {args.rows:,} holdout rows ({args.repeats} repeats, medians) ==")
    loop_n = max(50, args.resamples // 20)
    for metric in ("mae", "roc_auc"):
        b = bootstrap(metric, args.rows, args.resamples, loop_n, args.repeats)
        vec = b["vectorised"]
        print(
            f"{metric}: vectorised {vec:.3f} ms/resample ({args.resamples} resamples: "
            f"{vec * args.resamples / 1e3:.2f} s)"
        )
        for name in ("numpy_loop", "sklearn_loop"):
            if name in b:
                print(
                    f"{metric}: {name:<12} {b[name]:.3f} ms/resample ({loop_n} resamples)  "
                    f"-> vectorised is {b[name] / vec:.1f}x faster"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
