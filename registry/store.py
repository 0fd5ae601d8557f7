"""The Registry: model versions, the champion pointer, runs, comparisons, decisions, reviews and audit.

Every decision (promotion, approval, rejection, rollback, expiry) is one ``BEGIN IMMEDIATE``
transaction that compares-and-sets the champion it expects and appends its audit event, so two
admins clicking at once decide once and a retried Airflow task changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pipeline.errors import Conflict, Forbidden, NotFound, RegistryError
from pipeline.reports import Champion, Comparison, Decision, ModelVersion, Review, TriggerReport
from registry import audit
from registry.artifacts import ArtifactStore
from registry.migrations import migrations

PIPELINE = "pipeline"


def _j(obj: Any) -> str:
    return audit.canonical(obj)


class Registry:
    """The SQLite audit registry over ``sqlite_utils.Database``; one connection per instance."""

    def __init__(self, db_path: Path, artifacts_dir: Path, *, create: bool = False) -> None:
        self.path = Path(db_path)
        if not create and not self.path.exists():
            raise NotFound(f"No registry at {self.path}; run 'modelgate init' first.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = Database(conn)
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise RegistryError(
                f"{self.path} is not a ModelGate registry (SQLite: {exc})."
            ) from exc
        self.artifacts = ArtifactStore(artifacts_dir)
        if migrations.pending(self.db):
            migrations.apply(self.db)

    @classmethod
    def open(cls, cfg: Any, *, create: bool = False) -> Registry:
        return cls(cfg.registry_db, cfg.artifacts_dir, create=create)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Database]:
        """A write transaction that takes the lock up front (no upgrade deadlocks between writers)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))

    def _all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _check_admin(self, username: str | None) -> None:
        """Inside a write transaction: the acting dashboard user is an enabled admin right now
        (a check made before the transaction could be overtaken by a concurrent change)."""
        if username is None:
            return
        row = self._one("SELECT role, disabled FROM users WHERE username = ?", [username])
        if row is None or row["disabled"] or row["role"] != "admin":
            state = "unknown" if row is None else "disabled" if row["disabled"] else row["role"]
            raise Forbidden(f"Only enabled admins can do this; {username!r} is {state}.")

    def logical_now(self) -> str | None:
        """The newest ``as_of`` of a retraining run or drift check: the registry's clock for
        expiry (simulated histories live in the past; in production it trails the wall clock by
        at most a day)."""
        row = self._one(
            "SELECT MAX(m) AS m FROM (SELECT MAX(as_of) AS m FROM runs "
            "UNION ALL SELECT MAX(as_of) FROM drift_reports)"
        )
        return None if row is None else row["m"]

    # ---------------------------------------------------------------- runs
    def start_run(
        self,
        *,
        run_id: str,
        dag_id: str,
        logical_date: str | None,
        as_of: str,
        run_type: str | None,
        data_source: str,
        triggers: TriggerReport,
    ) -> None:
        """Record a run and its trigger checks; a retry of the same run updates nothing."""
        checks = [c.to_dict() for c in triggers.checks]
        with self._tx() as db:
            if self._one("SELECT 1 FROM runs WHERE run_id = ?", [run_id]):
                return
            db.execute(
                "INSERT INTO runs (run_id, dag_id, logical_date, as_of, run_type, data_source, triggers, "
                "trigger_reasons, status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                [
                    run_id,
                    dag_id,
                    logical_date,
                    as_of,
                    run_type,
                    data_source,
                    _j(checks),
                    _j(list(triggers.reasons)),
                    audit.utcnow(),
                ],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="run_started",
                entity="run",
                entity_id=run_id,
                details={
                    "dag_id": dag_id,
                    "as_of": as_of,
                    "reasons": list(triggers.reasons),
                    "retrain": triggers.fired,
                },
            )

    def finish_run(
        self, run_id: str, *, status: str, outcome: str | None = None, error: str | None = None
    ) -> None:
        with self._tx() as db:
            run = self._one("SELECT status FROM runs WHERE run_id = ?", [run_id])
            if run is None:
                raise NotFound(f"Run {run_id} is not in the registry.")
            if run["status"] == status:
                return
            db.execute(
                "UPDATE runs SET status = ?, outcome = COALESCE(?, outcome), error = ?, finished_at = ? "
                "WHERE run_id = ?",
                [status, outcome, error, audit.utcnow(), run_id],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event=f"run_{status}",
                entity="run",
                entity_id=run_id,
                details={"outcome": outcome, "error": error},
            )

    def record_failure(
        self, *, run_id: str, dag_id: str, task_id: str | None, error: str, as_of: str | None = None
    ) -> bool:
        """Called from Airflow's on_failure_callback: the run is marked failed and audited once.
        Returns False when the failure was already recorded."""
        with self._tx() as db:
            run = self._one("SELECT status FROM runs WHERE run_id = ?", [run_id])
            if run is None:
                db.execute(
                    "INSERT INTO runs (run_id, dag_id, as_of, triggers, trigger_reasons, status, started_at) "
                    "VALUES (?, ?, ?, '[]', '[]', 'running', ?)",
                    [run_id, dag_id, as_of or "", audit.utcnow()],
                )
            elif run["status"] == "failed":
                return False
            db.execute(
                "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ?",
                [f"{task_id}: {error}" if task_id else error, audit.utcnow(), run_id],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="run_failed",
                entity="run",
                entity_id=run_id,
                details={"dag_id": dag_id, "task_id": task_id, "error": error},
            )
        return True

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM runs WHERE run_id = ?", [run_id])

    def runs(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM runs ORDER BY as_of DESC, started_at DESC LIMIT ?", [limit])

    # ---------------------------------------------------------------- versions
    def register_model(
        self,
        *,
        run_id: str,
        model_bytes: bytes,
        estimator: str,
        params: dict[str, Any],
        train_start: str,
        train_end: str,
        train_rows: int,
        data_fingerprint: str,
        metrics: dict[str, float],
        schema: dict[str, Any],
        feature_importance: dict[str, float],
        reference_profile: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store the artifact and register a version; the same run registers at most one version."""
        existing = self._one("SELECT version FROM model_versions WHERE run_id = ?", [run_id])
        if existing:
            return self.get_version(existing["version"])
        stored = self.artifacts.put(model_bytes)
        with self._tx() as db:
            existing = self._one("SELECT version FROM model_versions WHERE run_id = ?", [run_id])
            if existing is None:
                row = {
                    "run_id": run_id,
                    "created_at": audit.utcnow(),
                    "artifact_path": stored.path,
                    "sha256": stored.sha256,
                    "size_bytes": stored.size_bytes,
                    "estimator": estimator,
                    "params": _j(params),
                    "train_start": train_start,
                    "train_end": train_end,
                    "train_rows": train_rows,
                    "data_fingerprint": data_fingerprint,
                    "metrics": _j(metrics),
                    "schema": _j(schema),
                    "feature_importance": _j(feature_importance),
                    "reference_profile": None
                    if reference_profile is None
                    else _j(reference_profile),
                }
                cur = db.execute(
                    f"INSERT INTO model_versions ({', '.join(row)}) VALUES "
                    f"({', '.join(':' + k for k in row)})",
                    row,
                )
                version = int(cur.lastrowid or 0)
                db.execute(
                    "UPDATE runs SET challenger_version = ? WHERE run_id = ?", [version, run_id]
                )
                audit.append(
                    db,
                    actor=PIPELINE,
                    event="model_registered",
                    entity="model_version",
                    entity_id=version,
                    details={
                        "run_id": run_id,
                        "sha256": stored.sha256,
                        "train_rows": train_rows,
                        "metrics": metrics,
                    },
                )
                existing = {"version": version}
        return self.get_version(existing["version"])

    def get_version(self, version: int) -> ModelVersion:
        row = self._one("SELECT * FROM model_versions WHERE version = ?", [version])
        if row is None:
            raise NotFound(f"Model version {version} does not exist.")
        return _version(row)

    def versions(self) -> list[ModelVersion]:
        return [_version(r) for r in self._all("SELECT * FROM model_versions ORDER BY version")]

    def load_model_bytes(self, version: int) -> bytes:
        """The version's artifact, verified against its registered SHA-256."""
        v = self.get_version(version)
        return self.artifacts.get(v.artifact_path, v.sha256, v.size_bytes)

    # ---------------------------------------------------------------- champion
    def current_champion(self) -> Champion | None:
        row = self._one(
            "SELECT c.version, h.at, h.by, h.kind FROM champion c JOIN champion_history h ON h.id = c.history_id"
        )
        if row is None:
            return None
        # The champion's primary metric on its own holdout, from the comparison that judged it.
        judged = self._one(
            "SELECT metric, challenger_value FROM comparisons WHERE challenger_version = ?",
            [row["version"]],
        ) or {"metric": "", "challenger_value": None}
        return Champion(
            version=row["version"],
            since=row["at"],
            by=row["by"],
            kind=row["kind"],
            metric=judged["metric"],
            value=judged["challenger_value"],
        )

    def _champion_version(self) -> int | None:
        row = self._one("SELECT version FROM champion WHERE id = 1")
        return None if row is None else int(row["version"])

    def champion_history(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM champion_history ORDER BY id")

    def _set_champion(
        self,
        db: Database,
        *,
        version: int,
        expected: int | None,
        kind: str,
        at: str,
        by: str,
        reason: str,
        run_id: str | None = None,
        review_id: int | None = None,
    ) -> None:
        """Compare-and-set inside the caller's transaction."""
        current = self._champion_version()
        if current != expected:
            raise Conflict(
                f"The champion is v{current} but this {kind} expected "
                f"{'no champion' if expected is None else f'v{expected}'}: it changed since the comparison. "
                "Re-run the comparison against the current champion."
            )
        self.get_version(version)
        cur = db.execute(
            "INSERT INTO champion_history (version, previous_version, kind, at, by, reason, run_id, review_id, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [version, current, kind, at, by, reason, run_id, review_id, audit.utcnow()],
        )
        db.execute(
            "INSERT INTO champion (id, version, history_id) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET version = excluded.version, history_id = excluded.history_id",
            [version, cur.lastrowid],
        )
        audit.append(
            db,
            actor=by,
            event={"promotion": "promoted", "approval": "promoted", "rollback": "rolled_back"}[
                kind
            ],
            entity="model_version",
            entity_id=version,
            details={
                "previous": current,
                "kind": kind,
                "reason": reason,
                "run_id": run_id,
                "review_id": review_id,
                "effective_at": at,
            },
        )

    def promote(
        self,
        *,
        version: int,
        expected_champion: int | None,
        run_id: str,
        at: str,
        reason: str,
        by: str = PIPELINE,
    ) -> bool:
        """Automatic promotion from a run. Returns False when this run already promoted (a retry)."""
        with self._tx() as db:
            if self._one(
                "SELECT 1 FROM champion_history WHERE kind = 'promotion' AND run_id = ?", [run_id]
            ):
                return False
            self._set_champion(
                db,
                version=version,
                expected=expected_champion,
                kind="promotion",
                at=at,
                by=by,
                reason=reason,
                run_id=run_id,
            )
        return True

    def rollback(
        self,
        *,
        by: str,
        reason: str,
        to_version: int | None = None,
        expected_champion: int | None = None,
        at: str | None = None,
        as_admin: bool = False,
    ) -> Champion:
        """Make an earlier version champion again (default: the one before the current champion)."""
        if not reason.strip():
            raise RegistryError("A rollback needs a reason (--reason).")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            current = self._one(
                "SELECT c.version, h.previous_version FROM champion c "
                "JOIN champion_history h ON h.id = c.history_id"
            )
            if current is None:
                raise Conflict("There is no champion to roll back.")
            if expected_champion is not None and expected_champion != current["version"]:
                raise Conflict(
                    f"The champion is v{current['version']}, not v{expected_champion}: "
                    "someone changed it meanwhile. Look again before rolling back."
                )
            target = to_version if to_version is not None else current["previous_version"]
            if target is None:
                raise Conflict(
                    f"Champion v{current['version']} has no previous champion; name one with --to."
                )
            if target == current["version"]:
                raise Conflict(f"Version {target} is already the champion.")
            self._set_champion(
                db,
                version=target,
                expected=current["version"],
                kind="rollback",
                at=at or audit.utcnow(),
                by=by,
                reason=reason,
            )
        champ = self.current_champion()
        assert champ is not None
        return champ

    # ---------------------------------------------------------------- comparisons and decisions
    def record_comparison(self, run_id: str, c: Comparison) -> int:
        with self._tx() as db:
            existing = self._one("SELECT id FROM comparisons WHERE run_id = ?", [run_id])
            if existing:
                return int(existing["id"])
            iv = c.interval
            row = {
                "run_id": run_id,
                "challenger_version": c.challenger_version,
                "champion_version": c.champion_version,
                "metric": c.metric,
                "higher_is_better": int(c.higher_is_better),
                "challenger_value": _num(c.challenger_value),
                "champion_value": c.champion_value,
                "relative_improvement": c.relative_improvement,
                "absolute_improvement": c.absolute_improvement,
                "ci_low": iv.low if iv else None,
                "ci_high": iv.high if iv else None,
                "ci_level": iv.level if iv else None,
                "p_value": c.p_value,
                "ttest_p_value": c.ttest_p_value,
                "n_holdout": c.n_holdout,
                "n_resamples": c.n_resamples,
                "challenger_metrics": _j(c.challenger_metrics),
                "champion_metrics": _j(c.champion_metrics),
                "challenger_valid": int(c.challenger_valid),
                "invalid_reason": c.invalid_reason,
                "holdout_start": c.holdout_start,
                "holdout_end": c.holdout_end,
                "created_at": audit.utcnow(),
            }
            cur = db.execute(
                f"INSERT INTO comparisons ({', '.join(row)}) VALUES "
                f"({', '.join(':' + k for k in row)})",
                row,
            )
            cid = int(cur.lastrowid or 0)
            audit.append(
                db,
                actor=PIPELINE,
                event="compared",
                entity="comparison",
                entity_id=cid,
                details={
                    "run_id": run_id,
                    "challenger": c.challenger_version,
                    "champion": c.champion_version,
                    "metric": c.metric,
                    "challenger_value": _num(c.challenger_value),
                    "champion_value": c.champion_value,
                    "relative_improvement": c.relative_improvement,
                    "p_value": c.p_value,
                },
            )
            return cid

    def record_decision(self, run_id: str, comparison_id: int, version: int, d: Decision) -> int:
        with self._tx() as db:
            existing = self._one("SELECT id FROM decisions WHERE run_id = ?", [run_id])
            if existing:
                return int(existing["id"])
            cur = db.execute(
                "INSERT INTO decisions (run_id, comparison_id, challenger_version, outcome, reasons, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, comparison_id, version, d.outcome, _j(list(d.reasons)), audit.utcnow()],
            )
            did = int(cur.lastrowid or 0)
            db.execute("UPDATE runs SET outcome = ? WHERE run_id = ?", [d.outcome, run_id])
            audit.append(
                db,
                actor=PIPELINE,
                event="decided",
                entity="decision",
                entity_id=did,
                details={
                    "run_id": run_id,
                    "version": version,
                    "outcome": d.outcome,
                    "reasons": list(d.reasons),
                },
            )
            return did

    def comparison(self, run_id: str) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM comparisons WHERE run_id = ?", [run_id]))

    def decision(self, run_id: str) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM decisions WHERE run_id = ?", [run_id]))

    def comparisons(self) -> list[dict[str, Any]]:
        return [_decode(r) or {} for r in self._all("SELECT * FROM comparisons ORDER BY id")]

    def record_rejection(self, run_id: str, version: int, reason: str) -> bool:
        with self._tx() as db:
            if self._one(
                "SELECT 1 FROM audit_log WHERE event = 'challenger_rejected' AND entity_id = ?",
                [str(version)],
            ):
                return False
            audit.append(
                db,
                actor=PIPELINE,
                event="challenger_rejected",
                entity="model_version",
                entity_id=version,
                details={"run_id": run_id, "reason": reason},
            )
        return True

    # ---------------------------------------------------------------- reviews
    def request_review(
        self,
        *,
        run_id: str,
        comparison_id: int,
        version: int,
        expected_champion: int | None,
        requested_at: dt.datetime,
        ttl_days: int,
        supersede_notice: Callable[[Review, Review], dict[str, Any]] | None = None,
    ) -> tuple[Review, list[Review]]:
        """Queue a review; a pending review against the same champion is superseded by it in the
        same transaction (status 'superseded', audited, and with ``supersede_notice`` its
        notification queued). One open review per champion. Returns the review and the reviews
        it superseded (none on a retry)."""
        superseded: list[Review] = []
        with self._tx() as db:
            existing = self._one("SELECT id FROM reviews WHERE run_id = ?", [run_id])
            if existing is not None:
                return self.get_review(int(existing["id"])), []
            expires = requested_at + dt.timedelta(days=ttl_days)
            cur = db.execute(
                "INSERT INTO reviews (run_id, comparison_id, challenger_version, expected_champion, status, "
                "requested_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                [
                    run_id,
                    comparison_id,
                    version,
                    expected_champion,
                    requested_at.isoformat(),
                    expires.isoformat(),
                ],
            )
            rid = int(cur.lastrowid or 0)
            audit.append(
                db,
                actor=PIPELINE,
                event="review_requested",
                entity="review",
                entity_id=rid,
                details={
                    "run_id": run_id,
                    "version": version,
                    "expected_champion": expected_champion,
                    "expires_at": expires.isoformat(),
                },
            )
            new = self.get_review(rid)
            older = self._all(
                "SELECT * FROM reviews WHERE status = 'pending' AND id != ? "
                "AND expected_champion IS ? ORDER BY id",
                [rid, expected_champion],
            )
            for row in older:
                old = Review(**row)
                reason = (
                    f"superseded by review {rid} (version {version}), a newer challenger against "
                    f"the same champion v{expected_champion}"
                )
                db.execute(
                    "UPDATE reviews SET status = 'superseded', superseded_by = ?, decided_by = ?, "
                    "decided_at = ?, reason = ? WHERE id = ? AND status = 'pending'",
                    [rid, PIPELINE, requested_at.isoformat(), reason, old.id],
                )
                audit.append(
                    db,
                    actor=PIPELINE,
                    event="review_superseded",
                    entity="review",
                    entity_id=old.id,
                    details={
                        "version": old.challenger_version,
                        "superseded_by": rid,
                        "by_version": version,
                        "reason": reason,
                    },
                )
                if supersede_notice is not None:
                    self._enqueue(db, **supersede_notice(old, new))
                superseded.append(self.get_review(old.id))
        return new, superseded

    def get_review(self, review_id: int) -> Review:
        row = self._one("SELECT * FROM reviews WHERE id = ?", [review_id])
        if row is None:
            raise NotFound(f"Review {review_id} does not exist.")
        return Review(**row)

    def reviews(self, status: str | None = None) -> list[Review]:
        sql = "SELECT * FROM reviews" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return [Review(**r) for r in self._all(sql, [status] if status else [])]

    def _decide_review(self, review_id: int, *, status: str, by: str, reason: str) -> Review:
        review = self.get_review(review_id)
        if review.status == "superseded":
            raise Conflict(
                f"Review {review_id} was superseded by review {review.superseded_by}, a newer "
                f"challenger against the same champion v{review.expected_champion}: decide that "
                "one instead."
            )
        if review.status != "pending":
            who = f" by {review.decided_by} at {review.decided_at}" if review.decided_by else ""
            raise Conflict(f"Review {review_id} is already decided: {review.status}{who}.")
        self.db.execute(
            "UPDATE reviews SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
            "WHERE id = ? AND status = 'pending'",
            [status, by, audit.utcnow(), reason, review_id],
        )
        return review

    def approve(
        self,
        review_id: int,
        *,
        by: str,
        reason: str = "",
        required: int = 1,
        as_admin: bool = False,
    ) -> Review:
        """Record ``by``'s approval of a pending review; with ``required`` approvals from
        independent admins the challenger becomes champion, if the champion is still the one it
        was compared against. Exactly one of many concurrent deciding approvals succeeds; the
        others get Conflict ("already decided"). A review still waiting for votes comes back
        'pending'. ``as_admin``: ``by`` is a dashboard account that must be an enabled admin."""
        if not by.strip():
            raise RegistryError("An approval needs the approver's name (--by).")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            review = self.get_review(review_id)
            if review.status != "pending":
                self._decide_review(review_id, status="approved", by=by, reason=reason)  # raises
            clock = self.logical_now()
            if clock is not None and review.expires_at <= clock:
                raise Conflict(
                    f"Review {review_id} expired at {review.expires_at[:16]} (the newest run is "
                    f"at {clock[:16]}); the next run expires it."
                )
            current = self._champion_version()
            if current != review.expected_champion:
                raise Conflict(
                    f"Review {review_id} is stale: the champion is v{current}, not "
                    f"v{review.expected_champion} as when it was compared. Reject it; the next run "
                    "compares again."
                )
            if self._one(
                "SELECT 1 FROM review_approvals WHERE review_id = ? AND approver = ?",
                [review_id, by],
            ):
                raise Conflict(
                    f"{by} has already approved review {review_id}; it needs {required} approvals "
                    "from different admins."
                )
            voters = self._valid_votes(review_id)
            self._check_independent(by, voters)
            db.execute(
                "INSERT INTO review_approvals (review_id, approver, at, reason) VALUES (?, ?, ?, ?)",
                [review_id, by, audit.utcnow(), reason],
            )
            votes = len(voters) + 1
            deciding = votes >= required
            audit.append(
                db,
                actor=by,
                event="review_approved" if deciding else "review_approval_recorded",
                entity="review",
                entity_id=review_id,
                details={
                    "version": review.challenger_version,
                    "reason": reason,
                    "approvals": votes,
                    "required": required,
                },
            )
            if not deciding:
                return self.get_review(review_id)
            self._decide_review(review_id, status="approved", by=by, reason=reason)
            self._set_champion(
                db,
                version=review.challenger_version,
                expected=review.expected_champion,
                kind="approval",
                at=audit.utcnow(),
                by=by,
                reason=reason or f"review {review_id} approved",
                review_id=review_id,
            )
        return self.get_review(review_id)

    def _valid_votes(self, review_id: int) -> list[str]:
        """Approvers whose votes still count: not dashboard accounts (CLI names) or accounts that
        are enabled admins now (a vote of someone since disabled or demoted no longer counts)."""
        return [
            r["approver"]
            for r in self._all(
                "SELECT a.approver FROM review_approvals a LEFT JOIN users u ON u.username = a.approver "
                "WHERE a.review_id = ? AND (u.username IS NULL OR (u.disabled = 0 AND u.role = 'admin')) "
                "ORDER BY a.at",
                [review_id],
            )
        ]

    def _check_independent(self, by: str, voters: list[str]) -> None:
        """The two-person rule: no approver may have created the other's account or made them
        an admin."""
        if not voters:
            return
        marks = ", ".join("?" * (len(voters) + 1))
        rows = {
            r["username"]: r
            for r in self._all(
                f"SELECT username, created_by, role_set_by FROM users WHERE username IN ({marks})",
                [by, *voters],
            )
        }
        for other in voters:
            for a, b in ((by, other), (other, by)):
                row = rows.get(a)
                if row and b in (row["created_by"], row["role_set_by"]):
                    raise Conflict(
                        f"{a}'s account was created or made admin by {b}, who approves too: the "
                        "two-person rule needs approvals from independent admins."
                    )

    def approvals(self, review_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT approver, at, reason FROM review_approvals WHERE review_id = ? ORDER BY at",
            [review_id],
        )

    def reject_review(
        self, review_id: int, *, by: str, reason: str, as_admin: bool = False
    ) -> Review:
        if not by.strip() or not reason.strip():
            raise RegistryError("Rejecting a review needs --by and a --reason.")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            review = self._decide_review(review_id, status="rejected", by=by, reason=reason)
            audit.append(
                db,
                actor=by,
                event="review_rejected",
                entity="review",
                entity_id=review_id,
                details={"version": review.challenger_version, "reason": reason},
            )
        return self.get_review(review_id)

    def expire_reviews(self, as_of: dt.datetime) -> list[int]:
        """Pending reviews whose expiry is at or before ``as_of`` become expired (rejected), audited."""
        with self._tx() as db:
            rows = self._all(
                "SELECT id, challenger_version, expires_at FROM reviews WHERE status = 'pending' "
                "AND expires_at <= ?",
                [as_of.isoformat()],
            )
            for r in rows:
                db.execute(
                    "UPDATE reviews SET status = 'expired', decided_by = ?, decided_at = ?, reason = ? "
                    "WHERE id = ?",
                    [PIPELINE, as_of.isoformat(), "no decision before expiry", r["id"]],
                )
                audit.append(
                    db,
                    actor=PIPELINE,
                    event="review_expired",
                    entity="review",
                    entity_id=r["id"],
                    details={"version": r["challenger_version"], "expires_at": r["expires_at"]},
                )
        return [int(r["id"]) for r in rows]

    # ---------------------------------------------------------------- drift
    def record_drift(
        self,
        *,
        run_id: str,
        dag_id: str,
        as_of: str,
        model_version: int | None,
        report: dict[str, Any],
        triggers: list[dict[str, Any]],
        retrain_requested: bool,
    ) -> int:
        """Store a drift report and every per-feature score (the drift history); once per run."""
        with self._tx() as db:
            existing = self._one("SELECT id FROM drift_reports WHERE run_id = ?", [run_id])
            if existing:
                return int(existing["id"])
            cur = db.execute(
                "INSERT INTO drift_reports (run_id, dag_id, as_of, model_version, status, drift_detected, drift_type, "
                "drift_score, affected, recommendation, n_reference, n_current, concept, triggers, retrain_requested, "
                "created_at, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    dag_id,
                    as_of,
                    model_version,
                    report["status"],
                    int(report["drift_detected"]),
                    report["drift_type"],
                    report["drift_score"],
                    _j(report["affected"]),
                    report["recommendation"],
                    report["n_reference"],
                    report["n_current"],
                    _j(report["concept"]),
                    _j(triggers),
                    int(retrain_requested),
                    audit.utcnow(),
                    report.get("reference"),
                ],
            )
            rid = int(cur.lastrowid or 0)
            db.conn.executemany(
                "INSERT INTO drift_scores (report_id, as_of, feature, kind, ks, p_value, p_adjusted, psi, wasserstein, "
                "chi2, missing_delta, drifted, score, distribution, limits, rules, reasons) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        rid,
                        as_of,
                        f["name"],
                        f["kind"],
                        f["ks"],
                        f["p_value"],
                        f["p_adjusted"],
                        f["psi"],
                        f["wasserstein"],
                        f["chi2"],
                        f["missing_delta"],
                        int(f["drifted"]),
                        f["score"],
                        _j(f["distribution"]) if f.get("distribution") else None,
                        _j(f.get("limits")),
                        _j(f.get("rules")),
                        _j(f.get("reasons") or []),
                    ]
                    for f in report["features"]
                ],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="drift_checked",
                entity="drift_report",
                entity_id=rid,
                details={
                    "run_id": run_id,
                    "as_of": as_of,
                    "drift_detected": report["drift_detected"],
                    "drift_type": report["drift_type"],
                    "drift_score": report["drift_score"],
                    "affected": report["affected"],
                    "retrain_requested": retrain_requested,
                },
            )
            return rid

    def drift_report_for_run(self, run_id: str) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM drift_reports WHERE run_id = ?", [run_id]))

    def drift_reports(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT * FROM drift_reports ORDER BY as_of DESC, id DESC LIMIT ?", [limit]
            )
        ]

    def drift_scores(
        self, report_id: int | None = None, feature: str | None = None
    ) -> list[dict[str, Any]]:
        """Per-feature drift scores over time (optionally of one report or one feature)."""
        where: list[str] = []
        params: list[Any] = []
        if report_id is not None:
            where.append("report_id = ?")
            params.append(report_id)
        if feature is not None:
            where.append("feature = ?")
            params.append(feature)
        sql = "SELECT * FROM drift_scores" + (" WHERE " + " AND ".join(where) if where else "")
        return [_decode(r) or {} for r in self._all(sql + " ORDER BY as_of, feature", params)]

    def drift_matrix(self, since: str | None = None) -> list[dict[str, Any]]:
        """(as_of, feature, score, drifted) of every check since ``since``: the heatmap's cells,
        without the per-feature distributions."""
        return self._all(
            "SELECT s.as_of, s.feature, s.score, s.psi, s.drifted, r.run_id FROM drift_scores s "
            "JOIN drift_reports r ON r.id = s.report_id"
            + (" WHERE s.as_of >= ?" if since else "")
            + " ORDER BY s.as_of, s.feature",
            [since] if since else [],
        )

    def trigger_streak_covers(self, dag_id: str, *, name: str, since: str, before: str) -> bool:
        """Whether trigger ``name`` has fired in every drift check from the last one at or before
        ``since`` up to ``before``: the streak it is on began no later than ``since``. Reads only
        the checks since then, so its cost does not grow with the history."""
        rows = self._all(
            "SELECT as_of, triggers FROM drift_reports WHERE dag_id = ? AND as_of < ? AND as_of >= "
            "COALESCE((SELECT MAX(as_of) FROM drift_reports WHERE dag_id = ? AND as_of <= ?), '~') "
            "ORDER BY as_of",
            [dag_id, before, dag_id, since],
        )
        return bool(rows) and all(
            any(c["fired"] and c["name"] == name for c in json.loads(r["triggers"])) for r in rows
        )

    def last_retraining_as_of(self, dag_id: str) -> str | None:
        row = self._one(
            "SELECT MAX(as_of) AS m FROM runs WHERE dag_id = ? AND challenger_version IS NOT NULL",
            [dag_id],
        )
        return None if row is None else row["m"]

    # ---------------------------------------------------------------- promotions with a notice period
    def schedule_promotion(
        self,
        *,
        run_id: str,
        version: int,
        expected_champion: int | None,
        reason: str,
        announced_at: str,
        due_at: str,
    ) -> dict[str, Any]:
        """Announce an automatic promotion that applies at ``due_at`` unless an admin vetoes it."""
        with self._tx() as db:
            if self._one("SELECT 1 FROM pending_promotions WHERE run_id = ?", [run_id]) is None:
                cur = db.execute(
                    "INSERT INTO pending_promotions (run_id, version, expected_champion, reason, announced_at, due_at, "
                    "status) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                    [run_id, version, expected_champion, reason, announced_at, due_at],
                )
                audit.append(
                    db,
                    actor=PIPELINE,
                    event="promotion_scheduled",
                    entity="pending_promotion",
                    entity_id=int(cur.lastrowid or 0),
                    details={"run_id": run_id, "version": version, "due_at": due_at},
                )
        row = self._one("SELECT * FROM pending_promotions WHERE run_id = ?", [run_id])
        assert row is not None
        return row

    def pending_promotions(self, status: str | None = "pending") -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM pending_promotions"
            + (" WHERE status = ?" if status else "")
            + " ORDER BY id"
        )
        return self._all(sql, [status] if status else [])

    def veto_promotion(
        self, promotion_id: int, *, by: str, reason: str, as_admin: bool = False
    ) -> dict[str, Any]:
        if not by.strip() or not reason.strip():
            raise RegistryError("A veto needs --by and a --reason.")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            row = self._one("SELECT * FROM pending_promotions WHERE id = ?", [promotion_id])
            if row is None:
                raise NotFound(f"Pending promotion {promotion_id} does not exist.")
            if row["status"] != "pending":
                raise Conflict(
                    f"Promotion {promotion_id} is already {row['status']}"
                    + (
                        f" (by {row['decided_by']} at {row['decided_at']})."
                        if row["decided_by"]
                        else "."
                    )
                )
            db.execute(
                "UPDATE pending_promotions SET status = 'vetoed', decided_by = ?, decided_at = ?, note = ? "
                "WHERE id = ?",
                [by, audit.utcnow(), reason, promotion_id],
            )
            audit.append(
                db,
                actor=by,
                event="promotion_vetoed",
                entity="pending_promotion",
                entity_id=promotion_id,
                details={"version": row["version"], "reason": reason},
            )
        return self._one("SELECT * FROM pending_promotions WHERE id = ?", [promotion_id]) or {}

    def apply_due_promotions(self, now: str) -> list[dict[str, Any]]:
        """Promote every announced promotion whose notice has passed (compare-and-set); one whose
        champion changed meanwhile becomes 'stale'. Returns the rows it decided."""
        decided = []
        for row in self._all(
            "SELECT * FROM pending_promotions WHERE status = 'pending' AND due_at <= ? ORDER BY id",
            [now],
        ):
            with self._tx() as db:
                fresh = self._one("SELECT status FROM pending_promotions WHERE id = ?", [row["id"]])
                if fresh is None or fresh["status"] != "pending":
                    continue
                status = "applied"
                try:
                    with (
                        self.db.atomic()
                    ):  # a savepoint: a stale compare-and-set leaves nothing behind
                        self._set_champion(
                            db,
                            version=row["version"],
                            expected=row["expected_champion"],
                            kind="promotion",
                            at=now,
                            by=PIPELINE,
                            reason=row["reason"],
                            run_id=row["run_id"],
                        )
                except Conflict:
                    status = "stale"
                db.execute(
                    "UPDATE pending_promotions SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                    [status, PIPELINE, now, row["id"]],
                )
                if status == "stale":
                    audit.append(
                        db,
                        actor=PIPELINE,
                        event="promotion_stale",
                        entity="pending_promotion",
                        entity_id=row["id"],
                        details={
                            "version": row["version"],
                            "expected_champion": row["expected_champion"],
                        },
                    )
            decided.append({**row, "status": status})
        return decided

    # ---------------------------------------------------------------- rollouts
    def start_rollout(
        self,
        *,
        run_id: str,
        version: int,
        expected_champion: int,
        strategy: str,
        plan: dict[str, Any],
        share: float,
        at: str,
        by: str = PIPELINE,
    ) -> dict[str, Any]:
        """Start rolling ``version`` out against the champion it was compared with. Once per run;
        refused while another rollout is live or when the champion has changed."""
        with self._tx() as db:
            existing = self._one("SELECT id FROM rollouts WHERE run_id = ?", [run_id])
            if existing:
                return self.get_rollout(int(existing["id"]))
            current = self._champion_version()
            if current != expected_champion:
                raise Conflict(
                    f"The champion is v{current}, not v{expected_champion} as when version {version} "
                    "was compared: no rollout started."
                )
            live = self._one(
                "SELECT id, version FROM rollouts WHERE status IN ('active', 'paused')"
            )
            if live:
                raise Conflict(
                    f"Rollout {live['id']} of version {live['version']} is still live; let it finish "
                    "or abort it first ('modelgate rollout abort')."
                )
            cur = db.execute(
                "INSERT INTO rollouts (run_id, version, champion_version, strategy, plan, seed, step_index, "
                "share, status, started_at, step_started_at) VALUES (?, ?, ?, ?, ?, '', 0, ?, 'active', ?, ?)",
                [run_id, version, expected_champion, strategy, _j(plan), share, at, at],
            )
            rid = int(cur.lastrowid or 0)
            db.execute("UPDATE rollouts SET seed = ? WHERE id = ?", [f"rollout-{rid}", rid])
            self._rollout_event(
                db, rid, kind="started", share=share, actor=by, at=at, reason=f"{strategy} rollout"
            )
            audit.append(
                db,
                actor=by,
                event="rollout_started",
                entity="rollout",
                entity_id=rid,
                details={
                    "version": version,
                    "champion": expected_champion,
                    "strategy": strategy,
                    "share": share,
                    "run_id": run_id,
                },
            )
        return self.get_rollout(rid)

    def _rollout_event(
        self, db: Database, rid: int, *, kind: str, share: float, actor: str, at: str, reason: str
    ) -> None:
        db.execute(
            "INSERT INTO rollout_events (rollout_id, at, kind, share, actor, reason) VALUES (?, ?, ?, ?, ?, ?)",
            [rid, at, kind, share, actor, reason],
        )

    def get_rollout(self, rollout_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM rollouts WHERE id = ?", [rollout_id])
        if row is None:
            raise NotFound(f"Rollout {rollout_id} does not exist.")
        return _decode(row) or {}

    def rollouts(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM rollouts" + (" WHERE status = ?" if status else "") + " ORDER BY id DESC"
        )
        return [_decode(r) or {} for r in self._all(sql, [status] if status else [])]

    def live_rollout(self) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM rollouts WHERE status IN ('active', 'paused')"))

    def rollout_events(self, rollout_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT * FROM rollout_events WHERE rollout_id = ? ORDER BY id", [rollout_id]
        )

    def rollout_analyses(self, rollout_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT * FROM rollout_analyses WHERE rollout_id = ? ORDER BY id", [rollout_id]
        )

    def record_outcomes(self, rollout_id: int, rows: Iterable[Sequence[Any]]) -> int:
        """Served predictions, in one transaction: (request_id, unit, variant, step_index,
        prediction, shadow_prediction, served_at). A request id already stored is kept as it was;
        a rollout that has ended takes nothing more (returns 0)."""
        with self._tx() as db:
            live = self._one("SELECT status FROM rollouts WHERE id = ?", [rollout_id])
            if live is None or live["status"] not in ("active", "paused"):
                return 0
            cur = db.conn.executemany(
                "INSERT OR IGNORE INTO rollout_outcomes (rollout_id, request_id, unit, variant, step_index, "
                "prediction, shadow_prediction, served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ([rollout_id, *r] for r in rows),
            )
            return int(cur.rowcount)

    def record_labels(self, rollout_id: int, rows: Iterable[Sequence[Any]]) -> int:
        """Delayed labels, in one transaction: (request_id, actual, labelled_at); the first label
        of a request wins, and a label may come before its prediction is stored."""
        with self._tx() as db:
            cur = db.conn.executemany(
                "INSERT OR IGNORE INTO rollout_labels (rollout_id, request_id, actual, labelled_at) "
                "VALUES (?, ?, ?, ?)",
                ([rollout_id, request_id, actual, at] for request_id, actual, at in rows),
            )
            return int(cur.rowcount)

    def rollout_outcomes(
        self, rollout_id: int, *, labelled: bool = True, step_index: int | None = None
    ) -> list[dict[str, Any]]:
        """Served predictions with their labels (only labelled ones by default), of one step or
        of all."""
        return self._all(
            "SELECT o.request_id, o.unit, o.variant, o.step_index, o.prediction, o.shadow_prediction, "
            "l.actual, o.served_at, l.labelled_at FROM rollout_outcomes o "
            "LEFT JOIN rollout_labels l ON l.rollout_id = o.rollout_id AND l.request_id = o.request_id "
            "WHERE o.rollout_id = ?"
            + (" AND l.actual IS NOT NULL" if labelled else "")
            + (" AND o.step_index = ?" if step_index is not None else "")
            + " ORDER BY o.served_at, o.request_id",
            [rollout_id] if step_index is None else [rollout_id, step_index],
        )

    def last_served_at(self, rollout_id: int) -> str | None:
        row = self._one(
            "SELECT MAX(served_at) AS m FROM rollout_outcomes WHERE rollout_id = ?", [rollout_id]
        )
        return None if row is None else row["m"]

    def rollout_analysis_for_run(self, rollout_id: int, run_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM rollout_analyses WHERE rollout_id = ? AND run_id = ?",
            [rollout_id, run_id],
        )

    def rollout_units(self, rollout_id: int, step_index: int) -> dict[str, int]:
        """Distinct units served by each variant during one step: what the sample-ratio check
        counts, since within a step the configured split is one share."""
        rows = self._all(
            "SELECT variant, COUNT(DISTINCT unit) AS n FROM rollout_outcomes "
            "WHERE rollout_id = ? AND step_index = ? GROUP BY variant",
            [rollout_id, step_index],
        )
        counts = {"champion": 0, "challenger": 0}
        counts.update({r["variant"]: int(r["n"]) for r in rows})
        return counts

    def record_rollout_analysis(
        self, rollout_id: int, *, run_id: str, at: str, row: dict[str, Any]
    ) -> bool:
        """One analysis per rollout and monitor run (a retried task stores nothing new)."""
        with self._tx() as db:
            if self._one(
                "SELECT 1 FROM rollout_analyses WHERE rollout_id = ? AND run_id = ?",
                [rollout_id, run_id],
            ):
                return False
            db.execute(
                "INSERT INTO rollout_analyses (rollout_id, run_id, at, step_index, share, n_champion, "
                "n_challenger, champion_mean, champion_low, champion_high, challenger_mean, challenger_low, "
                "challenger_high, difference, cs_low, cs_high, srm_p, action, reason) VALUES (:rollout_id, "
                ":run_id, :at, :step_index, :share, :n_champion, :n_challenger, :champion_mean, :champion_low, "
                ":champion_high, :challenger_mean, :challenger_low, :challenger_high, :difference, :cs_low, "
                ":cs_high, :srm_p, :action, :reason)",
                {**row, "rollout_id": rollout_id, "run_id": run_id, "at": at},
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="rollout_analysed",
                entity="rollout",
                entity_id=rollout_id,
                details={k: row[k] for k in ("share", "n_champion", "n_challenger", "action")},
            )
        return True

    def transition_rollout(
        self,
        rollout_id: int,
        *,
        kind: str,
        actor: str,
        reason: str,
        at: str,
        expect_status: Sequence[str] = ("active",),
        expect_step: int | None = None,
        status: str | None = None,
        step_index: int | None = None,
        share: float | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]:
        """Compare-and-set a rollout's state (status and step as the caller saw them), record the
        event and audit it; ``kind`` 'promoted' also makes the challenger champion (compare-and-set
        on the champion the rollout started against) in the same transaction."""
        terminal = {"promoted", "rolled_back", "aborted", "halted", "expired"}
        with self._tx() as db:
            if as_admin:
                self._check_admin(actor)
            row = self.get_rollout(rollout_id)
            if row["status"] not in expect_status or (
                expect_step is not None and row["step_index"] != expect_step
            ):
                wanted = " or ".join(expect_status)
                if row["status"] in expect_status:
                    wanted = f"at step {expect_step + 1 if expect_step is not None else '?'}"
                raise Conflict(
                    f"Rollout {rollout_id} is {row['status']} at step {row['step_index'] + 1} "
                    f"({row['share']:.0%}); '{kind}' needs it {wanted}. Nothing changed."
                )
            changes: dict[str, Any] = {"reason": reason}
            if status is not None:
                changes["status"] = status
                if status in terminal:
                    changes["ended_at"] = at
            if step_index is not None and step_index != row["step_index"]:
                changes.update(step_index=step_index, step_started_at=at)
            if kind == "resumed":  # paused time does not count towards holding the step
                changes["step_started_at"] = at
            if share is not None:
                changes["share"] = share
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            db.execute(f"UPDATE rollouts SET {sets} WHERE id = :id", {**changes, "id": rollout_id})
            new_share = changes.get("share", row["share"])
            self._rollout_event(
                db, rollout_id, kind=kind, share=new_share, actor=actor, at=at, reason=reason
            )
            audit.append(
                db,
                actor=actor,
                event=f"rollout_{kind}",
                entity="rollout",
                entity_id=rollout_id,
                details={"version": row["version"], "share": new_share, "reason": reason},
            )
            if kind == "promoted":
                self._set_champion(
                    db,
                    version=row["version"],
                    expected=row["champion_version"],
                    kind="promotion",
                    at=at,
                    by=actor,
                    reason=f"rollout {rollout_id}: {reason}",
                    run_id=f"rollout-{rollout_id}",
                )
        return self.get_rollout(rollout_id)

    # ---------------------------------------------------------------- users
    def add_user(
        self, *, username: str, password_hash: str, role: str, by: str, as_admin: bool = False
    ) -> dict[str, Any]:
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            if self._one("SELECT 1 FROM users WHERE lower(username) = lower(?)", [username]):
                raise Conflict(f"User {username!r} already exists.")
            now = audit.utcnow()
            db.execute(
                "INSERT INTO users (username, password_hash, role, created_at, updated_at, created_by, "
                "role_set_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [username, password_hash, role, now, now, by, by],
            )
            audit.append(
                db,
                actor=by,
                event="user_added",
                entity="user",
                entity_id=username,
                details={"role": role},
            )
        return self.get_user(username)

    def get_user(self, username: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM users WHERE username = ?", [username])
        if row is None:
            raise NotFound(f"User {username!r} does not exist.")
        return row

    def users(self) -> list[dict[str, Any]]:
        return self._all(
            "SELECT username, role, disabled, failed_attempts, locked_until, created_at, updated_at "
            "FROM users ORDER BY username"
        )

    def update_user(
        self,
        username: str,
        *,
        by: str,
        role: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]:
        """Change a user's role, password or disabled flag (a new password also lifts a lockout).
        From the dashboard (``as_admin``), refused when it would leave no enabled admin."""
        count = "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0"
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            self.get_user(username)
            before = self._one(count) or {"n": 0}
            changes: dict[str, Any] = {}
            if role is not None:
                changes.update(role=role, role_set_by=by)
            if disabled is not None:
                changes["disabled"] = int(disabled)
            if password_hash is not None:  # a new password also lifts a lockout
                changes.update(password_hash=password_hash, failed_attempts=0, locked_until=None)
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            db.execute(
                f"UPDATE users SET {sets}, updated_at = :now WHERE username = :username",
                {**changes, "now": audit.utcnow(), "username": username},
            )
            after = self._one(count) or {"n": 0}
            if as_admin and before["n"] > 0 and after["n"] == 0:  # the CLI may, to recover
                raise Conflict(
                    f"This change to {username!r} would leave no enabled admin; nothing changed."
                )
            audit.append(
                db,
                actor=by,
                event="user_changed",
                entity="user",
                entity_id=username,
                details={
                    k: ("***" if k == "password_hash" else v)
                    for k, v in changes.items()
                    if k != "role_set_by"
                },
            )
        return self.get_user(username)

    def reserve_login_attempt(
        self, username: str, *, now: str, max_failures: int, lock_until: str
    ) -> dict[str, Any] | None:
        """Before a password is checked: in one transaction, refuse a locked account ('locked'),
        or count the attempt as a failure in advance and lock the account when it is the
        ``max_failures``-th ('reserved'); a successful check resets the count. So parallel guesses
        get at most ``max_failures`` checks. None for an unknown user."""
        with self._tx() as db:
            user = self._one("SELECT * FROM users WHERE username = ?", [username])
            if user is None:
                return None
            lock = user["locked_until"]
            if lock is not None and lock > now:
                return {**user, "state": "locked"}
            failures = (0 if lock is not None else int(user["failed_attempts"])) + 1
            new_lock = lock_until if failures >= max_failures else None
            db.execute(
                "UPDATE users SET failed_attempts = ?, locked_until = ? WHERE username = ?",
                [failures, new_lock, username],
            )
            return {
                **user,
                "state": "reserved",
                "failed_attempts": failures,
                "locked_until": new_lock,
            }

    def record_login(
        self,
        username: str,
        *,
        ok: bool,
        now: str,
        locked_until: str | None = None,
        reason: str = "",
        count: bool = True,
    ) -> None:
        """One audit row per login or failed login; failures count towards a lockout (unless
        ``count`` is False: the attempt was already counted by ``reserve_login_attempt``)."""
        with self._tx() as db:
            if (ok or count) and self._one("SELECT 1 FROM users WHERE username = ?", [username]):
                if ok:
                    db.execute(
                        "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE username = ?",
                        [username],
                    )
                else:
                    # A lock that has run out is cleared: the count starts again from this failure.
                    db.execute(
                        "UPDATE users SET failed_attempts = CASE WHEN locked_until IS NOT NULL AND "
                        "locked_until <= ? THEN 1 ELSE failed_attempts + 1 END, "
                        "locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= ? THEN ? "
                        "ELSE COALESCE(?, locked_until) END WHERE username = ?",
                        [now, now, locked_until, locked_until, username],
                    )
            audit.append(
                db,
                actor=username,
                event="login" if ok else "login_failed",
                entity="user",
                entity_id=username,
                details={"reason": reason} if reason else {},
            )

    def record_logout(self, username: str) -> None:
        with self._tx() as db:
            audit.append(
                db, actor=username, event="logout", entity="user", entity_id=username, details={}
            )

    # ---------------------------------------------------------------- outbox
    def enqueue(
        self,
        *,
        key: str,
        event: str,
        recipients: list[str],
        subject: str,
        text: str,
        html: str,
        channel: str,
    ) -> tuple[int, bool]:
        """Write a notification before it is sent; the same key (event and run) is queued once.
        Returns (id, newly queued)."""
        with self._tx() as db:
            return self._enqueue(
                db,
                key=key,
                event=event,
                recipients=recipients,
                subject=subject,
                text=text,
                html=html,
                channel=channel,
            )

    def _enqueue(
        self,
        db: Database,
        *,
        key: str,
        event: str,
        recipients: list[str],
        subject: str,
        text: str,
        html: str,
        channel: str,
    ) -> tuple[int, bool]:
        """Inside a write transaction: queue a notification once per key (with its audit row)."""
        existing = self._one("SELECT id FROM outbox WHERE key = ?", [key])
        if existing:
            return int(existing["id"]), False
        now = audit.utcnow()
        cur = db.execute(
            "INSERT INTO outbox (key, event, recipients, subject, text, html, channel, status, created_at, "
            "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key,
                event,
                _j(recipients),
                subject,
                text,
                html,
                channel,
                "pending" if channel == "smtp" else "logged",
                now,
                now,
            ],
        )
        oid = int(cur.lastrowid or 0)
        audit.append(
            db,
            actor=PIPELINE,
            event="notification_queued",
            entity="notification",
            entity_id=oid,
            details={
                "key": key,
                "event": event,
                "channel": channel,
                "recipients": recipients,
                "subject": subject,
            },
        )
        return oid, True

    def due_notifications(self, now: str) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT * FROM outbox WHERE status IN ('pending', 'failed') AND next_attempt_at <= ? ORDER BY id",
                [now],
            )
        ]

    def mark_notification(
        self, oid: int, *, sent: bool, error: str | None = None, retry_at: str | None = None
    ) -> None:
        with self._tx() as db:
            row = self._one("SELECT status, attempts FROM outbox WHERE id = ?", [oid])
            if row is None or row["status"] == "sent":
                return
            now = audit.utcnow()
            db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, sent_at = ?, "
                "next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                ["sent" if sent else "failed", error, now if sent else None, retry_at, oid],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="notification_sent" if sent else "notification_failed",
                entity="notification",
                entity_id=oid,
                details={"attempt": row["attempts"] + 1, "error": error},
            )

    def outbox(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", [limit])
        ]

    # ---------------------------------------------------------------- audit and status
    def audit_log(
        self,
        limit: int | None = None,
        event: str | None = None,
        *,
        actor: str | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        version: int | None = None,
    ) -> list[dict[str, Any]]:
        """Audit events, newest first, filtered by exact event, actor, entity and entity id, by
        ``since <= at < until`` (ISO strings) and by the model version they concern."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("event", event),
            ("actor", actor),
            ("entity", entity),
            ("entity_id", entity_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at < ?")
            params.append(until)
        if version is not None:
            where.append(
                "((entity = 'model_version' AND entity_id = ?) "
                "OR json_extract(details, '$.version') = ?)"
            )
            params += [str(version), version]
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY seq DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [_decode(r) or {} for r in self._all(sql, params)]

    def import_audit_events(self, events: Iterable[dict[str, Any]]) -> int:
        """Append many events in one transaction, chained like any other (for importing another
        tool's history, and for the dashboard benchmark's 100k-event log). Each event has actor,
        event, entity, entity_id and details. Returns how many were appended."""
        n = 0
        with self._tx() as db:
            for e in events:
                audit.append(
                    db,
                    actor=e["actor"],
                    event=e["event"],
                    entity=e["entity"],
                    entity_id=e["entity_id"],
                    details=e.get("details", {}),
                )
                n += 1
        return n

    def data_version(self) -> int:
        """The newest audit sequence number that is not a sign-in or sign-out: it changes exactly
        when something a page shows has changed."""
        row = self.db.execute(
            "SELECT seq FROM audit_log WHERE event NOT IN ('login', 'login_failed', 'logout') "
            "ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def audit_facets(self) -> dict[str, list[str]]:
        """The distinct events and actors in the audit log (for filters)."""
        return {
            col: [r[col] for r in self._all(f"SELECT DISTINCT {col} FROM audit_log ORDER BY {col}")]
            for col in ("event", "actor")
        }

    def count_audit(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])

    def verify_audit(self) -> audit.ChainCheck:
        return audit.verify(self.db)

    def status(self) -> dict[str, Any]:
        champ = self.current_champion()

        def count(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0])

        return {
            "champion": None
            if champ is None
            else {
                "version": champ.version,
                "metric": champ.metric,
                "value": champ.value,
                "promoted_at": champ.since,
                "promoted_by": champ.by,
                "kind": champ.kind,
            },
            "versions": count("SELECT COUNT(*) FROM model_versions"),
            "runs": count("SELECT COUNT(*) FROM runs"),
            "pending_reviews": count("SELECT COUNT(*) FROM reviews WHERE status = 'pending'"),
            "audit_events": count("SELECT COUNT(*) FROM audit_log"),
        }


def _num(x: float | None) -> float | None:
    return None if x is None or x != x else x


_JSON_COLS = (
    "recipients",
    "affected",
    "concept",
    "params",
    "metrics",
    "schema",
    "feature_importance",
    "reference_profile",
    "triggers",
    "trigger_reasons",
    "challenger_metrics",
    "champion_metrics",
    "reasons",
    "details",
    "distribution",
    "plan",
    "limits",
    "rules",
)


def _decode(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        k: (json.loads(v) if k in _JSON_COLS and isinstance(v, str) else v) for k, v in row.items()
    }


def _version(row: dict[str, Any]) -> ModelVersion:
    d = _decode(row) or {}
    return ModelVersion(**d)
