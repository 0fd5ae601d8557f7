"""Registry: compare-and-set, atomic decisions under concurrency, immutability, integrity."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest

from pipeline.errors import Conflict, IntegrityError, NotFound
from pipeline.reports import Comparison, Decision, MetricInterval, TriggerReport
from registry import Registry

AS_OF = dt.datetime(2025, 3, 1, 2)


def _version(reg: Registry, run_id: str, payload: bytes | None = None) -> int:
    reg.start_run(
        run_id=run_id,
        dag_id="d",
        logical_date=None,
        as_of=AS_OF.isoformat(),
        run_type="manual",
        data_source="test",
        triggers=TriggerReport(checks=()),
    )
    v = reg.register_model(
        run_id=run_id,
        model_bytes=payload or run_id.encode() * 10,
        estimator="E",
        params={},
        train_start="2024-01-01",
        train_end="2025-01-01",
        train_rows=10,
        data_fingerprint="f",
        metrics={"mae": 1.0},
        schema={},
        feature_importance={},
    )
    return v.version


def _review(reg: Registry, run_id: str, version: int, expected: int | None) -> int:
    c = Comparison(
        metric="mae",
        higher_is_better=False,
        challenger_version=version,
        champion_version=expected,
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
    cid = reg.record_comparison(run_id, c)
    reg.record_decision(run_id, cid, version, Decision(outcome="review", reasons=("small win",)))
    return reg.request_review(
        run_id=run_id,
        comparison_id=cid,
        version=version,
        expected_champion=expected,
        requested_at=AS_OF,
        ttl_days=14,
    )[0].id


@pytest.fixture
def champion_and_review(registry):
    v1, v2, v3 = (_version(registry, f"r{i}") for i in (1, 2, 3))
    assert registry.promote(
        version=v1, expected_champion=None, run_id="r1", at="2025-01-01", reason="first"
    )
    rid = _review(registry, "r2", v2, expected=v1)
    return registry, v1, v2, v3, rid


def test_approve_makes_the_challenger_champion_and_audits(champion_and_review):
    reg, v1, v2, _, rid = champion_and_review
    review = reg.approve(rid, by="alice", reason="good")
    assert review.status == "approved" and review.decided_by == "alice"
    champ = reg.current_champion()
    assert champ.version == v2 and champ.by == "alice" and champ.kind == "approval"
    assert reg.champion_history()[-1]["previous_version"] == v1
    assert [e["event"] for e in reg.audit_log(limit=3)] == [
        "notification_queued",  # the promotion's announcement, in the approval's transaction
        "promoted",
        "review_approved",
    ]
    (notice,) = [o for o in reg.outbox() if o["key"] == "champion:2"]
    assert notice["event"] == "promoted" and "Audit log: event" in notice["text"]


def test_approving_against_a_changed_champion_is_a_conflict(champion_and_review):
    reg, v1, _v2, v3, rid = champion_and_review
    reg.promote(version=v3, expected_champion=v1, run_id="r3", at="2025-03-01", reason="newer win")
    before = reg.audit_log()
    with pytest.raises(Conflict, match=r"Review 1 is stale: the champion is v3, not v1"):
        reg.approve(rid, by="alice")
    assert reg.current_champion().version == v3
    assert reg.get_review(rid).status == "pending"  # nothing half-done
    assert reg.audit_log() == before


def test_stale_promotion_is_a_conflict(champion_and_review):
    reg, v1, _v2, v3, _ = champion_and_review
    with pytest.raises(Conflict):
        reg.promote(version=v3, expected_champion=None, run_id="r3", at="x", reason="stale")
    assert reg.current_champion().version == v1


def test_a_decided_review_cannot_be_decided_again(champion_and_review):
    reg, *_, rid = champion_and_review
    reg.reject_review(rid, by="bob", reason="not convinced")
    with pytest.raises(Conflict, match="already decided: rejected by bob"):
        reg.approve(rid, by="alice")


def test_twenty_simultaneous_approvals_promote_once(champion_and_review, cfg):
    reg, _v1, _v2, _, rid = champion_and_review
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def approve(i: int) -> None:
        with Registry.open(cfg) as own:  # each admin session has its own connection
            barrier.wait()
            try:
                own.approve(rid, by=f"admin{i}", reason="go")
                outcome = "approved"
            except Conflict as exc:
                outcome = "already" if "already decided" in str(exc) else str(exc)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already"] * 19 + ["approved"]
    assert [h["kind"] for h in reg.champion_history()] == ["promotion", "approval"]
    assert len(reg.audit_log(event="review_approved")) == 1
    assert reg.verify_audit().ok


def test_promotion_retry_is_a_no_op(champion_and_review):
    reg, v1, *_ = champion_and_review
    assert (
        reg.promote(
            version=v1, expected_champion=None, run_id="r1", at="2025-01-01", reason="again"
        )
        is False
    )
    assert len(reg.champion_history()) == 1


def test_rollback_defaults_to_the_previous_champion(champion_and_review):
    reg, v1, _v2, v3, rid = champion_and_review
    reg.approve(rid, by="alice")
    champ, previous = reg.rollback(by="carol", reason="latency regression")
    assert champ.version == v1 and champ.kind == "rollback" and champ.by == "carol"
    assert previous == _v2
    assert reg.rollback(by="carol", reason="forward again", to_version=v3)[0].version == v3
    with pytest.raises(Conflict, match="already the champion"):
        reg.rollback(by="carol", reason="noop", to_version=v3)
    with pytest.raises(NotFound):
        reg.rollback(by="carol", reason="x", to_version=99)
    with pytest.raises(Conflict, match="not v1"):
        reg.rollback(by="carol", reason="x", expected_champion=v1)


def test_first_champion_has_nothing_to_roll_back_to(champion_and_review):
    reg, *_ = champion_and_review
    with pytest.raises(Conflict, match="no previous champion"):
        reg.rollback(by="carol", reason="x")


def test_reviews_expire_after_their_ttl(champion_and_review):
    reg, *_, rid = champion_and_review
    assert reg.expire_reviews(AS_OF + dt.timedelta(days=13)) == []
    assert reg.expire_reviews(AS_OF + dt.timedelta(days=14)) == [rid]
    assert reg.get_review(rid).status == "expired"
    assert len(reg.audit_log(event="review_expired")) == 1
    with pytest.raises(Conflict, match="already decided: expired"):
        reg.approve(rid, by="alice")


def test_corrupted_artifact_is_refused(champion_and_review):
    reg, v1, *_ = champion_and_review
    path = reg.artifacts.root / reg.get_version(v1).artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="fails its checksum"):
        reg.load_model_bytes(v1)


def test_missing_artifact_is_reported(champion_and_review):
    reg, v1, *_ = champion_and_review
    (reg.artifacts.root / reg.get_version(v1).artifact_path).unlink()
    with pytest.raises(NotFound, match="missing"):
        reg.load_model_bytes(v1)


def test_register_is_idempotent_per_run(registry):
    v = _version(registry, "same")
    again = registry.register_model(
        run_id="same",
        model_bytes=b"other",
        estimator="E",
        params={},
        train_start="a",
        train_end="b",
        train_rows=1,
        data_fingerprint="f",
        metrics={},
        schema={},
        feature_importance={},
    )
    assert again.version == v and registry.status()["versions"] == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "UPDATE model_versions SET sha256 = 'x'",
        "DELETE FROM model_versions",
        "DELETE FROM champion_history",
    ],
)
def test_history_tables_refuse_edits(champion_and_review, sql):
    reg, *_ = champion_and_review
    with pytest.raises(sqlite3.IntegrityError):
        reg.db.execute(sql)


def test_audit_chain_detects_an_edited_row(champion_and_review):
    reg, *_ = champion_and_review
    assert reg.verify_audit().ok
    reg.db.execute("DROP TRIGGER audit_log_append_only_u")  # what someone with file access could do
    reg.db.execute('UPDATE audit_log SET details = \'{"reason":"nothing to see"}\' WHERE seq = 3')
    check = reg.verify_audit()
    assert not check.ok and check.first_bad_seq == 3 and "altered" in check.problem


def test_audit_chain_detects_a_deleted_row(champion_and_review):
    reg, *_ = champion_and_review
    reg.db.execute("DROP TRIGGER audit_log_append_only_d")
    reg.db.execute("DELETE FROM audit_log WHERE seq = 2")
    check = reg.verify_audit()
    assert not check.ok and check.first_bad_seq == 3 and "missing" in check.problem


def test_opening_a_missing_registry_does_not_create_it(tmp_path):
    with pytest.raises(NotFound, match="modelgate init"):
        Registry(tmp_path / "none.db", tmp_path / "art")
    assert not (tmp_path / "none.db").exists()


def test_status_shape(champion_and_review):
    reg, v1, *_ = champion_and_review
    st = reg.status()
    assert set(st) == {
        "champion",
        "versions",
        "runs",
        "pending_reviews",
        "running",
        "abandoned",
        "audit_events",
    }
    assert st["champion"]["version"] == v1 and st["versions"] == 3 and st["pending_reviews"] == 1


def test_a_run_still_running_when_the_next_run_of_its_dag_starts_is_abandoned(registry):
    def start(run_id: str, dag_id: str = "d") -> None:
        registry.start_run(
            run_id=run_id,
            dag_id=dag_id,
            logical_date=None,
            as_of=AS_OF.isoformat(),
            run_type="manual",
            data_source="test",
            triggers=TriggerReport(checks=()),
        )

    start("killed")
    start("other-dag", dag_id="drift")  # another DAG's run says nothing about this one
    assert registry.get_run("killed")["status"] == "running"
    assert [r["run_id"] for r in registry.status()["running"]] == ["killed", "other-dag"]
    start("next")
    start("next")  # a retried task: nothing more
    killed = registry.get_run("killed")
    assert killed["status"] == "abandoned" and "run next started after it" in killed["error"]
    (event,) = registry.audit_log(event="run_abandoned")
    assert event["entity_id"] == "killed" and event["details"]["by_run"] == "next"
    registry.finish_run("next", status="success")
    st = registry.status()
    assert st["abandoned"] == 1 and [r["run_id"] for r in st["running"]] == ["other-dag"]
