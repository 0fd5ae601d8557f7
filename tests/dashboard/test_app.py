"""Every page under Streamlit's AppTest against a seeded registry: sign-in, navigation by role,
and the writes (approve, reject, two-person rule, rollback, users) through the real page code."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import common
from registry import Registry
from tests.dashboard.conftest import APP
from tests.dashboard.seed import PASSWORD, add_rollout

PAGES = {
    "overview": "Overview",
    "drift": "Drift",
    "models": "Models",
    "rollouts": "Rollouts",
    "audit": "Audit log",
    "reviews": "Reviews",
    "rollback": "Rollback",
    "users": "Users",
}
ADMIN_ONLY = {"reviews", "rollback", "users"}


def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def sign_in(name: str, password: str = PASSWORD) -> AppTest:
    at = app()
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input(name)
    fields["Password"].input(password)
    at.button(key="FormSubmitter:login-Log in").click()
    at.run()
    assert not at.exception, at.exception
    return at


def shown(markdown: str) -> str:
    """What a reader sees of Markdown whose literal characters the app escaped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in (at.success, at.info, at.warning, at.error):
        parts += [m.value for m in kind]
    return shown("\n".join(str(p) for p in parts))


def champion(cfg) -> int | None:
    with Registry.open(cfg) as reg:
        champ = reg.current_champion()
    return champ.version if champ else None


def events(cfg, event: str) -> list[dict]:
    with Registry.open(cfg) as reg:
        return reg.audit_log(event=event)


def pending_review(cfg):
    with Registry.open(cfg) as reg:
        (review,) = reg.reviews("pending")
    return review


# ----------------------------------------------------------------------------- sign-in
def test_the_login_form_refuses_a_wrong_password_and_audits_it(dash_cfg):
    at = app()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at = sign_in("ada", "not-the-password")
    assert [shown(e.value) for e in at.error] == ["Wrong username or password."]
    assert titles(at) == ["ModelGate"]  # still on the sign-in page
    failed = events(dash_cfg, "login_failed")
    assert failed[0]["actor"] == "ada" and failed[0]["details"]["reason"] == "wrong password"


def test_five_failures_lock_the_account_even_for_the_right_password(dash_cfg):
    for _ in range(5):
        sign_in("vic", "nope-nope-nope")
    at = sign_in("vic")
    assert (
        shown(at.error[0].value) == "Wrong username or password."
    )  # the lock tells no one it exists
    assert titles(at) == ["ModelGate"]


def test_sign_in_and_out_are_audited(dash_cfg):
    at = sign_in("ada")
    assert titles(at) == ["Overview"]
    at.sidebar.button[0].click()  # "Log out"
    at.run()
    assert titles(at) == ["ModelGate"]
    assert [e["event"] for e in events(dash_cfg, "login")] == ["login"]
    assert events(dash_cfg, "logout")[0]["actor"] == "ada"


# ----------------------------------------------------------------------------- pages and roles
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_for_an_admin(dash_cfg, page):
    at = goto(sign_in("ada"), page)
    assert titles(at) == [PAGES[page]]
    assert not at.error, [shown(e.value) for e in at.error]


@pytest.mark.parametrize("page", sorted(ADMIN_ONLY))
def test_a_viewer_has_no_admin_pages_even_with_a_forged_role(dash_cfg, page):
    at = sign_in("vic")
    at.session_state["mg_role"] = "admin"  # what a forged session could claim
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"app_pages/{page}.py")  # the navigation is built from the registry's role
    # And the page's own code path refuses the write on the server side.
    from dashboard import actions

    outcome = actions.approve(dash_cfg, "vic", pending_review(dash_cfg).id, "forged")
    assert not outcome.ok and outcome.message.startswith("Not allowed: Only admins")
    assert champion(dash_cfg) == 1


def test_a_viewer_sees_the_monitoring_pages(dash_cfg):
    at = sign_in("vic")
    for page in ("drift", "models", "audit"):
        assert titles(goto(at, page)) == [PAGES[page]]


def test_overview_shows_the_champion_pending_review_and_runs(dash_cfg):
    at = sign_in("ada")
    assert "Champion: version 1" in [s.value for s in at.subheader]
    assert "Review **1**: version 6" in texts(at)
    runs = at.dataframe[0].value
    assert len(runs) == 6 and set(runs["ended"]) == {"promote", "reject", "review"}
    assert at.metric[1].value == "1"  # pending reviews


