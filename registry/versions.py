"""Runs and model versions (checksummed artifacts); comparisons and decisions are in
``registry.decisions``."""

from __future__ import annotations

from typing import Any

from pipeline.errors import NotFound
from pipeline.reports import ModelVersion, TriggerReport
from registry import audit
from registry.base import PIPELINE, _j, _version
from registry.decisions import DecisionsMixin


class VersionsMixin(DecisionsMixin):
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
        """Record a run and its trigger checks; a retry of the same run updates nothing.

        Each DAG runs one run at a time (``max_active_runs=1``), so a run of the same DAG still
        ``running`` when another starts was left by a process that died (kill -9, a lost worker):
        it is marked ``abandoned`` and audited in the same transaction."""
        checks = [c.to_dict() for c in triggers.checks]
        with self._tx() as db:
            if self._one("SELECT 1 FROM runs WHERE model = ? AND run_id = ?", [self.model, run_id]):
                return
            self._abandon_runs(db, dag_id=dag_id, by_run=run_id)
            db.execute(
                "INSERT INTO runs (model, run_id, dag_id, logical_date, as_of, run_type, data_source, "
                "triggers, trigger_reasons, status, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                [
                    self.model,
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
            self._audit(
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

    def _abandon_runs(self, db: Any, *, dag_id: str, by_run: str) -> None:
        stale = self._all(
            "SELECT run_id, started_at FROM runs WHERE model = ? AND dag_id = ? "
            "AND status = 'running' AND run_id != ? ORDER BY started_at",
            [self.model, dag_id, by_run],
        )
        for run in stale:
            error = f"left running by a process that stopped; run {by_run} started after it"
            changed = db.execute(
                "UPDATE runs SET status = 'abandoned', error = ?, finished_at = ? "
                "WHERE model = ? AND run_id = ? AND status = 'running'",
                [error, audit.utcnow(), self.model, run["run_id"]],
            ).rowcount
            if changed:
                self._audit(
                    db,
                    actor=PIPELINE,
                    event="run_abandoned",
                    entity="run",
                    entity_id=run["run_id"],
                    details={"dag_id": dag_id, "started_at": run["started_at"], "by_run": by_run},
                )

    def finish_run(
        self, run_id: str, *, status: str, outcome: str | None = None, error: str | None = None
    ) -> None:
        with self._tx() as db:
            run = self._one(
                "SELECT status FROM runs WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if run is None:
                raise NotFound(f"Run {run_id}{self._in_model()} is not in the registry.")
            if run["status"] == status:
                return
            db.execute(
                "UPDATE runs SET status = ?, outcome = COALESCE(?, outcome), error = ?, "
                "finished_at = ? WHERE model = ? AND run_id = ?",
                [status, outcome, error, audit.utcnow(), self.model, run_id],
            )
            self._audit(
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
            run = self._one(
                "SELECT status FROM runs WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if run is None:
                db.execute(
                    "INSERT INTO runs (model, run_id, dag_id, as_of, triggers, trigger_reasons, "
                    "status, started_at) VALUES (?, ?, ?, ?, '[]', '[]', 'running', ?)",
                    [self.model, run_id, dag_id, as_of or "", audit.utcnow()],
                )
            elif run["status"] == "failed":
                return False
            db.execute(
                "UPDATE runs SET status = 'failed', error = ?, finished_at = ? "
                "WHERE model = ? AND run_id = ?",
                [f"{task_id}: {error}" if task_id else error, audit.utcnow(), self.model, run_id],
            )
            self._audit(
                db,
                actor=PIPELINE,
                event="run_failed",
                entity="run",
                entity_id=run_id,
                details={"dag_id": dag_id, "task_id": task_id, "error": error},
            )
        return True

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM runs WHERE model = ? AND run_id = ?", [self.model, run_id])

    def runs(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._all(
            "SELECT * FROM runs WHERE model = ? ORDER BY as_of DESC, started_at DESC LIMIT ?",
            [self.model, limit],
        )

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
        existing = self._version_of_run(run_id)
        if existing:
            return self.get_version(existing["version"])
        stored = self.artifacts.put(model_bytes)
        with self._tx() as db:
            existing = self._version_of_run(run_id)
            if existing is None:
                version = int(
                    db.execute(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model = ?",
                        [self.model],
                    ).fetchone()[0]
                )
                row = {
                    "model": self.model,
                    "version": version,
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
                db.execute(
                    f"INSERT INTO model_versions ({', '.join(row)}) VALUES "
                    f"({', '.join(':' + k for k in row)})",
                    row,
                )
                db.execute(
                    "UPDATE runs SET challenger_version = ? WHERE model = ? AND run_id = ?",
                    [version, self.model, run_id],
                )
                self._audit(
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

    def _version_of_run(self, run_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT version FROM model_versions WHERE model = ? AND run_id = ?",
            [self.model, run_id],
        )

    def get_version(self, version: int) -> ModelVersion:
        row = self._one(
            "SELECT * FROM model_versions WHERE model = ? AND version = ?", [self.model, version]
        )
        if row is None:
            raise NotFound(f"Model version {version} does not exist{self._in_model()}.")
        return _version(row)

    def versions(self) -> list[ModelVersion]:
        return [
            _version(r)
            for r in self._all(
                "SELECT * FROM model_versions WHERE model = ? ORDER BY version", [self.model]
            )
        ]

    def newest_versions(self, n: int) -> list[ModelVersion]:
        """The ``n`` newest versions, newest first: a read that does not grow with the history."""
        return [
            _version(r)
            for r in self._all(
                "SELECT * FROM model_versions WHERE model = ? ORDER BY version DESC LIMIT ?",
                [self.model, n],
            )
        ]

    def load_model_bytes(self, version: int) -> bytes:
        """The version's artifact, verified against its registered SHA-256."""
        v = self.get_version(version)
        return self.artifacts.get(v.artifact_path, v.sha256, v.size_bytes)
