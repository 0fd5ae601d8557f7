"""Registry schema, as sqlite-utils Migrations. Never edit an applied migration: add a new one."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database, Migrations

migrations = Migrations("modelgate")


def _execute_script(db: Database, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"Incomplete SQL statement in migration: {statement[:60]!r}")


@migrations()
def m001_initial(db: Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE model_versions (
            version INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            artifact_path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            estimator TEXT NOT NULL,
            params TEXT NOT NULL,
            train_start TEXT NOT NULL,
            train_end TEXT NOT NULL,
            train_rows INTEGER NOT NULL,
            data_fingerprint TEXT NOT NULL,
            metrics TEXT NOT NULL,
            schema TEXT NOT NULL,
            feature_importance TEXT NOT NULL,
            reference_profile TEXT
        );
        -- Versions are immutable, except that the reference-profile slot may be filled once.
        CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
        WHEN NOT (OLD.reference_profile IS NULL
                  AND NEW.version IS OLD.version AND NEW.run_id IS OLD.run_id
                  AND NEW.sha256 IS OLD.sha256 AND NEW.artifact_path IS OLD.artifact_path
                  AND NEW.metrics IS OLD.metrics AND NEW.params IS OLD.params
                  AND NEW.schema IS OLD.schema AND NEW.created_at IS OLD.created_at)
        BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
        CREATE TRIGGER model_versions_no_delete BEFORE DELETE ON model_versions
        BEGIN SELECT RAISE(ABORT, 'model versions cannot be deleted'); END;

        CREATE TABLE champion (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL REFERENCES model_versions(version),
            history_id INTEGER NOT NULL
        );
        CREATE TABLE champion_history (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL REFERENCES model_versions(version),
            previous_version INTEGER REFERENCES model_versions(version),
            kind TEXT NOT NULL CHECK (kind IN ('promotion', 'approval', 'rollback')),
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            reason TEXT NOT NULL,
            run_id TEXT,
            review_id INTEGER,
            recorded_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX champion_history_run ON champion_history(kind, run_id) WHERE run_id IS NOT NULL;
        CREATE TRIGGER champion_history_append_only_u BEFORE UPDATE ON champion_history
        BEGIN SELECT RAISE(ABORT, 'champion history is append-only'); END;
        CREATE TRIGGER champion_history_append_only_d BEFORE DELETE ON champion_history
        BEGIN SELECT RAISE(ABORT, 'champion history is append-only'); END;

        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            dag_id TEXT NOT NULL,
            logical_date TEXT,
            as_of TEXT NOT NULL,
            run_type TEXT,
            data_source TEXT,
            triggers TEXT NOT NULL,
            trigger_reasons TEXT NOT NULL,
            status TEXT NOT NULL,
            challenger_version INTEGER,
            outcome TEXT,
            error TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );

        CREATE TABLE comparisons (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            challenger_version INTEGER NOT NULL REFERENCES model_versions(version),
            champion_version INTEGER REFERENCES model_versions(version),
            metric TEXT NOT NULL,
            higher_is_better INTEGER NOT NULL,
            challenger_value REAL,
            champion_value REAL,
            relative_improvement REAL,
            absolute_improvement REAL,
            ci_low REAL,
            ci_high REAL,
            ci_level REAL,
            p_value REAL,
            ttest_p_value REAL,
            n_holdout INTEGER NOT NULL,
            n_resamples INTEGER NOT NULL,
            challenger_metrics TEXT NOT NULL,
            champion_metrics TEXT NOT NULL,
            challenger_valid INTEGER NOT NULL,
            invalid_reason TEXT,
            holdout_start TEXT,
            holdout_end TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
            challenger_version INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('promote', 'review', 'reject')),
            reasons TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
            challenger_version INTEGER NOT NULL REFERENCES model_versions(version),
            expected_champion INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
            requested_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            decided_by TEXT,
            decided_at TEXT,
            reason TEXT
        );

        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_event ON audit_log(event);
        CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    )


@migrations()
def m002_drift(db: Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE drift_reports (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            dag_id TEXT NOT NULL,
            as_of TEXT NOT NULL,
            model_version INTEGER REFERENCES model_versions(version),
            status TEXT NOT NULL,
            drift_detected INTEGER NOT NULL,
            drift_type TEXT NOT NULL,
            drift_score REAL NOT NULL,
            affected TEXT NOT NULL,
            recommendation TEXT NOT NULL,
            n_reference INTEGER NOT NULL,
            n_current INTEGER NOT NULL,
            concept TEXT,
            triggers TEXT NOT NULL,
            retrain_requested INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX drift_reports_as_of ON drift_reports(as_of);
        CREATE TABLE drift_scores (
            report_id INTEGER NOT NULL REFERENCES drift_reports(id),
            as_of TEXT NOT NULL,
            feature TEXT NOT NULL,
            kind TEXT NOT NULL,
            ks REAL,
            p_value REAL,
            p_adjusted REAL,
            psi REAL NOT NULL,
            wasserstein REAL,
            chi2 REAL,
            missing_delta REAL NOT NULL,
            drifted INTEGER NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (report_id, feature)
        );
        CREATE INDEX drift_scores_feature ON drift_scores(feature, as_of);
        CREATE TRIGGER drift_reports_append_only BEFORE DELETE ON drift_reports
        BEGIN SELECT RAISE(ABORT, 'drift history is append-only'); END;
        CREATE TRIGGER drift_scores_append_only BEFORE DELETE ON drift_scores
        BEGIN SELECT RAISE(ABORT, 'drift history is append-only'); END;
        """,
    )


@migrations()
def m003_outbox(db: Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            recipients TEXT NOT NULL,
            subject TEXT NOT NULL,
            text TEXT NOT NULL,
            html TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'logged')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
        """,
    )


@migrations()
def m004_pending_promotions(db: Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE pending_promotions (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            version INTEGER NOT NULL REFERENCES model_versions(version),
            expected_champion INTEGER,
            reason TEXT NOT NULL,
            announced_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'vetoed', 'stale')),
            decided_by TEXT,
            decided_at TEXT,
            note TEXT
        );
        """,
    )


@migrations()
def m005_users(db: Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    )


@migrations()
def m006_review_approvals(db: Database) -> None:
    """One vote per approver and review (the two-person rule's memory); indexes for the
    dashboard's audit filters; the reference and current distribution of each drift score."""
    _execute_script(
        db,
        """
        CREATE TABLE review_approvals (
            review_id INTEGER NOT NULL REFERENCES reviews(id),
            approver TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (review_id, approver)
        );
        CREATE INDEX audit_actor ON audit_log(actor);
        CREATE INDEX audit_entity ON audit_log(entity, entity_id);
        CREATE INDEX drift_scores_report ON drift_scores(report_id);
        ALTER TABLE drift_scores ADD COLUMN distribution TEXT;
        """,
    )


# m007 onwards live in their own module; importing it registers them, in order.
from registry import migrations_later  # noqa: E402, F401
