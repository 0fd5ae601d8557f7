"""Benchmark drift detection. One command: ``make bench-drift`` (or ``python bench/drift.py``).

For 100k, 500k and 1M rows x 20 numeric columns it times, in this process unless said otherwise:

* ours with the reference profile (what the drift monitor does: only the current window is read);
* ours without a profile (exact statistics from both DataFrames), on every core and on one thread;
* the naive per-column scipy loop (ks_2samp, a histogram PSI, wasserstein_distance), and the same
  loop without Wasserstein (ks_2samp + a 10-bin PSI: the baseline of the two-frame target, >= 5x);
* Evidently's default ``DataDriftPreset`` in its own virtual environment (evidently 0.7 needs
  pandas < 3; the environment is created on first use in bench/.venv-evidently);
* the floor: sorting each current column once.

It prints medians and ratios, then the false-alarm count of the dataset-level rule over 100 seeded
repetitions of 20 independent null features at 100k rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.drift import detect_drift, profile_frame  # noqa: E402
from pipeline.threads import available_cores  # noqa: E402

EVIDENTLY_VENV = REPO / "bench" / ".venv-evidently"
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas<3"]
EVIDENTLY_SCRIPT = """
import json, sys, time
import numpy as np, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.DataFrame(np.load(sys.argv[1]), columns=[f"x{i:02d}" for i in range(int(sys.argv[3]))])
cur = pd.DataFrame(np.load(sys.argv[2]), columns=ref.columns)
times = []
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": times}))
"""


def frames(rows: int, cols: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = [f"x{i:02d}" for i in range(cols)]
    ref = pd.DataFrame({n: rng.normal(size=rows) for n in names})
    cur = pd.DataFrame({n: rng.normal(size=rows) for n in names})
    return ref, cur


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def naive_scipy(
    ref: pd.DataFrame, cur: pd.DataFrame, *, wasserstein: bool = True
) -> list[tuple[float, float, float, float]]:
    out = []
    for c in ref.columns:
        a, b = ref[c].to_numpy(), cur[c].to_numpy()
        res = stats.ks_2samp(a, b)
        edges = np.quantile(a, np.linspace(0, 1, 11))
        edges[0], edges[-1] = -np.inf, np.inf
        pa = np.maximum(np.histogram(a, edges)[0] / len(a), 1e-4)
        pb = np.maximum(np.histogram(b, edges)[0] / len(b), 1e-4)
        out.append(
            (
                float(res.statistic),
                float(res.pvalue),
                float(np.sum((pb - pa) * np.log(pb / pa))),
                float(stats.wasserstein_distance(a, b)) if wasserstein else 0.0,
            )
        )
    return out


def sort_floor(cur: pd.DataFrame) -> None:
    for c in cur.columns:
        np.sort(cur[c].to_numpy())


def evidently_seconds(ref: pd.DataFrame, cur: pd.DataFrame, repeats: int) -> float | None:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"(creating {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_PINS)} …)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_PINS], check=True
        )
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "ref.npy", ref.to_numpy())
        np.save(Path(tmp) / "cur.npy", cur.to_numpy())
        proc = subprocess.run(
            [
                str(python),
                "-c",
                EVIDENTLY_SCRIPT,
                str(Path(tmp) / "ref.npy"),
                str(Path(tmp) / "cur.npy"),
                str(ref.shape[1]),
                str(repeats),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(f"Evidently failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return statistics.median(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def false_alarms(reps: int, rows: int = 100_000, cols: int = 20) -> int:
    importance = {f"x{i:02d}": 1.0 / (i + 1) for i in range(cols)}
    rng = np.random.default_rng(2026)
    ref = pd.DataFrame({n: rng.normal(size=rows) for n in importance})
    profile = profile_frame(ref, list(importance), [])
    alarms = 0
    for _ in range(reps):
        cur = pd.DataFrame({n: rng.normal(size=rows) for n in importance})
        alarms += detect_drift(profile, cur, importance=importance).drift_detected
    return alarms


def one_size(rows: int, args: argparse.Namespace) -> None:
    ref, cur = frames(rows, args.cols, seed=rows)
    profile = profile_frame(ref, list(ref.columns), [])
    heavy = max(1, args.repeats // 2)
    # Ours and the floor alternate, so a change in the machine's state hits both alike.
    ours, floor = [], []
    for _ in range(2 * args.repeats + 1):
        ours.append(median_time(lambda: detect_drift(profile, cur), 1))
        floor.append(median_time(lambda: sort_floor(cur), 1))
    t = {
        "profile": statistics.median(ours),
        "exact": median_time(lambda: detect_drift(ref, cur), heavy),
        "exact_1": median_time(lambda: detect_drift(ref, cur, n_threads=1), heavy),
        "scipy_loop": median_time(lambda: naive_scipy(ref, cur), heavy),
        "ks_psi_loop": median_time(lambda: naive_scipy(ref, cur, wasserstein=False), heavy),
        "sort_floor": statistics.median(floor),
    }
    build = median_time(lambda: profile_frame(ref, list(ref.columns), []), heavy)
    if not args.no_evidently:
        ev = evidently_seconds(ref, cur, 1 if rows >= 1_000_000 else 3)
        if ev is not None:
            t["evidently"] = ev
    print(f"\n== {rows:,} rows x {args.cols} numeric columns (medians) ==")
    base = t["profile"]
    for name, label in (
        ("profile", "ours, with the reference profile"),
        ("exact", f"ours, exact (no profile), {available_cores()} threads"),
        ("exact_1", "ours, exact (no profile), 1 thread"),
        ("scipy_loop", "naive per-column scipy loop"),
        ("ks_psi_loop", "naive loop, ks_2samp + PSI only"),
        ("evidently", "Evidently DataDriftPreset"),
        ("sort_floor", "floor: sort each current column"),
    ):
        if name in t:
            print(f"{label:<36} {t[name]:9.3f} s   {t[name] / base:8.1f}x ours-with-profile")
    print(f"{'building the profile (at training)':<36} {build:9.3f} s")
    print(
        f"two frames, exact: {t['ks_psi_loop'] / t['exact']:.1f}x faster than ks_2samp + PSI, "
        f"{t['scipy_loop'] / t['exact']:.1f}x faster than the loop with Wasserstein (target >= 5x); "
        f"on one thread {t['ks_psi_loop'] / t['exact_1']:.1f}x and {t['scipy_loop'] / t['exact_1']:.1f}x"
    )
    if "evidently" in t:
        print(
            f"speed-up vs Evidently: {t['evidently'] / base:.0f}x   "
            f"ours / sort floor: {base / t['sort_floor']:.2f}x"
        )
    else:
        print(f"ours / sort floor: {base / t['sort_floor']:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 500_000, 1_000_000])
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-evidently", action="store_true", help="skip Evidently (no extra venv)")
    ap.add_argument("--false-alarm-reps", type=int, default=100)
    args = ap.parse_args()

    for rows in args.rows:
        one_size(rows, args)

    if args.false_alarm_reps:
        n = false_alarms(args.false_alarm_reps)
        print(
            f"\nfalse alarms, 20 null features x 100k rows: {n} of {args.false_alarm_reps} repetitions "
            f"(target <= {args.false_alarm_reps * 5 // 100})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