def test_a_run_whose_promote_failed_shows_as_failed_with_its_error(dash_cfg):
    with Registry.open(dash_cfg) as reg:
        reg.record_failure(
            run_id="scheduled__2025-01-01",
            dag_id="modelgate_retrain__default",
            task_id="promote",
            error="Conflict: the champion changed",
        )
    runs = sign_in("ada").dataframe[0].value
    row = runs[runs["run"] == "scheduled__2025-01-01"].iloc[0]
    assert row["ended"] == (
        "failed: promote: Conflict: the champion changed (after deciding promote)"
    )


def test_drift_page_shows_a_checks_features_and_a_distribution(dash_cfg):
    at = goto(sign_in("vic"), "drift")
    check = at.selectbox(key="drift_run")
    assert check.value == "drift__2025-06-22"  # the newest first: seven weeks into the shift
    table = at.dataframe[0].value
    assert {
        "feature",
        "KS D",
        "p",
        "p (BH)",
        "PSI",
        "Wasserstein (scaled)",
        "missing Δ",
        "limits",
        "why",
    } <= set(table.columns)
    drifted = set(table.loc[table["drifted"], "feature"])
    assert drifted == {"emergency_admissions"}  # the seasonal month and temperature are not
    why = table.set_index("feature").loc["emergency_admissions", "why"]
    assert "KS D" in why and ("calibrated" in why or "floor" in why)
    limits = table.set_index("feature").loc["month", "limits"]
    assert "calibrated" in limits
    assert any("training data of v1, calibrated on" in t.value for t in at.text)
    check.select("drift__2025-05-08")  # a week into it: the 30-day window is mostly old rows
    at.run()
    assert not at.dataframe[0].value["drifted"].any()
    assert at.selectbox[1].label.startswith("Distribution of a feature")


def test_audit_page_filters_and_verifies_the_chain(dash_cfg):
    at = goto(sign_in("ada"), "audit")
    assert shown(at.success[0].value).startswith("The audit log verifies")
    at.selectbox[0].select("promoted")
    at.run()
    table = at.dataframe[0].value
    assert list(table["event"]) == ["promoted"] and list(table["id"]) == ["1"]
    at.selectbox[0].select("(all)")
    at.text_input[0].input("6")
    at.run()
    assert set(at.dataframe[0].value["event"]) >= {"model_registered", "review_requested"}


# ----------------------------------------------------------------------------- writes
def approve_on_page(at: AppTest, review_id: int, reason: str = "looks right") -> AppTest:
    at = goto(at, "reviews")
    # The demo decides on MAE, an error: its improvement is relative, and the label says so.
    assert any("(relative)" in shown(m.value) for m in at.markdown), "the headline's measure"
    at.button(key=f"approve_{review_id}").click()
    at.run()
    at.text_input(key="approve_reason").input(reason)
    at.button(key="mg_confirm").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_approving_on_the_page_promotes_and_audits(dash_cfg):
    review = pending_review(dash_cfg)
    at = approve_on_page(sign_in("ada"), review.id)
    assert shown(at.success[0].value) == "Approved review 1: version 6 is now the champion."
    assert champion(dash_cfg) == 6
    (approved,) = events(dash_cfg, "review_approved")
    assert approved["actor"] == "ada" and approved["details"]["reason"] == "looks right"
    assert common.DIALOG not in at.session_state
    # The decided review shows who decided it.
    table = at.dataframe[0].value
    assert table.iloc[0]["decided by"] == "ada" and table.iloc[0]["decision"] == "approved"


def test_rejecting_needs_a_reason_and_changes_nothing_else(dash_cfg):
    at = goto(sign_in("ada"), "reviews")
    at.button(key="reject_1").click()
    at.run()
    assert at.button(key="mg_confirm").disabled  # no reason yet
    at.text_input(key="reject_reason").input("overfits the flu season")
    at.run()
    at.button(key="mg_confirm").click()
    at.run()
    assert "Rejected review 1" in shown(at.success[0].value)
    assert champion(dash_cfg) == 1
    assert events(dash_cfg, "review_rejected")[0]["details"]["reason"] == "overfits the flu season"


def test_cancel_closes_the_dialog_without_a_decision(dash_cfg):
    at = goto(sign_in("ada"), "reviews")
    at.button(key="approve_1").click()
    at.run()
    at.button(key="mg_cancel").click()
    at.run()
    assert common.DIALOG not in at.session_state
    assert pending_review(dash_cfg).status == "pending"


