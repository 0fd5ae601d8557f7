"""Drift reports and per-feature scores, and the trigger queries over them."""

from __future__ import annotations

import json
from typing import Any

from registry import audit
from registry.base import PIPELINE, RegistryBase, _decode, _j


class DriftMixin(RegistryBase):
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
            existing = self._one(
                "SELECT id FROM drift_reports WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if existing:
                return int(existing["id"])
            cur = db.execute(
                "INSERT INTO drift_reports (model, run_id, dag_id, as_of, model_version, status, "
                "drift_detected, drift_type, drift_score, affected, recommendation, n_reference, "
                "n_current, concept, triggers, retrain_requested, created_at, reference) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.model,
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
                "INSERT INTO drift_scores (model, report_id, as_of, feature, kind, ks, p_value, "
                "p_adjusted, psi, wasserstein, chi2, missing_delta, drifted, score, distribution, "
                "limits, rules, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        self.model,
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
            self._audit(
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
        return _decode(
            self._one(
                "SELECT * FROM drift_reports WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
        )

    def drift_report_at(self, as_of: str) -> dict[str, Any] | None:
        """The newest drift report whose logical time is at or before ``as_of``."""
        return _decode(
            self._one(
                "SELECT * FROM drift_reports WHERE model = ? AND as_of <= ? "
                "ORDER BY as_of DESC, id DESC LIMIT 1",
                [self.model, as_of],
            )
        )

    def drift_reports(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT * FROM drift_reports WHERE model = ? ORDER BY as_of DESC, id DESC LIMIT ?",
                [self.model, limit],
            )
        ]

    def drift_scores(
        self, report_id: int | None = None, feature: str | None = None
    ) -> list[dict[str, Any]]:
        """Per-feature drift scores over time (optionally of one report or one feature)."""
        where: list[str] = ["model = ?"]
        params: list[Any] = [self.model]
        if report_id is not None:
            where.append("report_id = ?")
            params.append(report_id)
        if feature is not None:
            where.append("feature = ?")
            params.append(feature)
        sql = "SELECT * FROM drift_scores WHERE " + " AND ".join(where)
        return [_decode(r) or {} for r in self._all(sql + " ORDER BY as_of, feature", params)]

    def drift_matrix(self, since: str | None = None) -> list[dict[str, Any]]:
        """(as_of, feature, score, drifted) of every check since ``since``: the heatmap's cells,
        without the per-feature distributions."""
        return self._all(
            "SELECT s.as_of, s.feature, s.score, s.psi, s.drifted, r.run_id FROM drift_scores s "
            "JOIN drift_reports r ON r.id = s.report_id WHERE s.model = ?"
            + (" AND s.as_of >= ?" if since else "")
            + " ORDER BY s.as_of, s.feature",
            [self.model, since] if since else [self.model],
        )

    def trigger_streak_covers(self, *, name: str, since: str, before: str) -> bool:
        """Whether trigger ``name`` has fired in every drift check from the last one at or before
        ``since`` up to ``before``: the streak it is on began no later than ``since``. Reads only
        the checks since then, so its cost does not grow with the history."""
        rows = self._all(
            "SELECT as_of, triggers FROM drift_reports WHERE model = :model "
            "AND as_of < :before AND as_of >= COALESCE((SELECT MAX(as_of) FROM drift_reports "
            "WHERE model = :model AND as_of <= :since), '~') ORDER BY as_of",
            {"model": self.model, "before": before, "since": since},
        )
        return bool(rows) and all(
            any(c["fired"] and c["name"] == name for c in json.loads(r["triggers"])) for r in rows
        )

    def last_retraining_as_of(self) -> str | None:
        """The newest run of this model that trained a challenger (only retraining runs do)."""
        row = self._one(
            "SELECT MAX(as_of) AS m FROM runs WHERE model = ? AND challenger_version IS NOT NULL",
            [self.model],
        )
        return None if row is None else row["m"]

    def drift_trend(self, limit: int = 30) -> list[float]:
        """The overall drift score of this model's last ``limit`` checks, oldest first (the
        Fleet page's sparkline)."""
        rows = self._all(
            "SELECT drift_score FROM drift_reports WHERE model = ? ORDER BY as_of DESC, id DESC "
            "LIMIT ?",
            [self.model, limit],
        )
        return [float(r["drift_score"] or 0.0) for r in reversed(rows)]
