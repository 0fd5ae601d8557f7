"""``modelgate init``, ``run`` and ``simulate``: real DAG runs through the embedded Airflow."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ConfigError, ModelGateError
from pipeline.loop import dag_ids

if TYPE_CHECKING:
    pass

from pipeline.cli_common import (
    REPO_DAGS,
    _parse_date,
    _registry,
    airflow_db_migrate,
    airflow_env,
)


def cmd_init(cfg: Config, args: argparse.Namespace) -> int:
    for d in (cfg.home, cfg.artifacts_dir, cfg.airflow_home):
        d.mkdir(parents=True, exist_ok=True)
    with _registry(cfg, create=True) as reg:
        st = reg.status()
    airflow_db_migrate(cfg)
    print(f"Initialised ModelGate in {cfg.home}")
    print(
        f"  registry:     {cfg.registry_db} ({st['versions']} versions, {st['audit_events']} audit events)"
    )
    print(f"  artifacts:    {cfg.artifacts_dir}")
    from pipeline.notify import destination

    print(f"  {destination(cfg)}")
    print(f"  airflow home: {cfg.airflow_home} (SQLite metadata DB, LocalExecutor)")
    return 0


def _validate(cfg: Config, dates: list[dt.datetime], conf: dict[str, Any]) -> None:
    """Everything the runs will read, checked before Airflow starts; nothing is written."""
    from pipeline import loop

    data_path = Path(conf["data_path"]) if conf.get("data_path") else None
    noted: dict[str, None] = {}
    with _registry(cfg) as reg:
        for d in dates:
            checked = loop.preflight(
                cfg, reg, loop.RunContext(run_id="preflight", as_of=d, data_path=data_path)
            )
            noted.update(dict.fromkeys(checked["notes"]))
    for note in noted:  # what validation chose, once each: the run goes on
        print(f"modelgate: note: {note}", file=sys.stderr, flush=True)


def _drive(
    cfg: Config,
    runner_args: list[str],
    *,
    total: int,
    unit: str,
    earliest: dt.datetime | None = None,
    configs: dict[str, Config] | None = None,
) -> int:
    """Start the in-process DAG runner, follow its results, print progress and a line per retraining.

    ``total`` counts runs of ``unit`` DAGs (a kind of ``loop.dag_model``: the progress unit).
    Runs before the DAGs' start_date would execute no task, so the runner's DAGs start at
    ``earliest`` when that is earlier. ``configs``: the models the runs are of (default
    ``cfg``'s); with several, each line names its model."""
    from pipeline import loop

    configs = configs or {cfg.model: cfg}
    width = max(len(name) for name in configs)

    logs = cfg.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    log_path = logs / f"runs-{stamp}.log"
    fd, out_name = tempfile.mkstemp(prefix="runs-", suffix=".jsonl", dir=logs)
    os.close(fd)
    out_path = Path(out_name)
    cmd = [
        sys.executable,
        "-m",
        "dags.runner",
        runner_args[0],
        "--out",
        str(out_path),
        *runner_args[1:],
    ]
    env = airflow_env(cfg)
    if earliest is not None and earliest.date() < dt.date.fromisoformat(cfg.start_date):
        env["MODELGATE_START_DATE"] = earliest.date().isoformat()
        print(
            f"The runs start {earliest:%Y-%m-%d}, before start_date {cfg.start_date}: these runs use "
            f"start_date {earliest:%Y-%m-%d} (set start_date for the scheduler too).",
            flush=True,
        )
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_DAGS.parent), env.get("PYTHONPATH")])
    )
    started = time.monotonic()
    seen = units = failed = 0
    stop_file = out_path.with_suffix(".stop")
    asked: float | None = None
    killed = False
    with log_path.open("w") as log, _forwarding_stops() as stop:
        proc = subprocess.Popen(
            [*cmd, "--stop-file", str(stop_file)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO_DAGS.parent),
            start_new_session=True,  # its own process group: a stop reaches it and its children
        )
        while True:
            if stop and asked is None:  # the runner stops before its next DAG run
                stop_file.touch()
                asked = time.monotonic()
                print(
                    f"{stop[0].name}: stopping after the current DAG run (send it again to stop now)",
                    file=sys.stderr,
                    flush=True,
                )
            late = asked is not None and time.monotonic() - asked > STOP_GRACE
            if asked is not None and not killed and (len(stop) > 1 or late):
                _kill_group(proc)
                killed = True
            done = proc.poll() is not None
            lines = out_path.read_text().splitlines()
            for line in lines[seen:]:
                result = json.loads(line)
                seen += 1
                failed += result["state"] != "success"
                kind, model = loop.dag_model(result["dag_id"]) or ("", cfg.model)
                if kind == unit:
                    units += 1
                    _progress(units, total, started)
                mcfg = configs.get(model, cfg)
                label = f"{model:<{width}}  " if len(configs) > 1 else ""
                {"retrain": _summarise, "rollout": _summarise_rollout}.get(kind, _summarise_drift)(
                    mcfg, result, label
                )
            if done:
                break
            time.sleep(0.2)
    _wait_group(proc)  # no process of the runner's group is left to write
    stop_file.unlink(missing_ok=True)
    if stop:
        out_path.unlink(missing_ok=True)
        left = (
            "the DAG run in progress was killed (the next run marks it abandoned)"
            if killed
            else "the DAG run in progress finished first"
        )
        raise Stopped(
            f"Stopped by {stop[0].name} after {seen} DAG runs: {left}; no process of the runner "
            f"is left and nothing more is written. Log: {log_path}.",
            signum=stop[0],
        )
    out_path.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise ModelGateError(
            f"Airflow stopped after {seen} DAG runs (exit {proc.returncode}); see {log_path}."
        )
    if failed:
        print(
            f"{failed} of {seen} DAG runs failed; the failures are in the registry ('modelgate status') "
            f"and in {log_path}.",
            file=sys.stderr,
        )
        return 1
    return 0


