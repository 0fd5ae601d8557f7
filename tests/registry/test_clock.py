"""One clock per fact: events carry their effective (logical) time beside the wall clock they were
recorded at; a simulated history filters by its own dates, and an admin's action in it happens
on its clock, not in the real present."""

from __future__ import annotations

import datetime as dt

from pipeline import loop
from tests.pipeline.test_loop import _full_run


def _run(cfg, reg, month: int) -> None:
    _full_run(
        cfg,
        reg,
        loop.RunContext(run_id=f"run-{month}", as_of=dt.datetime(2025, month, 1, 2), force=True),
    )


def test_a_simulated_history_filters_by_its_own_dates(cfg, registry):
    for month in (1, 2, 6):
        _run(cfg, registry, month)
    february = registry.audit_log(since="2025-02-01", until="2025-02-02")
    assert february and {e["details"]["run_id"] for e in february if "run_id" in e["details"]} == {
        "run-2"
    }
    assert all(e["effective_at"].startswith("2025-02-01T02:00") for e in february)
    assert all(e["at"][:4] >= "2026" for e in february)  # recorded now, beside it
    # in the present: only the log's own start, before any run
    assert [e["event"] for e in registry.audit_log(since="2026-01-01")] == ["audit_witness_started"]
    assert registry.verify_audit().ok  # the effective time is in the hashed details


def test_an_approval_in_a_simulation_happens_on_its_clock(cfg, registry):
    for month in (1, 2, 6):
        _run(cfg, registry, month)
    (review,) = registry.reviews("pending")
    registry.approve(review.id, by="ada", reason="ok")
    champ = registry.current_champion()
    assert champ.version == review.challenger_version
    assert champ.since.startswith("2025-06-01"), champ.since  # not the wall clock's 2026
    (event,) = registry.audit_log(event="review_approved")
    assert event["effective_at"].startswith("2025-06-01") and event["at"][:4] >= "2026"


def test_in_production_the_clock_is_the_wall_clock(cfg, registry):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    _full_run(cfg, registry, loop.RunContext(run_id="live", as_of=now, force=True))
    assert abs(
        dt.datetime.fromisoformat(registry.effective_now())
        - dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ) < dt.timedelta(minutes=5)
