"""Judging a challenger: both models on the same holdout, the policy's decision, and the evidence
record that keeps what the decision saw.

The evidence record is a plain JSON document (``EVIDENCE_SCHEMA``), stored with the decision in
one transaction and never changed; ``modelgate decisions show``, the review page, the Models page
and the emails render from it. It holds every metric for both models with intervals, the primary
metric per segment, error distributions for residual and calibration plots, the data windows
with row counts and fingerprints, the feature-importance change, the drift verdict of the run's
logical time, the policy with its hash and each rule's sentence, and the Airflow run with a link.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from pipeline import baselines, bootstrap, evaluation, evidence, training
from pipeline import data as data_mod
from pipeline.config import Config
from pipeline.context import RunContext, load_data, training_span
from pipeline.errors import ModelGateError
from pipeline.measures import measure_for
from pipeline.policy import Policy
from pipeline.reports import Comparison, Decision, ModelVersion, finite

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry

EVIDENCE_SCHEMA = 1


def baseline(
    cfg: Config, w: data_mod.Windows, schema: data_mod.Schema
) -> baselines.Baseline | None:
    return baselines.naive(
        cfg.baseline,
        task=cfg.task,
        metric=cfg.primary_metric,
        train=w.train,
        holdout=w.holdout,
        target=schema.target,
        timestamp=schema.timestamp,
        keys=tuple(cfg.key_columns or ()),
        season_days=cfg.baseline_season_days,
    )


def segment_values(cfg: Config, frame: pd.DataFrame, source: str) -> dict[str, pd.Series]:
    """The holdout's values of each of ``segment_columns``; a missing column is a one-line error."""
    out: dict[str, pd.Series] = {}
    for col in cfg.segment_columns or ():
        if col not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:20]))
            raise ModelGateError(
                f"{source}: segment_columns names column {col!r}, which the data does not have "
                f"(columns: {shown})."
            )
        out[col] = frame[col].reset_index(drop=True)
    return out


def airflow_link(cfg: Config, dag_id: str, run_id: str) -> str:
    """The Airflow UI's page of one DAG run."""
    base = cfg.airflow_url.rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def holdout_fingerprint(frame: pd.DataFrame) -> str:
    """The holdout's row set, hashed: two decisions with the same fingerprint saw the same rows."""
    return data_mod.fingerprint(frame)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Judged:
    """A comparison with what the evidence record needs beyond it."""

    comparison: Comparison
    errors: dict[str, Any]
    holdout_rows: int
    holdout_fingerprint: str
    source: str


def compare_on_holdout(
    cfg: Config, reg: Registry, ctx: RunContext, version: int, champ: Any
) -> Judged:
    """Both models (and the naive baseline) on the same holdout rows, bootstrapped, with every
    metric and every segment in one more set of draws."""
    start, end = training_span(cfg, ctx.as_of)
    ds = load_data(cfg, reg, ctx.data_path, start=start, end=end)
    w = data_mod.split_windows(ds, cfg, ctx.as_of)
    segments = segment_values(cfg, w.holdout, ds.source)
    y = w.holdout[ds.schema.target].to_numpy(dtype=float)
    challenger = training.loads(reg.load_model_bytes(version))
    ch_pred = training.predict(challenger, w.holdout, ds.schema, cfg.task)
    champ_pred: np.ndarray | None = None
    if champ is not None:
        champion_model = training.loads(reg.load_model_bytes(champ.version))
        champ_schema = data_mod.Schema.from_dict(reg.get_version(champ.version).schema)
        champ_pred = training.predict(champion_model, w.holdout, champ_schema, cfg.task)
    schema = ds.schema
    groups, group_label = bootstrap.holdout_groups(w.holdout, cfg.bootstrap_group, schema.timestamp)
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
        alpha=cfg.alpha,
        holdout_start=w.holdout_start.isoformat(),
        holdout_end=w.as_of.isoformat(),
        measure=measure_for(cfg.primary_metric, cfg.improvement_measure),
        baseline=baseline(cfg, w, schema),
        groups=groups,
        group_label=group_label,
    )
    table: tuple[Any, ...] = ()
    by_segment: tuple[Any, ...] = ()
    if (
        comparison.champion_value is not None
        and comparison.challenger_valid
        and champ_pred is not None
    ):
        table, by_segment = evidence.deltas(
            task=cfg.task,
            primary=cfg.primary_metric,
            y=y,
            champion_pred=champ_pred,
            challenger_pred=ch_pred,
            segments=segments,
            groups=groups,
            measures=cfg.improvement_measure,
            n_resamples=cfg.bootstrap_resamples,
            seed=cfg.seed,
        )
    comparison = dataclasses.replace(
        comparison,
        unlabelled_train=w.unlabelled_train,
        unlabelled_holdout=w.unlabelled_holdout,
        metric_table=table,
        segments=by_segment,
    )
    return Judged(
        comparison=comparison,
        errors=evidence.error_distributions(cfg.task, y, champ_pred, ch_pred),
        holdout_rows=len(w.holdout),
        holdout_fingerprint=holdout_fingerprint(w.holdout),
        source=ds.source,
    )


