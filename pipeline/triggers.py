"""Retraining triggers: each check measures a value, compares it with its threshold and says why.

Hybrid rule: retrain when any check fires. Every check, fired or not, is recorded with the run.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.reports import TriggerCheck, TriggerReport, VolumeFacts

if TYPE_CHECKING:
    from pipeline.drift import DriftReport


def evaluate_triggers(
    cfg: Config,
    *,
    as_of: dt.datetime,
    run_type: str | None,
    force: bool,
    facts: VolumeFacts,
    extra: tuple[str, ...] = (),
    drift: DriftReport | None = None,
    include: tuple[str, ...] | None = None,
) -> TriggerReport:
    """Checks for one run. ``facts``: the champion's age, the data since its training run and the
    last retraining (the minimum interval counts from it); ``extra`` reasons passed in the run's
    conf (for example by the drift monitor)."""
    champion_as_of = facts.champion_as_of
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
    if facts.new_rows is not None:
        checks.append(data_volume_check(cfg, facts.new_rows, facts.train_rows))
    if drift is not None:
        checks.extend(drift_checks(cfg, drift))
    measured = {
        c.name for c in checks if c.fired
    }  # a reason this run measured firing is not repeated
    for reason in (r for r in dict.fromkeys(extra) if r != "schedule" and r not in measured):
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
    interval, held = interval_check(cfg, as_of, facts.last_retraining)
    checks.append(interval)
    return TriggerReport(checks=tuple(checks), held=held)


def data_volume_check(cfg: Config, new_rows: int, train_rows: int | None) -> TriggerCheck:
    """More than ``new_rows_trigger`` new labelled rows since the champion's training run, and at
    least ``new_rows_share`` of the rows it trained on (the relative form scales with the data)."""
    relative = math.ceil(cfg.new_rows_share * train_rows) if train_rows else 0
    limit = max(cfg.new_rows_trigger + 1, relative)
    why = (
        f"the larger of new_rows_trigger {cfg.new_rows_trigger} + 1 and "
        f"{cfg.new_rows_share:g} x {train_rows} training rows"
        if train_rows
        else f"more than new_rows_trigger {cfg.new_rows_trigger}"
    )
    return TriggerCheck(
        name="data_volume",
        fired=new_rows >= limit,
        value=new_rows,
        threshold=limit,
        detail=f"{new_rows} new labelled rows since the champion's training run (need {limit}: {why})",
    )


def interval_check(
    cfg: Config, as_of: dt.datetime, last_retraining: dt.datetime | None
) -> tuple[TriggerCheck, bool]:
    """The minimum interval between retrainings: never fires itself; while it holds, automatic
    triggers (drift, volume, age, performance) start nothing. Scheduled and forced runs train."""
    limit = cfg.min_retrain_interval_days
    if last_retraining is None:
        return TriggerCheck(
            name="min_interval",
            fired=False,
            value=None,
            threshold=limit,
            detail="no retraining yet: nothing holds automatic triggers back",
        ), False
    days = (as_of - last_retraining).total_seconds() / 86400
    holds = days < limit
    check = TriggerCheck(
        name="min_interval",
        fired=False,
        value=round(days, 2),
        threshold=limit,
        detail=(
            f"holds automatic triggers back: the last retraining was {days:.1f} days ago "
            f"(min_retrain_interval_days {limit})"
            if holds
            else f"clear: the last retraining was {days:.1f} days ago (min_retrain_interval_days {limit})"
        ),
    )
    return check, holds


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
                threshold=round(c.limit, 4),
                detail=f"the champion's {c.metric} is {c.current_value:.4g} on recent labels against "
                f"{c.reference_value:.4g} at training ({c.degradation:+.1%}; limit {c.limit:.1%}, "
                f"{'calibrated on its training windows' if c.rule == 'calibrated' else 'concept_degradation'})",
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
