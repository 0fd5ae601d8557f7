"""Scheduled retraining with gated promotion: ``build(cfg)`` makes one model's DAG,
``modelgate_retrain__NAME`` (``dags/modelgate.py`` makes one per model of the catalog).

check_triggers -> should_train -> (skip_training | train_challenger -> evaluate -> route_decision ->
promote | request_review | reject) -> finish. Each task calls one ``pipeline.loop`` function with the
run id as its idempotency key and returns a small summary; none passes a DataFrame.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from dags import _common
from dags._common import dag_args
from pipeline import loop
from pipeline.config import Config


def build(_cfg: Config) -> Any:
    """Model ``_cfg.model``'s retraining DAG. Parse-time settings only (schedule, queue,
    retries): reading them is cheap, no data or DB access."""
    model = _cfg.model
    dag_id = loop.dag_ids(model)[0]

    def step(name: str, *args: Any) -> Any:
        return _common.step(model, dag_id, name, *args)

    @dag(
        **dag_args(_cfg, dag_id),
        description="Retrain a challenger, test it against the champion, then promote, queue for review or reject.",
        schedule=_cfg.schedule,
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
    )
    def scheduled_retraining_with_gated_promotion() -> None:
        @task(queue=_cfg.queue)
        def check_triggers() -> dict[str, Any]:
            return step("check_triggers")

        @task.branch
        def should_train(check: dict[str, Any]) -> str:
            return "train_challenger" if check["retrain"] else "skip_training"

        @task
        def skip_training() -> dict[str, Any]:
            return {"skipped": True}

        @task(queue=_cfg.queue)
        def train_challenger() -> dict[str, Any]:
            return step("train_challenger")

        @task(queue=_cfg.queue)
        def evaluate(trained: dict[str, Any]) -> dict[str, Any]:
            return step("evaluate_challenger", trained["version"])

        @task.branch
        def route_decision(result: dict[str, Any]) -> str:
            return {"promote": "promote", "review": "request_review", "reject": "reject"}[
                result["outcome"]
            ]

        @task(queue=_cfg.queue)
        def promote(result: dict[str, Any]) -> dict[str, Any]:
            return step("promote", result["version"], result["champion"])

        @task(queue=_cfg.queue)
        def request_review(result: dict[str, Any]) -> dict[str, Any]:
            return step(
                "request_review", result["version"], result["comparison_id"], result["champion"]
            )

        @task(queue=_cfg.queue)
        def reject(result: dict[str, Any]) -> dict[str, Any]:
            return step("reject", result["version"])

        @task(queue=_cfg.queue, trigger_rule="none_failed_min_one_success")
        def finish() -> dict[str, Any]:
            return step("finish")

        check = check_triggers()
        trained = train_challenger()
        result = evaluate(trained)
        done = finish()
        skip = skip_training()
        should_train(check) >> [trained, skip]
        skip >> done
        route_decision(result) >> [promote(result), request_review(result), reject(result)] >> done

    return scheduled_retraining_with_gated_promotion()