def test_a_review_decided_meanwhile_gives_a_clear_message(dash_cfg):
    from dashboard import actions

    at = goto(sign_in("ada"), "reviews")
    at.button(key="approve_1").click()
    at.run()  # ada's dialog is open ...
    assert actions.approve(dash_cfg, "carl", 1, "first").ok  # ... when carl approves
    at.text_input(key="approve_reason").input("me too")
    at.button(key="mg_confirm").click()
    at.run()
    assert not at.exception
    assert shown(at.warning[0].value).startswith("Review 1 is already decided: approved by carl")
    assert len(events(dash_cfg, "review_approved")) == 1


def test_the_two_person_rule(dash_cfg, monkeypatch):
    monkeypatch.setenv("MODELGATE_APPROVALS_REQUIRED", "2")
    at = approve_on_page(sign_in("ada"), 1)
    assert shown(at.info[0].value).startswith(
        "Recorded your approval of review 1; it needs 2 approvals"
    )
    assert champion(dash_cfg) == 1
    assert "Approvals: 1 of 2 (ada at" in texts(at)
    at = approve_on_page(at, 1, "again")
    assert shown(at.warning[0].value).startswith("ada has already approved review 1")
    assert champion(dash_cfg) == 1
    at = approve_on_page(sign_in("carl"), 1, "second pair of eyes")
    assert shown(at.success[0].value).startswith("Approved review 1")
    assert champion(dash_cfg) == 6
    (approved,) = events(dash_cfg, "review_approved")
    assert approved["details"]["approvals"] == 2 and approved["actor"] == "carl"


def test_rollback_defaults_to_the_previous_champion(dash_cfg):
    at = approve_on_page(sign_in("ada"), 1)
    at = goto(at, "rollback")
    assert at.selectbox[0].value == 1  # the previous champion
    at.text_input(key="rollback_reason").input("alerts from the wards")
    at.run()
    at.button[0].click()  # Roll back
    at.run()
    at.button(key="mg_confirm").click()
    at.run()
    assert shown(at.success[0].value).startswith("Rolled back: version 1 is the champion (was v6)")
    assert champion(dash_cfg) == 1
    assert events(dash_cfg, "rolled_back")[0]["details"]["reason"] == "alerts from the wards"


def test_users_page_adds_resets_and_disables(dash_cfg):
    at = goto(sign_in("ada"), "users")
    form = {t.label: t for t in at.text_input}
    form["New username"].input("nina")
    form["Initial password"].input("long-enough-pw")
    at.selectbox[0].select("viewer")
    at.button(key="FormSubmitter:add_user-Add user").click()
    at.run()
    assert shown(at.success[0].value) == "Added nina (viewer)."
    at.selectbox(key="change_who").select("nina")
    at.run()
    at.selectbox(key="change_role_nina").select("admin")
    at.run()
    next(b for b in at.button if b.label == "Save role").click()
    at.run()
    assert shown(at.success[0].value) == "nina: role set."
    next(b for b in at.button if b.label == "Disable account").click()
    at.run()
    with Registry.open(dash_cfg) as reg:
        nina = reg.get_user("nina")
    assert (nina["role"], nina["disabled"]) == ("admin", 1)
    assert titles(sign_in("nina", "long-enough-pw")) == ["ModelGate"]  # disabled: no way in


def test_an_admin_cannot_demote_themself(dash_cfg):
    at = goto(sign_in("ada"), "users")
    at.selectbox(key="change_who").select("ada")
    at.run()
    at.selectbox(key="change_role_ada").select("viewer")
    at.run()
    next(b for b in at.button if b.label == "Save role").click()
    at.run()
    assert "cannot demote or disable your own account" in shown(at.error[0].value)


def test_an_announced_promotion_can_be_vetoed_on_the_reviews_page(dash_cfg):
    with Registry.open(dash_cfg) as reg:
        promo = reg.schedule_promotion(
            run_id="scheduled__2025-06-01",
            version=6,
            expected_champion=1,
            reason="+6% mae",
            announced_at="2025-06-01T02:00:00",
            due_at="2025-06-02T02:00:00",
        )
    at = goto(sign_in("ada"), "reviews")
    assert "Version **6** replaces v1 after 2025-06-02 02:00" in texts(at)
    at.button(key=f"veto_{promo['id']}").click()
    at.run()
    at.text_input(key="veto_reason").input("ward 7 data is being fixed")
    at.run()
    at.button(key="mg_confirm").click()
    at.run()
    assert shown(at.success[0].value) == "Vetoed: version 6 will not become champion."
    with Registry.open(dash_cfg) as reg:
        (row,) = reg.pending_promotions(None)
        assert (row["status"], row["decided_by"]) == ("vetoed", "ada")
        assert reg.apply_due_promotions("2025-06-03T00:00:00") == []
    assert champion(dash_cfg) == 1


