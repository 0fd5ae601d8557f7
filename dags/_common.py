"""What the DAG files share: reading the run's identity from the Airflow context, and the registry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import get_current_context

from pipeline.config import Config, load_config
from pipeline.loop import RunContext


def run_context(context: dict[str, Any], dag_id: str) -> RunContext:
    params = context.get("params") or {}
    end = context.get("data_interval_end") or context.get("logical_date")
    as_of = dt.datetime.fromisoformat(end.isoformat()).astimezone(dt.UTC).replace(tzinfo=None)
    dag_run = context.get("dag_run")
    run_type = getattr(getattr(dag_run, "run_type", None), "value", None) or (
        str(dag_run.run_type) if dag_run is not None else None
    )
    logical = context.get("logical_date")
    return RunContext(
        run_id=str(context["run_id"]),
        as_of=as_of,
        dag_id=dag_id,
        logical_date=logical.isoformat() if logical else None,
        run_type=run_type,
        force=bool(params.get("force_retrain")),
        data_path=Path(params["data_path"]) if params.get("data_path") else None,
        reasons=tuple(params.get("reasons") or ()),
    )


def dag_args(cfg: Config, dag_id: str) -> dict[str, Any]:
    """The ``@dag`` arguments every model's DAG shares (parse-time settings only): its id, any
    history from start_date, one run at a time, the model's tags, retries and failure callback."""
    return {
        "dag_id": dag_id,
        "start_date": pendulum.parse(cfg.start_date, tz="UTC"),
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["modelgate", f"model:{cfg.model}"],
        "default_args": default_args(cfg),
        "on_failure_callback": failure_callback(cfg.model),
    }


def step(model: str, dag_id: str, name: str, *args: Any) -> Any:
    """A task's body: ``pipeline.loop.NAME(cfg, registry, run context, *args)`` with the model's
    settings as they are at run time."""
    from pipeline import loop

    cfg = load_config(model=model)
    ctx = run_context(get_current_context(), dag_id)
    with open_registry(cfg) as reg, reg.at(ctx.as_of_iso):  # its events happen at the run's time
        return getattr(loop, name)(cfg, reg, ctx, *args)


def default_args(cfg: Config) -> dict[str, Any]:
    """Retries with delay, and every task's final failure recorded in the model's registry rows."""
    return {
        "retries": cfg.retries,
        "retry_delay": dt.timedelta(minutes=cfg.retry_delay_minutes),
        "on_failure_callback": failure_callback(cfg.model),
    }


def open_registry(cfg: Config | None = None) -> Any:
    from registry import Registry

    return Registry.open(cfg or load_config())


def failure_callback(model: str) -> Callable[[dict[str, Any]], None]:
    """Airflow's on_failure_callback for model ``model``'s DAGs: the failure recorded in the
    registry; it never raises."""

    def on_failure(context: dict[str, Any]) -> None:
        from pipeline import loop

        ti = context.get("ti") or context.get("task_instance")
        dag = context.get("dag")
        err = context.get("exception")
        end = context.get("data_interval_end")
        try:
            cfg = load_config(model=model)
            with open_registry(cfg) as reg:
                loop.record_failure(
                    cfg,
                    reg,
                    run_id=str(context.get("run_id")),
                    dag_id=getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "unknown"),
                    task_id=getattr(ti, "task_id", None),
                    error=f"{type(err).__name__}: {err}" if err else "task failed",
                    as_of=end.isoformat() if end else None,
                )
        except Exception as exc:  # a callback must not mask the task's own failure
            import logging

            logging.getLogger("modelgate").exception("could not record the failure: %s", exc)

    return on_failure
