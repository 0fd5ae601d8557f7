"""The retraining loop's steps: one function per DAG task, each idempotent on the run id.

Each step takes the config, an open registry and the run's identity; it returns a small JSON-able
summary for XCom. The time is the run's ``as_of`` (the data interval end), never ``now()``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pipeline import bootstrap, evaluation, judge, leaderboard, training
from pipeline import data as data_mod
from pipeline import drift as drift_mod
from pipeline.config import Config
from pipeline.context import (
    DAG_ID,
    DRIFT_DAG_ID,
    MONITOR_TRIGGERS,
    PIPELINE,
    ROLLOUT_DAG_ID,
    RunContext,
    age_and_volume,
    dag_ids,
    dag_model,
    load_data,
    training_span,
)
from pipeline.drift_profile import calibrate_concept
from pipeline.notify import deliver, notify
from pipeline.policy import Policy, decide
from pipeline.threads import limited
from pipeline.triggers import evaluate_triggers

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry

__all__ = [
    "DAG_ID",
    "DRIFT_DAG_ID",
    "MONITOR_TRIGGERS",
    "PIPELINE",
    "REVIEW_WARNING",
    "ROLLOUT_DAG_ID",
    "RunContext",
    "apply_due_promotions",
    "dag_ids",
    "dag_model",
    "drift_check",
    "housekeeping",
    "load_data",
    "monitor_rollout",
    "serve_traffic",
    "start_rollout",
]


def preflight(cfg: Config, reg: Registry | None, ctx: RunContext) -> dict[str, Any]:
    """Everything a run would validate, without writing: the CLI calls it before starting a run."""
    start, end = training_span(cfg, ctx.as_of)
    ds = load_data(cfg, reg, ctx.data_path, start=start, end=end)
    w = data_mod.split_windows(ds, cfg, ctx.as_of)
    training.build_pipeline(cfg, ds.schema)
    # The bootstrap's groups and the baseline fail here, in one line, not inside Airflow.
    bootstrap.holdout_groups(w.holdout, cfg.bootstrap_group, ds.schema.timestamp)
    judge.baseline(cfg, w, ds.schema)
    judge.segment_values(cfg, w.holdout, ds.source)
    return {
        "source": ds.source,
        "train_rows": len(w.train),
        "holdout_rows": len(w.holdout),
        "notes": list(ds.notes),
    }


def check_triggers(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Housekeeping, then evaluate the triggers and record the run."""
    expired = housekeeping(cfg, reg, ctx.as_of)
    facts = age_and_volume(cfg, reg, ctx)
    report = evaluate_triggers(
        cfg,
        as_of=ctx.as_of,
        run_type=ctx.run_type,
        force=ctx.force,
        facts=facts,
        extra=ctx.reasons,
    )
    source = str(ctx.data_path or cfg.data_path or data_mod.DEMO_SOURCE)
    reg.start_run(
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        logical_date=ctx.logical_date,
        as_of=ctx.as_of_iso,
        run_type=ctx.run_type,
        data_source=source,
        triggers=report,
    )
    return {"retrain": report.retrain, "reasons": list(report.reasons), "expired_reviews": expired}


