"""Defects a review found in the first dashboard version, each reproduced and now refused:
role checks overtaken by a concurrent change, a stale Users form, a two-person rule one admin
could satisfy alone, votes on stale or expired reviews, and votes of since-disabled admins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import actions
from pipeline import auth
from pipeline.config import load_config
from registry import Registry
from tests.dashboard.conftest import APP
from tests.dashboard.seed import PASSWORD


def users(cfg) -> dict[str, tuple[str, int]]:
    with Registry.open(cfg) as reg:
        return {u["username"]: (u["role"], u["disabled"]) for u in reg.users()}


def test_two_admins_disabling_each_other_at_once_leave_one_admin(dash_cfg):
    start = threading.Barrier(2)

    def disable(who: str, whom: str) -> actions.Outcome:
        start.wait()
        return actions.change_user(dash_cfg, who, whom, disabled=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(disable, ["ada", "carl"], ["carl", "ada"]))
    assert sorted(o.ok for o in outcomes) == [False, True]
    (refused,) = [o for o in outcomes if not o.ok]
    assert "is disabled" in refused.message or "no enabled admin" in refused.message
    enabled = [n for n, (role, off) in users(dash_cfg).items() if role == "admin" and not off]
    assert len(enabled) == 1


def test_the_users_form_shows_the_chosen_users_role(dash_cfg):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["mg_user"] = "ada"
    at.run()
    at.switch_page("app_pages/users.py")
    at.run()
    at.selectbox(key="change_who").select("ada")
    at.run()
    at.selectbox(key="change_who").select("vic")
    at.run()
    assert at.selectbox(key="change_role_vic").value == "viewer"
    assert next(b for b in at.button if b.label == "Save role").disabled
    assert users(dash_cfg)["vic"] == ("viewer", 0)


def test_usernames_are_case_insensitive(dash_cfg):
    outcome = actions.add_user(dash_cfg, "ada", "Ada", "admin", "long-enough-pw")
    assert not outcome.ok and "already exists" in outcome.message
    bad = actions.add_user(dash_cfg, "ada", "ad a", "admin", "long-enough-pw")
    assert not bad.ok and "A username is 1 to 64 of a-z" in bad.message
    with Registry.open(dash_cfg) as reg:
        assert auth.sign_in(reg, "ADA", PASSWORD).ok


@pytest.fixture
def two(dash_cfg, monkeypatch):
    monkeypatch.setenv("MODELGATE_APPROVALS_REQUIRED", "2")
    return load_config()


def test_an_admin_cannot_complete_the_two_person_rule_with_an_account_they_made(two):
    assert actions.add_user(two, "ada", "ada2", "admin", "long-enough-pw").ok
    assert actions.approve(two, "ada", 1, "first").ok
    second = actions.approve(two, "ada2", 1, "second")
    assert not second.ok and "independent admins" in second.message
    # Promoting a viewer counts the same as creating an admin.
    assert actions.change_user(two, "carl", "vic", role="admin").ok
    assert actions.approve(two, "carl", 1, "carl").ok  # independent of ada: decides
    with Registry.open(two) as reg:
        assert reg.current_champion().version == 6


def test_a_vote_of_an_admin_disabled_since_does_not_count(two):
    assert actions.approve(two, "ada", 1, "first").ok
    assert actions.change_user(two, "carl", "ada", disabled=True).ok
    outcome = actions.approve(two, "carl", 1, "second")
    assert outcome.ok and outcome.level == "info"  # recorded, still waiting: ada's vote is void
    with Registry.open(two) as reg:
        assert reg.get_review(1).status == "pending" and reg.current_champion().version == 1


def test_no_vote_on_a_stale_review(two):
    with Registry.open(two) as reg:
        reg.rollback(by="carl", reason="test", to_version=2)
    outcome = actions.approve(two, "ada", 1, "late")
    assert not outcome.ok and outcome.message.startswith("Review 1 is stale")
    with Registry.open(two) as reg:
        assert reg.approvals(1) == []


def test_no_approval_of_an_expired_review(dash_cfg):
    """A run after the expiry moved the registry's clock on, before its housekeeping closed it."""
    from pipeline.reports import TriggerReport

    with Registry.open(dash_cfg) as reg:
        reg.start_run(
            run_id="later",
            dag_id="x",
            logical_date=None,
            as_of="2025-08-05T02:00:00",
            run_type="manual",
            data_source="demo",
            triggers=TriggerReport(checks=()),
        )
        assert reg.get_review(1).status == "pending"
    outcome = actions.approve(dash_cfg, "ada", 1, "too late")
    assert not outcome.ok and outcome.message.startswith("Review 1 expired at 2025-07-31")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["mg_user"] = "ada"
    at.run()
    at.switch_page("app_pages/reviews.py")
    at.run()
    assert at.button(key="approve_1").disabled
    assert any(w.value.startswith("Expired at 2025-07-31") for w in at.warning)
