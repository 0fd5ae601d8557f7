"""A registry with a history worth looking at, made in-process in ~6 s (no Airflow): six monthly
retrainings of the demo data (a promotion, rejections, a pending review), weekly drift checks
across the May admissions shift, and three dashboard users."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pipeline import auth, loop
from pipeline.config import Config, load_config
from registry import Registry

PASSWORD = "correct-horse-battery"
USERS = {"ada": "admin", "carl": "admin", "vic": "viewer"}


def env_for(home: Path, **settings: object) -> dict[str, str]:
    env = {"MODELGATE_HOME": str(home), "MODELGATE_BOOTSTRAP_RESAMPLES": "1000"}
    env.update({f"MODELGATE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def populate(home: Path, **settings: object) -> Config:
    # the June review stays pending; its evidence has a per-ward table
    settings = {"review_ttl_days": 60, "segment_columns": "ward", **settings}
    cfg = load_config(env=env_for(home, **settings), path=os.devnull)
    with Registry.open(cfg, create=True) as reg:
        for month in range(1, 7):
            as_of = dt.datetime(2025, month, 1, 2)
            loop.run_in_process(
                cfg,
                reg,
                loop.RunContext(run_id=f"scheduled__{as_of:%Y-%m-%d}", as_of=as_of, force=True),
            )
            for day in (8, 15, 22):
                at = dt.datetime(2025, month, day, 3)
                loop.drift_check(
                    cfg,
                    reg,
                    loop.RunContext(
                        run_id=f"drift__{at:%Y-%m-%d}", dag_id=loop.DRIFT_DAG_ID, as_of=at
                    ),
                )
        for name, role in USERS.items():
            reg.add_user(
                username=name, password_hash=auth.hash_password(PASSWORD), role=role, by="seed"
            )
    return cfg


def add_rollout(cfg: Config, days: int = 2) -> int:
    """A gradual rollout of the June challenger (v6) against v1, ``days`` days of 20,000 demo
    requests each and the monitor's step decisions (10% -> 25% -> 50% after two days)."""
    import dataclasses

    gradual = dataclasses.replace(cfg, rollout_strategy="gradual")
    with Registry.open(cfg) as reg:
        ctx = loop.RunContext(run_id="scheduled__2025-06-01", as_of=dt.datetime(2025, 6, 1, 2))
        rid = int(loop.start_rollout(gradual, reg, ctx, 6, 1)["rollout"])
        for day in range(2, 2 + days):
            at = dt.datetime(2025, 6, day, 4)
            run = loop.RunContext(run_id=f"rollout__{day}", dag_id=loop.ROLLOUT_DAG_ID, as_of=at)
            loop.serve_traffic(gradual, reg, run, 20_000)
            loop.monitor_rollout(gradual, reg, run)
    return rid


FLEET_CATALOG = "[models.default]\n\n[models.weekly]\nschedule = '0 4 * * 0'\n"


def add_fleet(path: Path) -> Config:
    """Make the seeded home a fleet: a catalog at ``path`` naming the seeded model 'default'
    and 'weekly', which gets champion v1 and a pending review of v2. Point MODELGATE_CONFIG at
    ``path`` first; returns 'weekly''s settings."""
    from tests.registry.test_store import _review, _version

    path.write_text(FLEET_CATALOG)
    cfg = load_config(model="weekly")
    with Registry.open(cfg) as reg:
        v1 = _version(reg, "w1")
        reg.promote(
            version=v1, expected_champion=None, run_id="w1", at="2025-01-05", reason="first"
        )
        _review(reg, "w2", _version(reg, "w2"), expected=v1)
    return cfg