def train_challenger(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Train on the window before the holdout and register the version (once per run)."""
    run = reg.get_run(ctx.run_id)
    if run and run["challenger_version"]:
        v = reg.get_version(int(run["challenger_version"]))
        return {"version": v.version, "train_rows": v.train_rows, "reused": True}
    start, end = training_span(cfg, ctx.as_of)
    ds = load_data(cfg, reg, ctx.data_path, start=start, end=end)
    w = data_mod.split_windows(ds, cfg, ctx.as_of)
    trained = training.train(cfg, ds.schema, w.train)
    holdout_pred = training.predict(trained.model, w.holdout, ds.schema, cfg.task)
    y = w.holdout[ds.schema.target].to_numpy(dtype=float)
    metrics = (
        evaluation.all_metrics(cfg.task, y, holdout_pred)
        if evaluation.validity(holdout_pred) is None
        else {}
    )
    v = reg.register_model(
        run_id=ctx.run_id,
        model_bytes=training.dumps(trained.model),
        estimator=trained.estimator,
        params=trained.params,
        train_start=w.train_start.isoformat(),
        train_end=w.holdout_start.isoformat(),
        train_rows=len(w.train),
        data_fingerprint=data_mod.fingerprint(w.train),
        metrics=metrics,
        schema=ds.schema.with_levels(w.train).to_dict(),
        feature_importance=trained.feature_importance,
        reference_profile=_reference_profile(cfg, ds.schema, w.train, trained.model),
    )
    return {"version": v.version, "train_rows": v.train_rows, "reused": False}


def _reference_profile(
    cfg: Config, schema: data_mod.Schema, train: Any, model: Any
) -> dict[str, Any]:
    """The drift reference of a new version: its training data's profile, calibrated on the
    data's own windows, and how much its metric swings from window to window (concept drift)."""
    profile = drift_mod.profile_frame(
        train,
        schema.features,
        schema.categorical,
        timestamp=schema.timestamp,
        window_days=cfg.drift_window_days,
        min_rows=cfg.drift_min_rows,
    )
    metric = cfg.primary_metric
    profile["concept"] = calibrate_concept(
        train[schema.timestamp],
        train[schema.target].to_numpy(dtype=float),
        training.predict(model, train, schema, cfg.task),
        lambda y, p: evaluation.score(metric, y, p),
        higher_is_better=cfg.higher_is_better,
        window_days=cfg.drift_window_days,
        min_rows=cfg.drift_min_rows,
    )
    return profile


def evaluate_challenger(
    cfg: Config, reg: Registry, ctx: RunContext, version: int
) -> dict[str, Any]:
    """Score champion and challenger on the same holdout rows, decide, and record both."""
    existing = reg.decision(ctx.run_id)
    if existing is not None:
        comp = reg.comparison(ctx.run_id) or {}
        return {
            "outcome": existing["outcome"],
            "comparison_id": existing["comparison_id"],
            "champion": comp.get("champion_version"),
            "version": version,
        }
    champ = reg.current_champion()
    with limited(cfg.n_threads):  # predictions and the bootstrap: the task's cores, no more
        judged = judge.compare_on_holdout(cfg, reg, ctx, version, champ)
    comparison = judged.comparison
    policy = Policy.from_config(cfg)
    decision = decide(comparison, policy)
    record = judge.evidence_record(cfg, reg, ctx, judged, decision, policy)
    cid = reg.record_comparison(ctx.run_id, comparison)
    reg.record_decision(ctx.run_id, cid, version, decision, evidence=record)
    return {
        "outcome": decision.outcome,
        "comparison_id": cid,
        "champion": comparison.champion_version,
        "version": version,
    }


def _reasons(reg: Registry, ctx: RunContext) -> str:
    d = reg.decision(ctx.run_id)
    return " ".join(d["reasons"]) if d else ""


def promote(
    cfg: Config, reg: Registry, ctx: RunContext, version: int, expected_champion: int | None
) -> dict[str, Any]:
    """Announce (promotion_pending), then compare-and-set the champion; with a notice period the
    promotion is only scheduled and a later run applies it unless an admin vetoes it.
    A retry after success changes nothing."""
    if cfg.promotion_notice_hours > 0:
        due = ctx.as_of + dt.timedelta(hours=cfg.promotion_notice_hours)
        row = reg.schedule_promotion(
            run_id=ctx.run_id,
            version=version,
            expected_champion=expected_champion,
            reason=_reasons(reg, ctx),
            announced_at=ctx.as_of_iso,
            due_at=due.isoformat(),
        )
        deliver(cfg, reg)
        return {"promoted": None, "scheduled": row["id"], "due_at": row["due_at"], "changed": False}
    if cfg.rollout_strategy != "immediate" and expected_champion is not None:
        live = reg.live_rollout()
        if live is not None and live["run_id"] != ctx.run_id:
            # Another challenger is rolling out: this one waits as a review (an admin decides
            # once that rollout ends) instead of failing the run on the rollout it cannot start.
            decided = reg.decision(ctx.run_id) or {}
            held = request_review(
                cfg, reg, ctx, version, int(decided["comparison_id"]), expected_champion
            )
            return {"promoted": None, "held_by_rollout": live["id"], **held, "changed": False}
        return start_rollout(cfg, reg, ctx, version, expected_champion)
    changed = reg.promote(
        version=version,
        expected_champion=expected_champion,
        run_id=ctx.run_id,
        at=ctx.as_of_iso,
        reason=_reasons(reg, ctx),
        facts={"as_of": ctx.as_of_iso},
    )
    deliver(cfg, reg)
    return {"promoted": version, "previous": expected_champion, "changed": changed}


def run_in_process(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Every step of the retraining DAG in order, without Airflow (tests, benchmarks, seeding):
    the same calls the DAG's tasks make, the branch included. Returns the evaluation."""
    with reg.at(ctx.as_of_iso):  # as each task's step does (dags._common.step)
        return _run_steps(cfg, reg, ctx)


def _run_steps(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    check_triggers(cfg, reg, ctx)
    trained = train_challenger(cfg, reg, ctx)
    result = evaluate_challenger(cfg, reg, ctx, trained["version"])
    if result["outcome"] == "promote":
        promote(cfg, reg, ctx, result["version"], result["champion"])
    elif result["outcome"] == "review":
        request_review(
            cfg, reg, ctx, result["version"], result["comparison_id"], result["champion"]
        )
    else:
        reject(cfg, reg, ctx, result["version"])
    finish(cfg, reg, ctx)
    return dict(result)


def request_review(
    cfg: Config,
    reg: Registry,
    ctx: RunContext,
    version: int,
    comparison_id: int,
    expected_champion: int | None,
) -> dict[str, Any]:
    review, superseded = reg.request_review(
        run_id=ctx.run_id,
        comparison_id=comparison_id,
        version=version,
        expected_champion=expected_champion,
        requested_at=ctx.as_of,
        ttl_days=cfg.review_ttl_days,
    )
    deliver(cfg, reg)
    return {
        "review_id": review.id,
        "version": version,
        "expires_at": review.expires_at,
        "superseded": [r.id for r in superseded],
    }


def reject(cfg: Config, reg: Registry, ctx: RunContext, version: int) -> dict[str, Any]:
    reg.record_rejection(ctx.run_id, version, _reasons(reg, ctx))
    deliver(cfg, reg)
    return {"rejected": version}


def finish(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Close the run in the registry (its decision was announced when it was made)."""
    run = reg.get_run(ctx.run_id) or {}
    decision = reg.decision(ctx.run_id)
    outcome = decision["outcome"] if decision else "skipped"
    reg.finish_run(ctx.run_id, status="success", outcome=outcome)
    with limited(cfg.n_threads):  # every version on the same recent window, comparable
        known, fingerprint = leaderboard.run_scores(reg, ctx.run_id, cfg.primary_metric)
        board = leaderboard.score(
            cfg,
            reg,
            ctx.as_of,
            data_path=ctx.data_path,
            known=known,
            known_fingerprint=fingerprint,
        )
    comp = reg.comparison(ctx.run_id) or {}
    summary = {
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_iso,
        "outcome": outcome,
        "reasons": run.get("trigger_reasons"),
        "version": run.get("challenger_version"),
        "metric": comp.get("metric"),
        "challenger_value": comp.get("challenger_value"),
        "champion_value": comp.get("champion_value"),
        "relative_improvement": comp.get("relative_improvement"),
        "p_value": comp.get("p_value"),
        "leaderboard": None if board is None else board["id"],
    }
    return summary


def record_failure(
    cfg: Config,
    reg: Registry,
    *,
    run_id: str,
    dag_id: str,
    task_id: str | None,
    error: str,
    as_of: str | None,
) -> None:
    if reg.record_failure(run_id=run_id, dag_id=dag_id, task_id=task_id, error=error, as_of=as_of):
        notify(
            cfg,
            reg,
            "pipeline_failed",
            key=f"pipeline_failed:{run_id}",
            run_id=run_id,
            dag_id=dag_id,
            task_id=task_id,
            error=error,
            as_of=as_of,
        )


# The monitors' steps live in their own modules; the DAGs and tests reach them through this one.
from pipeline.housekeeping import REVIEW_WARNING, apply_due_promotions, housekeeping  # noqa: E402
from pipeline.monitor import drift_check  # noqa: E402
from pipeline.rollout_steps import (  # noqa: E402
    monitor_rollout,
    serve_traffic,
    start_rollout,
)
