"""A/B and canary rollouts: state compare-and-set, outcomes, labels and analyses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

from pipeline.errors import Conflict, NotFound
from registry.base import PIPELINE, _decode, _j
from registry.champion import ChampionMixin


class RolloutsMixin(ChampionMixin):
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
            existing = self._one(
                "SELECT id FROM rollouts WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if existing:
                return self.get_rollout(int(existing["id"]))
            current = self._champion_version()
            if current != expected_champion:
                raise Conflict(
                    f"The champion is v{current}, not v{expected_champion} as when version {version} "
                    "was compared: no rollout started."
                )
            live = self._one(
                "SELECT id, version FROM rollouts WHERE model = ? AND status IN ('active', 'paused')",
                [self.model],
            )
            if live:
                raise Conflict(
                    f"Rollout {live['id']} of version {live['version']} is still live; let it finish "
                    "or abort it first ('modelgate rollout abort')."
                )
            cur = db.execute(
                "INSERT INTO rollouts (model, run_id, version, champion_version, strategy, plan, seed, "
                "step_index, share, status, started_at, step_started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, '', 0, ?, 'active', ?, ?)",
                [self.model, run_id, version, expected_champion, strategy, _j(plan), share, at, at],
            )
            rid = int(cur.lastrowid or 0)
            db.execute("UPDATE rollouts SET seed = ? WHERE id = ?", [f"rollout-{rid}", rid])
            self._rollout_event(
                db, rid, kind="started", share=share, actor=by, at=at, reason=f"{strategy} rollout"
            )
            self._audit(
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
            self._notify(
                db,
                "rollout_started",
                f"rollout_started:{rid}",
                {
                    "rollout_id": rid,
                    "action": "started",
                    "strategy": strategy,
                    "share": share,
                    "version": version,
                    "previous": expected_champion,
                    "run_id": run_id,
                    "as_of": at,
                    **self.comparison_facts(run_id),
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
        row = self._one(
            "SELECT * FROM rollouts WHERE id = ? AND model = ?", [rollout_id, self.model]
        )
        if row is None:
            raise NotFound(self._missing("Rollout", rollout_id, "rollout"))
        return _decode(row) or {}

    def rollouts(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM rollouts WHERE model = ?"
            + (" AND status = ?" if status else "")
            + " ORDER BY id DESC"
        )
        return [
            _decode(r) or {}
            for r in self._all(sql, [self.model, status] if status else [self.model])
        ]

    def live_rollout(self) -> dict[str, Any] | None:
        return _decode(
            self._one(
                "SELECT * FROM rollouts WHERE model = ? AND status IN ('active', 'paused')",
                [self.model],
            )
        )

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
            live = self._one(
                "SELECT status FROM rollouts WHERE id = ? AND model = ?", [rollout_id, self.model]
            )
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
            self._audit(
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
        action: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Compare-and-set a rollout's state (status and step as the caller saw them), record the
        event and audit it; ``kind`` 'promoted' also makes the challenger champion (compare-and-set
        on the champion the rollout started against) in the same transaction. The decision is
        announced there too (rollout_decision, ``action`` as the caller names it, default
        ``kind``); a promotion's announcement is its champion change's."""
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
            self._audit(
                db,
                actor=actor,
                event=f"rollout_{kind}",
                entity="rollout",
                entity_id=rollout_id,
                details={"version": row["version"], "share": new_share, "reason": reason},
            )
            facts = {
                "rollout_id": rollout_id,
                "action": action or kind,
                "strategy": row["strategy"],
                "share": new_share,
                "version": row["version"],
                "previous": row["champion_version"],
                "by": actor,
                "reason": reason,
                "run_id": run_id,
                "as_of": at,
            }
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
                    facts={**self.comparison_facts(row["run_id"]), **facts},
                    event="rollout_decision",
                )
            else:
                event_id = db.execute("SELECT MAX(id) FROM rollout_events").fetchone()[0]
                self._notify(
                    db, "rollout_decision", f"rollout:{rollout_id}:event:{event_id}", facts
                )
        return self.get_rollout(rollout_id)
