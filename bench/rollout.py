"""Rollout assignment speed and the statistics' error rates under peeking.

1. Assignments per second: GrowthBook hash v2 over 1M unit ids, the vectorised batch form against
   the single call in a Python loop (the baseline, same process). Target: batch >= 1M/s.
2. The full peeking study: 2,000 seeded A/B runs with no true difference, 40 looks each, 1,000
   requests per arm per look: how often the always-valid rule declares a winner (target <= 5%)
   against naive repeated t-tests on the same data; and power for a true 5% MAE improvement.
3. Gradual ramps looked at hourly (1,000 requests an hour split by the step's share, 6 h minimum
   per step, 5% harm limit): how often an equal, a 5% worse and a 10% worse challenger reaches
   100% within 3 days.

    .venv/bin/python bench/rollout.py [--runs 2000] [--ids 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import rollout
from pipeline.rollout import Plan, analyse, decide

PLAN = Plan.make("ab", min_samples=500, max_hours=10**9, min_step_hours=0)


def assignment(n_ids: int, repeat: int = 5) -> None:
    ids = [f"user-{i}" for i in range(n_ids)]
    batch = []
    for _ in range(repeat):
        t = time.perf_counter()
        rollout.assign_batch("rollout-7", ids, 0.25)
        batch.append(time.perf_counter() - t)
    sample = ids[:100_000]
    single = []
    for _ in range(repeat):
        t = time.perf_counter()
        for u in sample:
            rollout.on_challenger("rollout-7", u, 0.25)
        single.append((time.perf_counter() - t) * n_ids / len(sample))
    b, s = statistics.median(batch), statistics.median(single)
    print(f"assignment of {n_ids:,} ids (median of {repeat}):")
    print(f"  single call in a loop (baseline): {n_ids / s / 1e6:6.2f} M/s  ({s:.2f} s)")
    verdict = "met" if n_ids / b >= 1e6 else "MISSED"
    print(
        f"  batch (vectorised):               {n_ids / b / 1e6:6.2f} M/s  ({b:.2f} s)  "
        f"x{s / b:.1f}; target >= 1 M/s: {verdict}"
    )


def _study(rng: np.random.Generator, effect: float, looks: int, per_look: int) -> tuple[str, bool]:
    """(always-valid decision, whether naive repeated t-tests ever saw p < 0.05)."""
    a = np.empty(0)
    b = np.empty(0)
    decision, naive = "none", False
    for k in range(1, looks + 1):
        a = np.concatenate([a, np.abs(rng.normal(0, 1.0, per_look))])
        b = np.concatenate([b, np.abs(rng.normal(0, 1.0 - effect, per_look))])
        naive = naive or stats.ttest_ind(a, b).pvalue < 0.05
        if decision == "none":
            d = decide(
                analyse(a, b, plan=PLAN, share=0.5), PLAN, step_index=0, step_hours=k, total_hours=k
            )
            if d.action in ("promote", "rollback"):
                decision = d.action
        if decision != "none" and naive:
            break
    return decision, naive


def peeking(runs: int, looks: int = 40, per_look: int = 1000) -> None:
    t = time.perf_counter()
    rng = np.random.default_rng(20261123)
    null = [_study(rng, 0.0, looks, per_look) for _ in range(runs)]
    wins = sum(d == "promote" for d, _ in null) / runs
    losses = sum(d == "rollback" for d, _ in null) / runs
    naive = sum(n for _, n in null) / runs
    better = [_study(rng, 0.05, looks, per_look)[0] for _ in range(max(runs // 10, 50))]
    worse = [_study(rng, -0.05, looks, per_look)[0] for _ in range(max(runs // 10, 50))]
    print(
        f"\npeeking study: {runs:,} A/B runs without a true difference, {looks} looks of {per_look:,} per arm"
    )
    print(f"  naive repeated t-tests (baseline): a 'significant' difference in {naive:.1%} of runs")
    print(
        f"  always-valid sequence:             false winner {wins:.1%}, false loser {losses:.1%} "
        f"(target <= 5%: {'met' if wins <= 0.05 else 'MISSED'})"
    )
    print(
        f"  true 5% better: promoted in {better.count('promote') / len(better):.0%} of {len(better)}; "
        f"5% worse: rolled back in {worse.count('rollback') / len(worse):.0%} of {len(worse)}"
    )
    print(f"  ({time.perf_counter() - t:.0f} s)")


def ramps(runs: int) -> None:
    t = time.perf_counter()
    plan = Plan.make("gradual", min_samples=300, min_step_hours=6)
    rng = np.random.default_rng(7)
    print(f"\ngradual ramps ({runs} runs each, hourly looks, 3 days):")
    for effect in (0.0, 0.05, 0.10):
        out = [rollout.simulate_ramp(rng, effect, plan) for _ in range(runs)]
        print(
            f"  challenger {effect:+.0%} worse: promoted {out.count('promote') / runs:.0%}, "
            f"rolled back {out.count('rollback') / runs:.0%}, still holding {out.count('running') / runs:.0%}"
        )
    print(f"  ({time.perf_counter() - t:.0f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--ids", type=int, default=1_000_000)
    args = ap.parse_args()
    assignment(args.ids)
    peeking(args.runs)
    ramps(max(args.runs // 10, 50))
    return 0


if __name__ == "__main__":
    sys.exit(main())
