"""kill -9 at random points of real decisions, and the invariant that must hold after each.

``python -m tests.registry.crashes HOME SEED`` is the victim: it opens the registry in HOME and
makes decisions in a loop through the same calls the CLI and the dashboard make (rollbacks with
and without a target, automatic promotions, reviews approved, rejected and expired, announced
promotions applied and vetoed) until it is killed. ``kill_repeatedly`` runs it and SIGKILLs it
at a random moment, ``n`` times, checking ``invariant`` after each kill. Used by
``tests/registry/test_crash.py`` (30 kills) and ``bench/crash.py`` (100).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSIONS = 6


def env(home: Path) -> dict[str, str]:
    key = {k: v for k, v in os.environ.items() if k == "MODELGATE_AUDIT_KEY"}
    return {"MODELGATE_HOME": str(home), "MODELGATE_BOOTSTRAP_RESAMPLES": "1000", **key}


def config(home: Path):  # type: ignore[no-untyped-def]
    from pipeline.config import load_config

    return load_config(env=env(home), path=os.devnull)


def seed_registry(home: Path) -> None:
    """Six versions, each with a run and a comparison, and version 1 champion."""
    from pipeline.reports import Comparison, Decision, MetricInterval, TriggerReport
    from registry import Registry

    with Registry.open(config(home), create=True) as reg:
        for i in range(1, VERSIONS + 1):
            run_id = f"seed-{i}"
            reg.start_run(
                run_id=run_id,
                dag_id="d",
                logical_date=None,
                as_of="2025-01-01T02:00:00",
                run_type="manual",
                data_source="crash test",
                triggers=TriggerReport(checks=()),
            )
            v = reg.register_model(
                run_id=run_id,
                model_bytes=f"model {i}".encode() * 50,
                estimator="E",
                params={},
                train_start="2024-01-01",
                train_end="2025-01-01",
                train_rows=10,
                data_fingerprint="f",
                metrics={"mae": 1.0},
                schema={},
                feature_importance={},
            ).version
            comparison = Comparison(
                metric="mae",
                higher_is_better=False,
                challenger_version=v,
                champion_version=None,
                challenger_value=0.97,
                champion_value=1.0,
                relative_improvement=0.03,
                absolute_improvement=0.03,
                interval=MetricInterval(low=0.0, high=0.06, level=0.95),
                p_value=0.2,
                ttest_p_value=0.2,
                n_holdout=100,
                n_resamples=1000,
            )
            cid = reg.record_comparison(run_id, comparison)
            reg.record_decision(run_id, cid, v, Decision(outcome="review", reasons=("seed",)))
        reg.promote(
            version=1, expected_champion=None, run_id="seed-1", at="2025-01-01", reason="first"
        )


def victim(home: Path, seed: int) -> None:
    """Decide, decide, decide: until killed."""
    from pipeline import admin
    from pipeline.errors import Conflict
    from registry import Registry

    cfg = config(home)
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, 2)
    with Registry.open(cfg) as reg:
        comparison_ids = [int(c["id"]) for c in reg.comparisons()]
        print("ready", flush=True)
        for i in range(1_000_000):
            champ = reg.current_champion()
            assert champ is not None
            other = rng.choice([v for v in range(1, VERSIONS + 1) if v != champ.version])
            run_id = f"crash-{seed}-{i}"
            when = start + dt.timedelta(hours=i)
            action = rng.choice(
                ["rollback", "rollback_to", "promote", "approve", "reject", "expire", "announce"]
            )
            try:
                if action == "rollback":
                    admin.do_rollback(cfg, reg, by="ops", reason="crash test")
                elif action == "rollback_to":
                    admin.do_rollback(cfg, reg, by="ops", reason="crash test", to_version=other)
                elif action == "promote":
                    reg.promote(
                        version=other,
                        expected_champion=champ.version,
                        run_id=run_id,
                        at=when.isoformat(),
                        reason="crash test",
                    )
                elif action in ("approve", "reject", "expire"):
                    review, _ = reg.request_review(
                        run_id=run_id,
                        comparison_id=rng.choice(comparison_ids),
                        version=other,
                        expected_champion=champ.version,
                        requested_at=when,
                        ttl_days=1 if action == "expire" else 14,
                    )
                    if action == "approve":
                        admin.decide_approval(cfg, reg, by="ops", review_id=review.id, reason="ok")
                    elif action == "reject":
                        admin.decide_rejection(cfg, reg, by="ops", review_id=review.id, reason="no")
                    else:
                        reg.expire_reviews(when + dt.timedelta(days=2))
                else:
                    row = reg.schedule_promotion(
                        run_id=run_id,
                        version=other,
                        expected_champion=champ.version,
                        reason="crash test",
                        announced_at=when.isoformat(),
                        due_at=(when + dt.timedelta(minutes=30)).isoformat(),
                    )
                    if rng.random() < 0.5:
                        reg.veto_promotion(int(row["id"]), by="ops", reason="not now")
                    reg.apply_due_promotions((when + dt.timedelta(hours=1)).isoformat())
            except Conflict:
                pass  # a stale review or an expired one: refused, as it should be


def invariant(home: Path) -> list[str]:
    """What must hold whatever the moment of the kill: returns the violations."""
    from registry import Registry

    problems: list[str] = []
    with Registry.open(config(home)) as reg:
        check = reg.verify_audit()
        if not check.ok:
            problems.append(f"audit chain: {check.problem}")
        keys: dict[str, int] = {}
        for o in reg.outbox(limit=10_000_000):
            keys[o["key"]] = keys.get(o["key"], 0) + 1
        doubled = [k for k, n in keys.items() if n > 1]
        if doubled:
            problems.append(f"notifications queued twice: {doubled[:3]}")

        def want(key: str, what: str) -> None:
            if key not in keys:
                problems.append(f"{what} has no notification ({key})")

        for h in reg.champion_history():
            want(f"champion:{h['id']}", f"champion change {h['id']} ({h['kind']})")
        for r in reg.reviews():
            if r.run_id.startswith("seed-"):
                continue
            want(f"review_requested:{r.run_id}", f"review {r.id}")
            if r.status == "rejected":
                want(f"rejected:review:{r.id}", f"rejection of review {r.id}")
            elif r.status == "expired":
                want(f"review_expired:{r.id}", f"expiry of review {r.id}")
            elif r.status == "superseded":
                want(f"review_superseded:{r.id}", f"supersession of review {r.id}")
        for p in reg.pending_promotions(None):
            want(f"promotion_pending:{p['run_id']}", f"announced promotion {p['id']}")
            if p["status"] == "vetoed":
                want(f"promotion_vetoed:{p['id']}", f"veto of promotion {p['id']}")
            elif p["status"] == "stale":
                want(f"promotion_stale:{p['id']}", f"stale promotion {p['id']}")
        queued = {str(e["entity_id"]) for e in reg.audit_log(event="notification_queued")}
        unaudited = [o["key"] for o in reg.outbox(limit=10_000_000) if str(o["id"]) not in queued]
        if unaudited:
            problems.append(f"notifications without their audit event: {unaudited[:3]}")
    return problems


def kill_repeatedly(home: Path, n: int, *, seed: int = 0, max_delay: float = 0.25) -> list[str]:
    """Start the victim, SIGKILL it after a random delay once it is deciding, check; n times.
    Returns the violations found (empty: the invariant held after every kill)."""
    rng = random.Random(seed)
    problems: list[str] = []
    for k in range(n):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.registry.crashes", str(home), str(seed * 1000 + k)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError(f"the victim did not start: {line!r} {proc.stderr.read()[-2000:]}")
        time.sleep(rng.uniform(0.0, max_delay))
        if proc.poll() is not None:
            raise RuntimeError(f"the victim died by itself: {proc.stderr.read()[-2000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        problems += [f"kill {k + 1}: {p}" for p in invariant(home)]
    return problems


if __name__ == "__main__":
    victim(Path(sys.argv[1]), int(sys.argv[2]))
