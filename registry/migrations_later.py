"""Registry migrations from m007 on: rollouts, user provenance, calibrated drift, the signed
audit log and the improvement measure. Registered on the same ``migrations`` object, after
m001-m006, by the import at the end of ``registry.migrations``."""

from __future__ import annotations

from sqlite_utils import Database

from registry.migrations import _execute_script, migrations


@migrations()
def m007_rollouts(db: Database) -> None:
    """Rollouts, their event history, served predictions with delayed labels, and analyses."""
    _execute_script(
        db,
        """
        CREATE TABLE rollouts (
            id INTEGER PRIMARY KEY,
            run_id TEXT UNIQUE,
            version INTEGER NOT NULL REFERENCES model_versions(version),
            champion_version INTEGER NOT NULL REFERENCES model_versions(version),
            strategy TEXT NOT NULL,
            plan TEXT NOT NULL,
            seed TEXT NOT NULL,
            step_index INTEGER NOT NULL DEFAULT 0,
            share REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('active', 'paused', 'promoted', 'rolled_back', 'aborted', 'halted', 'expired')),
            started_at TEXT NOT NULL,
            step_started_at TEXT NOT NULL,
            ended_at TEXT,
            reason TEXT
        );
        -- At most one live (active or paused) rollout.
        CREATE UNIQUE INDEX rollouts_one_live ON rollouts((status IN ('active', 'paused')))
            WHERE status IN ('active', 'paused');
        CREATE TABLE rollout_events (
            id INTEGER PRIMARY KEY,
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            share REAL NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE TABLE rollout_outcomes (
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
            request_id TEXT NOT NULL,
            unit TEXT NOT NULL,
            variant TEXT NOT NULL CHECK (variant IN ('champion', 'challenger')),
            step_index INTEGER NOT NULL,
            prediction REAL NOT NULL,
            shadow_prediction REAL,
            served_at TEXT NOT NULL,
            PRIMARY KEY (rollout_id, request_id)
        );
        -- Labels in their own table: one may arrive before its prediction is stored.
        CREATE TABLE rollout_labels (
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
            request_id TEXT NOT NULL,
            actual REAL NOT NULL,
            labelled_at TEXT NOT NULL,
            PRIMARY KEY (rollout_id, request_id)
        );
        CREATE TABLE rollout_analyses (
            id INTEGER PRIMARY KEY,
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
            run_id TEXT NOT NULL,
            at TEXT NOT NULL,
            step_index INTEGER NOT NULL,
            share REAL NOT NULL,
            n_champion INTEGER NOT NULL,
            n_challenger INTEGER NOT NULL,
            champion_mean REAL,
            champion_low REAL,
            champion_high REAL,
            challenger_mean REAL,
            challenger_low REAL,
            challenger_high REAL,
            difference REAL,
            cs_low REAL,
            cs_high REAL,
            srm_p REAL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL,
            UNIQUE (rollout_id, run_id)
        );
        """,
    )


@migrations()
def m008_user_provenance(db: Database) -> None:
    """Who created each account and who last set its role: the two-person rule refuses a pair of
    approvers where one made the other an admin."""
    _execute_script(
        db,
        """
        ALTER TABLE users ADD COLUMN created_by TEXT;
        ALTER TABLE users ADD COLUMN role_set_by TEXT;
        """,
    )


@migrations()
def m009_calibrated_drift(db: Database) -> None:
    """Each drift score's limits, where they came from (floor or calibrated) and why it drifted;
    each report's reference (training data or the same window a year earlier); superseded
    reviews."""
    _execute_script(
        db,
        """
        ALTER TABLE drift_scores ADD COLUMN limits TEXT;
        ALTER TABLE drift_scores ADD COLUMN rules TEXT;
        ALTER TABLE drift_scores ADD COLUMN reasons TEXT;
        ALTER TABLE drift_reports ADD COLUMN reference TEXT;
        ALTER TABLE reviews ADD COLUMN superseded_by INTEGER REFERENCES reviews(id);
        """,
    )
    # A review may now also be 'superseded'. SQLite cannot alter a CHECK constraint; widening the
    # allowed values in the stored schema is the documented way (every existing row stays valid).
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "UPDATE sqlite_master SET sql = replace(sql, "
        "\"'pending', 'approved', 'rejected', 'expired')\", "
        "\"'pending', 'approved', 'rejected', 'expired', 'superseded')\") "
        "WHERE type = 'table' AND name = 'reviews'"
    )
    db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    db.execute("PRAGMA writable_schema = OFF")


@migrations()
def m010_signed_audit(db: Database) -> None:
    """An HMAC-SHA256 signature per audit event (``MODELGATE_AUDIT_KEY``). The append-only
    trigger now lets exactly one change through: signing an unsigned event, nothing else."""
    _execute_script(
        db,
        """
        ALTER TABLE audit_log ADD COLUMN mac TEXT;
        DROP TRIGGER audit_log_append_only_u;
        CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
        WHEN OLD.mac IS NOT NULL OR NEW.mac IS NULL
            OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
            OR NEW.event IS NOT OLD.event OR NEW.entity IS NOT OLD.entity
            OR NEW.entity_id IS NOT OLD.entity_id OR NEW.details IS NOT OLD.details
            OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    )


@migrations()
def m011_improvement_measure(db: Database) -> None:
    """How each comparison measured its improvement (relative, error_reduction, absolute); rows
    from before were relative."""
    _execute_script(
        db,
        "ALTER TABLE comparisons ADD COLUMN improvement_measure TEXT NOT NULL DEFAULT 'relative';",
    )


@migrations()
def m012_baseline_and_groups(db: Database) -> None:
    """Each comparison's naive baseline (what the challenger had to beat, its score, the
    challenger's improvement over it and its p-value) and what its bootstrap resampled (rows or
    groups, how many, and the holdout's effective size). Rows from before had neither: rows."""
    _execute_script(
        db,
        """
        ALTER TABLE comparisons ADD COLUMN baseline TEXT;
        ALTER TABLE comparisons ADD COLUMN baseline_value REAL;
        ALTER TABLE comparisons ADD COLUMN baseline_improvement REAL;
        ALTER TABLE comparisons ADD COLUMN baseline_p_value REAL;
        ALTER TABLE comparisons ADD COLUMN bootstrap_groups TEXT NOT NULL DEFAULT 'rows';
        ALTER TABLE comparisons ADD COLUMN n_groups INTEGER;
        ALTER TABLE comparisons ADD COLUMN effective_n REAL;
        """,
    )


@migrations()
def m013_unlabelled_rows(db: Database) -> None:
    """How many rows without a target each comparison's training window and holdout left out
    (rows from before could have none: a missing label refused the file)."""
    _execute_script(
        db,
        """
        ALTER TABLE comparisons ADD COLUMN unlabelled_train INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE comparisons ADD COLUMN unlabelled_holdout INTEGER NOT NULL DEFAULT 0;
        """,
    )


# m014 (the fleet) lives in its own module; importing it registers it after m013.
from registry import migrations_fleet  # noqa: E402, F401
