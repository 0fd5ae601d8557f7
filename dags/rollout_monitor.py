"""Rollout monitor: analyse the model's live rollout every hour and act on what the evidence
says. ``build(cfg)`` makes one model's DAG, ``modelgate_rollout__NAME`` (``dags/modelgate.py``
makes one per model of the catalog): each model keeps its own ``rollout_schedule``, a failure or
retry of one model's analysis never delays another's, and a run without a live rollout ends in
its first task.

serve_traffic -> analyse_and_act. The first task only does something when the run's conf asks for
demo traffic (``requests`` > 0): it drives the data through the Router so that a demo rollout has
outcomes. The second analyses every labelled outcome (per-variant error, a sample-ratio check and
an always-valid confidence sequence), records the analysis and advances a step, promotes, rolls
back, halts or expires the rollout through the registry's compare-and-set, with a notification.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from dags._common import dag_args, step
from pipeline import loop
from pipeline.config import Config


def build(_cfg: Config) -> Any:
    """Model ``_cfg.model``'s rollout monitor (parse-time settings only)."""
    model = _cfg.model
    dag_id = loop.dag_ids(model)[2]

    @dag(
        **dag_args(_cfg, dag_id),
        description="Hourly analysis of the live rollout: advance, promote, roll back, halt or expire.",
        schedule=_cfg.rollout_schedule,
        params={
            "data_path": Param(
                None, type=["null", "string"], description="CSV/Parquet file or folder."
            ),
            "requests": Param(
                0,
                type="integer",
                minimum=0,
                description="Demo traffic to serve before the analysis.",
            ),
        },
    )
    def rollout_monitor() -> None:
        @task(queue=_cfg.queue)
        def serve_traffic(params: dict[str, Any] | None = None) -> dict[str, int]:
            return step(model, dag_id, "serve_traffic", int((params or {}).get("requests") or 0))

        @task(queue=_cfg.queue)
        def analyse_and_act(served: dict[str, int]) -> dict[str, Any]:
            return step(model, dag_id, "monitor_rollout")

        analyse_and_act(serve_traffic())

    return rollout_monitor()
