"""The registry's foundation: one SQLite connection, ``BEGIN IMMEDIATE`` transactions, the
logical clock, the outbox (written inside the decision's transaction) and the row codecs."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from pipeline.errors import Forbidden, NotFound, RegistryError
from pipeline.reports import ModelVersion
from registry import audit, witness
from registry.artifacts import ArtifactStore
from registry.migrations import migrations
from registry.migrations_fleet import DEFAULT_MODEL

PIPELINE = "pipeline"

log = logging.getLogger("modelgate.registry")
CHECKPOINT = "audit-checkpoint.json"  # in the artifacts folder unless audit_checkpoint says where

# (event, key, facts) -> the keyword arguments of ``_enqueue``: how a notification is rendered.
Notifier = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def plain_notice(event: str, key: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """A notification rendered without a configuration (a registry opened by path, or a renderer
    that failed): the event and its facts as plain lines, to the log channel."""
    return {
        "key": key,
        "event": event,
        "recipients": [],
        "subject": f"[ModelGate] {event.replace('_', ' ')}",
        "text": "\n".join(f"{k}: {v}" for k, v in sorted(facts.items())),
        "html": "",
        "channel": "log",
    }


def _j(obj: Any) -> str:
    return audit.canonical(obj)


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


# Kinds of registry-wide ids (a review, rollout or announced promotion) and their tables.
_ID_TABLES = {
    "review": "reviews",
    "rollout": "rollouts",
    "promotion": "pending_promotions",
    "decision": "decisions",
}


def _naive(text: str | None) -> dt.datetime | None:
    """An ISO time as naive UTC, or None when it is not one."""
    try:
        t = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _decode(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        k: (json.loads(v) if k in _JSON_COLS and isinstance(v, str) else v) for k, v in row.items()
    }


def _version(row: dict[str, Any]) -> ModelVersion:
    d = _decode(row) or {}
    return ModelVersion(**d)


class RegistryBase:
    """The connection, transactions, the admin check, the logical clock and the outbox: what
    every part of the registry writes through."""

    def __init__(
        self,
        db_path: Path,
        artifacts_dir: Path,
        *,
        create: bool = False,
        checkpoint: Path | None = None,
        audit_key: str | None = None,
        model: str = DEFAULT_MODEL,
    ) -> None:
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
        self._owner: RegistryBase | None = None  # set on a scoped view: who owns the connection
        self.notifier: Notifier | None = None
        self.checkpoint = Path(checkpoint) if checkpoint else self.artifacts.root / CHECKPOINT
        self.audit_key = audit_key or None
        self.model = model
        self.clock: str | None = None  # a run's logical time while its step writes (``at``)
        try:
            self._migrate()
            self._start_witness()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise RegistryError(
                f"{self.path} cannot be used as a registry (SQLite: {exc})."
            ) from exc

    def _migrate(self) -> None:
        """Apply pending migrations under one write lock, with foreign keys off while tables are
        rebuilt (m014), so two processes opening an old registry migrate it once; events they
        append are signed with the audit key and witnessed like any other."""
        if not migrations.pending(self.db):
            return
        self.db.execute("PRAGMA foreign_keys = OFF")
        try:  # an unwitnessed log is witnessed from its first open (_start_witness), not here
            with self._tx(witness_new=False):
                migrations.apply(self.db)
        finally:
            self.db.execute("PRAGMA foreign_keys = ON")

    def scoped(self, model: str) -> Self:
        """This registry seen as ``model``'s: the same connection (and transactions), every
        read and write limited to that model. For pages and commands that span the fleet."""
        view = copy.copy(self)
        view.model = model
        view._owner = self
        return view

    def _start_witness(self) -> None:
        """The first time this log is opened with a checkpoint, record that it is witnessed (so
        a checkpoint deleted later is missed, not silently re-created) and write it."""
        if self.checkpoint.exists():
            return
        with self._tx() as db:
            started = db.execute(
                "SELECT 1 FROM audit_log WHERE event = 'audit_witness_started' LIMIT 1"
            ).fetchone()
            if started is None:
                audit.append(
                    db,
                    actor=PIPELINE,
                    event="audit_witness_started",
                    entity="audit_log",
                    entity_id="checkpoint",
                    details={"checkpoint": str(self.checkpoint), "signed": bool(self.audit_key)},
                )

    @classmethod
    def open(cls, cfg: Any, *, create: bool = False) -> Self:
        """The registry ``cfg`` names, rendering the notifications its decisions queue with
        ``cfg``'s recipients and templates."""
        reg = cls(
            cfg.registry_db,
            cfg.artifacts_dir,
            create=create,
            checkpoint=cfg.audit_checkpoint,
            audit_key=cfg.audit_key,
            model=getattr(cfg, "model", DEFAULT_MODEL),
        )
        from pipeline.notify import outbox_entry  # the renderer is the pipeline's; lazy: no cycle

        reg.notifier = lambda event, key, facts: outbox_entry(cfg, event, key=key, **facts)
        return reg

    def close(self) -> None:
        if self._owner is None:  # a scoped view leaves the shared connection open
            self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self, *, witness_new: bool = True) -> Iterator[Database]:
        """A write transaction that takes the lock up front (no upgrade deadlocks between
        writers); the events it appends are signed and witnessed (``witness_new``: also when
        there is no checkpoint yet)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            start = self._head()
            yield self.db
            head = self._head()
            if head[0] > start[0] and self.audit_key:
                self._sign_unsigned(after=start[0])
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        if head[0] > start[0] and (witness_new or self.checkpoint.exists()):
            # after the commit: the checkpoint never claims what rolled back
            witness.write(self.checkpoint, head[0], head[1], self.audit_key)

    def _sign_unsigned(self, *, after: int) -> int:
        """Inside a write transaction: sign every unsigned event after seq ``after`` with the
        audit key (the trigger lets exactly this change through). Returns how many."""
        key = str(self.audit_key)
        self.db.conn.create_function("mg_mac", 2, lambda seq, h: witness.mac(key, seq, h))
        cur = self.db.execute(
            "UPDATE audit_log SET mac = mg_mac(seq, hash) WHERE seq > ? AND mac IS NULL", [after]
        )
        return int(cur.rowcount)

    @contextlib.contextmanager
    def at(self, logical_time: str) -> Iterator[Self]:
        """Within: every event is effective at ``logical_time`` (a run's step writing)."""
        before, self.clock = self.clock, logical_time
        try:
            yield self
        finally:
            self.clock = before

    def effective_now(self) -> str:
        """The registry's clock for what happens outside a run (an approval, a rollback, a
        sign-in): the wall clock, unless the newest run was a simulation or a backfill (started
        more than a day after its logical time); then that run's logical time, moved on by the
        wall-clock time since it started. So an approval in a simulated 2025 happens in 2025."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        row = self._one(
            "SELECT as_of, started_at FROM runs WHERE as_of != '' ORDER BY started_at DESC LIMIT 1"
        )
        if row and row["started_at"]:
            as_of, started = (_naive(row["as_of"]), _naive(row["started_at"]))
            if as_of is not None and started is not None and started - as_of > dt.timedelta(days=1):
                return (as_of + max(now - started, dt.timedelta(0))).isoformat(timespec="seconds")
        return now.isoformat(timespec="seconds")

    def _audit(
        self,
        db: Database,
        *,
        actor: str,
        event: str,
        entity: str,
        entity_id: object,
        details: dict[str, Any],
    ) -> int:
        """Append an event about this registry's model (its name is in the details, so the
        chain covers it): call inside the transaction that made the change."""
        return audit.append(
            db,
            actor=actor,
            event=event,
            entity=entity,
            entity_id=entity_id,
            details={
                "model": self.model,
                "effective_at": self.clock or self.effective_now(),
                **details,
            },
        )

    def _head(self) -> tuple[int, str]:
        try:
            row = self.db.execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError as exc:  # a new file, before its first migration
            if "no such table: audit_log" not in str(exc):
                raise
            row = None
        return (0, audit.GENESIS) if row is None else (int(row[0]), str(row[1]))

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))

    def _all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _in_model(self) -> str:
        """`` in model 'NAME'`` for messages, empty for the single model of a plain install."""
        return "" if self.model == DEFAULT_MODEL else f" in model '{self.model}'"

    def model_of(self, kind: str, ident: int) -> str | None:
        """The model review, rollout or promotion ``ident`` belongs to (ids are registry-wide;
        None: no such one)."""
        row = self._one(f"SELECT model FROM {_ID_TABLES[kind]} WHERE id = ?", [ident])
        return None if row is None else str(row["model"])

    def _missing(self, what: str, ident: int, kind: str) -> str:
        """Why ``what`` ``ident`` is not this model's: it does not exist, or it is another
        model's (named, with the option that reaches it)."""
        owner = self.model_of(kind, ident)
        if owner is None:
            return f"{what} {ident} does not exist."
        return (
            f"{what} {ident} belongs to model '{owner}', not '{self.model}': add --model {owner}."
        )

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
            "SELECT MAX(m) AS m FROM (SELECT MAX(as_of) AS m FROM runs WHERE model = :model "
            "UNION ALL SELECT MAX(as_of) FROM drift_reports WHERE model = :model)",
            {"model": self.model},
        )
        return None if row is None else row["m"]
