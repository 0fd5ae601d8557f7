"""Rollouts end to end without Airflow: a gradual rollout that completes, an A/B test that rolls a
worse model back, SRM halting, the Router's stickiness and shadow logging, retries and controls."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from pipeline import admin, loop
from pipeline.config import load_config
from pipeline.errors import Conflict
from pipeline.router import Router
from registry import Registry
from tests.dashboard.seed import env_for, populate


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    home = tmp_path_factory.mktemp("rollout-seed") / "mg"
    populate(home, review_ttl_days=60)
    return home


def _home(seeded, tmp_path, **settings):
    home = tmp_path / "mg"
    shutil.copytree(seeded, home)
    cfg = load_config(env=env_for(home, review_ttl_days=60, **settings), path="/dev/null")
    return cfg, Registry.open(cfg)


def _day(reg, cfg, when: dt.datetime, requests: int = 20_000) -> dict:
    ctx = loop.RunContext(
        run_id=f"rollout__{when:%Y-%m-%dT%H}", dag_id=loop.ROLLOUT_DAG_ID, as_of=when
    )
    loop.serve_traffic(cfg, reg, ctx, requests)
    return loop.monitor_rollout(cfg, reg, ctx)


def _start(cfg, reg, version=6, champion=1, when=dt.datetime(2025, 6, 1, 2)):
    ctx = loop.RunContext(run_id=f"scheduled__{when:%Y-%m-%d}", as_of=when)
    return loop.start_rollout(cfg, reg, ctx, version, champion)["rollout"]


def test_an_automatic_promotion_starts_a_rollout_instead(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        ctx = loop.RunContext(run_id="scheduled__2025-06-01", as_of=dt.datetime(2025, 6, 1, 2))
        result = loop.promote(cfg, reg, ctx, 6, 1)
        assert result == {"promoted": None, "rollout": 1, "changed": False}
        assert loop.promote(cfg, reg, ctx, 6, 1) == result  # a retried task
        assert reg.current_champion().version == 1
        (row,) = reg.rollouts()
        assert (row["status"], row["share"], row["seed"]) == ("active", 0.1, "rollout-1")
        # The mixing variance is fixed before any traffic: from the champion's holdout MAE.
        holdout_mae = reg.comparison("scheduled__2025-06-01")["champion_metrics"]["mae"]
        assert row["plan"]["loss_scale"] == pytest.approx(holdout_mae)
        # Its email says a rollout started, not that the champion changed.
        started = [m for m in reg.outbox(200) if m["key"] == "rollout_started:1"]
        assert [m["event"] for m in started] == ["rollout_started"]
        assert started[0]["subject"] == (
            "[ModelGate] Rollout started: version 6 serves 10% against champion version 1 "
            "(gradual, +2.99% mae); not promoted yet"
        )
        promoted = [m for m in reg.outbox(200) if m["event"] == "promoted"]
        assert all("version 6" not in m["subject"] for m in promoted)


def test_a_gradual_rollout_ramps_and_completes(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        rid = _start(cfg, reg)
        actions = [_day(reg, cfg, dt.datetime(2025, 6, d, 4))["action"] for d in (2, 3, 4)]
        assert actions == ["advance", "advance", "promote"]
        assert [e["share"] for e in reg.rollout_events(rid)] == [0.1, 0.25, 0.5, 1.0]
        assert reg.get_rollout(rid)["status"] == "promoted"
        champ = reg.current_champion()
        assert (champ.version, champ.kind) == (6, "promotion")
        assert len(reg.rollout_analyses(rid)) == 3
        assert [e["event"] for e in reg.outbox(limit=10)][:1] == ["rollout_decision"]
        # A day later nothing is live: the monitor has nothing to do.
        assert _day(reg, cfg, dt.datetime(2025, 6, 5, 4))["rollout"] is None


def test_an_ab_test_rolls_a_worse_challenger_back(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab", rollout_min_samples=300)
    with reg:
        admin.decide_approval(cfg, reg, by="ada", review_id=1, reason="june model")  # v6 champion
        rid = _start(cfg, reg, version=2, champion=6, when=dt.datetime(2025, 6, 10, 2))
        for d in range(11, 25):
            result = _day(reg, cfg, dt.datetime(2025, 6, d, 4), requests=4000)
            if result["action"] != "continue":
                break
        assert result["action"] == "rollback", result
        assert reg.get_rollout(rid)["status"] == "rolled_back"
        assert reg.current_champion().version == 6
        last = reg.rollout_analyses(rid)[-1]
        assert last["cs_high"] < 0 and last["challenger_mean"] > last["champion_mean"]


def test_a_sample_ratio_mismatch_halts_the_rollout(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab")
    with reg:
        rid = _start(cfg, reg)
        rows = [
            (
                f"r{i}",
                f"u{i}",
                "champion" if i < 10_000 else "challenger",
                0,
                1.0,
                None,
                "2025-06-01T05:00:00",
            )
            for i in range(20_500)
        ]
        reg.record_outcomes(rid, rows)
        reg.record_labels(rid, [(f"r{i}", 1.0, "2025-06-01T05:00:00") for i in range(20_500)])
        result = _day(reg, cfg, dt.datetime(2025, 6, 2, 4), requests=0)
        assert result["action"] == "halt" and "sample ratio mismatch" in result["reason"]
        assert reg.get_rollout(rid)["status"] == "halted"
        assert reg.current_champion().version == 1


def test_the_router_is_sticky_and_shadow_only_logs(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="shadow")
    with reg:
        rid = _start(cfg, reg)
        ds = loop.load_data(cfg, reg, None)
        rows = ds.frame.iloc[-200:].reset_index(drop=True)
        with Router(cfg, reg) as router:
            pred, variant = router.predict_frame(rows, [f"q{i}" for i in range(200)])
            one, who = router.predict("q-single", rows.iloc[0].to_dict())
        assert one == pytest.approx(pred[0])  # the same row, the same champion
        assert set(variant) == {"champion"} and who == "champion"
        outcomes = reg.rollout_outcomes(rid, labelled=False)
        shadowed = [o for o in outcomes if o["shadow_prediction"] is not None]
        assert len(outcomes) == 201 and 0.1 < len(shadowed) / 201 < 0.3
        champion_only = Router(cfg, reg)  # the champion's own predictions are what was served
        assert np.allclose(pred, champion_only._predict(1, rows))


def test_pausing_serves_the_champion_and_controls_are_compare_and_set(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab")
    with reg:
        rid = _start(cfg, reg)
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="pause", reason="look")
        with pytest.raises(
            Conflict, match=r"is paused at step 1 \(50%\); 'paused' needs it active"
        ):
            admin.do_rollout_control(
                cfg, reg, by="carl", rollout_id=rid, action="pause", reason="x"
            )
        router = Router(cfg, reg)
        units = [f"u{i}" for i in range(1000)]
        assert set(router.variants(units)) == {"champion"}
        assert _day(reg, cfg, dt.datetime(2025, 6, 2, 4), requests=0)["action"] == "paused"
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="resume", reason="ok")
        assert 0.45 < (Router(cfg, reg).variants(units) == "challenger").mean() < 0.55
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="promote", reason="go")
        assert reg.current_champion().version == 6
        finished = reg.get_rollout(rid)
        assert (finished["status"], finished["share"], finished["step_index"]) == (
            "promoted",
            1.0,
            0,
        )
        with pytest.raises(admin.Forbidden):
            admin.rollout_control(
                cfg, reg, username="vic", rollout_id=rid, action="abort", reason="x"
            )


def test_a_retried_monitor_task_decides_once(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        rid = _start(cfg, reg)
        when = dt.datetime(2025, 6, 2, 4)
        first = _day(reg, cfg, when)
        again = _day(reg, cfg, when)
        assert first["action"] == "advance" and again["action"] == "already analysed"
        assert len(reg.rollout_events(rid)) == 2 and reg.get_rollout(rid)["share"] == 0.25


def test_only_one_live_rollout(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab")
    with reg:
        _start(cfg, reg)
        with pytest.raises(Conflict, match="is still live"):
            _start(cfg, reg, version=5, when=dt.datetime(2025, 6, 2, 2))


def test_a_promotion_during_a_live_rollout_waits_as_a_review(seeded, tmp_path):
    """A later run's winner cannot start a second rollout: it is queued for review (the run
    does not fail on 'is still live'), and the live rollout goes on."""
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        rid = _start(cfg, reg)
        ctx = loop.RunContext(run_id="scheduled__2025-05-01", as_of=dt.datetime(2025, 5, 1, 2))
        result = loop.promote(cfg, reg, ctx, 5, 1)
        assert result["held_by_rollout"] == rid and result["promoted"] is None
        assert loop.promote(cfg, reg, ctx, 5, 1)["review_id"] == result["review_id"]  # a retry
        review = reg.get_review(result["review_id"])
        assert (review.challenger_version, review.status) == (5, "pending")
        assert reg.live_rollout()["id"] == rid and reg.current_champion().version == 1


def test_a_rollout_whose_champion_changed_is_aborted_not_promoted(seeded, tmp_path):
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="canary", rollout_steps="5,100")
    with reg:
        rid = _start(cfg, reg, version=6, champion=1)
        reg.rollback(by="ada", reason="test", to_version=3)  # the champion moves to v3
        result = _day(reg, cfg, dt.datetime(2025, 6, 2, 4), requests=12_000)
        assert result["action"] == "abort" and "the champion changed to v3" in result["reason"]
        assert reg.get_rollout(rid)["status"] == "aborted"
        assert reg.current_champion().version == 3


def test_a_retried_monitor_finishes_the_transition_its_first_attempt_decided(
    seeded, tmp_path, monkeypatch
):
    """Regression (review C1): the analysis was stored, the transition failed, and the retry
    only said "already analysed", leaving the rollout where it was."""
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        rid = _start(cfg, reg)
        real = reg.transition_rollout
        calls = {"n": 0}

        def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError("disk hiccup")
            return real(*args, **kwargs)

        monkeypatch.setattr(reg, "transition_rollout", flaky)
        with pytest.raises(OSError):
            _day(reg, cfg, dt.datetime(2025, 6, 2, 4))
        retried = loop.monitor_rollout(
            cfg,
            reg,
            loop.RunContext(
                run_id="rollout__2025-06-02T04",
                dag_id=loop.ROLLOUT_DAG_ID,
                as_of=dt.datetime(2025, 6, 2, 4),
            ),
        )
        assert retried["action"] == "advance"
        assert reg.get_rollout(rid)["share"] == 0.25 and len(reg.rollout_analyses(rid)) == 1


def test_labels_may_arrive_before_predictions_and_while_paused(seeded, tmp_path):
    """Regression (review C2): labels for predictions not yet flushed, or sent while the
    rollout was paused, were silently dropped."""
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab")
    with reg:
        rid = _start(cfg, reg)
        rows = loop.load_data(cfg, reg, None).frame.iloc[-100:].reset_index(drop=True)
        ids = [f"q{i}" for i in range(100)]
        serving = Router(cfg, reg, batch_size=10_000)
        serving.predict_frame(rows, ids)  # buffered, not yet written
        labeller = Router(cfg, reg)
        for i in ids[:50]:
            labeller.record_label(i, 1.0)
        labeller.flush()  # labels first
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="pause", reason="x")
        late = Router(cfg, reg)
        for i in ids[50:]:
            late.record_label(i, 2.0)
        late.flush()  # labels while paused
        serving.flush()  # the predictions at last
        labelled = reg.rollout_outcomes(rid)
        assert len(labelled) == 100 and {o["actual"] for o in labelled} == {1.0, 2.0}


def test_resuming_restarts_the_step_clock(seeded, tmp_path):
    """Regression (review C3): time spent paused counted towards holding a step."""
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="gradual")
    with reg:
        rid = _start(cfg, reg)
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="pause", reason="x")
        admin.do_rollout_control(cfg, reg, by="ada", rollout_id=rid, action="resume", reason="y")
        row = reg.get_rollout(rid)
        assert row["step_started_at"] > row["started_at"]


def test_a_champion_change_stops_the_split_and_aborts_the_rollout(seeded, tmp_path):
    """Regression (review C4, C5): after a rollback the Router kept serving the challenger."""
    cfg, reg = _home(seeded, tmp_path, rollout_strategy="ab")
    with reg:
        rid = _start(cfg, reg)
        router = Router(cfg, reg, refresh_seconds=0)
        units = [f"u{i}" for i in range(400)]
        assert (router.variants(units) == "challenger").any()
        reg.rollback(by="carl", reason="incident", to_version=2)
        rows = loop.load_data(cfg, reg, None).frame.iloc[-10:].reset_index(drop=True)
        _, variants = router.predict_frame(rows, [f"z{i}" for i in range(10)])
        assert set(variants) == {"champion"} and router.champion_version == 2
        result = _day(reg, cfg, dt.datetime(2025, 6, 2, 4), requests=0)
        assert result["action"] == "abort" and reg.get_rollout(rid)["status"] == "aborted"
