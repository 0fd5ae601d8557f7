"""audit --verify against tampering: the chain, the checkpoint, the key and the state (README table)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from pipeline import cli
from registry import audit
from tests.registry.crashes import seed_registry

KEY = "s3cret-audit-key"


def _db(home: Path) -> sqlite3.Connection:
    db = sqlite3.connect(home / "registry.db", isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS audit_log_append_only_u")
    db.execute("DROP TRIGGER IF EXISTS audit_log_append_only_d")
    return db


def delete_last(home: Path, n: int = 1) -> None:
    _db(home).execute("DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) FROM audit_log) - ?", [n])


def delete_all(home: Path) -> None:
    _db(home).execute("DELETE FROM audit_log")


def rechain(db: sqlite3.Connection) -> None:
    """What a careful forger does after any edit: recompute every hash (SHA-256 is public)."""
    prev = audit.GENESIS
    rows = db.execute(
        "SELECT seq, at, actor, event, entity, entity_id, details FROM audit_log ORDER BY seq"
    ).fetchall()
    cols = ("seq", "at", "actor", "event", "entity", "entity_id", "details")
    for values in rows:
        row = dict(zip(cols, values, strict=True))
        h = audit.row_hash(prev, row)
        db.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, h, row["seq"]]
        )
        prev = h


def delete_middle_and_renumber(home: Path) -> None:
    db = _db(home)
    db.execute("DELETE FROM audit_log WHERE seq = 5")
    db.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 5")


def rewrite(home: Path) -> None:
    db = _db(home)
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE event = 'promoted'")
    rechain(db)


def forged_append(home: Path) -> None:
    db = _db(home)
    seq, prev = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    row = {
        "seq": seq + 1,
        "at": "2025-01-02T00:00:00+00:00",
        "actor": "mallory",
        "event": "login",
        "entity": "user",
        "entity_id": "mallory",
        "details": "{}",
    }
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, event, entity, entity_id, details, prev_hash, hash) "
        "VALUES (:seq, :at, :actor, :event, :entity, :entity_id, :details, :prev, :hash)",
        {**row, "prev": prev, "hash": audit.row_hash(prev, row)},
    )


def champion_pointer(home: Path) -> None:
    _db(home).execute("UPDATE champion SET version = 4 WHERE model = 'default'")


def version_sha256(home: Path) -> None:
    db = _db(home)
    db.execute("DROP TRIGGER model_versions_immutable")
    (path,) = db.execute("SELECT artifact_path FROM model_versions WHERE version = 1").fetchone()
    evil = b"malicious pickle"
    (home / "artifacts" / path).write_bytes(evil)
    db.execute(
        "UPDATE model_versions SET sha256 = ?, size_bytes = ? WHERE version = 1",
        [hashlib.sha256(evil).hexdigest(), len(evil)],
    )


def drop_table(home: Path) -> None:
    _db(home).execute("DROP TABLE audit_log")


# name -> (tampering, found without the key, found with it, what the message says)
CASES = {
    "delete the last event": (delete_last, True, True, "were deleted"),
    "delete the last 50 events": (lambda h: delete_last(h, 50), True, True, "were deleted"),
    "delete every event": (delete_all, True, True, "were deleted"),
    "delete a middle event, renumber": (delete_middle_and_renumber, True, True, "does not follow"),
    "drop the triggers, rewrite, rechain": (rewrite, True, True, "the log was rewritten"),
    "append a forged event": (forged_append, False, True, "is not signed"),
    "change the champion table": (champion_pointer, True, True, "champion pointer says v4"),
    "change a version's sha256 (and file)": (version_sha256, True, True, "model_registered"),
}


@pytest.fixture
def mg_env(home, monkeypatch):
    monkeypatch.setenv("MODELGATE_HOME", str(home))
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    return home


@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "key"])
@pytest.mark.parametrize("name", list(CASES))
def test_tampering_is_found(mg_env, monkeypatch, capsys, name, keyed):
    if keyed:
        monkeypatch.setenv("MODELGATE_AUDIT_KEY", KEY)
    seed_registry(mg_env)
    assert cli.main(["audit", "--verify"]) == 0
    assert "Audit log verified" in capsys.readouterr().out
    tamper, plain, signed, says = CASES[name]
    tamper(mg_env)
    found = cli.main(["audit", "--verify"]) == 1
    err = capsys.readouterr().err
    assert found == (signed if keyed else plain), err
    if found:
        assert says in err and err.count("\n") == 1, err


def test_a_dropped_audit_table_is_one_line_and_exit_2(mg_env, capsys):
    seed_registry(mg_env)
    drop_table(mg_env)
    assert cli.main(["audit", "--verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such table: audit_log" in err and "Traceback" not in err


def test_a_deleted_checkpoint_is_missed_not_recreated(mg_env, capsys):
    seed_registry(mg_env)
    (mg_env / "artifacts" / "audit-checkpoint.json").unlink()
    assert cli.main(["audit", "--verify"]) == 1
    assert "audit-checkpoint.json is missing" in capsys.readouterr().err


def test_the_checkpoint_follows_every_commit_and_is_signed_with_the_key(mg_env, monkeypatch):
    monkeypatch.setenv("MODELGATE_AUDIT_KEY", KEY)
    seed_registry(mg_env)
    cp = json.loads((mg_env / "artifacts" / "audit-checkpoint.json").read_text())
    db = sqlite3.connect(mg_env / "registry.db")
    seq, head, unsigned = db.execute(
        "SELECT MAX(seq), (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), "
        "SUM(mac IS NULL) FROM audit_log"
    ).fetchone()
    assert (cp["events"], cp["head"], unsigned) == (seq, head, 0) and len(cp["mac"]) == 64
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # signed events stay put
        db.execute("UPDATE audit_log SET mac = 'x' WHERE seq = 1")


def test_an_older_log_is_signed_once_when_the_key_is_set(mg_env, monkeypatch, capsys):
    seed_registry(mg_env)  # written without a key
    monkeypatch.setenv("MODELGATE_AUDIT_KEY", KEY)
    assert cli.main(["audit", "--verify"]) == 1
    assert "is not signed" in capsys.readouterr().err
    assert cli.main(["audit", "--sign", "--by", "ops"]) == 0
    assert cli.main(["audit", "--verify"]) == 0
    monkeypatch.setenv("MODELGATE_AUDIT_KEY", "another key")
    assert cli.main(["audit", "--verify"]) == 1
    assert "not the key's" in capsys.readouterr().err
