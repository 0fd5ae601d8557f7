"""The loop's steps on the demo data, without Airflow: idempotency and integrity checks."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import loop
from pipeline.errors import IntegrityError


def _ctx(run_id: str, month: int, **kw) -> loop.RunContext:
    return loop.RunContext(run_id=run_id, as_of=dt.datetime(2025, month, 1, 2), force=True, **kw)


def _full_run(cfg, reg, ctx) -> dict:
    loop.check_triggers(cfg, reg, ctx)
    trained = loop.train_challenger(cfg, reg, ctx)
    result = loop.evaluate_challenger(cfg, reg, ctx, trained["version"])
    step = {"promote": lambda: loop.promote(cfg, reg, ctx, result["version"], result["champion"]),
            "review": lambda: loop.request_review(cfg, reg, ctx, result["version"], result["comparison_id"],
                                                  result["champion"]),
            "reject": lambda: loop.reject(cfg, reg, ctx, result["version"])}[result["outcome"]]
    step()
    loop.finish(cfg, reg, ctx)
    return result


def test_running_every_step_twice_changes_nothing(cfg, registry):
    first = _full_run(cfg, registry, _ctx("run-1", 1))
    snapshot = (registry.status(), registry.audit_log())
    again = _full_run(cfg, registry, _ctx("run-1", 1))
    assert again == first
    assert (registry.status(), registry.audit_log()) == snapshot


def test_a_corrupted_champion_is_never_loaded(cfg, registry):
    _full_run(cfg, registry, _ctx("run-1", 1))
    champ = registry.get_version(registry.current_champion().version)
    path = registry.artifacts.root / champ.artifact_path
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    ctx = _ctx("run-2", 2)
    loop.check_triggers(cfg, registry, ctx)
    trained = loop.train_challenger(cfg, registry, ctx)
    with pytest.raises(IntegrityError, match="checksum"):
        loop.evaluate_challenger(cfg, registry, ctx, trained["version"])
    assert registry.comparison("run-2") is None and registry.current_champion().version == champ.version


def test_holdout_is_the_same_rows_for_both_models(cfg, registry):
    _full_run(cfg, registry, _ctx("run-1", 1))
    result = _full_run(cfg, registry, _ctx("run-2", 2))
    comp = registry.comparison("run-2")
    assert result["champion"] == 1 and comp["champion_version"] == 1
    # holdout_days=30 before as_of: the daily rows of Jan 3 .. Feb 1, every ward; both models scored on them.
    assert comp["n_holdout"] == 30 * cfg.demo_wards
    assert comp["holdout_start"] == "2025-01-02T02:00:00" and comp["holdout_end"] == "2025-02-01T02:00:00"
    assert set(comp["champion_metrics"]) == set(comp["challenger_metrics"]) == {"mae", "rmse", "r2", "mape"}
