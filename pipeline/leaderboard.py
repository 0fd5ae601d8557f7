"""The leaderboard: the champion and the newest versions scored on the same recent labelled
window, so their figures compare (each version's own-holdout metric does not: a better model
approved on shared rows can show a worse own-holdout figure than an older one).

The window is the ``holdout_days`` before the time it is scored at. A version trained on part of
that window is still scored, and marked ``in_sample``: its figure flatters it. The retraining
DAG's last task scores it at every run's logical time; ``modelgate leaderboard`` on demand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline import data as data_mod
from pipeline import evaluation, training
from pipeline.config import Config
from pipeline.context import load_data
from pipeline.errors import ModelGateError

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry


def score(
    cfg: Config,
    reg: Registry,
    as_of: dt.datetime,
    *,
    data_path: Any = None,
    known: Mapping[int, float] | None = None,
    known_fingerprint: str | None = None,
) -> dict[str, Any] | None:
    """Score the champion and the ``leaderboard_versions`` newest versions on the window before
    ``as_of`` and record it (once per model and time); None when there is nothing to score or
    the window holds fewer than ``min_holdout_rows`` labelled rows.

    ``known`` holds figures already computed on rows whose fingerprint is ``known_fingerprint``
    (the run's comparison, on its holdout): when the window's rows are those, those versions are
    not loaded and scored again."""
    newest = {v.version: v for v in reg.newest_versions(cfg.leaderboard_versions)}
    if not newest:
        return None
    champ = reg.current_champion()
    if champ is not None and champ.version not in newest:
        newest[champ.version] = reg.get_version(champ.version)
    chosen = sorted(newest)
    start = as_of - dt.timedelta(days=cfg.holdout_days)
    try:
        ds = load_data(cfg, None, data_path, start=start, end=as_of)
    except ModelGateError:
        return None  # no data in the window (yet): nothing to compare on
    frame = ds.frame[ds.frame[ds.schema.target].notna()]  # load_data reads [start, as_of)
    if len(frame) < cfg.min_holdout_rows:
        return None
    y = frame[ds.schema.target].to_numpy(dtype=float)
    fingerprint = data_mod.fingerprint(frame)
    reuse = dict(known or {}) if known_fingerprint == fingerprint else {}
    rows: list[dict[str, Any]] = []
    for number in chosen:
        v = newest[number]
        if number in reuse:
            rows.append(_row(number, reuse[number], v, champ, start))
            continue
        model = training.loads(reg.load_model_bytes(number))
        schema = data_mod.Schema.from_dict(v.schema)
        try:
            pred = training.predict(model, frame, schema, cfg.task)
        except ModelGateError as exc:  # an old schema the data no longer fits
            rows.append({"version": number, "value": None, "note": str(exc)})
            continue
        valid = evaluation.validity(pred) is None
        value = evaluation.score(cfg.primary_metric, y, pred) if valid else None
        rows.append(_row(number, value, v, champ, start))
    scored = [r for r in rows if r["value"] is not None and np.isfinite(r["value"])]
    order = sorted(scored, key=lambda r: r["value"], reverse=cfg.higher_is_better)
    for rank, r in enumerate(order, 1):
        r["rank"] = rank
    return reg.record_leaderboard(
        as_of=as_of.isoformat(),
        window_start=start.isoformat(),
        window_end=as_of.isoformat(),
        metric=cfg.primary_metric,
        n_rows=len(frame),
        fingerprint=fingerprint,
        scores=sorted(rows, key=lambda r: r.get("rank") or 10**9),
    )


def _row(
    number: int, value: float | None, v: Any, champ: Any, start: dt.datetime
) -> dict[str, Any]:
    return {
        "version": number,
        "champion": champ is not None and number == champ.version,
        "value": value,
        "in_sample": v.train_end > start.isoformat(),
        "train_end": v.train_end,
    }


def run_scores(reg: Registry, run_id: str, metric: str) -> tuple[dict[int, float], str | None]:
    """The primary-metric figures the run's comparison computed for its challenger and champion,
    with the fingerprint of the holdout they were computed on (``score``'s ``known``)."""
    comp = reg.comparison(run_id)
    evidence = reg.evidence_for_run(run_id) if comp else None
    if not comp or not evidence or comp.get("metric") != metric:
        return {}, None
    known = {
        int(comp[f"{who}_version"]): float(comp[f"{who}_value"])
        for who in ("challenger", "champion")
        if comp.get(f"{who}_version") is not None
        and comp.get(f"{who}_value") is not None
        and np.isfinite(comp[f"{who}_value"])
    }
    return known, (evidence.get("windows") or {}).get("holdout", {}).get("fingerprint")
