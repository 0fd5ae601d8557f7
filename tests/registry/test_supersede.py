"""One open review per champion: a newer challenger supersedes the older pending review, audited
and notified once in the same transaction; votes on it are refused; an approval racing a
supersession has exactly one outcome."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading

import pytest

from pipeline import loop
from pipeline.config import load_config
from pipeline.errors import Conflict
from pipeline.reports import TriggerReport
from registry import Registry
from tests.conftest import make_env
from tests.registry.test_store import AS_OF, _review, _version


@pytest.fixture
def two_reviews(registry):
    v1, v2, v3 = (_version(registry, f"r{i}") for i in (1, 2, 3))
    registry.promote(version=v1, expected_champion=None, run_id="r1", at="2025-01-01", reason="x")
    old = _review(registry, "r2", v2, expected=v1)
    return registry, v1, v2, v3, old


def test_a_newer_review_supersedes_the_older_one(two_reviews):
    reg, v1, _v2, v3, old = two_reviews
    new_id = _review(reg, "r3", v3, expected=v1)  # a newer challenger against the same champion
    assert reg.get_review(old).status == "superseded"
    assert reg.get_review(old).superseded_by == new_id
    assert [r.id for r in reg.reviews("pending")] == [new_id]
    events = reg.audit_log(event="review_superseded")
    assert len(events) == 1 and str(events[0]["entity_id"]) == str(old)
    with pytest.raises(Conflict, match=f"superseded by review {new_id}.*decide that one"):
        reg.approve(old, by="alice")
    with pytest.raises(Conflict, match="superseded"):
        reg.reject_review(old, by="alice", reason="no")
    assert reg.get_review(old).decided_by == "pipeline"


def test_the_pipeline_step_queues_one_notification_with_the_supersession(two_reviews, cfg):
    reg, v1, _v2, v3, old = two_reviews
    comparison = reg.comparison("r2")
    reg.start_run(
        run_id="r4",
        dag_id="d",
        logical_date=None,
        as_of=AS_OF.isoformat(),
        run_type="manual",
        data_source="t",
        triggers=TriggerReport(checks=()),
    )
    ctx = loop.RunContext(run_id="r4", as_of=AS_OF)
    out = loop.request_review(cfg, reg, ctx, v3, comparison["id"], v1)
    assert out["superseded"] == [old]
    again = loop.request_review(cfg, reg, ctx, v3, comparison["id"], v1)  # an Airflow retry
    assert again["review_id"] == out["review_id"] and again["superseded"] == []
    queued = [o for o in reg.outbox() if o["event"] == "review_superseded"]
    assert len(queued) == 1
    assert queued[0]["subject"].startswith(f"[ModelGate] Review {old} superseded: version {v3}")
    # The notification was written by the same transaction as the status change.
    notice = reg.audit_log(event="notification_queued")[0]  # newest first
    change = reg.audit_log(event="review_superseded")[0]
    assert notice["seq"] == change["seq"] + 1


def test_a_review_against_another_champion_is_not_superseded(two_reviews):
    reg, v1, v2, v3, old = two_reviews
    reg.approve(old, by="alice")  # v2 is champion now
    other = _review(reg, "r5", v3, expected=v1)  # compared against the old champion: stale
    assert reg.get_review(old).status == "approved"
    assert reg.get_review(other).status == "pending"
    newer = _review(reg, "r6", v3, expected=v2)
    assert reg.get_review(other).status == "pending"  # a different champion: left alone
    assert reg.get_review(newer).status == "pending"


@pytest.mark.parametrize("round_", range(8))
def test_an_approval_racing_a_supersession_has_exactly_one_outcome(tmp_path, round_):
    cfg = load_config(env=make_env(tmp_path / f"mg{round_}"), path=os.devnull)
    with Registry.open(cfg, create=True) as reg:
        v1, v2, v3 = (_version(reg, f"r{i}") for i in (1, 2, 3))
        reg.promote(version=v1, expected_champion=None, run_id="r1", at="2025-01-01", reason="x")
        old = _review(reg, "r2", v2, expected=v1)
        comparison_id = reg.comparison("r2")["id"]
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def approve() -> None:
        with Registry.open(cfg) as own:
            barrier.wait()
            try:
                own.approve(old, by="alice")
                outcome["approve"] = "approved"
            except Conflict as exc:
                outcome["approve"] = str(exc)

    def supersede() -> None:
        with Registry.open(cfg) as own:
            barrier.wait()
            _new, gone = own.request_review(
                run_id="r3",
                comparison_id=comparison_id,
                version=v3,
                expected_champion=v1,
                requested_at=AS_OF,
                ttl_days=14,
            )
            outcome["superseded"] = [r.id for r in gone]

    threads = [threading.Thread(target=approve), threading.Thread(target=supersede)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Registry.open(cfg) as reg:
        status = reg.get_review(old).status
        champion = reg.current_champion().version
        if status == "approved":
            assert outcome == {"approve": "approved", "superseded": []} and champion == v2
            assert reg.audit_log(event="review_superseded") == []
        else:
            assert status == "superseded" and outcome["superseded"] == [old]
            assert "superseded by review" in str(outcome["approve"]) and champion == v1
            assert reg.audit_log(event="review_approved") == []
        assert reg.verify_audit().ok


def test_the_weekly_digest_lists_open_reviews_once_a_week(two_reviews, cfg):
    reg, v1, v2, *_ = two_reviews
    digest = dataclasses.replace(cfg, review_digest=True)
    monday = dt.datetime(2025, 3, 3, 2)
    for day in range(7):  # every run of the week: one digest
        loop.housekeeping(digest, reg, monday + dt.timedelta(days=day))
    sent = [o for o in reg.outbox() if o["event"] == "review_digest"]
    assert len(sent) == 1 and sent[0]["key"] == "review_digest:2025-W10"
    assert sent[0]["subject"] == "[ModelGate] 1 open reviews in 2025-W10"
    assert f"version {v2} vs v{v1}" in sent[0]["text"]
    loop.housekeeping(digest, reg, monday + dt.timedelta(days=7))  # the next week: another
    assert len([o for o in reg.outbox() if o["event"] == "review_digest"]) == 2
    loop.housekeeping(cfg, reg, monday + dt.timedelta(days=14))  # off by default
    assert len([o for o in reg.outbox() if o["event"] == "review_digest"]) == 2
