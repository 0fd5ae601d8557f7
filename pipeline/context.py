"""A run's identity and its data: what every step of the retraining loop and the monitors share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import data as data_mod
from pipeline.config import Config
from pipeline.reports import VolumeFacts

PIPELINE = "pipeline"  # the actor of automatic decisions (as in the registry)

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry


def dag_ids(model: str) -> tuple[str, str, str]:
    """Model ``model``'s DAG ids: retraining, drift monitor, rollout monitor."""
    return (
        f"modelgate_retrain__{model}",
        f"modelgate_drift__{model}",
        f"modelgate_rollout__{model}",
    )


DAG_KINDS = ("retrain", "drift", "rollout")
# What they were called before models existed: runs recorded under these names stay 'default''s.
LEGACY_DAG_IDS = {
    "scheduled_retraining_with_gated_promotion": "retrain",
    "drift_monitor": "drift",
    "rollout_monitor": "rollout",
}


def fires(schedule: str, day: dt.datetime) -> list[dt.datetime]:
    """The times in ``day`` (from 00:00, for 24 hours) at which cron ``schedule`` fires: what
    ``simulate`` runs in the scheduler's place."""
    from croniter import croniter

    it = croniter(schedule, day - dt.timedelta(microseconds=1))
    out = []
    while (at := it.get_next(dt.datetime)) < day + dt.timedelta(days=1):
        out.append(at)
    return out


def dag_model(dag_id: str) -> tuple[str, str] | None:
    """(kind, model) of a DAG id of ``dag_ids``, or of a name from before models existed (the
    model ``default``'s); None: not one of ModelGate's."""
    if dag_id in LEGACY_DAG_IDS:
        return LEGACY_DAG_IDS[dag_id], "default"
    for kind in DAG_KINDS:
        prefix = f"modelgate_{kind}__"
        if dag_id.startswith(prefix):
            return kind, dag_id[len(prefix) :]
    return None


# The model 'default''s (a ModelGate without a catalog).
DAG_ID, DRIFT_DAG_ID, ROLLOUT_DAG_ID = dag_ids("default")
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


def load_data(
    cfg: Config,
    reg: Registry | None,
    data_path: Path | None,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> data_mod.Dataset:
    """Validated data of ``[start, end)``; when a champion exists its schema is what the data
    must match."""
    expected = _champion_schema(reg) if reg is not None else None
    return data_mod.load_dataset(cfg, data_path, expected=expected, start=start, end=end)


def training_span(cfg: Config, as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The rows a training run reads: its training window and holdout, up to ``as_of``."""
    try:
        return as_of - dt.timedelta(days=cfg.train_days + cfg.holdout_days), as_of
    except OverflowError:  # split_windows explains it in one line
        return dt.datetime.min, as_of


def age_and_volume(cfg: Config, reg: Registry, ctx: RunContext) -> VolumeFacts:
    """The champion's age and the data that arrived since its training run."""
    last = reg.last_retraining_as_of()
    last_retraining = dt.datetime.fromisoformat(last) if last else None
    champ = reg.current_champion()
    if champ is None:
        return VolumeFacts(
            champion_as_of=None, new_rows=None, train_rows=None, last_retraining=last_retraining
        )
    version = reg.get_version(champ.version)
    run = reg.get_run(version.run_id)
    champion_as_of = dt.datetime.fromisoformat(run["as_of"]) if run and run["as_of"] else None
    new_rows = None
    if champion_as_of is not None:
        new_rows = data_mod.count_rows(cfg, ctx.data_path, champion_as_of, ctx.as_of)
    return VolumeFacts(
        champion_as_of=champion_as_of,
        new_rows=new_rows,
        train_rows=version.train_rows,
        last_retraining=last_retraining,
    )
