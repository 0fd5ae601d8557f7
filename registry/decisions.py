"""Comparisons, decisions and the evidence of each decision, stored with it in one transaction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipeline.errors import NotFound
from pipeline.reports import Comparison, Decision
from registry import audit
from registry.base import PIPELINE, _decode, _j, _num
from registry.outbox import OutboxMixin


def evidence_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


class DecisionsMixin(OutboxMixin):
    # ---------------------------------------------------------------- comparisons and decisions
    def record_comparison(self, run_id: str, c: Comparison) -> int:
        with self._tx() as db:
            existing = self._one(
                "SELECT id FROM comparisons WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if existing:
                return int(existing["id"])
            iv = c.interval
            row = {
                "model": self.model,
                "run_id": run_id,
                "challenger_version": c.challenger_version,
                "champion_version": c.champion_version,
                "metric": c.metric,
                "higher_is_better": int(c.higher_is_better),
                "challenger_value": _num(c.challenger_value),
                "champion_value": c.champion_value,
                "relative_improvement": c.relative_improvement,
                "improvement_measure": c.improvement_measure,
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
                "baseline": c.baseline,
                "baseline_value": _num(c.baseline_value),
                "baseline_improvement": _num(c.baseline_improvement),
                "baseline_p_value": c.baseline_p_value,
                "bootstrap_groups": c.bootstrap_groups,
                "n_groups": c.n_groups,
                "effective_n": _num(c.effective_n),
                "unlabelled_train": c.unlabelled_train,
                "unlabelled_holdout": c.unlabelled_holdout,
                "improvement_lower": _num(c.improvement_lower),
                "created_at": audit.utcnow(),
            }
            cur = db.execute(
                f"INSERT INTO comparisons ({', '.join(row)}) VALUES "
                f"({', '.join(':' + k for k in row)})",
                row,
            )
            cid = int(cur.lastrowid or 0)
            self._audit(
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
                    "baseline": c.baseline,
                    "baseline_value": _num(c.baseline_value),
                    "baseline_p_value": c.baseline_p_value,
                    "bootstrap_groups": c.bootstrap_groups,
                    "unlabelled_holdout": c.unlabelled_holdout,
                },
            )
            return cid

    def record_decision(
        self,
        run_id: str,
        comparison_id: int,
        version: int,
        d: Decision,
        evidence: dict[str, Any] | None = None,
    ) -> int:
        """The decision, its evidence (immutable, with its SHA-256 in the audit event) and the
        run's outcome, in one transaction; once per run."""
        with self._tx() as db:
            existing = self._one(
                "SELECT id FROM decisions WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if existing:
                return int(existing["id"])
            now = audit.utcnow()
            cur = db.execute(
                "INSERT INTO decisions (model, run_id, comparison_id, challenger_version, outcome, "
                "reasons, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [self.model, run_id, comparison_id, version, d.outcome, _j(list(d.reasons)), now],
            )
            did = int(cur.lastrowid or 0)
            details: dict[str, Any] = {
                "run_id": run_id,
                "version": version,
                "outcome": d.outcome,
                "reasons": list(d.reasons),
            }
            if evidence is not None:
                body = json.dumps({"decision_id": did, **evidence}, sort_keys=True, allow_nan=False)
                digest = evidence_digest(body)
                db.execute(
                    "INSERT INTO evidence (decision_id, model, run_id, body, sha256, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [did, self.model, run_id, body, digest, now],
                )
                details["evidence_sha256"] = digest
            db.execute(
                "UPDATE runs SET outcome = ? WHERE model = ? AND run_id = ?",
                [d.outcome, self.model, run_id],
            )
            self._audit(
                db,
                actor=PIPELINE,
                event="decided",
                entity="decision",
                entity_id=did,
                details=details,
            )
            return did

    def evidence(self, decision_id: int) -> dict[str, Any]:
        """The evidence of one decision of this model, checked against its stored SHA-256 and
        the digest its ``decided`` audit event carries; ``_verified`` says so."""
        row = self._one(
            "SELECT d.id, d.model, e.body, e.sha256 FROM decisions d "
            "LEFT JOIN evidence e ON e.decision_id = d.id WHERE d.id = ?",
            [decision_id],
        )
        if row is None or row["model"] != self.model:
            raise NotFound(self._missing("Decision", decision_id, "decision"))
        if row["body"] is None:
            raise NotFound(
                f"Decision {decision_id} has no evidence record (it was made before evidence "
                "was kept)."
            )
        event = self._one(
            "SELECT json_extract(details, '$.evidence_sha256') AS sha FROM audit_log "
            "WHERE event = 'decided' AND entity = 'decision' AND entity_id = ?",
            [str(decision_id)],
        )
        digest = evidence_digest(row["body"])
        out: dict[str, Any] = json.loads(row["body"])
        out["_verified"] = digest == row["sha256"] == (event or {}).get("sha")
        out["_sha256"] = row["sha256"]
        return out

    def evidence_for_run(self, run_id: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT decision_id FROM evidence WHERE model = ? AND run_id = ?", [self.model, run_id]
        )
        return None if row is None else self.evidence(int(row["decision_id"]))

    def decisions(self, limit: int = 100) -> list[dict[str, Any]]:
        """This model's decisions, newest first, with the run's logical time and whether each
        keeps an evidence record."""
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT d.id, d.run_id, d.challenger_version AS version, d.outcome, d.reasons, "
                "r.as_of, c.champion_version AS champion, c.metric, c.relative_improvement, "
                "c.p_value, e.decision_id IS NOT NULL AS evidence, d.created_at "
                "FROM decisions d LEFT JOIN runs r ON r.model = d.model AND r.run_id = d.run_id "
                "LEFT JOIN comparisons c ON c.id = d.comparison_id "
                "LEFT JOIN evidence e ON e.decision_id = d.id "
                "WHERE d.model = ? ORDER BY d.id DESC LIMIT ?",
                [self.model, limit],
            )
        ]

    def comparison(self, run_id: str) -> dict[str, Any] | None:
        return _decode(
            self._one(
                "SELECT * FROM comparisons WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
        )

    def comparison_facts(self, run_id: str | None) -> dict[str, Any]:
        """The figures a notification about this run's challenger carries (none without a
        comparison): metric, both values, the relative improvement and p, the naive baseline
        and what the bootstrap drew."""
        comp = self._one(
            "SELECT metric, champion_value, challenger_value, relative_improvement, p_value, "
            "baseline, baseline_value, baseline_improvement, baseline_p_value, bootstrap_groups, "
            "effective_n, NULLIF(unlabelled_holdout, 0) AS unlabelled_holdout "
            "FROM comparisons WHERE model = ? AND run_id = ?",
            [self.model, run_id],
        )
        facts = {k: v for k, v in (comp or {}).items() if v is not None}
        ev = self._one(
            "SELECT decision_id, json_extract(body, '$.policy.rules') AS rules FROM evidence "
            "WHERE model = ? AND run_id = ?",
            [self.model, run_id],
        )
        if ev is not None:  # the evidence behind it: where to read it, and what it flagged
            facts["decision_id"] = ev["decision_id"]
            broken = [
                r["sentence"]
                for r in json.loads(ev["rules"] or "[]")
                if r["fired"] and r["name"].startswith(("guardrail:", "segment:"))
            ]
            if broken:
                facts["guardrails"] = broken
        return facts

    def decision(self, run_id: str) -> dict[str, Any] | None:
        return _decode(
            self._one(
                "SELECT * FROM decisions WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
        )

    def comparisons(self) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT * FROM comparisons WHERE model = ? ORDER BY id", [self.model]
            )
        ]

    def record_rejection(self, run_id: str, version: int, reason: str) -> bool:
        with self._tx() as db:
            if self._one(
                "SELECT 1 FROM audit_log WHERE model = ? AND event = 'challenger_rejected' "
                "AND entity_id = ?",
                [self.model, str(version)],
            ):
                return False
            self._audit(
                db,
                actor=PIPELINE,
                event="challenger_rejected",
                entity="model_version",
                entity_id=version,
                details={"run_id": run_id, "reason": reason},
            )
            previous = self._one(
                "SELECT champion_version FROM comparisons WHERE model = ? AND run_id = ?",
                [self.model, run_id],
            )
            self._notify(
                db,
                "rejected",
                f"rejected:{run_id}",
                {
                    "version": version,
                    "previous": (previous or {}).get("champion_version"),
                    "reason": reason,
                    "run_id": run_id,
                    **self.comparison_facts(run_id),
                },
            )
        return True

    # ---------------------------------------------------------------- the leaderboard
    def record_leaderboard(self, *, as_of: str, **row: Any) -> dict[str, Any]:
        """One scoring of the leaderboard at ``as_of`` (once per model and time: a retried task
        finds the first)."""
        with self._tx() as db:
            existing = self._one(
                "SELECT id FROM leaderboard WHERE model = ? AND as_of = ?", [self.model, as_of]
            )
            if existing is None:
                db.execute(
                    "INSERT INTO leaderboard (model, as_of, window_start, window_end, metric, "
                    "n_rows, fingerprint, scores, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        self.model,
                        as_of,
                        row["window_start"],
                        row["window_end"],
                        row["metric"],
                        row["n_rows"],
                        row["fingerprint"],
                        _j(row["scores"]),
                        audit.utcnow(),
                    ],
                )
        return self.leaderboards(limit=1, until=as_of)[0]

    def leaderboards(self, limit: int = 24, until: str | None = None) -> list[dict[str, Any]]:
        """The newest scorings first (at or before ``until``)."""
        rows = self._all(
            "SELECT * FROM leaderboard WHERE model = ? AND as_of <= COALESCE(?, as_of) "
            "ORDER BY as_of DESC LIMIT ?",
            [self.model, until, limit],
        )
        return [{**r, "scores": json.loads(r["scores"])} for r in rows]
