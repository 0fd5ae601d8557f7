"""Run DAG runs in this process with ``dag.test()``: the engine behind ``modelgate run`` and ``simulate``.

Airflow starts once and each further run costs a fraction of a second, where ``airflow dags test``
would start Airflow for every run. Results go to a JSON-lines file, one line per DAG run, so the CLI
can show progress while Airflow's own logs go to a log file.

Usage:
  python -m dags.runner runs --dag-id ID --out FILE --conf JSON DATE [DATE ...]
  python -m dags.runner simulate --out FILE --conf JSON --start DATE --end DATE [--model NAME ...]

``simulate`` stands in for the scheduler, day by day and, each day, model by model (every model
of the catalog, or those named): the model's retraining DAG at each time its ``schedule`` fires
(default the 1st of each month at 02:00), its drift monitor at each time ``drift_schedule`` fires
(default daily at 03:00) and, when the monitor asks for it, a retraining run half an hour later
with the monitor's reasons (the monitor's own TriggerDagRunOperator is switched off, since no
scheduler would execute the run it creates), and while the model's rollout is live, its rollout
monitor once a day at 04:00 with a day of demo traffic (conf ``traffic`` requests) first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

RETRAIN_DEFAULTS = {"force_retrain": False, "data_path": None, "reasons": []}
MONITOR_DEFAULTS = {"data_path": None, "trigger_retraining": True}
ROLLOUT_DEFAULTS = {"data_path": None, "requests": 0}


def _load_dags(wanted: list[str]) -> dict[str, Any]:
    """The DAGs of the folder; an import error stops the runner only when it takes a DAG it
    needs (another model's broken settings do not stop this one's runs)."""
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(__file__).resolve().parent
    bag = DagBag(str(folder))
    for path, err in bag.import_errors.items():
        print(f"DAG import error in {path}: {err}", file=sys.stderr)
    missing = [d for d in wanted if d not in bag.dags]
    if missing:
        print(f"No DAG {', '.join(missing)} in {folder}.", file=sys.stderr)
        raise SystemExit(1)
    return dict(bag.dags)


STOP_FILE: Path | None = None  # when it exists, the runner stops before its next DAG run


class _Stop(Exception):
    pass


def _run(
    dag: Any, when: dt.datetime, conf: dict[str, Any], out: TextIO, *, simulated: bool = False
) -> str:
    import pendulum

    if STOP_FILE is not None and STOP_FILE.exists():
        raise _Stop

    logical = pendulum.instance(when, tz="UTC")
    started = time.perf_counter()
    from dags.fleet import ONLY
    from pipeline.context import dag_model

    # dag.test() parses the folder again: only this DAG's model, whatever the fleet's size.
    os.environ[ONLY] = (dag_model(dag.dag_id) or ("", ""))[1]
    # dag.test() keeps the previous run's params on the DAG object: always pass every param.
    # A simulated run is due at its logical time, so its id carries it (manual__2025-06-01T02:00…)
    # rather than the wall clock's.
    extra = {"run_after": logical} if simulated else {}
    wall = pendulum.now("UTC")
    dr = dag.test(logical_date=logical, run_conf=conf, **extra)
    _started_at(dr, wall)
    state = str(getattr(dr.state, "value", dr.state))
    out.write(
        json.dumps(
            {
                "dag_id": dag.dag_id,
                "logical_date": logical.isoformat(),
                "run_id": dr.run_id,
                "state": state,
                "seconds": round(time.perf_counter() - started, 4),
            }
        )
        + "\n"
    )
    out.flush()
    return str(dr.run_id)


def _started_at(dr: Any, wall: Any) -> None:
    """Stamp the run as started when it did. dag.test() stamps it at its logical date, so
    Airflow's UI showed a simulated run of 2025 as lasting until today ("473d 20h"); the logical
    date stays the run's clock (its id, its data), the start and end are the wall clock's."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(DagRun)
            .where(DagRun.dag_id == dr.dag_id, DagRun.run_id == dr.run_id)
            .values(start_date=wall)
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dags.runner")
    sub = ap.add_subparsers(dest="mode", required=True)
    runs = sub.add_parser("runs")
    runs.add_argument("--dag-id", required=True)
    runs.add_argument("dates", nargs="+")
    sim = sub.add_parser("simulate")
    sim.add_argument("--start", required=True)
    sim.add_argument("--end", required=True)
    sim.add_argument("--model", action="append", default=[], help="a model (default: every one)")
    for p in (runs, sim):
        p.add_argument("--out", required=True, type=Path)
        p.add_argument("--conf", default="{}")
        p.add_argument("--stop-file", type=Path, help="stop before the next DAG run once it exists")
    args = ap.parse_args(argv)
    global STOP_FILE
    STOP_FILE = args.stop_file
    try:
        return _main(args)
    except _Stop:
        print("Stopped before the next DAG run, as asked.", file=sys.stderr)
        return 0


