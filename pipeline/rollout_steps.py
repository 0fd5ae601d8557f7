"""The rollout steps: start a rollout instead of promoting at once, serve demo traffic, and the
hourly monitor that analyses the live rollout and advances, promotes, rolls back, halts or expires
it, each a compare-and-set with its notification."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline import rollout
from pipeline.config import Config
from pipeline.context import PIPELINE, RunContext, load_data
from pipeline.errors import Conflict, ModelGateError
from pipeline.notify import deliver

if TYPE_CHECKING:
    from registry.store import Registry


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
    deliver(cfg, reg)  # announced in the rollout's first transaction
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
        reg.transition_rollout(
            row["id"],
            kind=kind,
            actor=PIPELINE,
            reason=reason,
            at=ctx.as_of_iso,
            expect_step=int(row["step_index"]),
            status=status,
            step_index=step,
            share=share,
            action=action,
            run_id=ctx.run_id,
        )
    except Conflict as exc:
        now = reg.get_rollout(row["id"])
        if (now["status"], now["step_index"]) != (row["status"], row["step_index"]):
            # An admin paused, aborted or finished it meanwhile: their decision stands.
            return {"rollout": row["id"], "action": "superseded", "reason": str(exc)}
        if action != "promote":
            raise
        # The champion moved since the rollout started: end it without promoting.
        reg.transition_rollout(
            row["id"],
            kind="aborted",
            actor=PIPELINE,
            reason=f"not promoted: {exc}",
            at=ctx.as_of_iso,
            expect_step=int(row["step_index"]),
            status="aborted",
            share=0.0,
            action="abort",
            run_id=ctx.run_id,
        )
        action, reason = "abort", str(exc)
    deliver(cfg, reg)  # announced in the transition's transaction
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
    ds = load_data(
        cfg, reg, ctx.data_path, start=ctx.as_of - dt.timedelta(days=window_days), end=ctx.as_of
    )
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
