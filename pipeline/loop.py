"""The retraining loop's steps: one function per DAG task, each idempotent on the run id.

Each step takes the config, an open registry and the run's identity; it returns a small JSON-able
summary for XCom. The time is the run's ``as_of`` (the data interval end), never ``now()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline import data as data_mod
from pipeline import drift as drift_mod
from pipeline import evaluation, rollout, training
from pipeline.config import Config
from pipeline.errors import Conflict, ModelGateError
from pipeline.notify import flush, notify
from pipeline.policy import Policy, decide
from pipeline.triggers import evaluate_triggers

PIPELINE = "pipeline"  # the actor of automatic decisions (as in the registry)

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry

DAG_ID = "scheduled_retraining_with_gated_promotion"
DRIFT_DAG_ID = "drift_monitor"
ROLLOUT_DAG_ID = "rollout_monitor"
MONITOR_TRIGGERS = ("data_drift", "concept_drift", "performance", "data_volume")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    run_id: str
    as_of: dt.datetime
    dag_id: str = DAG_ID
    logical_date: str | None = None
    run_type: str | None = None
    force: bool = False
    data_path: Path | None = None
    reasons: tuple[str, ...] = ()

    @property
    def as_of_iso(self) -> str:
        return self.as_of.isoformat()


def _champion_schema(reg: Registry) -> data_mod.Schema | None:
    champ = reg.current_champion()
    return (
        None if champ is None else data_mod.Schema.from_dict(reg.get_version(champ.version).schema)
    )


def load_data(cfg: Config, reg: Registry | None, data_path: Path | None) -> data_mod.Dataset:
    """Validated data; when a champion exists its schema is what the data must match."""
    expected = _champion_schema(reg) if reg is not None else None
    return data_mod.load_dataset(cfg, data_path, expected=expected)


def preflight(cfg: Config, reg: Registry | None, ctx: RunContext) -> dict[str, Any]:
    """Everything a run would validate, without writing: the CLI calls it before starting a run."""
    ds = load_data(cfg, reg, ctx.data_path)
    w = data_mod.split_windows(ds, cfg, ctx.as_of)
    training.build_pipeline(cfg, ds.schema)
    return {"source": ds.source, "train_rows": len(w.train), "holdout_rows": len(w.holdout)}


def check_triggers(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Housekeeping, then evaluate the triggers and record the run."""
    expired = housekeeping(cfg, reg, ctx.as_of)
    champion_as_of, new_rows = _age_and_volume(cfg, reg, ctx, None)
    report = evaluate_triggers(
        cfg,
        as_of=ctx.as_of,
        run_type=ctx.run_type,
        force=ctx.force,
        champion_as_of=champion_as_of,
        new_rows=new_rows,
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
    return {"retrain": report.fired, "reasons": list(report.reasons), "expired_reviews": expired}


def _age_and_volume(
    cfg: Config, reg: Registry, ctx: RunContext, ds: data_mod.Dataset | None
) -> tuple[dt.datetime | None, int | None]:
    """When the champion's training run looked at the data, and how many labelled rows arrived
    since the last training (of any challenger)."""
    champ = reg.current_champion()
    if champ is None:
        return None, None
    run = reg.get_run(reg.get_version(champ.version).run_id)
    champion_as_of = dt.datetime.fromisoformat(run["as_of"]) if run and run["as_of"] else None
    last = reg.last_retraining_as_of(DAG_ID)
    since = dt.datetime.fromisoformat(last) if last else champion_as_of
    if since is None:
        return champion_as_of, None
    ds = ds if ds is not None else load_data(cfg, reg, ctx.data_path)
    return champion_as_of, data_mod.rows_between(ds, since, ctx.as_of)


def train_challenger(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Train on the window before the holdout and register the version (once per run)."""
    run = reg.get_run(ctx.run_id)
    if run and run["challenger_version"]:
        v = reg.get_version(int(run["challenger_version"]))
        return {"version": v.version, "train_rows": v.train_rows, "reused": True}
    ds = load_data(cfg, reg, ctx.data_path)
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
        schema=ds.schema.to_dict(),
        feature_importance=trained.feature_importance,
        reference_profile=drift_mod.profile_frame(
            w.train, ds.schema.features, ds.schema.categorical
        ),
    )
    return {"version": v.version, "train_rows": v.train_rows, "reused": False}


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
    ds = load_data(cfg, reg, ctx.data_path)
    w = data_mod.split_windows(ds, cfg, ctx.as_of)
    y = w.holdout[ds.schema.target].to_numpy(dtype=float)
    challenger = training.loads(reg.load_model_bytes(version))
    ch_pred = training.predict(challenger, w.holdout, ds.schema, cfg.task)
    champ_pred: np.ndarray | None = None
    if champ is not None:
        champion_model = training.loads(reg.load_model_bytes(champ.version))
        champ_schema = data_mod.Schema.from_dict(reg.get_version(champ.version).schema)
        champ_pred = training.predict(champion_model, w.holdout, champ_schema, cfg.task)
    comparison = evaluation.compare(
        task=cfg.task,
        metric=cfg.primary_metric,
        y=y,
        challenger_pred=ch_pred,
        challenger_version=version,
        champion_pred=champ_pred,
        champion_version=None if champ is None else champ.version,
        n_resamples=cfg.bootstrap_resamples,
        seed=cfg.seed,
        holdout_start=w.holdout_start.isoformat(),
        holdout_end=w.as_of.isoformat(),
    )
    decision = decide(comparison, Policy.from_config(cfg))
    cid = reg.record_comparison(ctx.run_id, comparison)
    reg.record_decision(ctx.run_id, cid, version, decision)
    return {
        "outcome": decision.outcome,
        "comparison_id": cid,
        "champion": comparison.champion_version,
        "version": version,
    }


def _reasons(reg: Registry, ctx: RunContext) -> str:
    d = reg.decision(ctx.run_id)
    return " ".join(d["reasons"]) if d else ""


def _promotion_facts(
    reg: Registry, ctx: RunContext, version: int, previous: int | None
) -> dict[str, Any]:
    comp = reg.comparison(ctx.run_id) or {}
    return {
        "version": version,
        "previous": previous,
        "metric": comp.get("metric"),
        "champion_value": comp.get("champion_value"),
        "challenger_value": comp.get("challenger_value"),
        "relative_improvement": comp.get("relative_improvement"),
        "p_value": comp.get("p_value"),
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_iso,
    }


def promote(
    cfg: Config, reg: Registry, ctx: RunContext, version: int, expected_champion: int | None
) -> dict[str, Any]:
    """Announce (promotion_pending), then compare-and-set the champion; with a notice period the
    promotion is only scheduled and a later run applies it unless an admin vetoes it.
    A retry after success changes nothing."""
    facts = _promotion_facts(reg, ctx, version, expected_champion)
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
        notify(
            cfg,
            reg,
            "promotion_pending",
            key=f"promotion_pending:{ctx.run_id}",
            due_at=row["due_at"],
            promotion_id=row["id"],
            **facts,
        )
        return {"promoted": None, "scheduled": row["id"], "due_at": row["due_at"], "changed": False}
    if cfg.rollout_strategy != "immediate" and expected_champion is not None:
        return start_rollout(cfg, reg, ctx, version, expected_champion)
    notify(cfg, reg, "promotion_pending", key=f"promotion_pending:{ctx.run_id}", **facts)
    changed = reg.promote(
        version=version,
        expected_champion=expected_champion,
        run_id=ctx.run_id,
        at=ctx.as_of_iso,
        reason=_reasons(reg, ctx),
    )
    return {"promoted": version, "previous": expected_champion, "changed": changed}


def run_in_process(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Every step of the retraining DAG in order, without Airflow (tests, benchmarks, seeding):
    the same calls the DAG's tasks make, the branch included. Returns the evaluation."""
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


def start_rollout(
    cfg: Config, reg: Registry, ctx: RunContext, version: int, expected_champion: int
) -> dict[str, Any]:
    """Instead of promoting at once, start a rollout of the challenger against the champion (the
    rollout monitor promotes or rolls back). A retry finds the rollout already started."""
    plan = cfg.rollout_plan()
    champion_metrics = (reg.comparison(ctx.run_id) or {}).get("champion_metrics") or {}
    if cfg.task == "classification" and "accuracy" in champion_metrics:
        plan = dataclasses.replace(plan, loss_scale=1 - float(champion_metrics["accuracy"]))
    elif cfg.task == "regression" and "mae" in champion_metrics:
        plan = dataclasses.replace(plan, loss_scale=float(champion_metrics["mae"]))
    share = 0.0 if plan.strategy == "shadow" else plan.steps[0]
    row = reg.start_rollout(
        run_id=ctx.run_id,
        version=version,
        expected_champion=expected_champion,
        strategy=plan.strategy,
        plan=plan.to_dict(),
        share=share,
        at=ctx.as_of_iso,
    )
    notify(
        cfg,
        reg,
        "rollout_decision",
        key=f"rollout_started:{row['id']}",
        rollout_id=row["id"],
        action="started",
        strategy=plan.strategy,
        share=share,
        version=version,
        previous=expected_champion,
        run_id=ctx.run_id,
    )
    return {"promoted": None, "rollout": row["id"], "changed": False}


def _losses(task: str, predictions: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per-request loss: absolute error (regression) or 1 - correct (classification)."""
    if task == "classification":
        return np.asarray((predictions >= 0.5) != (actual >= 0.5), dtype=float)
    return np.asarray(np.abs(predictions - actual), dtype=float)


def analyse_rollout(cfg: Config, reg: Registry, row: dict[str, Any], as_of: dt.datetime) -> Any:
    """The rollout's analysis and decision from the labelled outcomes of its current step.

    One step only: steps have different shares, and pooling them would confound the variant with
    time. Per unit: requests of one unit (a patient, a user) are averaged first, since units, not
    requests, are what the hash randomises; with one request per unit it is the same thing."""
    import pandas as pd

    plan = rollout.Plan.from_dict(row["plan"])
    step = int(row["step_index"])
    frame = pd.DataFrame(
        reg.rollout_outcomes(row["id"], step_index=step),
        columns=["unit", "variant", "prediction", "shadow_prediction", "actual"],
    )
    actual = frame["actual"].to_numpy(dtype=float)
    frame["loss"] = _losses(cfg.task, frame["prediction"].to_numpy(dtype=float), actual)
    if plan.strategy == "shadow":
        both = frame.loc[frame["shadow_prediction"].notna()].copy()
        both["shadow_loss"] = _losses(
            cfg.task,
            both["shadow_prediction"].to_numpy(dtype=float),
            both["actual"].to_numpy(dtype=float),
        )
        per_unit = both.groupby("unit")[["loss", "shadow_loss"]].mean()
        analysis = rollout.analyse(
            per_unit["loss"].to_numpy(),
            per_unit["shadow_loss"].to_numpy(),
            plan=plan,
            share=plan.shadow_share,
            paired=True,
        )
    else:
        per_unit = frame.groupby(["variant", "unit"])["loss"].mean()
        units = reg.rollout_units(row["id"], step)

        def arm(name: str) -> np.ndarray:
            return (
                per_unit.loc[name].to_numpy(dtype=float)
                if name in per_unit.index.get_level_values(0)
                else np.zeros(0)
            )

        analysis = rollout.analyse(
            arm("champion"),
            arm("challenger"),
            plan=plan,
            share=float(row["share"]),
            champion_units=units["champion"],
            challenger_units=units["challenger"],
        )

    def hours(since: str) -> float:
        return (as_of - dt.datetime.fromisoformat(since)).total_seconds() / 3600

    decision = rollout.decide(
        analysis,
        plan,
        step_index=int(row["step_index"]),
        step_hours=hours(row["step_started_at"]),
        total_hours=hours(row["started_at"]),
    )
    return analysis, decision


_TRANSITIONS = {
    # action: (event kind, new status)
    "advance": ("advanced", None),
    "promote": ("promoted", "promoted"),
    "rollback": ("rolled_back", "rolled_back"),
    "halt": ("halted", "halted"),
    "expire": ("expired", "expired"),
}


def monitor_rollout(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Analyse the live rollout, record the analysis and act on its decision (advance a step,
    promote, roll back, halt on a sample-ratio mismatch, expire), each a compare-and-set."""
    row = reg.live_rollout()
    if row is None:
        return {"rollout": None, "action": None}
    champ = reg.current_champion()
    if champ is None or champ.version != row["champion_version"]:
        # An approval or rollback changed the champion: this comparison no longer means anything.
        reason = (
            f"the champion changed to v{champ.version if champ else '-'} during the rollout "
            f"(it started against v{row['champion_version']})"
        )
        reg.transition_rollout(
            row["id"],
            kind="aborted",
            actor=PIPELINE,
            reason=reason,
            at=ctx.as_of_iso,
            expect_status=("active", "paused"),
            status="aborted",
            share=0.0,
        )
        return {"rollout": row["id"], "action": "abort", "reason": reason}
    if row["status"] == "paused":
        return {"rollout": row["id"], "action": "paused"}
    stored = reg.rollout_analysis_for_run(row["id"], ctx.run_id)
    if stored is not None:  # a retried task: finish what the first attempt decided, once
        if stored["step_index"] != row["step_index"] or stored["action"] not in _TRANSITIONS:
            return {"rollout": row["id"], "action": "already analysed"}
        return _apply(cfg, reg, ctx, row, stored["action"], stored["reason"])
    analysis, decision = analyse_rollout(cfg, reg, row, ctx.as_of)
    record = {
        "step_index": row["step_index"],
        "share": row["share"],
        "n_champion": analysis.champion.n,
        "n_challenger": analysis.challenger.n,
        "champion_mean": analysis.champion.mean,
        "champion_low": _finite(analysis.champion.low),
        "champion_high": _finite(analysis.champion.high),
        "challenger_mean": analysis.challenger.mean,
        "challenger_low": _finite(analysis.challenger.low),
        "challenger_high": _finite(analysis.challenger.high),
        "difference": analysis.difference,
        "cs_low": _finite(analysis.cs_low),
        "cs_high": _finite(analysis.cs_high),
        "srm_p": analysis.srm_p,
        "action": decision.action,
        "reason": decision.reason,
    }
    reg.record_rollout_analysis(row["id"], run_id=ctx.run_id, at=ctx.as_of_iso, row=record)
    if decision.action == "continue":
        return {"rollout": row["id"], "action": "continue", "reason": decision.reason}
    return _apply(cfg, reg, ctx, row, decision.action, decision.reason)


def _apply(
    cfg: Config,
    reg: Registry,
    ctx: RunContext,
    row: dict[str, Any],
    action: str,
    reason: str,
) -> dict[str, Any]:
    """Carry out a monitor decision by compare-and-set on the state it was made in."""
    kind, status = _TRANSITIONS[action]
    plan = rollout.Plan.from_dict(row["plan"])
    step = {"advance": int(row["step_index"]) + 1, "promote": len(plan.steps) - 1}.get(action)
    share = {"advance": plan.steps[step or 0], "promote": 1.0}.get(action, 0.0)
    try:
        after = reg.transition_rollout(
            row["id"],
            kind=kind,
            actor=PIPELINE,
            reason=reason,
            at=ctx.as_of_iso,
            expect_step=int(row["step_index"]),
            status=status,
            step_index=step,
            share=share,
        )
    except Conflict as exc:
        now = reg.get_rollout(row["id"])
        if (now["status"], now["step_index"]) != (row["status"], row["step_index"]):
            # An admin paused, aborted or finished it meanwhile: their decision stands.
            return {"rollout": row["id"], "action": "superseded", "reason": str(exc)}
        if action != "promote":
            raise
        # The champion moved since the rollout started: end it without promoting.
        after = reg.transition_rollout(
            row["id"],
            kind="aborted",
            actor=PIPELINE,
            reason=f"not promoted: {exc}",
            at=ctx.as_of_iso,
            expect_step=int(row["step_index"]),
            status="aborted",
            share=0.0,
        )
        action, reason = "abort", str(exc)
    notify(
        cfg,
        reg,
        "rollout_decision",
        key=f"rollout_{kind}:{row['id']}:{ctx.run_id}",
        rollout_id=row["id"],
        action=action,
        strategy=plan.strategy,
        share=after["share"],
        version=row["version"],
        previous=row["champion_version"],
        reason=reason,
        run_id=ctx.run_id,
    )
    return {"rollout": row["id"], "action": action, "reason": reason}


def serve_traffic(
    cfg: Config, reg: Registry, ctx: RunContext, requests: int, *, window_days: int = 30
) -> dict[str, int]:
    """Demo traffic: ``requests`` rows drawn (seeded by the run) from the labelled data of the
    last ``window_days`` before ``as_of``, served through the Router and labelled at once.
    Request ids are keyed by the run, so a retried task serves nothing twice."""
    from pipeline.router import Router

    if requests <= 0 or reg.live_rollout() is None:
        return {"champion": 0, "challenger": 0}
    ds = load_data(cfg, reg, ctx.data_path)
    ts = ds.frame[ds.schema.timestamp]
    window = ds.frame.loc[
        (ts >= ctx.as_of - dt.timedelta(days=window_days)) & (ts < ctx.as_of)
    ].dropna(subset=[ds.schema.target])
    if window.empty:
        raise ModelGateError(
            f"{ds.source}: no labelled rows in the {window_days} days before {ctx.as_of:%Y-%m-%d} "
            "to serve as traffic."
        )
    seed = int.from_bytes(ctx.run_id.encode()[-8:].rjust(8, b"\0"), "little") % 2**32
    rows = window.sample(n=requests, replace=True, random_state=seed).reset_index(drop=True)
    ids = [f"{ctx.run_id}:{i}" for i in range(requests)]
    with Router(cfg, reg) as router:
        _, variants = router.predict_frame(rows, ids, served_at=ctx.as_of_iso)
        for request_id, actual in zip(ids, rows[ds.schema.target], strict=True):
            router.record_label(request_id, float(actual), at=ctx.as_of_iso)
    return {v: int((variants == v).sum()) for v in ("champion", "challenger")}


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


REVIEW_WARNING = dt.timedelta(days=2)


def review_facts(reg: Registry, review: Any) -> dict[str, Any]:
    """The figures a notification about a review carries (from the comparison it was made on)."""
    comp = reg.comparison(review.run_id) or {}
    return {
        "version": review.challenger_version,
        "previous": review.expected_champion,
        "metric": comp.get("metric"),
        "champion_value": comp.get("champion_value"),
        "challenger_value": comp.get("challenger_value"),
        "relative_improvement": comp.get("relative_improvement"),
        "p_value": comp.get("p_value"),
        "run_id": review.run_id,
    }


def housekeeping(cfg: Config, reg: Registry, as_of: dt.datetime) -> list[int]:
    """What every run does first, in its logical time: retry undelivered notifications, apply
    promotions whose notice passed, expire stale reviews and warn of those about to expire.
    Returns the ids of the reviews it expired."""
    if cfg.smtp_host:
        flush(cfg, reg)
    apply_due_promotions(cfg, reg, as_of)
    expired = reg.expire_reviews(as_of)
    for review in reg.reviews("pending"):
        if dt.datetime.fromisoformat(review.expires_at) <= as_of + REVIEW_WARNING:
            notify(
                cfg,
                reg,
                "review_expiring",
                key=f"review_expiring:{review.id}",
                expires_at=review.expires_at,
                **review_facts(reg, review),
            )
    return expired


def apply_due_promotions(cfg: Config, reg: Registry, as_of: dt.datetime) -> list[int]:
    """Apply announced promotions whose notice has passed (at the run's logical time)."""
    applied = []
    for row in reg.apply_due_promotions(as_of.isoformat()):
        if row["status"] == "applied":
            applied.append(int(row["version"]))
            ctx = RunContext(run_id=row["run_id"], as_of=as_of)
            notify(
                cfg,
                reg,
                "promoted",
                key=f"promoted:{row['run_id']}",
                **_promotion_facts(reg, ctx, int(row["version"]), row["expected_champion"]),
            )
    return applied


def request_review(
    cfg: Config,
    reg: Registry,
    ctx: RunContext,
    version: int,
    comparison_id: int,
    expected_champion: int | None,
) -> dict[str, Any]:
    review = reg.request_review(
        run_id=ctx.run_id,
        comparison_id=comparison_id,
        version=version,
        expected_champion=expected_champion,
        requested_at=ctx.as_of,
        ttl_days=cfg.review_ttl_days,
    )
    return {"review_id": review.id, "version": version, "expires_at": review.expires_at}


def reject(cfg: Config, reg: Registry, ctx: RunContext, version: int) -> dict[str, Any]:
    reg.record_rejection(ctx.run_id, version, _reasons(reg, ctx))
    return {"rejected": version}


def finish(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Close the run in the registry and notify (log only for now)."""
    run = reg.get_run(ctx.run_id) or {}
    decision = reg.decision(ctx.run_id)
    outcome = decision["outcome"] if decision else "skipped"
    reg.finish_run(ctx.run_id, status="success", outcome=outcome)
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
    }
    event = {"promote": "promoted", "review": "review_requested", "reject": "rejected"}.get(outcome)
    if outcome == "promote" and any(
        p["run_id"] == ctx.run_id for p in reg.pending_promotions(None)
    ):
        event = None  # announced as promotion_pending; 'promoted' goes out when it applies
    if event is not None:
        facts = {k: v for k, v in summary.items() if k != "outcome"}
        if outcome == "review":
            review = next((r for r in reg.reviews() if r.run_id == ctx.run_id), None)
            facts["expires_at"] = review.expires_at if review else None
        notify(
            cfg,
            reg,
            event,
            key=f"{event}:{ctx.run_id}",
            previous=comp.get("champion_version"),
            **facts,
        )
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


def drift_check(cfg: Config, reg: Registry, ctx: RunContext) -> dict[str, Any]:
    """Compare the latest window with the champion's reference profile; record every score.

    Returns whether a retraining should start and why (data drift, concept drift, the performance
    floor or the data volume), honouring ``drift_cooldown_days`` after the last retraining.
    """
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
        return {"retrain": True, "reasons": ["no_champion"], "report_id": None}
    version = reg.get_version(champ.version)
    schema = data_mod.Schema.from_dict(version.schema)
    ds = load_data(cfg, reg, ctx.data_path)
    start = ctx.as_of - dt.timedelta(days=cfg.drift_window_days)
    ts = ds.frame[schema.timestamp]
    window = ds.frame.loc[(ts >= start) & (ts < ctx.as_of)].reset_index(drop=True)
    concept = None
    if len(window) and window[schema.target].notna().all() and champ.metric in version.metrics:
        model = training.loads(reg.load_model_bytes(champ.version))
        pred = training.predict(model, window, schema, cfg.task)
        current = evaluation.score(champ.metric, window[schema.target].to_numpy(dtype=float), pred)
        concept = drift_mod.concept_check(
            champ.metric,
            cfg.higher_is_better,
            float(version.metrics[champ.metric]),
            current,
            degradation_limit=cfg.concept_degradation,
            floor=cfg.metric_floor,
        )
    if version.reference_profile is None:
        raise ModelGateError(
            f"Champion v{version.version} has no reference profile: retrain it to monitor drift."
        )
    report = drift_mod.detect_drift(
        version.reference_profile,
        window,
        features=schema.features,
        thresholds=cfg.drift_thresholds(),
        importance=version.feature_importance,
        concept=concept,
    )
    champion_as_of, new_rows = _age_and_volume(cfg, reg, ctx, ds)
    triggers = evaluate_triggers(
        cfg,
        as_of=ctx.as_of,
        run_type=ctx.run_type,
        force=False,
        champion_as_of=champion_as_of,
        new_rows=new_rows,
        drift=report,
        include=MONITOR_TRIGGERS,
    )
    last = reg.last_retraining_as_of(DAG_ID)
    cooling = (
        last is not None
        and (ctx.as_of - dt.datetime.fromisoformat(last)).days < cfg.drift_cooldown_days
    )
    # A trigger that keeps firing (a lasting shift) starts one retraining, not one per cooldown: once
    # a retraining has run since each fired check's streak began, the monthly schedule takes over.
    # A check that starts firing later (concept drift during a data drift) starts a new streak.
    onsets = [
        reg.trigger_streak_start(ctx.dag_id, before=ctx.as_of_iso, name=name)
        for name in triggers.reasons
    ]
    handled = last is not None and bool(onsets) and all(last >= onset for onset in onsets)
    retrain = triggers.fired and not cooling and not handled and report.status == "ok"
    checks = [c.to_dict() for c in triggers.checks]
    rid = reg.record_drift(
        run_id=ctx.run_id,
        dag_id=ctx.dag_id,
        as_of=ctx.as_of_iso,
        model_version=champ.version,
        report=report.to_dict(),
        triggers=checks,
        retrain_requested=retrain,
    )
    previous = reg.drift_reports(limit=2)[
        1:
    ]  # a new drift state (or a retraining) is news; a repeat is not
    changed = not previous or previous[0]["drift_type"] != report.drift_type
    if report.drift_detected and (retrain or changed):
        important = [
            f
            for f in report.affected
            if f
            in sorted(version.feature_importance, key=lambda k: -version.feature_importance[k])[
                : cfg.drift_top_k
            ]
        ]
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
        "cooling_down": cooling,
        "already_retrained": handled,
    }


def _fired(checks: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in checks if c["fired"]]
