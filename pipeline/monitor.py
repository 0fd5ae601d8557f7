"""The drift monitor's step: compare the latest window with the champion's reference, record
every score, and say whether a retraining should start and why.

Each feature is judged against the limits calibrated from the champion's training data (see
``drift_profile``) or, with ``drift_reference = "seasonal"``, against the same window 52 weeks
earlier. A retraining starts when a trigger fires (data drift, concept drift, the performance
floor, data volume), the minimum interval since the last retraining has passed, and no retraining
has already answered the same lasting shift.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import data as data_mod
from pipeline import drift as drift_mod
from pipeline import evaluation, training
from pipeline.config import Config
from pipeline.context import MONITOR_TRIGGERS, RunContext, age_and_volume, load_data
from pipeline.errors import ModelGateError
from pipeline.notify import notify
from pipeline.triggers import evaluate_triggers

if TYPE_CHECKING:
    from registry.store import Registry

SEASON = dt.timedelta(weeks=52)  # a year earlier, on the same weekdays


def reference_for(
    cfg: Config, version: Any, schema: data_mod.Schema, frame: pd.DataFrame, as_of: dt.datetime
) -> tuple[dict[str, Any], str]:
    """The profile a check compares with, and what it is in words."""
    if version.reference_profile is None:
        raise ModelGateError(
            f"Champion v{version.version} has no reference profile: retrain it to monitor drift."
        )
    if cfg.drift_reference == "seasonal":
        end = as_of - SEASON
        start = end - dt.timedelta(days=cfg.drift_window_days)
        ts = frame[schema.timestamp]
        earlier = frame.loc[(ts >= start) & (ts < end)]
        if len(earlier) >= cfg.drift_min_rows:
            profile = drift_mod.profile_frame(earlier, schema.features, schema.categorical)
            return (
                profile,
                f"seasonal: the same window 52 weeks earlier ({start:%Y-%m-%d} to {end:%Y-%m-%d})",
            )
        return version.reference_profile, (
            f"training (seasonal asked, but {start:%Y-%m-%d} to {end:%Y-%m-%d} holds {len(earlier)} "
            f"rows, fewer than drift_min_rows {cfg.drift_min_rows})"
        )
    windows = (version.reference_profile.get("calibration") or {}).get("windows", 0)
    return version.reference_profile, (
        f"training data of v{version.version}, calibrated on {windows} windows"
        if windows and cfg.drift_calibration
        else f"training data of v{version.version}"
    )


def drift_check(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Compare the latest window with the champion's reference profile; record every score.

    Returns whether a retraining should start and why (data drift, concept drift, the performance
    floor or the data volume), honouring ``min_retrain_interval_days`` after the last retraining.
    """
    from pipeline.housekeeping import housekeeping

    housekeeping(cfg, reg, ctx.as_of)
    done = reg.drift_report_for_run(ctx.run_id)
    if done:  # a retried task: the stored answer, nothing recomputed
        return {
            "retrain": bool(done["retrain_requested"]),
            "reasons": _fired(done["triggers"]) if done["retrain_requested"] else [],
            "report_id": done["id"],
            "cooling_down": None,
            "already_retrained": None,
        }
    champ = reg.current_champion()
    if champ is None:
        return _without_champion(reg)
    version = reg.get_version(champ.version)
    schema = data_mod.Schema.from_dict(version.schema)
    start = ctx.as_of - dt.timedelta(days=cfg.drift_window_days)
    earliest = start - SEASON if cfg.drift_reference == "seasonal" else start
    ds = load_data(cfg, reg, ctx.data_path, start=earliest, end=ctx.as_of)
    ts = ds.frame[schema.timestamp]
    window = ds.frame.loc[(ts >= start) & (ts < ctx.as_of)].reset_index(drop=True)
    data_mod.check_levels(
        ds, window, f"the drift window {start:%Y-%m-%d} to {ctx.as_of:%Y-%m-%d}", cfg
    )
    concept = None
    # The champion's error on the window's labelled rows (drift itself reads every row); too few
    # labels yet, and concept drift is not judged this time.
    labelled = window.dropna(subset=[schema.target]).reset_index(drop=True)
    enough = len(labelled) == len(window) or len(labelled) >= cfg.min_holdout_rows
    if len(labelled) and enough and champ.metric in version.metrics:
        model = training.loads(reg.load_model_bytes(champ.version))
        pred = training.predict(model, labelled, schema, cfg.task)
        current = evaluation.score(
            champ.metric, labelled[schema.target].to_numpy(dtype=float), pred
        )
        concept = drift_mod.concept_check(
            champ.metric,
            cfg.higher_is_better,
            float(version.metrics[champ.metric]),
            current,
            degradation_limit=cfg.concept_degradation,
            floor=cfg.metric_floor,
            calibration=(version.reference_profile or {}).get("concept")
            if cfg.drift_calibration
            else None,
            calibration_sd=cfg.drift_calibration_sd,
        )
    profile, label = reference_for(cfg, version, schema, ds.frame, ctx.as_of)
    report = drift_mod.detect_drift(
        profile,
        window,
        features=schema.features,
        thresholds=cfg.drift_thresholds(),
        importance=version.feature_importance,
        concept=concept,
        reference_label=label,
        n_threads=cfg.n_threads,
    )
    facts = age_and_volume(cfg, reg, ctx)
    triggers = evaluate_triggers(
        cfg,
        as_of=ctx.as_of,
        run_type=ctx.run_type,
        force=False,
        facts=facts,
        drift=report,
        include=MONITOR_TRIGGERS,
    )
    # A trigger that keeps firing (a lasting shift) starts one retraining, not one per interval:
    # once a retraining has run since each fired check's streak began, the monthly schedule takes
    # over. A check that starts firing later (concept drift during a data drift) starts a new streak.
    last = facts.last_retraining
    handled = (
        last is not None
        and bool(triggers.reasons)
        and all(
            reg.trigger_streak_covers(name=name, since=last.isoformat(), before=ctx.as_of_iso)
            for name in triggers.reasons
        )
    )
    retrain = triggers.retrain and not handled and report.status == "ok"
    rid = reg.record_drift(
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        as_of=ctx.as_of_iso,
        model_version=champ.version,
        report=report.to_dict(),
        triggers=[c.to_dict() for c in triggers.checks],
        retrain_requested=retrain,
    )
    # A new drift state (or a retraining) is news; a repeat is not.
    previous = reg.drift_reports(limit=2)[1:]
    changed = not previous or previous[0]["drift_type"] != report.drift_type
    if report.drift_detected and (retrain or changed):
        ranked = sorted(version.feature_importance, key=lambda k: -version.feature_importance[k])
        important = [f for f in report.affected if f in ranked[: cfg.drift_top_k]]
        notify(
            cfg,
            reg,
            "drift_detected",
            key=f"drift_detected:{ctx.run_id}",
            run_id=ctx.run_id,
            as_of=ctx.as_of_iso,
            affected=important + [f for f in report.affected if f not in important],
            drift_type=report.drift_type,
            drift_score=report.drift_score,
            recommendation=report.recommendation,
            reasons=list(triggers.reasons) if retrain else [],
        )
    return {
        "retrain": retrain,
        "reasons": list(triggers.reasons) if retrain else [],
        "report_id": rid,
        "cooling_down": triggers.held,
        "already_retrained": handled,
    }


def _without_champion(reg: Registry) -> dict[str, Any]:
    """No champion to compare with: retrain only when nothing has been trained yet. Once a first
    model has been tried, an admin's review decides on it, and the retraining schedule (or a
    manual run) tries again: a first model that did not beat its baseline would otherwise be
    retrained at every check (on the 2013 flights: twice in June, each one expiring unreviewed)."""
    tried = reg.last_retraining_as_of() is not None  # a pending first review implies it
    waiting = [r.id for r in reg.reviews("pending") if r.expected_champion is None] if tried else []
    retrain = not tried
    return {
        "retrain": retrain,
        "reasons": ["no_champion"] if retrain else [],
        "report_id": None,
        "cooling_down": None,
        "already_retrained": tried,
        "waiting_for_review": waiting[0] if waiting else None,
    }


def _fired(checks: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in checks if c["fired"]]
