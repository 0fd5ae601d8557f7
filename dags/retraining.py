"""Scheduled retraining with gated promotion.

check_triggers -> should_train -> (skip_training | train_challenger -> evaluate -> route_decision ->
promote | request_review | reject) -> finish. Each task calls one ``pipeline.loop`` function with the
run id as its idempotency key and returns a small summary; none passes a DataFrame.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from dags._common import default_args, on_failure, open_registry, run_context
from pipeline import loop
from pipeline.config import load_config

DAG_ID = loop.DAG_ID
# Parse-time settings only (schedule, queue, retries): reading them is cheap, no data or DB access.
_cfg = load_config()


def _step(name: str, *args: Any) -> Any:
    cfg = load_config()
    ctx = run_context(get_current_context(), DAG_ID)
    with open_registry(cfg) as reg:
        return getattr(loop, name)(cfg, reg, ctx, *args)


@dag(
    dag_id=DAG_ID,
    description="Retrain a challenger, test it against the champion, then promote, queue for review or reject.",
    schedule=_cfg.schedule,
    start_date=pendulum.parse(_cfg.start_date, tz="UTC"),  # from the settings: any history
    catchup=False,
    max_active_runs=1,
    tags=["modelgate"],
    params={
        "force_retrain": Param(
            False, type="boolean", description="Retrain even if no trigger fires."
        ),
        "data_path": Param(
            None, type=["null", "string"], description="CSV/Parquet file or folder."
        ),
        "reasons": Param(
            [], type="array", description="Trigger reasons from the caller (e.g. drift)."
        ),
    },
    default_args=default_args(_cfg),
    on_failure_callback=on_failure,
)
def scheduled_retraining_with_gated_promotion() -> None:
    @task(queue=_cfg.queue)
    def check_triggers() -> dict[str, Any]:
        return _step("check_triggers")

    @task.branch
    def should_train(check: dict[str, Any]) -> str:
        return "train_challenger" if check["retrain"] else "skip_training"

    @task
    def skip_training() -> dict[str, Any]:
        return {"skipped": True}

    @task(queue=_cfg.queue)
    def train_challenger() -> dict[str, Any]:
        return _step("train_challenger")

    @task(queue=_cfg.queue)
    def evaluate(trained: dict[str, Any]) -> dict[str, Any]:
        return _step("evaluate_challenger", trained["version"])

    @task.branch
    def route_decision(result: dict[str, Any]) -> str:
        return {"promote": "promote", "review": "request_review", "reject": "reject"}[
            result["outcome"]
        ]

    @task(queue=_cfg.queue)
    def promote(result: dict[str, Any]) -> dict[str, Any]:
        return _step("promote", result["version"], result["champion"])

    @task(queue=_cfg.queue)
    def request_review(result: dict[str, Any]) -> dict[str, Any]:
        return _step(
            "request_review", result["version"], result["comparison_id"], result["champion"]
        )

    @task(queue=_cfg.queue)
    def reject(result: dict[str, Any]) -> dict[str, Any]:
        return _step("reject", result["version"])

    @task(queue=_cfg.queue, trigger_rule="none_failed_min_one_success")
    def finish() -> dict[str, Any]:
        return _step("finish")

    check = check_triggers()
    trained = train_challenger()
    result = evaluate(trained)
    done = finish()
    skip = skip_training()
    should_train(check) >> [trained, skip]
    skip >> done
    route_decision(result) >> [promote(result), request_review(result), reject(result)] >> done


scheduled_retraining_with_gated_promotion()