class Stopped(ModelGateError):
    """The CLI was asked to stop (SIGINT, SIGTERM): it exits 128 + the signal's number."""

    def __init__(self, message: str, *, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


STOP_GRACE = 60.0  # seconds a stopping runner may take to finish its DAG run


@contextlib.contextmanager
def _forwarding_stops() -> Iterator[list[signal.Signals]]:
    """SIGINT and SIGTERM, while the runner works, are recorded (in order) instead of killing
    this process, so it can stop the runner and wait for it before it returns."""
    stop: list[signal.Signals] = []

    def record(signum: int, _frame: Any) -> None:
        stop.append(signal.Signals(signum))

    previous = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the runner's process group now. Airflow's task runner handles SIGTERM itself and
    carries on, so SIGKILL: every registry write is one transaction, and a killed one rolls back."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait for the runner and for every process of its group (an orphan could still write)."""
    proc.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # a zombie of the group not reaped yet
            pass
        time.sleep(0.05)
    _kill_group(proc)


def _progress(i: int, n: int, started: float) -> None:
    if n <= 1:
        return
    if not sys.stderr.isatty() and i % max(1, n // 24) and i != n:
        return  # in a log, a line every ~4% is enough
    width = 24
    filled = round(width * i / n)
    bar = "#" * filled + "." * (width - filled)
    print(f"[{bar}] {i}/{n}, {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)


def _summarise_drift(cfg: Config, result: dict[str, Any], label: str = "") -> None:
    """A line only when the monitor asked for a retraining."""
    with _registry(cfg) as reg:
        report = reg.drift_report_for_run(result["run_id"])
    day = f"{result['logical_date'][:10]}  {label}"
    if result["state"] != "success":
        print(f"{day}drift monitor FAILED (see 'modelgate status')", flush=True)
    elif report and report["retrain_requested"]:
        fired = [c["name"] for c in report["triggers"] if c["fired"]]
        affected = ", ".join(report["affected"][:4]) or "-"
        print(
            f"{day}drift monitor: {','.join(fired)} (drifted: {affected}; "
            f"score {report['drift_score']:.2f}) -> retraining",
            flush=True,
        )


def _summarise_rollout(cfg: Config, result: dict[str, Any], label: str = "") -> None:
    """A line when the rollout monitor did something (advance, promote, roll back, ...)."""
    day = result["logical_date"][:10]
    if result["state"] != "success":
        print(f"{day}  {label}rollout monitor FAILED (see 'modelgate status')", flush=True)
        return
    with _registry(cfg) as reg:
        for r in reg.rollouts():
            for e in reg.rollout_events(r["id"]):
                if e["at"][:10] == day and e["kind"] != "started":
                    print(
                        f"{day}  {label}rollout {r['id']} of v{r['version']}: {e['kind']} "
                        f"(challenger {e['share']:.0%}) - {e['reason']}",
                        flush=True,
                    )


def _summarise(cfg: Config, result: dict[str, Any], label: str = "") -> None:
    with _registry(cfg) as reg:
        run = reg.get_run(result["run_id"])
        comp = reg.comparison(result["run_id"]) if run else None
    day = f"{result['logical_date'][:10]}  {label}"
    if run is None:
        print(f"{day}run {result['run_id']}: {result['state']} (not recorded)")
        return
    reasons = json.loads(run["trigger_reasons"]) if run["trigger_reasons"] else []
    outcome = run["outcome"] or run["status"]
    text = f"{day}triggers: {','.join(reasons) or 'none':<22} decision: {outcome:<8}"
    if comp:
        text += f" v{comp['challenger_version']} {comp['metric']} {comp['challenger_value']:.4g}"
        if comp["champion_version"] is not None:
            text += (
                f" vs champion v{comp['champion_version']} {comp['champion_value']:.4g}"
                f" ({comp['relative_improvement'] * 100:+.2f}%, p={comp['p_value']:.3g})"
            )
    if run["status"] == "failed":
        text += f"  FAILED: {run['error']}"
    print(text, flush=True)


def cmd_run(cfg: Config, args: argparse.Namespace) -> int:
    as_of = (
        _parse_date(args.as_of, "--as-of")
        if args.as_of
        else dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    )
    conf: dict[str, Any] = {"force_retrain": bool(args.force)}
    if args.data:
        conf["data_path"] = str(Path(args.data).resolve())
    _validate(cfg, [as_of], conf)
    return _drive(
        cfg,
        ["runs", "--dag-id", dag_ids(cfg.model)[0], "--conf", json.dumps(conf), as_of.isoformat()],
        total=1,
        unit="retrain",
        earliest=as_of,
    )


def cmd_simulate(cfg: Config, args: argparse.Namespace) -> int:
    """``simulate`` for one model (``--model``, or the only one)."""
    return simulate({cfg.model: cfg}, args)


def cmd_simulate_fleet(names: list[str], args: argparse.Namespace) -> int:
    """``simulate`` with several models and none named: every model, day by day."""
    from pipeline.config import load_config

    if args.data:
        raise ConfigError(
            f"--data is one model's data; with {len(names)} models name one with --model "
            "(each model's data_path is in its [models.NAME] table)."
        )
    return simulate({name: load_config(model=name) for name in names}, args)


def simulate(configs: dict[str, Config], args: argparse.Namespace) -> int:
    from pipeline.context import fires

    cfg = next(iter(configs.values()))
    if args.months < 1:
        raise ConfigError(f"--months must be at least 1. Got {args.months}.")
    if args.start:
        start = _parse_date(args.start, "--start")
    elif all(c.data_path is None for c in configs.values()) and not args.data:
        start = dt.datetime.fromisoformat(cfg.demo_start) + dt.timedelta(days=366)
    else:
        raise ConfigError(
            "simulate needs --start DATE when the data is your own (data_path or --data)."
        )
    start = start.replace(day=1, hour=2, minute=0, second=0, microsecond=0)
    dates = []
    for k in range(args.months):
        y, m = divmod(start.month - 1 + k, 12)
        dates.append(start.replace(year=start.year + y, month=m + 1))
    conf: dict[str, Any] = {"traffic": args.traffic}
    if args.data:
        conf["data_path"] = str(Path(args.data).resolve())
    for c in configs.values():
        _validate(c, dates, conf)
    first = dates[0].replace(hour=0)
    days = [first + dt.timedelta(days=d) for d in range((dates[-1] - dates[0]).days + 1)]
    checks = sum(len(fires(c.drift_schedule, day)) for c in configs.values() for day in days)
    models = f"{len(configs)} models ({', '.join(configs)})" if len(configs) > 1 else cfg.model
    print(
        f"Simulating {args.months} months of {models} through real Airflow DAG runs "
        f"({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}): each model's retraining DAG at its "
        f"schedule and its drift monitor at its drift_schedule ({checks} checks); a retraining "
        "also starts when the monitor asks for it.",
        flush=True,
    )
    runner = ["simulate", "--conf", json.dumps(conf), "--start", dates[0].isoformat()]
    runner += ["--end", dates[-1].isoformat()]
    for name in configs:
        runner += ["--model", name]
    rc = _drive(cfg, runner, total=checks, unit="drift", earliest=dates[0], configs=configs)
    with _registry(cfg) as reg:
        for name in configs:
            st = reg.scoped(name).status()
            champ = st["champion"]
            print(
                f"Done{f' ({name})' if len(configs) > 1 else ''}: champion "
                f"v{champ['version'] if champ else '-'}, {st['versions']} versions, "
                f"{st['pending_reviews']} pending reviews, {st['audit_events']} audit events."
            )
    return rc
