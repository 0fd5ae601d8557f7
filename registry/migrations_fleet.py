"""m014: the registry holds many models (then m015: the evidence of each decision, and m016:
the effective time of each event). Every table that belongs to a model gains a ``model``
column; version numbers, run ids and outbox keys become unique per model; the champion is one
row per model. An existing single-model registry moves into the model ``default`` unchanged:
each rebuilt table's rows are digested before and after, and the digests are audited.

SQLite cannot change a primary key in place, so each table is rebuilt the documented way (new
table, copy, drop, rename) with foreign keys off; ``RegistryBase`` turns them off around the
migrations and holds one ``BEGIN IMMEDIATE`` over all of them, so two processes opening an old
registry migrate it once."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlite_utils import Database

from registry import audit
from registry.migrations import _execute_script, migrations

DEFAULT_MODEL = "default"

# Audit entities that belong to the installation, not to a model.
GLOBAL_ENTITIES = ("user", "audit_log", "registry")

# table -> (unique keys made per model, the table-level primary key if it changes)
_REBUILT: dict[str, tuple[tuple[str, ...], str | None]] = {
    "model_versions": (("run_id",), "model, version"),
    "champion": ((), "model"),
    "champion_history": ((), None),
    "runs": ((), "model, run_id"),
    "comparisons": (("run_id",), None),
    "decisions": (("run_id",), None),
    "reviews": (("run_id",), None),
    "drift_reports": (("run_id",), None),
    "outbox": (("key",), None),
    "pending_promotions": (("run_id",), None),
    "rollouts": (("run_id",), None),
}

_INDEXES = {  # re-created with the model leading, so each model's rows are one range
    "champion_history_run": "CREATE UNIQUE INDEX champion_history_run ON champion_history"
    "(model, kind, run_id) WHERE run_id IS NOT NULL",
    "drift_reports_as_of": "CREATE INDEX drift_reports_as_of ON drift_reports(model, as_of)",
    "outbox_due": "CREATE INDEX outbox_due ON outbox(status, next_attempt_at)",
    "rollouts_one_live": "CREATE UNIQUE INDEX rollouts_one_live ON rollouts"
    "(model, (status IN ('active', 'paused'))) WHERE status IN ('active', 'paused')",
}


def _sub(sql: str, old: str, new: str) -> str:
    if sql.count(old) != 1:
        raise RuntimeError(f"m014: expected one {old!r} in {sql[:40]!r}")
    return sql.replace(old, new)


def _new_table_sql(table: str, sql: str) -> str:
    """The table's CREATE statement, namespaced: a ``model`` column first, references to a
    version made composite, per-model uniqueness."""
    unique, primary = _REBUILT[table]
    sql = _sub(
        sql, f"CREATE TABLE {table} (", f"CREATE TABLE {table}__m014 (\n    model TEXT NOT NULL,"
    )
    constraints = []
    if table == "champion":
        sql = _sub(sql, "id INTEGER PRIMARY KEY CHECK (id = 1),", "")
    elif table == "model_versions":
        sql = _sub(
            sql, "version INTEGER PRIMARY KEY,", "version INTEGER NOT NULL CHECK (version > 0),"
        )
    elif table == "runs":
        sql = _sub(sql, "run_id TEXT PRIMARY KEY,", "run_id TEXT NOT NULL,")
    if primary:
        constraints.append(f"PRIMARY KEY ({primary})")
    for col in unique:
        sql = re.sub(rf"\b{col} TEXT( NOT NULL)? UNIQUE\b", rf"{col} TEXT\1", sql, count=1)
        constraints.append(f"UNIQUE (model, {col})")
    for col in re.findall(r"(\w+) INTEGER(?: NOT NULL)? REFERENCES model_versions\(version\)", sql):
        constraints.append(f"FOREIGN KEY (model, {col}) REFERENCES model_versions(model, version)")
    sql = re.sub(r" REFERENCES model_versions\(version\)", "", sql)
    body = sql.rstrip()
    if not body.endswith(")"):
        raise RuntimeError(f"m014: cannot extend the definition of {table}")
    return body[:-1].rstrip().rstrip(",") + ",\n    " + ",\n    ".join(constraints) + "\n)"


def _digest(db: Database, table: str, columns: list[str]) -> tuple[int, str]:
    """Row count and SHA-256 of ``columns`` of every row, in rowid order (the migration's
    proof that the rows moved unchanged)."""
    h = hashlib.sha256()
    n = 0
    cols = ", ".join(f'"{c}"' for c in columns)
    for row in db.execute(f"SELECT {cols} FROM {table} ORDER BY rowid"):
        h.update(audit.canonical(list(row)).encode())
        h.update(b"\n")
        n += 1
    return n, h.hexdigest()


def is_namespaced(db: Database) -> bool:
    return any(r[1] == "model" for r in db.execute("PRAGMA table_info(model_versions)"))


@migrations()
def m014_models(db: Database) -> None:
    if is_namespaced(db):  # a copy migrated by an earlier build of this migration
        return
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("m014 must run with foreign keys off (RegistryBase does that)")
    moved: dict[str, Any] = {}
    for table in _REBUILT:
        sql = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        ).fetchone()[0]
        extras = [
            (name, s)
            for name, s in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "AND tbl_name = ? AND sql IS NOT NULL",
                [table],
            )
        ]
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        kept = [c for c in columns if not (table == "champion" and c == "id")]
        before = _digest(db, table, kept)
        db.execute(_new_table_sql(table, sql))
        names = ", ".join(kept)
        db.execute(
            f"INSERT INTO {table}__m014 (model, {names}) SELECT ?, {names} FROM {table} ORDER BY rowid",
            [DEFAULT_MODEL],
        )
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}__m014 RENAME TO {table}")
        after = _digest(db, table, kept)
        if after != before:
            raise RuntimeError(f"m014: {table} changed while moving into '{DEFAULT_MODEL}'")
        for name, s in extras:
            if name in _INDEXES:
                db.execute(_INDEXES[name])
            elif name == "model_versions_immutable":
                db.execute(
                    s.replace(
                        "AND NEW.version IS OLD.version",
                        "AND NEW.model IS OLD.model AND NEW.version IS OLD.version",
                    )
                )
            else:
                db.execute(s)
        moved[table] = {"rows": before[0], "sha256": before[1]}
    db.execute(f"ALTER TABLE drift_scores ADD COLUMN model TEXT NOT NULL DEFAULT '{DEFAULT_MODEL}'")
    db.execute("DROP INDEX drift_scores_feature")
    db.execute("CREATE INDEX drift_scores_feature ON drift_scores(model, feature, as_of)")
    entities = ", ".join(f"'{e}'" for e in GLOBAL_ENTITIES)
    db.execute(
        "ALTER TABLE audit_log ADD COLUMN model TEXT GENERATED ALWAYS AS ("
        f"CASE WHEN entity IN ({entities}) THEN NULL "
        f"ELSE COALESCE(json_extract(details, '$.model'), '{DEFAULT_MODEL}') END) VIRTUAL"
    )
    db.execute("CREATE INDEX audit_model ON audit_log(model, seq)")
    db.execute("CREATE INDEX reviews_model_status ON reviews(model, status)")
    bad = db.execute("PRAGMA foreign_key_check").fetchall()
    if bad:
        raise RuntimeError(f"m014: foreign keys broken after the move: {bad[:3]}")
    if not any(t["rows"] for t in moved.values()):
        return  # a new registry: nothing moved, nothing to audit
    audit.append(
        db,
        actor="pipeline",
        event="registry_namespaced",
        entity="registry",
        entity_id="m014_models",
        details={"into": DEFAULT_MODEL, "tables": moved},
    )


@migrations()
def m015_evidence(db: Database) -> None:
    """The evidence of each decision (a JSON document and its SHA-256, written with the decision
    and never changed) and each comparison's lower confidence bound of the improvement."""
    _execute_script(
        db,
        """
        CREATE TABLE evidence (
            decision_id INTEGER PRIMARY KEY REFERENCES decisions(id),
            model TEXT NOT NULL,
            run_id TEXT NOT NULL,
            body TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX evidence_model_run ON evidence(model, run_id);
        CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
        BEGIN SELECT RAISE(ABORT, 'evidence is immutable'); END;
        CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
        BEGIN SELECT RAISE(ABORT, 'evidence is immutable'); END;
        ALTER TABLE comparisons ADD COLUMN improvement_lower REAL;
        """,
    )


@migrations()
def m016_effective_time(db: Database) -> None:
    """One clock per fact: each event's effective time (the run's logical time, or the registry's
    clock for an action outside a run, in its hashed details) beside the wall clock it was
    recorded at (``at``). Events from before count at the time they were recorded."""
    _execute_script(
        db,
        """
        ALTER TABLE audit_log ADD COLUMN effective_at TEXT GENERATED ALWAYS AS (
            COALESCE(json_extract(details, '$.effective_at'), at)) VIRTUAL;
        CREATE INDEX audit_effective ON audit_log(effective_at);
        """,
    )


@migrations()
def m017_leaderboard(db: Database) -> None:
    """The leaderboard: the champion and the newest versions scored on one recent window."""
    _execute_script(
        db,
        """
        CREATE TABLE leaderboard (
            id INTEGER PRIMARY KEY,
            model TEXT NOT NULL,
            as_of TEXT NOT NULL,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            metric TEXT NOT NULL,
            n_rows INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            scores TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (model, as_of)
        );
        """,
    )