def _windows(judged: Judged, mine: ModelVersion, theirs: ModelVersion | None) -> dict[str, Any]:
    c = judged.comparison
    out: dict[str, Any] = {
        "source": judged.source,
        "train": {
            "start": mine.train_start,
            "end": mine.train_end,
            "rows": mine.train_rows,
            "fingerprint": mine.data_fingerprint,
            "unlabelled": c.unlabelled_train,
        },
        "holdout": {
            "start": c.holdout_start,
            "end": c.holdout_end,
            "rows": judged.holdout_rows,
            "fingerprint": judged.holdout_fingerprint,
            "unlabelled": c.unlabelled_holdout,
        },
    }
    if theirs is not None:
        out["champion_train"] = {
            "start": theirs.train_start,
            "end": theirs.train_end,
            "rows": theirs.train_rows,
            "fingerprint": theirs.data_fingerprint,
        }
    return out


def _drift(reg: Registry, as_of: str) -> dict[str, Any] | None:
    """The newest drift verdict at or before the run's logical time."""
    report = reg.drift_report_at(as_of)
    if report is None:
        return None
    affected = report.get("affected") or []
    return {
        "report_id": report["id"],
        "run_id": report["run_id"],
        "as_of": report["as_of"],
        "drift_detected": bool(report["drift_detected"]),
        "drift_type": report["drift_type"],
        "drift_score": report["drift_score"],
        "affected": affected[:20] if isinstance(affected, list) else affected,
        "recommendation": report["recommendation"],
    }


def evidence_record(
    cfg: Config,
    reg: Registry,
    ctx: RunContext,
    judged: Judged,
    decision: Decision,
    policy: Policy,
) -> dict[str, Any]:
    """The evidence of one decision, as the JSON document the registry stores with it."""
    c = judged.comparison
    version = c.challenger_version
    champion = c.champion_version
    mine = reg.get_version(version)
    theirs = reg.get_version(champion) if champion is not None else None
    iv = c.interval
    return {
        "schema": EVIDENCE_SCHEMA,
        "model": cfg.model,
        "run": {
            "run_id": ctx.run_id,
            "dag_id": ctx.dag_id,
            "logical_date": ctx.logical_date or ctx.as_of_iso,
            "as_of": ctx.as_of_iso,
            "airflow_url": airflow_link(cfg, ctx.dag_id, ctx.run_id),
        },
        "challenger_version": version,
        "champion_version": champion,
        "outcome": decision.outcome,
        "reasons": list(decision.reasons),
        "primary": {
            "metric": c.metric,
            "higher_is_better": c.higher_is_better,
            "measure": c.improvement_measure,
            "champion": c.champion_value,
            "challenger": finite(c.challenger_value),
            "improvement": c.relative_improvement,
            "lower_bound": c.improvement_lower,
            "interval": None if iv is None else [iv.low, iv.high, iv.level],
            "p_value": c.p_value,
            "n_holdout": c.n_holdout,
            "effective_n": c.effective_n,
            "bootstrap_groups": c.bootstrap_groups,
            "n_groups": c.n_groups,
            "n_resamples": c.n_resamples,
            "baseline": c.baseline,
            "baseline_value": finite(c.baseline_value),
            "baseline_improvement": finite(c.baseline_improvement),
            "baseline_p_value": c.baseline_p_value,
            "invalid_reason": c.invalid_reason or c.champion_invalid_reason,
        },
        "metrics": [d.to_dict() for d in c.metric_table],
        "segments": [d.to_dict() for d in c.segments],
        "segment_columns": list(cfg.segment_columns or ()),
        "errors": judged.errors,
        "windows": _windows(judged, mine, theirs),
        "feature_importance": evidence.importance_change(
            None if theirs is None else theirs.feature_importance, mine.feature_importance
        ),
        "drift": _drift(reg, ctx.as_of_iso),
        "policy": {
            "settings": policy.to_dict(),
            "sha256": policy.digest(),
            "rules": [r.to_dict() for r in decision.rules],
        },
    }
