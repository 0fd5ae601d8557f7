"""Twenty admins press "Confirm approval" on the same review at once, through the function the
Reviews page calls: one promotion, nineteen clear "already decided" messages, nothing doubled."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard import actions
from pipeline import auth
from registry import Registry

N = 20


@pytest.mark.parametrize("required", [1, 2])
def test_twenty_simultaneous_approvals_decide_once(dash_cfg, monkeypatch, required):
    monkeypatch.setenv("MODELGATE_APPROVALS_REQUIRED", str(required))
    from pipeline.config import load_config

    cfg = load_config()
    names = [f"admin{i:02d}" for i in range(N)]
    digest = auth.hash_password("twenty-admins-pw")  # one hash: the test is about the decision
    with Registry.open(cfg) as reg:
        for name in names:
            reg.add_user(username=name, password_hash=digest, role="admin", by="test")
        (review,) = reg.reviews("pending")
        history_before = len(reg.champion_history())
    start = threading.Barrier(N)

    def press(name: str) -> actions.Outcome:
        start.wait()  # all twenty threads call at the same moment
        return actions.approve(cfg, name, review.id, f"approved by {name}")

    with ThreadPoolExecutor(max_workers=N) as pool:
        outcomes = list(pool.map(press, names))

    promoted = [o for o in outcomes if o.ok and o.level == "success"]
    votes = [o for o in outcomes if o.ok and o.level == "info"]
    refused = [o for o in outcomes if not o.ok]
    assert len(promoted) == 1
    assert len(votes) == required - 1
    assert len(refused) == N - required
    assert all(
        o.level == "warning" and o.message.startswith(f"Review {review.id} is already decided")
        for o in refused
    ), {o.message for o in refused}
    with Registry.open(cfg) as reg:
        assert reg.current_champion().version == review.challenger_version
        assert len(reg.champion_history()) == history_before + 1
        assert len(reg.audit_log(event="review_approved")) == 1
        assert len(reg.audit_log(event="promoted", version=review.challenger_version)) == 1
        assert len(reg.approvals(review.id)) == required
        assert reg.verify_audit().ok
        change = reg.champion_history()[-1]["id"]
        notices = [o for o in reg.outbox(limit=500) if o["event"] == "promoted"]
        assert [o["key"] for o in notices].count(f"champion:{change}") == 1
