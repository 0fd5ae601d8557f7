"""Benchmark what the evidence record costs a run. One command: ``make bench-evidence``.

A retraining run with a champion (check triggers, train, evaluate, decide, record, finish: the
library steps the DAG's tasks call) on a holdout of 100k rows in 12 segments (wards), with
evidence as it ships, against the same run with the evidence's extra work switched off in this
process (its bootstrap tables, error distributions and holdout fingerprint): the run as it was
before evidence records. Each repeat starts from a copy of the same registry, so every timed run
is the same challenger against the same champion. Medians; the goal is at most +20%.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import evidence, judge, loop  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from registry import Registry  # noqa: E402

AS_OF = dt.datetime(2025, 7, 1)


def make_data(path: Path, holdout_rows: int, train_days: int, segments: int, seed: int = 0) -> None:
    """Rows spread evenly in time, so the 30-day holdout holds ``holdout_rows``."""
    per_day = holdout_rows // 30
    days = train_days + 30 + 30  # the champion's run a month earlier reads one more month
    n = per_day * days
    rng = np.random.default_rng(seed)
    start = AS_OF - dt.timedelta(days=days)
    ts = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    ward = rng.integers(0, segments, n)
    x = rng.normal(size=(n, 5))
    y = 50 + 3 * ward + x @ np.array([4.0, -2.0, 1.0, 0.5, 0.0]) + rng.normal(0, 3, n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    frame.insert(0, "timestamp", ts)
    frame["ward"] = [f"W{w:02d}" for w in ward]
    frame["occupancy"] = y
    frame.to_parquet(path, index=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holdout-rows", type=int, default=100_000)
    ap.add_argument("--segments", type=int, default=12)
    ap.add_argument("--train-days", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mg-bench-evidence-"))
    data = work / "data.parquet"
    make_data(data, args.holdout_rows, args.train_days, args.segments)
    seed_home = work / "seed"
    env = {
        "MODELGATE_HOME": str(seed_home),
        "MODELGATE_DATA_PATH": str(data),
        "MODELGATE_TRAIN_DAYS": str(args.train_days),
        "MODELGATE_SEGMENT_COLUMNS": "ward",
        "MODELGATE_MIN_HOLDOUT_ROWS": "50",
    }
    cfg = load_config(env=env, path="/dev/null")
    with Registry.open(cfg, create=True) as reg:  # the champion, a month before
        loop.run_in_process(
            cfg,
            reg,
            loop.RunContext(run_id="champion", as_of=AS_OF - dt.timedelta(days=30), force=True),
        )

    originals = (evidence.deltas, evidence.error_distributions, judge.holdout_fingerprint)

    def without_evidence(on: bool) -> None:
        if on:
            evidence.deltas, evidence.error_distributions, judge.holdout_fingerprint = originals
        else:
            evidence.deltas = lambda **_: ((), ())  # type: ignore[assignment]
            evidence.error_distributions = lambda *_: {}  # type: ignore[assignment]
            judge.holdout_fingerprint = lambda _: ""  # type: ignore[assignment]

    def timed(label: str, i: int) -> tuple[float, float]:
        home = work / f"{label}-{i}"
        shutil.copytree(seed_home, home)
        run_cfg = load_config(env={**env, "MODELGATE_HOME": str(home)}, path="/dev/null")
        with Registry.open(run_cfg) as reg:
            ctx = loop.RunContext(run_id="challenger", as_of=AS_OF, force=True)
            t = time.perf_counter()
            loop.run_in_process(run_cfg, reg, ctx)
            total = time.perf_counter() - t
            ev = reg.evidence_for_run("challenger")
        assert ev is not None
        if label == "with":
            assert len(ev["segments"]) == args.segments and ev["metrics"], "evidence was not built"
            assert ev["primary"]["n_holdout"] >= 0.95 * args.holdout_rows
        return total, ev["primary"]["n_holdout"]

    with_t, without_t = [], []
    for i in range(args.repeats):  # interleaved, so drift in the machine's speed hits both
        without_evidence(False)
        without_t.append(timed("without", i)[0])
        without_evidence(True)
        t, rows = timed("with", i)
        with_t.append(t)
    base, full = statistics.median(without_t), statistics.median(with_t)
    print(f"== A run with a champion, {rows:,} holdout rows x {args.segments} segments, "
          f"{args.train_days} training days ({args.repeats} repeats, medians) ==")  # fmt: skip
    print(f"without the evidence's extra work (baseline): {base:6.2f} s")
    print(f"with the evidence record:                     {full:6.2f} s")
    print(f"ratio with / without:                         {full / base:6.3f}x (goal <= 1.20x)")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if full / base <= 1.20 else 1


if __name__ == "__main__":
    sys.exit(main())