def test_rollouts_page_shows_the_live_rollout_to_a_viewer_without_controls(dash_cfg):
    rid = add_rollout(dash_cfg)
    at = goto(sign_in("vic"), "rollouts")
    with Registry.open(dash_cfg) as reg:
        live = reg.get_rollout(rid)
    assert live["step_index"] >= 1  # the ramp advanced at least once in two days
    assert [shown(m.value) for m in at.metric][:2] == ["active", f"{live['share']:.0%}"]
    assert shown(at.success[0].value).startswith("No sample ratio mismatch")
    variants = at.dataframe[0].value
    assert list(variants["variant"]) == ["champion", "challenger"]
    assert (variants["units with labels"] > 0).all()
    history = at.dataframe[1].value
    assert list(history["event"]) == ["started"] + ["advanced"] * live["step_index"]
    assert not [b for b in at.button if b.key and b.key.startswith("rollout_")]
    overview = goto(at, "overview")
    assert shown(overview.info[0].value).startswith(
        f"Rollout {rid} (gradual, active): version 6 serves"
    )
    assert rid == 1


def test_an_admin_pauses_a_rollout_from_the_page(dash_cfg):
    rid = add_rollout(dash_cfg)
    at = goto(sign_in("ada"), "rollouts")
    at.button(key="rollout_pause").click()
    at.run()
    at.text_input(key="rollout_reason").input("ward 3 complaints")
    at.run()
    at.button(key="mg_confirm").click()
    at.run()
    with Registry.open(dash_cfg) as reg:
        share = reg.get_rollout(rid)["share"]
    assert shown(at.success[0].value) == f"Rollout {rid}: paused, challenger share {share:.0%}."
    with Registry.open(dash_cfg) as reg:
        assert reg.get_rollout(rid)["status"] == "paused"
        assert reg.audit_log(event="rollout_paused")[0]["actor"] == "ada"
    assert at.button(key="rollout_resume")  # now it can be resumed
    (picker,) = [s for s in at.selectbox if s.label == "Rollout"]
    assert picker.value == rid and picker.options[0].endswith("gradual, paused")  # relabelled


def test_md_escapes_every_markdown_and_html_construct():
    from dashboard.common import md

    out = md("![x](http://h/p.png) <img src=x> **b** $x$ :red[r] `c`\nnext")
    assert "\n" not in out
    for ch in "![]()<>*$:`":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == ch), (ch, out)
    assert md("plain words 42") == "plain words 42"


def test_the_review_card_and_a_comparison_show_the_baseline_and_the_bootstrap_unit(dash_cfg):
    with Registry.open(dash_cfg) as reg:
        (comp,) = [c for c in reg.comparisons() if c["challenger_version"] == 6]
    assert (
        comp["baseline"] == "training median"
        and comp["bootstrap_groups"] == "rows sharing a timestamp"
    )
    at = goto(sign_in("ada"), "reviews")
    card = texts(at)
    assert f"Naive baseline (training median): mae {comp['baseline_value']:.4g}" in card
    assert f"({comp['n_groups']:,} groups); effective size" in card
    assert "Bootstrap resampled whole groups, rows sharing a timestamp (" in texts(
        goto(at, "models")
    )


def test_overview_says_a_rollout_whose_champion_changed_will_be_aborted(dash_cfg):
    add_rollout(dash_cfg)  # v6 against v1
    with Registry.open(dash_cfg) as reg:
        reg.promote(
            version=2,
            expected_champion=1,
            run_id="manual-fix",
            at="2025-06-05T00:00:00",
            reason="hotfix",
            facts={},
        )
    at = sign_in("ada")
    (warning,) = [shown(w.value) for w in at.warning if "Rollout" in shown(w.value)]
    assert "against v1, which is no longer the champion (now v2)" in warning
    assert "aborts it at its next run" in warning


def test_models_and_overview_show_the_comparable_leaderboard_figure(dash_cfg):
    at = sign_in("vic")
    (label,) = [m.label for m in at.metric if m.label.startswith("Champion")]
    assert label == "Champion mae, recent 30 days"
    with Registry.open(dash_cfg) as reg:
        board = reg.leaderboards(limit=1)[0]
    champion = next(r for r in board["scores"] if r.get("champion"))
    assert at.metric[0].value == f"{champion['value']:.4g}"
    models = goto(at, "models")
    assert "Leaderboard: every version on the same recent window" in [
        s.value for s in models.subheader
    ]
    table = models.dataframe[0].value
    assert list(table["version"]) == [r["version"] for r in board["scores"]]
