"""Drift monitor: compare the latest window with the champion's reference profile, every day.
``build(cfg)`` makes one model's DAG, ``modelgate_drift__NAME`` (``dags/modelgate.py`` makes one
per model of the catalog).

check_drift -> should_retrain -> (trigger_retraining | no_action). Every per-feature score is
stored in the registry (the drift history). When a trigger fires, a run of the model's retraining
DAG starts with the reasons in its conf. We use TriggerDagRunOperator rather than an Asset: the
reasons travel with the run (an Asset event would need the consumer to look them up), the link
between the two runs shows in the UI, and a deterministic trigger_run_id makes a retried task
start nothing twice.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from dags._common import dag_args, step
from pipeline import loop
from pipeline.config import Config


def build(_cfg: Config) -> Any:
    """Model ``_cfg.model``'s drift monitor (parse-time settings only: schedule, queue, retries)."""
    model = _cfg.model
    retrain_id, dag_id, _ = loop.dag_ids(model)

    @dag(
        **dag_args(_cfg, dag_id),
        description="Daily drift check against the champion's reference profile; starts retraining on a trigger.",
        schedule=_cfg.drift_schedule,
        render_template_as_native_obj=True,
        params={
            "data_path": Param(
                None, type=["null", "string"], description="CSV/Parquet file or folder."
            ),
            "trigger_retraining": Param(
                True, type="boolean", description="Start the retraining DAG on a trigger."
            ),
        },
    )
    def drift_monitor() -> None:
        @task(queue=_cfg.queue)
        def check_drift() -> dict[str, Any]:
            return step(model, dag_id, "drift_check")

        @task.branch
        def should_retrain(result: dict[str, Any], params: dict[str, Any] | None = None) -> str:
            wanted = result["retrain"] and (params or {}).get("trigger_retraining", True)
            return "trigger_retraining" if wanted else "no_action"

        @task
        def no_action() -> None:
            return None

        result = check_drift()
        trigger_retraining = TriggerDagRunOperator(
            task_id="trigger_retraining",
            trigger_dag_id=retrain_id,
            trigger_run_id="drift__{{ run_id }}",
            conf={
                "reasons": "{{ ti.xcom_pull(task_ids='check_drift')['reasons'] }}",
                "data_path": "{{ params.data_path }}",
            },
            wait_for_completion=False,
        )
        should_retrain(result) >> [trigger_retraining, no_action()]

    return drift_monitor()
