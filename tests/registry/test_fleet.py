"""One registry, many models: isolation of every decision, and the move of a single-model
registry (made by the release before models existed) into the model ``default``."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from pipeline.errors import Conflict, NotFound
from registry import Registry
from registry.migrations_fleet import _REBUILT, GLOBAL_ENTITIES, _digest
from tests.concurrency import at_once
from tests.registry.test_store import _review, _version

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "registry-single-model.tar.gz"


@pytest.fixture
def two(cfg):
    """Models 'beds' and 'risk' in one registry, each with a champion v1 and a review of v2."""
    made = []
    for name in ("beds", "risk"):
        reg = Registry.open(dataclasses.replace(cfg, model=name), create=True)
        v1, v2 = _version(reg, "r1"), _version(reg, "r2")
        reg.promote(
            version=v1, expected_champion=None, run_id="r1", at="2025-01-01", reason="first"
        )
        made.append((reg, _review(reg, "r2", v2, expected=v1)))
    yield made
    for reg, _ in made:
        reg.close()


def test_versions_and_champions_count_per_model(two):
    (beds, beds_review), (risk, risk_review) = two
    # The same run ids and version numbers in both models, apart.
    assert [v.version for v in beds.versions()] == [1, 2] == [v.version for v in risk.versions()]
    assert {v.model for v in beds.versions()} == {"beds"}
    assert beds_review != risk_review
    beds.approve(beds_review, by="alice", reason="good")
    assert beds.current_champion().version == 2 and risk.current_champion().version == 1
    assert risk.get_review(risk_review).status == "pending"
    beds.rollback(by="alice", reason="undo")
    assert [h["kind"] for h in beds.champion_history()] == ["promotion", "approval", "rollback"]
    assert [h["kind"] for h in risk.champion_history()] == ["promotion"]
    assert beds.status()["versions"] == 2 and risk.status()["pending_reviews"] == 1
    check = beds.verify_audit()
    assert check.ok, check.problems


def test_another_models_ids_are_refused_naming_the_model(two):
    (beds, _), (risk, risk_review) = two
    before = risk.audit_log()
    with pytest.raises(
        NotFound,
        match=rf"Review {risk_review} belongs to model 'risk', not 'beds': add --model risk",
    ):
        beds.approve(risk_review, by="alice")
    with pytest.raises(NotFound, match="Review 99 does not exist"):
        beds.reject_review(99, by="alice", reason="x")
    assert risk.get_review(risk_review).status == "pending" and risk.audit_log() == before


def test_every_event_names_its_model_in_one_chain(two):
    (beds, beds_review), _ = two
    beds.approve(beds_review, by="alice", reason="good")
    events = [e for e in beds.audit_log() if e["entity"] not in GLOBAL_ENTITIES]
    assert {e["model"] for e in events} == {"beds", "risk"}
    assert all(e["details"]["model"] == e["model"] for e in events)  # the chain covers the name
    promoted = beds.audit_log(event="promoted", model="risk")
    assert [e["entity_id"] for e in promoted] == ["1"]
    assert [e["entity_id"] for e in beds.audit_log(version=2)][:1] == ["2"]
    assert {e["model"] for e in beds.audit_log(version=2)} == {"beds"}
    assert beds.verify_audit().ok


def test_a_broken_champion_is_reported_for_its_model(two, cfg):
    (beds, _), _ = two
    with sqlite3.connect(cfg.registry_db) as db:
        db.execute("UPDATE champion SET version = 2 WHERE model = 'risk'")
    check = beds.verify_audit()
    assert not check.ok and check.problems == (
        "risk: the champion pointer says v2, but the last audited change made v1 champion",
    )


def test_twenty_concurrent_approvals_across_two_models_decide_once_each(two, cfg):
    (beds, beds_review), (risk, risk_review) = two

    def approve(i: int) -> tuple[str, str]:
        name, rid = ("beds", beds_review) if i % 2 else ("risk", risk_review)
        # Each admin session has its own connection.
        with Registry.open(dataclasses.replace(cfg, model=name)) as own:
            try:
                own.approve(rid, by=f"admin{i}", reason="go")
                return name, "approved"
            except Conflict as exc:
                return name, "already" if "already decided" in str(exc) else str(exc)

    outcomes = at_once(20, approve)
    results = {n: [o for m, o in outcomes if m == n] for n in ("beds", "risk")}
    for name, reg in (("beds", beds), ("risk", risk)):
        assert sorted(results[name]) == ["already"] * 9 + ["approved"], name
        assert [h["kind"] for h in reg.champion_history()] == ["promotion", "approval"]
        assert reg.current_champion().version == 2
        assert len(reg.audit_log(event="review_approved", model=name)) == 1
    assert beds.verify_audit().ok


def test_one_live_rollout_per_model(two):
    (beds, _), (risk, _) = two
    for reg in (beds, risk):  # each model may roll out its own challenger at once
        reg.start_rollout(
            run_id="r2",
            version=2,
            expected_champion=1,
            strategy="canary",
            plan={},
            share=0.1,
            at="2025-02-01",
        )
    assert beds.live_rollout()["model"] == "beds" and risk.live_rollout()["model"] == "risk"
    with pytest.raises(Conflict, match="is still live"):
        beds.start_rollout(
            run_id="r3",
            version=2,
            expected_champion=1,
            strategy="canary",
            plan={},
            share=0.1,
            at="2025-02-02",
        )


def _tables(db: sqlite3.Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    out = {}
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations'"
    ).fetchall():
        cur = db.execute(f"SELECT * FROM {name} ORDER BY rowid")
        out[name] = ([c[0] for c in cur.description], cur.fetchall())
    return out


def test_a_single_model_registry_moves_into_default_unchanged(tmp_path):
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    db_path = tmp_path / "registry.db"
    with sqlite3.connect(db_path) as db:
        before = _tables(db)
        assert "model" not in before["model_versions"][0]  # made by the release before models
    with Registry(db_path, tmp_path / "artifacts") as reg:
        assert reg.model == "default"
        check = reg.verify_audit()
        assert check.ok, check.problems
        (moved,) = reg.audit_log(event="registry_namespaced")
        assert moved["seq"] == len(before["audit_log"][1]) + 1 and moved["model"] is None
        status = reg.status()
    with sqlite3.connect(db_path) as db:
        after = _tables(db)
        # Byte for byte: every row of every table, less the new model column, as it was.
        for table, (cols, rows) in before.items():
            new_cols, new_rows = after[table]
            if table == "champion":
                cols, rows = cols[1:], [r[1:] for r in rows]  # the id = 1 column is gone
            keep = [new_cols.index(c) for c in cols]
            n = len(rows) + (1 if table == "audit_log" else 0)
            assert len(new_rows) == n, table
            assert [tuple(r[i] for i in keep) for r in new_rows[: len(rows)]] == rows, table
            if "model" in new_cols and table != "audit_log":
                assert {r[new_cols.index("model")] for r in new_rows} <= {"default"}, table
        # The audited digests are those of the rows now in the tables.
        for table in _REBUILT:
            cols = [c for c in before[table][0] if c != "id" or table != "champion"]
            rows, digest = _digest(db, table, cols)
            assert moved["details"]["tables"][table] == {"rows": rows, "sha256": digest}
        events = dict(db.execute("SELECT entity, model FROM audit_log GROUP BY entity"))
        assert events["model_version"] == "default" and events["user"] is None
    assert status["versions"] == 9 and status["champion"]["version"] == 1
    # Opening again moves nothing more.
    with Registry(db_path, tmp_path / "artifacts") as reg:
        assert len(reg.audit_log(event="registry_namespaced")) == 1
        assert reg.verify_audit().ok
        # The next version of 'default' follows the migrated ones; another model starts at 1.
        assert _version(reg, "after-move") == 10
        assert _version(reg.scoped("beds"), "after-move") == 1


def test_four_connections_opening_an_old_registry_migrate_it_once(tmp_path):
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    opened = at_once(
        4, lambda _: Registry(tmp_path / "registry.db", tmp_path / "artifacts").close()
    )
    assert opened == [None] * 4  # no connection failed
    with Registry(tmp_path / "registry.db", tmp_path / "artifacts") as reg:
        assert len(reg.audit_log(event="registry_namespaced")) == 1 and reg.verify_audit().ok
    checkpoint = json.loads((tmp_path / "artifacts" / "audit-checkpoint.json").read_text())
    assert checkpoint["events"] == 187
