"""Retraining triggers: each check measures a value, compares it with its threshold and says why.

Hybrid rule: retrain when any check fires. Every check, fired or not, is recorded with the run.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.reports import TriggerCheck, TriggerReport

if TYPE_CHECKING:
    from pipeline.drift import DriftReport


def evaluate_triggers(
    cfg: Config,
    *,
    as_of: dt.datetime,
    run_type: str | None,
    force: bool,
    champion_as_of: dt.datetime | None,
    new_rows: int | None,
    extra: tuple[str, ...] = (),
    drift: DriftReport | None = None,
    include: tuple[str, ...] | None = None,
) -> TriggerReport:
    """Checks for one run. ``champion_as_of`` is when the champion's training run looked at the data;
    ``new_rows`` the labelled rows that arrived since then; ``extra`` reasons passed in the run's conf
    (for example by the drift monitor)."""
    scheduled = run_type == "scheduled" or "schedule" in extra
    checks = [
        TriggerCheck(
            name="manual",
            fired=force,
            value=force,
            threshold=True,
            detail="forced by the run's force_retrain parameter" if force else "not forced",
        ),
        TriggerCheck(
            name="schedule",
            fired=scheduled,
            value=run_type,
            threshold="scheduled",
            detail=f"a scheduled run ({cfg.schedule})"
            if scheduled
            else f"run type is {run_type or 'unknown'}, not scheduled",
        ),
        TriggerCheck(
            name="no_champion",
            fired=champion_as_of is None,
            value=champion_as_of is None,
            threshold=True,
            detail="there is no champion yet" if champion_as_of is None else "a champion exists",
        ),
    ]
    if champion_as_of is not None:
        age = (as_of - champion_as_of).total_seconds() / 86400
        checks.append(
            TriggerCheck(
                name="model_age",
                fired=age >= cfg.max_model_age_days,
                value=round(age, 2),
                threshold=cfg.max_model_age_days,
                detail=f"the champion's data is {age:.1f} days old (limit {cfg.max_model_age_days})",
            )
        )
    if new_rows is not None:
        checks.append(
            TriggerCheck(
                name="data_volume",
                fired=new_rows > cfg.new_rows_trigger,
                value=new_rows,
                threshold=cfg.new_rows_trigger,
                detail=f"{new_rows} new labelled rows since the last training (limit {cfg.new_rows_trigger})",
            )
        )
    if drift is not None:
        checks.extend(drift_checks(cfg, drift))
    for reason in (r for r in extra if r != "schedule"):
        checks.append(
            TriggerCheck(
                name=reason,
                fired=True,
                value=True,
                threshold=True,
                detail=f"requested by the caller: {reason}",
            )
        )
    if include is not None:
        checks = [c for c in checks if c.name in include]
    return TriggerReport(checks=tuple(checks))


def drift_checks(cfg: Config, drift: DriftReport) -> list[TriggerCheck]:
    """Data drift, concept drift and the performance floor, from a drift report."""
    data = drift.drift_type in ("data", "both")
    checks = [
        TriggerCheck(
            name="data_drift",
            fired=data,
            value=round(drift.drift_score, 4),
            threshold=1.0,
            detail=drift.recommendation
            if drift.status == "ok"
            else f"no verdict: {drift.recommendation}",
        )
    ]
    c = drift.concept
    if c is not None:
        checks.append(
            TriggerCheck(
                name="concept_drift",
                fired=c.drifted,
                value=round(c.degradation, 4),
                threshold=cfg.concept_degradation,
                detail=f"the champion's {c.metric} is {c.current_value:.4g} on recent labels against "
                f"{c.reference_value:.4g} at training ({c.degradation:+.1%})",
            )
        )
        floor = cfg.metric_floor
        checks.append(
            TriggerCheck(
                name="performance",
                fired=c.below_floor,
                value=round(c.current_value, 6),
                threshold=floor,
                detail="no metric_floor configured"
                if floor is None
                else f"{c.metric} {c.current_value:.4g} is {'past' if c.below_floor else 'within'} the floor {floor}",
            )
        )
    return checks
