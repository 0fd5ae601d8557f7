"""The champion pointer: every change a compare-and-set with its history row and audit event;
promotions, rollbacks and promotions with a notice period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from pipeline.errors import Conflict, NotFound, RegistryError
from pipeline.reports import Champion
from registry import audit
from registry.base import PIPELINE
from registry.versions import VersionsMixin


class ChampionMixin(VersionsMixin):
    # ---------------------------------------------------------------- champion
    def current_champion(self) -> Champion | None:
        row = self._one(
            "SELECT c.version, h.at, h.by, h.kind FROM champion c "
            "JOIN champion_history h ON h.id = c.history_id WHERE c.model = ?",
            [self.model],
        )
        if row is None:
            return None
        # The champion's primary metric on its own holdout, from the comparison that judged it.
        judged = self._one(
            "SELECT metric, challenger_value FROM comparisons "
            "WHERE model = ? AND challenger_version = ?",
            [self.model, row["version"]],
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
        row = self._one("SELECT version FROM champion WHERE model = ?", [self.model])
        return None if row is None else int(row["version"])

    def champion_history(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM champion_history WHERE model = ? ORDER BY id", [self.model])

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
        facts: Mapping[str, Any] | None = None,
        event: str | None = None,
    ) -> int:
        """Compare-and-set inside the caller's transaction, with its history row, its audit event
        and its notification (``event``, default promoted / rolled_back, keyed by the history
        row: exactly one per champion change). ``facts``: what the caller adds to the
        notification (the comparison's figures). Returns the history row's id."""
        current = self._champion_version()
        if current != expected:
            raise Conflict(
                f"The champion is v{current} but this {kind} expected "
                f"{'no champion' if expected is None else f'v{expected}'}: it changed since the comparison. "
                "Re-run the comparison against the current champion."
            )
        self.get_version(version)
        cur = db.execute(
            "INSERT INTO champion_history (model, version, previous_version, kind, at, by, reason, "
            "run_id, review_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self.model, version, current, kind, at, by, reason, run_id, review_id, audit.utcnow()],
        )
        db.execute(
            "INSERT INTO champion (model, version, history_id) VALUES (?, ?, ?) ON CONFLICT(model) "
            "DO UPDATE SET version = excluded.version, history_id = excluded.history_id",
            [self.model, version, cur.lastrowid],
        )
        self._audit(
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
        hid = int(cur.lastrowid or 0)
        self._notify(
            db,
            event or ("rolled_back" if kind == "rollback" else "promoted"),
            f"champion:{hid}",
            {
                "version": version,
                "previous": current,
                "by": by,
                "reason": reason,
                "run_id": run_id,
                "review_id": review_id,
                "as_of": at,
                **self.comparison_facts(run_id),
                **(facts or {}),
            },
        )
        return hid

    def promote(
        self,
        *,
        version: int,
        expected_champion: int | None,
        run_id: str,
        at: str,
        reason: str,
        by: str = PIPELINE,
        facts: Mapping[str, Any] | None = None,
    ) -> bool:
        """Automatic promotion from a run, announced in the same transaction (``facts``: the
        comparison's figures). Returns False when this run already promoted (a retry)."""
        with self._tx() as db:
            if self._one(
                "SELECT 1 FROM champion_history WHERE model = ? AND kind = 'promotion' "
                "AND run_id = ?",
                [self.model, run_id],
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
                facts=facts,
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
    ) -> tuple[Champion, int]:
        """Make an earlier version champion again (default: the one before the current champion,
        refused when the current one is itself a rollback: undoing it needs ``to_version``),
        compare-and-set on ``expected_champion`` when given. Returns the new champion and the
        version it replaced, as this transaction saw it."""
        if not reason.strip():
            raise RegistryError("A rollback needs a reason (--reason).")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            current = self._one(
                "SELECT c.version, h.previous_version, h.kind, h.by, h.at FROM champion c "
                "JOIN champion_history h ON h.id = c.history_id WHERE c.model = ?",
                [self.model],
            )
            if current is None:
                raise Conflict("There is no champion to roll back.")
            if expected_champion is not None and expected_champion != current["version"]:
                raise Conflict(
                    f"The champion is v{current['version']}, not v{expected_champion}: "
                    "someone changed it meanwhile. Look again before rolling back."
                )
            if to_version is None and current["kind"] == "rollback":
                # Undoing a rollback is a decision of its own: name it. So a second rollback that
                # raced the first (or repeats it) cannot toggle the champion back.
                raise Conflict(
                    f"Champion v{current['version']} is itself a rollback (from "
                    f"v{current['previous_version']}, by {current['by']} at {current['at'][:16]}); "
                    "a rollback without --to would undo it. Name the version with --to."
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
                at=at or self.clock or self.effective_now(),
                by=by,
                reason=reason,
            )
        champ = self.current_champion()
        assert champ is not None
        return champ, int(current["version"])

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
            if (
                self._one(
                    "SELECT 1 FROM pending_promotions WHERE model = ? AND run_id = ?",
                    [self.model, run_id],
                )
                is None
            ):
                cur = db.execute(
                    "INSERT INTO pending_promotions (model, run_id, version, expected_champion, "
                    "reason, announced_at, due_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [self.model, run_id, version, expected_champion, reason, announced_at, due_at],
                )
                self._audit(
                    db,
                    actor=PIPELINE,
                    event="promotion_scheduled",
                    entity="pending_promotion",
                    entity_id=int(cur.lastrowid or 0),
                    details={"run_id": run_id, "version": version, "due_at": due_at},
                )
                self._notify(
                    db,
                    "promotion_pending",
                    f"promotion_pending:{run_id}",
                    {
                        "version": version,
                        "previous": expected_champion,
                        "due_at": due_at,
                        "promotion_id": int(cur.lastrowid or 0),
                        "run_id": run_id,
                        "as_of": announced_at,
                        **self.comparison_facts(run_id),
                    },
                )
        row = self._one(
            "SELECT * FROM pending_promotions WHERE model = ? AND run_id = ?", [self.model, run_id]
        )
        assert row is not None
        return row

    def pending_promotions(self, status: str | None = "pending") -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM pending_promotions WHERE model = ?"
            + (" AND status = ?" if status else "")
            + " ORDER BY id"
        )
        return self._all(sql, [self.model, status] if status else [self.model])

    def veto_promotion(
        self, promotion_id: int, *, by: str, reason: str, as_admin: bool = False
    ) -> dict[str, Any]:
        if not by.strip() or not reason.strip():
            raise RegistryError("A veto needs --by and a --reason.")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            row = self._one(
                "SELECT * FROM pending_promotions WHERE id = ? AND model = ?",
                [promotion_id, self.model],
            )
            if row is None:
                raise NotFound(self._missing("Pending promotion", promotion_id, "promotion"))
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
            self._audit(
                db,
                actor=by,
                event="promotion_vetoed",
                entity="pending_promotion",
                entity_id=promotion_id,
                details={"version": row["version"], "reason": reason},
            )
            self._notify(
                db,
                "promotion_vetoed",
                f"promotion_vetoed:{promotion_id}",
                {
                    "promotion": promotion_id,
                    "version": row["version"],
                    "previous": row["expected_champion"],
                    "by": by,
                    "reason": reason,
                    "run_id": row["run_id"],
                    **self.comparison_facts(row["run_id"]),
                },
            )
        return self._one("SELECT * FROM pending_promotions WHERE id = ?", [promotion_id]) or {}

    def apply_due_promotions(self, now: str) -> list[dict[str, Any]]:
        """Promote every announced promotion whose notice has passed (compare-and-set); one whose
        champion changed meanwhile becomes 'stale'. Returns the rows it decided."""
        decided = []
        for row in self._all(
            "SELECT * FROM pending_promotions WHERE model = ? AND status = 'pending' "
            "AND due_at <= ? ORDER BY id",
            [self.model, now],
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
                    self._audit(
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
                    self._notify(
                        db,
                        "promotion_stale",
                        f"promotion_stale:{row['id']}",
                        {
                            "promotion": row["id"],
                            "version": row["version"],
                            "previous": row["expected_champion"],
                            "champion": self._champion_version(),
                            "run_id": row["run_id"],
                            "as_of": now,
                        },
                    )
            decided.append({**row, "status": status})
        return decided