def _main(args: argparse.Namespace) -> int:
    conf = json.loads(args.conf)

    from pipeline import loop

    if args.mode == "runs":
        dags = _load_dags([args.dag_id])
        dag = dags[args.dag_id]
        kind = (loop.dag_model(args.dag_id) or ("retrain", ""))[0]
        defaults = {"retrain": RETRAIN_DEFAULTS, "drift": MONITOR_DEFAULTS}.get(
            kind, ROLLOUT_DEFAULTS
        )
        with args.out.open("a", encoding="utf-8") as out:
            for date in args.dates:
                _run(dag, dt.datetime.fromisoformat(date), {**defaults, **conf}, out)
        return 0
    from pipeline.catalog import model_names
    from pipeline.config import load_config
    from pipeline.context import fires

    models = args.model or model_names()
    configs = {m: load_config(model=m) for m in models}
    dags = _load_dags([d for m in models for d in loop.dag_ids(m)])
    data_path = conf.get("data_path")
    traffic = int(conf.get("traffic", 20000))
    day = dt.datetime.fromisoformat(args.start).replace(hour=0, minute=0, second=0, microsecond=0)
    end = dt.datetime.fromisoformat(args.end)
    with args.out.open("a", encoding="utf-8") as out:
        while day <= end:
            for model, cfg in configs.items():
                retrain, monitor, rollouts = (dags[d] for d in loop.dag_ids(model))
                events = [(t, "retrain") for t in fires(cfg.schedule, day)]
                events += [(t, "drift") for t in fires(cfg.drift_schedule, day)]
                for at, kind in sorted(events):
                    if kind == "retrain":
                        _run(
                            retrain,
                            at,
                            {**RETRAIN_DEFAULTS, "data_path": data_path, "reasons": ["schedule"]},
                            out,
                            simulated=True,
                        )
                        continue
                    run_id = _run(
                        monitor,
                        at,
                        {"data_path": data_path, "trigger_retraining": False},
                        out,
                        simulated=True,
                    )
                    reasons = _requested(cfg, run_id)
                    if reasons:
                        _run(
                            retrain,
                            at + dt.timedelta(minutes=30),
                            {**RETRAIN_DEFAULTS, "data_path": data_path, "reasons": reasons},
                            out,
                            simulated=True,
                        )
                if _rollout_live(cfg):
                    _run(
                        rollouts,
                        day.replace(hour=4),
                        {"data_path": data_path, "requests": traffic},
                        out,
                        simulated=True,
                    )
            day += dt.timedelta(days=1)
    return 0


def _rollout_live(cfg: Any) -> bool:
    from dags._common import open_registry

    with open_registry(cfg) as reg:
        return reg.live_rollout() is not None


def _requested(cfg: Any, monitor_run_id: str) -> list[str]:
    """The reasons the monitor's run gave for retraining, from the registry (empty: none)."""
    from dags._common import open_registry

    with open_registry(cfg) as reg:
        report = reg.drift_report_for_run(monitor_run_id)
    if not report or not report["retrain_requested"]:
        return []
    return [c["name"] for c in report["triggers"] if c["fired"]]


if __name__ == "__main__":
    sys.exit(main())
