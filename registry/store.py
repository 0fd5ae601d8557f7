"""The Registry: model versions, the champion pointer, runs, comparisons, decisions, reviews and audit.

Every decision (promotion, approval, rejection, rollback, expiry) is one ``BEGIN IMMEDIATE``
transaction that compares-and-sets the champion it expects and appends its audit event, so two
admins clicking at once decide once and a retried Airflow task changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.errors import RegistryError
from registry import audit, integrity
from registry.base import PIPELINE, RegistryBase, _decode
from registry.drift_store import DriftMixin
from registry.reviews import ReviewsMixin
from registry.rollouts import RolloutsMixin
from registry.users import UsersMixin

__all__ = ["PIPELINE", "Registry", "RegistryBase"]


class Registry(ReviewsMixin, RolloutsMixin, DriftMixin, UsersMixin):
    """The SQLite audit registry over ``sqlite_utils.Database``; one connection per instance.

    Its parts live by domain in ``registry.base`` (connection, transactions, the model a view
    is scoped to), ``outbox``, ``versions``, ``champion``, ``reviews``, ``rollouts``,
    ``drift_store`` and ``users``; this class adds the audit log, the status and the fleet
    summary."""

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
        model: str | None = None,
    ) -> list[dict[str, Any]]:
        """Audit events of the whole registry, newest first, filtered by exact event, actor,
        entity and entity id, by ``since <= effective_at < until`` (ISO strings: the events'
        effective time, a simulation's dates for a simulation; ``at`` is when each was
        recorded), by model, and by the
        model version they concern (a version number is this registry's model's unless
        ``model`` names another)."""
        where: list[str] = []
        params: list[Any] = []
        if version is not None and model is None:
            model = self.model
        for column, value in (
            ("model", model),
            ("event", event),
            ("actor", actor),
            ("entity", entity),
            ("entity_id", entity_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("effective_at >= ?")
            params.append(since)
        if until is not None:
            where.append("effective_at < ?")
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
        """The distinct events, actors and models in the audit log (for filters)."""
        return {
            col: [
                r[col]
                for r in self._all(
                    f"SELECT DISTINCT {col} FROM audit_log WHERE {col} IS NOT NULL ORDER BY {col}"
                )
            ]
            for col in ("event", "actor", "model")
        }

    def count_audit(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])

    def verify_audit(self) -> audit.ChainCheck:
        """The chain, the checkpoint, the signatures (with the key) and the state against the
        log (``registry.integrity``)."""
        return integrity.verify(
            self.db, artifacts=self.artifacts.root, checkpoint=self.checkpoint, key=self.audit_key
        )

    def sign_audit(self, by: str) -> int:
        """Sign every unsigned event with the audit key (once, after setting the key on an older
        log; audited). The chain is verified first: a broken log is not blessed. Returns how
        many events were signed."""
        if not self.audit_key:
            raise RegistryError("Set MODELGATE_AUDIT_KEY first: there is no key to sign with.")
        chain = audit.verify(self.db)
        if not chain.ok:
            raise RegistryError(f"The audit chain is broken ({chain.problem}); not signing it.")
        with self._tx() as db:
            n = self._sign_unsigned(after=0)
            audit.append(
                db,
                actor=by,
                event="audit_signed",
                entity="audit_log",
                entity_id="all",
                details={"events": n},
            )
        return n

    def _champion_facts(self) -> dict[str, Any] | None:
        """The champion as ``status`` and ``summary`` show it."""
        champ = self.current_champion()
        if champ is None:
            return None
        return {
            "version": champ.version,
            "metric": champ.metric,
            "value": champ.value,
            "promoted_at": champ.since,
            "promoted_by": champ.by,
            "kind": champ.kind,
        }

    def status(self) -> dict[str, Any]:
        def count(sql: str) -> int:
            return int(self.db.execute(sql, {"model": self.model}).fetchone()[0])

        return {
            "champion": self._champion_facts(),
            "versions": count("SELECT COUNT(*) FROM model_versions WHERE model = :model"),
            "runs": count("SELECT COUNT(*) FROM runs WHERE model = :model"),
            "pending_reviews": count(
                "SELECT COUNT(*) FROM reviews WHERE model = :model AND status = 'pending'"
            ),
            "running": self._all(
                "SELECT run_id, dag_id, as_of, started_at FROM runs WHERE model = :model "
                "AND status = 'running' ORDER BY started_at",
                {"model": self.model},
            ),
            "abandoned": count(
                "SELECT COUNT(*) FROM runs WHERE model = :model AND status = 'abandoned'"
            ),
            "audit_events": count("SELECT COUNT(*) FROM audit_log"),
        }

    def models(self) -> list[str]:
        """The models this registry holds rows of (a catalog may name more, not yet run)."""
        return [
            r["model"]
            for r in self._all(
                "SELECT model FROM runs UNION SELECT model FROM model_versions "
                "UNION SELECT model FROM drift_reports ORDER BY model"
            )
        ]

    def summary(self) -> dict[str, Any]:
        """This model at a glance (``models list``, the Fleet page): its champion, its last run
        and decision, its last drift verdict, open reviews and the live rollout. A handful of
        indexed reads, whatever the history's length."""
        m = {"model": self.model}
        run = self._one(
            "SELECT run_id, as_of, status, outcome, challenger_version FROM runs "
            "WHERE model = :model ORDER BY as_of DESC, started_at DESC LIMIT 1",
            m,
        )
        drift = self._one(
            "SELECT as_of, status, drift_detected, drift_type, drift_score, affected "
            "FROM drift_reports WHERE model = :model ORDER BY as_of DESC, id DESC LIMIT 1",
            m,
        )
        live = self.live_rollout()
        reviews = self._one(
            "SELECT COUNT(*) AS n FROM reviews WHERE model = :model AND status = 'pending'", m
        )
        return {
            "model": self.model,
            "champion": self._champion_facts(),
            "last_run": run,
            "drift": _decode(drift),
            "pending_reviews": int((reviews or {}).get("n") or 0),
            "live_rollout": None
            if live is None
            else {k: live[k] for k in ("id", "version", "champion_version", "share", "status")},
        }
