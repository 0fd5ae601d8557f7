"""The ``modelgate`` command line.

The CLI is the composition root: the one module of ``pipeline`` that opens the registry (lazily) and
starts Airflow (as a subprocess). Every user error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Config, load_config
from pipeline.errors import ConfigError, ModelGateError
from pipeline.loop import DAG_ID

if TYPE_CHECKING:
    from registry.store import Registry

REPO_DAGS = Path(__file__).resolve().parent.parent / "dags"
DRIFT_COLUMNS = ("name", "kind", "ks", "p_value", "psi", "wasserstein", "missing_delta", "drifted")


# ------------------------------------------------------------------------------------------ helpers
def _registry(cfg: Config, create: bool = False) -> Registry:
    from registry import Registry

    return Registry.open(cfg, create=create)


def _parse_date(text: str, flag: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"{flag} must be an ISO date like 2025-03-01 or 2025-03-01T02:00. Got {text!r}."
        ) from exc
    try:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        value - dt.timedelta(days=366)  # room for the windows before it
    except OverflowError as exc:
        raise ConfigError(f"{flag} {text!r} is out of range (years 2 to 9999).") from exc
    return value


def airflow_env(cfg: Config) -> dict[str, str]:
    """Environment for the embedded Airflow: its home, our DAGs folder, SQLite, LocalExecutor."""
    env = dict(os.environ)
    # Airflow's standalone mode starts its parts as `airflow ...`: our environment's bin comes first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        {
            "AIRFLOW_HOME": str(cfg.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Embedded demo only: the API server listens on 127.0.0.1 and everyone local is admin.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "MODELGATE_HOME": str(cfg.home),
            "MODELGATE_REGISTRY_DB": str(cfg.registry_db),
            "MODELGATE_ARTIFACTS_DIR": str(cfg.artifacts_dir),
            "MODELGATE_AIRFLOW_HOME": str(cfg.airflow_home),
        }
    )
    if Path("modelgate.toml").is_file() and "MODELGATE_CONFIG" not in env:
        env["MODELGATE_CONFIG"] = str(Path("modelgate.toml").resolve())
    return env


def _airflow(cfg: Config) -> str:
    exe = Path(sys.executable).parent / "airflow"
    return str(exe) if exe.exists() else "airflow"


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    text = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()

    return "\n".join(
        [line(list(columns)), line(["-" * w for w in widths]), *(line(t) for t in text)]
    )


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v)) or "-"
    return str(v)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=None, sort_keys=True, default=str))


# ------------------------------------------------------------------------------------------ commands
def cmd_init(cfg: Config, args: argparse.Namespace) -> int:
    for d in (cfg.home, cfg.artifacts_dir, cfg.airflow_home):
        d.mkdir(parents=True, exist_ok=True)
    with _registry(cfg, create=True) as reg:
        st = reg.status()
    log = cfg.home / "logs" / "airflow-db-migrate.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        proc = subprocess.run(
            [_airflow(cfg), "db", "migrate"],
            env=airflow_env(cfg),
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0:
        raise ModelGateError(f"'airflow db migrate' failed (exit {proc.returncode}); see {log}.")
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
    with _registry(cfg) as reg:
        for d in dates:
            loop.preflight(
                cfg, reg, loop.RunContext(run_id="preflight", as_of=d, data_path=data_path)
            )


def _drive(
    cfg: Config,
    runner_args: list[str],
    *,
    total: int,
    unit_dag: str,
    earliest: dt.datetime | None = None,
) -> int:
    """Start the in-process DAG runner, follow its results, print progress and a line per retraining.

    ``total`` counts runs of ``unit_dag`` (the progress unit). Runs before the DAGs' start_date
    would execute no task, so the runner's DAGs start at ``earliest`` when that is earlier."""
    from pipeline import loop

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
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_DAGS.parent)
        )
        while True:
            done = proc.poll() is not None
            lines = out_path.read_text().splitlines()
            for line in lines[seen:]:
                result = json.loads(line)
                seen += 1
                failed += result["state"] != "success"
                if result["dag_id"] == unit_dag:
                    units += 1
                    _progress(units, total, started)
                if result["dag_id"] == loop.DAG_ID:
                    _summarise(cfg, result)
                elif result["dag_id"] == loop.ROLLOUT_DAG_ID:
                    _summarise_rollout(cfg, result)
                else:
                    _summarise_drift(cfg, result)
            if done:
                break
            time.sleep(0.2)
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


def _progress(i: int, n: int, started: float) -> None:
    if n <= 1:
        return
    if not sys.stderr.isatty() and i % max(1, n // 24) and i != n:
        return  # in a log, a line every ~4% is enough
    width = 24
    filled = round(width * i / n)
    bar = "#" * filled + "." * (width - filled)
    print(f"[{bar}] {i}/{n}, {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)


def _summarise_drift(cfg: Config, result: dict[str, Any]) -> None:
    """A line only when the monitor asked for a retraining."""
    with _registry(cfg) as reg:
        report = reg.drift_report_for_run(result["run_id"])
    if result["state"] != "success":
        print(
            f"{result['logical_date'][:10]}  drift monitor FAILED (see 'modelgate status')",
            flush=True,
        )
    elif report and report["retrain_requested"]:
        fired = [c["name"] for c in report["triggers"] if c["fired"]]
        affected = ", ".join(report["affected"][:4]) or "-"
        print(
            f"{result['logical_date'][:10]}  drift monitor: {','.join(fired)} (drifted: {affected}; "
            f"score {report['drift_score']:.2f}) -> retraining",
            flush=True,
        )


def _summarise_rollout(cfg: Config, result: dict[str, Any]) -> None:
    """A line when the rollout monitor did something (advance, promote, roll back, ...)."""
    day = result["logical_date"][:10]
    if result["state"] != "success":
        print(f"{day}  rollout monitor FAILED (see 'modelgate status')", flush=True)
        return
    with _registry(cfg) as reg:
        for r in reg.rollouts():
            for e in reg.rollout_events(r["id"]):
                if e["at"][:10] == day and e["kind"] != "started":
                    print(
                        f"{day}  rollout {r['id']} of v{r['version']}: {e['kind']} "
                        f"(challenger {e['share']:.0%}) - {e['reason']}",
                        flush=True,
                    )


def _summarise(cfg: Config, result: dict[str, Any]) -> None:
    with _registry(cfg) as reg:
        run = reg.get_run(result["run_id"])
        comp = reg.comparison(result["run_id"]) if run else None
    day = result["logical_date"][:10]
    if run is None:
        print(f"{day}  run {result['run_id']}: {result['state']} (not recorded)")
        return
    reasons = json.loads(run["trigger_reasons"]) if run["trigger_reasons"] else []
    outcome = run["outcome"] or run["status"]
    text = f"{day}  triggers: {','.join(reasons) or 'none':<22} decision: {outcome:<8}"
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
        ["runs", "--dag-id", DAG_ID, "--conf", json.dumps(conf), as_of.isoformat()],
        total=1,
        unit_dag=DAG_ID,
        earliest=as_of,
    )


def cmd_simulate(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import loop

    if args.months < 1:
        raise ConfigError(f"--months must be at least 1. Got {args.months}.")
    if args.start:
        start = _parse_date(args.start, "--start")
    elif cfg.data_path is None and not args.data:
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
    _validate(cfg, dates, conf)
    days = (dates[-1] - dates[0]).days + 1
    print(
        f"Simulating {args.months} months through real Airflow DAG runs: {DAG_ID} on the 1st of each "
        f"month ({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}) and the drift monitor on each of {days} days; "
        "a retraining also starts when the monitor asks for it.",
        flush=True,
    )
    rc = _drive(
        cfg,
        [
            "simulate",
            "--conf",
            json.dumps(conf),
            "--start",
            dates[0].isoformat(),
            "--end",
            dates[-1].isoformat(),
        ],
        total=days,
        unit_dag=loop.DRIFT_DAG_ID,
        earliest=dates[0],
    )
    with _registry(cfg) as reg:
        st = reg.status()
    champ = st["champion"]
    print(
        f"Done: champion v{champ['version'] if champ else '-'}, {st['versions']} versions, "
        f"{st['pending_reviews']} pending reviews, {st['audit_events']} audit events."
    )
    return rc


def cmd_status(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        st = reg.status()
        chain = reg.verify_audit()
    if args.json:
        _print_json(st)
        return 0
    c = st["champion"]
    if c:
        value = f"{c['metric']} {c['value']:.4g}" if c["value"] is not None else c["metric"]
        print(
            f"Champion:        v{c['version']} ({value}), since {c['promoted_at']} by {c['promoted_by']} "
            f"({c['kind']})"
        )
    else:
        print("Champion:        none yet")
    print(f"Versions:        {st['versions']}")
    print(f"Runs:            {st['runs']}")
    print(f"Pending reviews: {st['pending_reviews']}")
    print(
        f"Audit events:    {st['audit_events']} (chain {'verified' if chain.ok else 'BROKEN: ' + str(chain.problem)})"
    )
    return 0


def cmd_versions(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        champ = reg.current_champion()
        rows: list[dict[str, Any]] = []
        for v in reg.versions():
            rows.append(
                {
                    "version": v.version,
                    "champion": "*" if champ and champ.version == v.version else "",
                    "created_at": v.created_at,
                    "train_end": v.train_end[:10],
                    "train_rows": v.train_rows,
                    "metrics": v.metrics,
                    "sha256": v.sha256,
                    "run_id": v.run_id,
                }
            )
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        r["metrics"] = " ".join(f"{k}={val:.4g}" for k, val in r["metrics"].items())
        r["sha256"] = r["sha256"][:12]
    print(_table(rows, ["version", "champion", "train_end", "train_rows", "metrics", "sha256"]))
    return 0


def cmd_reviews(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        reviews = reg.reviews(None if args.all else "pending")
        rows: list[dict[str, Any]] = []
        for r in reviews:
            comp = reg.comparison(r.run_id) or {}
            rows.append(
                {
                    "id": r.id,
                    "version": r.challenger_version,
                    "vs_champion": r.expected_champion,
                    "status": r.status,
                    "metric": comp.get("metric"),
                    "improvement": comp.get("relative_improvement"),
                    "p_value": comp.get("p_value"),
                    "requested_at": r.requested_at,
                    "expires_at": r.expires_at,
                    "decided_by": r.decided_by,
                    "reason": r.reason,
                }
            )
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        if row["improvement"] is not None:
            row["improvement"] = f"{row['improvement'] * 100:+.2f}%"
    print(
        _table(
            rows,
            [
                "id",
                "version",
                "vs_champion",
                "status",
                "metric",
                "improvement",
                "p_value",
                "expires_at",
                "decided_by",
            ],
        )
    )
    return 0


def cmd_audit(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        if args.sign:
            if not args.by:
                raise ConfigError("audit --sign needs --by NAME (the signing is audited).")
            n = reg.sign_audit(args.by)
            print(f"Signed {n} events with MODELGATE_AUDIT_KEY.")
            return 0
        if args.verify:
            chain = reg.verify_audit()
            if args.json:
                _print_json(
                    {
                        "ok": chain.ok,
                        "events": chain.events,
                        "head": chain.head,
                        "first_bad_seq": chain.first_bad_seq,
                        "problem": chain.problem,
                        "problems": list(chain.problems),
                        "witnesses": list(chain.witnesses),
                    }
                )
            elif chain.ok:
                print(
                    f"Audit log verified: {chain.events} events, head {chain.head[:16]}…; "
                    + "; ".join(chain.witnesses)
                    + "; champion, history, versions and artifacts match the log."
                )
            else:
                where = f" at event {chain.first_bad_seq}" if chain.first_bad_seq else ""
                print(f"Audit log BROKEN{where}: {'; '.join(chain.problems)}.", file=sys.stderr)
            return 0 if chain.ok else 1
        rows = reg.audit_log(limit=args.limit, event=args.event)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        r["details"] = json.dumps(r["details"], sort_keys=True)[:80]
    print(_table(rows, ["seq", "at", "actor", "event", "entity", "entity_id", "details"]))
    return 0


def cmd_approve(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        review = admin.decide_approval(
            cfg, reg, by=args.by, review_id=args.review_id, reason=args.reason or ""
        )
        votes = len(reg.approvals(review.id))
    if review.status == "pending":
        print(
            f"Recorded {args.by}'s approval of review {review.id} ({votes} of "
            f"{cfg.approvals_required}); another admin must approve it too."
        )
        return 0
    print(
        f"Approved review {review.id}: version {review.challenger_version} is now the champion "
        f"(was v{review.expected_champion})."
    )
    return 0


def cmd_reject(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        review = admin.decide_rejection(
            cfg, reg, by=args.by, review_id=args.review_id, reason=args.reason
        )
    print(f"Rejected review {review.id}: version {review.challenger_version} stays out.")
    return 0


def cmd_rollback(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        champ, previous = admin.do_rollback(
            cfg,
            reg,
            by=args.by,
            reason=args.reason,
            to_version=args.to,
            expected_champion=args.expect,
        )
    print(f"Rolled back: champion v{previous} -> v{champ.version}.")
    return 0


def cmd_users(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import auth

    with _registry(cfg) as reg:
        if args.action == "add":
            if not args.name or not args.password_stdin:
                raise ConfigError(
                    "users add needs NAME, --role and --password-stdin (the password on standard input)."
                )
            role = auth.check_role(args.role)
            password = sys.stdin.readline().rstrip("\r\n")
            user = reg.add_user(
                username=auth.check_username(args.name),
                password_hash=auth.hash_password(password),
                role=role,
                by=os.environ.get("USER", "cli"),
            )
            print(f"Added user {user['username']} ({user['role']}).")
            return 0
        rows = reg.users()
    if args.json:
        _print_json(rows)
        return 0
    print(
        _table(
            rows, ["username", "role", "disabled", "failed_attempts", "locked_until", "created_at"]
        )
    )
    return 0


def cmd_rollout(cfg: Config, args: argparse.Namespace) -> int:
    """list | show ID | pause/resume/abort/promote/rollback ID --by USER --reason TEXT"""
    from pipeline import admin

    with _registry(cfg) as reg:
        if args.action == "list":
            rows = reg.rollouts()
            if args.json:
                _print_json(rows)
                return 0
            print(
                _table(
                    [{**r, "share": f"{r['share']:.0%}"} for r in rows],
                    [
                        "id",
                        "version",
                        "champion_version",
                        "strategy",
                        "status",
                        "share",
                        "started_at",
                        "ended_at",
                    ],
                )
            )
            return 0
        if args.id is None:
            raise ConfigError(f"rollout {args.action} needs the rollout ID.")
        if args.action == "show":
            row = reg.get_rollout(args.id)
            events = reg.rollout_events(args.id)
            analyses = reg.rollout_analyses(args.id)
            if args.json:
                _print_json({**row, "events": events, "analyses": analyses})
                return 0
            print(
                f"Rollout {row['id']}: version {row['version']} against champion "
                f"v{row['champion_version']}, {row['strategy']}, {row['status']}, challenger share "
                f"{row['share']:.0%} at step {row['step_index'] + 1} of {len(row['plan']['steps'])} "
                f"(seed {row['seed']})."
            )
            print(
                _table(
                    [{**e, "share": f"{e['share']:.0%}"} for e in events],
                    ["at", "kind", "share", "actor", "reason"],
                )
            )
            if analyses:
                last = analyses[-1]
                print(
                    f"Latest analysis ({last['at']}, step {last['step_index'] + 1}, per unit): "
                    f"n {last['n_champion']} / {last['n_challenger']}, "
                    f"mean loss {_cell(last['champion_mean'])} / {_cell(last['challenger_mean'])}, "
                    f"difference {_cell(last['difference'])} [{_cell(last['cs_low'])}, "
                    f"{_cell(last['cs_high'])}], SRM p {_cell(last['srm_p'])}: {last['action']}."
                )
            return 0
        row = admin.do_rollout_control(
            cfg,
            reg,
            by=args.by or "",
            rollout_id=args.id,
            action=args.action,
            reason=args.reason or "",
        )
    print(f"Rollout {row['id']}: {row['status']}, challenger share {row['share']:.0%}.")
    return 0


def cmd_traffic(cfg: Config, args: argparse.Namespace) -> int:
    """Serve demo traffic through the Router for the live rollout (labels arrive at once)."""
    from pipeline import loop

    if args.requests < 1:
        raise ConfigError(f"--requests must be at least 1. Got {args.requests}.")
    with _registry(cfg) as reg:
        live = reg.live_rollout()
        if live is None or live["status"] != "active":
            raise ModelGateError("No active rollout: there is nothing to split traffic for.")
        if args.as_of:
            as_of = _parse_date(args.as_of, "--as-of")
        else:  # the rollout's own clock: a day after its newest step or traffic
            last = max(filter(None, [live["step_started_at"], reg.last_served_at(live["id"])]))
            as_of = dt.datetime.fromisoformat(last) + dt.timedelta(days=1)
        ctx = loop.RunContext(
            run_id=f"traffic__{as_of:%Y-%m-%dT%H:%M}",
            as_of=as_of,
            data_path=Path(args.data).resolve() if args.data else None,
        )
        served = loop.serve_traffic(cfg, reg, ctx, args.requests)
    print(
        f"Served {args.requests} requests at {as_of:%Y-%m-%d %H:%M} for rollout {live['id']}: "
        f"{served['champion']} champion, {served['challenger']} challenger, all labelled."
    )
    return 0


def cmd_promotions(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        rows = reg.pending_promotions(None if args.all else "pending")
    if args.json:
        _print_json(rows)
        return 0
    print(
        _table(
            rows,
            [
                "id",
                "version",
                "expected_champion",
                "announced_at",
                "due_at",
                "status",
                "decided_by",
            ],
        )
    )
    return 0


def cmd_veto(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline.notify import deliver

    with _registry(cfg) as reg:
        row = reg.veto_promotion(args.promotion_id, by=args.by, reason=args.reason)
        deliver(cfg, reg)
    print(f"Vetoed promotion {row['id']}: version {row['version']} will not become champion.")
    return 0


def cmd_notify(cfg: Config, args: argparse.Namespace) -> int:
    """Send a test email now (not through the outbox) and say what happened in one line."""
    from pipeline.notify import recipients, render, send_email

    r = render(cfg, "test", {"as_of": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    send_email(cfg, subject=r.subject, text=r.text, html_body=r.html, to=recipients(cfg))
    print(
        f"Sent a test email through {cfg.smtp_host}:{cfg.smtp_port} to {', '.join(recipients(cfg))}."
    )
    return 0


def cmd_outbox(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        rows = reg.outbox(limit=args.limit)
    if args.json:
        _print_json([{k: v for k, v in r.items() if k not in ("text", "html")} for r in rows])
        return 0
    print(
        _table(
            rows,
            ["id", "created_at", "event", "channel", "status", "attempts", "subject", "last_error"],
        )
    )
    return 0


def cmd_drift(cfg: Config, args: argparse.Namespace) -> int:
    """Compare two CSV/Parquet files ad hoc: exact statistics, no registry, no model."""
    from pipeline import data as data_mod
    from pipeline import drift

    ref = data_mod.read_source(Path(args.reference))
    cur = data_mod.read_source(Path(args.current))
    skip = {args.target, args.timestamp} - {None}
    features = [c for c in ref.columns if c not in skip]
    missing = [c for c in features if c not in cur.columns]
    if missing:
        raise ModelGateError(
            f"{args.current}: column {missing[0]!r} of {args.reference} is missing."
        )
    if not features:
        raise ModelGateError(f"{args.reference}: no columns to compare.")
    categorical = [c for c in features if not _numeric_like(ref[c]) or not _numeric_like(cur[c])]
    for c in features:
        if c not in categorical:
            ref[c], cur[c] = ref[c].astype(float), cur[c].astype(float)
    report = drift.detect_drift(
        ref, cur, features=features, categorical=categorical, thresholds=cfg.drift_thresholds()
    )
    if args.json:
        out = {
            "drift_detected": report.drift_detected,
            "drift_type": report.drift_type,
            "drift_score": report.drift_score,
            "status": report.status,
            "recommendation": report.recommendation,
            "features": [{k: f.to_dict()[k] for k in DRIFT_COLUMNS} for f in report.features],
        }
        _print_json(out)
        return 0
    print(report.recommendation)
    rows = [{**f.to_dict(), "reasons": "; ".join(f.reasons)} for f in report.features]
    print(
        _table(
            rows,
            [*DRIFT_COLUMNS, "reasons"],
        )
    )
    return 0


def _numeric_like(col: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


DASHBOARD_APP = REPO_DAGS.parent / "dashboard" / "app.py"


def dashboard_command(port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def _check_dashboard(cfg: Config) -> None:
    if not cfg.registry_db.exists():
        raise ModelGateError(f"No registry at {cfg.registry_db}; run 'modelgate init' first.")
    with _registry(cfg) as reg:
        if not any(u["role"] == "admin" and not u["disabled"] for u in reg.users()):
            print(
                "No dashboard admin yet: add one with "
                "'modelgate users add NAME --role admin --password-stdin'.",
                file=sys.stderr,
            )


def cmd_dashboard(cfg: Config, args: argparse.Namespace) -> int:
    """Serve the dashboard in the foreground: this process becomes Streamlit (exec), so Ctrl-C
    and SIGTERM reach the server itself and nothing is left running."""
    _check_dashboard(cfg)
    print(f"Dashboard: http://{args.address}:{args.port}  (Ctrl-C stops it)", flush=True)
    command = dashboard_command(args.port, args.address)
    os.execv(command[0], command)
    return 0  # not reached


def cmd_up(cfg: Config, args: argparse.Namespace) -> int:
    """Start the embedded Airflow (standalone) and, when it exists, the dashboard; Ctrl-C stops them."""
    if not cfg.registry_db.exists():
        raise ModelGateError(f"No registry at {cfg.registry_db}; run 'modelgate init' first.")
    logs = cfg.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = airflow_env(cfg)
    env["AIRFLOW__API__PORT"] = str(args.airflow_port)
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    af_log = logs / "airflow-standalone.log"
    procs.append(
        (
            "airflow",
            subprocess.Popen(
                [_airflow(cfg), "standalone"],
                env=env,
                stdout=af_log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ),
            af_log,
        )
    )
    _check_dashboard(cfg)
    st_log = logs / "dashboard.log"
    procs.append(
        (
            "dashboard",
            subprocess.Popen(
                dashboard_command(args.dashboard_port),
                env=env,
                stdout=st_log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ),
            st_log,
        )
    )
    print(
        f"Airflow (scheduler, DAG processor, API server): http://127.0.0.1:{args.airflow_port}  "
        f"log: {af_log}"
    )
    print(f"Dashboard: http://127.0.0.1:{args.dashboard_port}  log: {st_log}")
    from pipeline.notify import destination

    print(destination(cfg))
    print("Press Ctrl-C to stop everything started here.", flush=True)
    deadline = time.monotonic() + args.seconds if args.seconds else None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the children like Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    try:
        while deadline is None or time.monotonic() < deadline:
            for name, p, log in procs:
                if p.poll() is not None:
                    raise ModelGateError(f"{name} exited with code {p.returncode}; see {log}.")
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for _, p, _ in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    return 0


# ------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelgate",
        description=(
            "Gated retraining: Airflow retrains a challenger, compares it with the champion on the same "
            "holdout, then promotes it, queues it for review or rejects it. Settings come from "
            "modelgate.toml and MODELGATE_* variables (see the README)."
        ),
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", help="create the home folder, registry and embedded Airflow home")

    p = sub.add_parser("run", help="one real DAG run of the retraining loop")
    p.add_argument("--as-of", help="the run's data interval end (default: now, to the hour)")
    p.add_argument("--force", action="store_true", help="retrain even if no trigger fires")
    p.add_argument("--data", help="CSV/Parquet file or folder (overrides data_path)")

    p = sub.add_parser("simulate", help="N consecutive monthly DAG runs through real Airflow")
    p.add_argument("--months", type=int, required=True)
    p.add_argument(
        "--start", help="first run's month (default for the demo data: a year after demo_start)"
    )
    p.add_argument("--data", help="CSV/Parquet file or folder (overrides data_path)")
    p.add_argument(
        "--traffic",
        type=int,
        default=20000,
        help="demo requests per day through the Router while a rollout is live (default 20000)",
    )

    p = sub.add_parser("rollout", help="list, show, pause, resume, abort or force-finish rollouts")
    p.add_argument(
        "action", choices=["list", "show", "pause", "resume", "abort", "promote", "rollback"]
    )
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("--by", help="who (pause/resume/abort/promote/rollback)")
    p.add_argument("--reason", help="why (pause/resume/abort/promote/rollback)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("traffic", help="serve demo traffic through the rollout's Router")
    p.add_argument("action", choices=["simulate"])
    p.add_argument("--requests", type=int, required=True)
    p.add_argument(
        "--as-of", help="serving time (default: a day after the rollout's last step or traffic)"
    )
    p.add_argument("--data", help="CSV/Parquet file or folder (overrides data_path)")

    for name, helptext in (
        ("status", "champion, counts and the audit chain"),
        ("versions", "model versions"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("reviews", help="pending reviews (--all for every review)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser(
        "audit",
        help="the audit log; --verify checks its hash chain, its checkpoint, its signatures "
        "(with MODELGATE_AUDIT_KEY) and the champion, versions and artifacts against it",
    )
    p.add_argument("--verify", action="store_true")
    p.add_argument(
        "--sign",
        action="store_true",
        help="sign the events written before MODELGATE_AUDIT_KEY was set (once; needs --by)",
    )
    p.add_argument("--by", help="who signs (--sign)")
    p.add_argument("--event", help="only this event type")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("approve", help="approve a pending review: its challenger becomes champion")
    p.add_argument("review_id", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--reason")
    p = sub.add_parser("reject", help="reject a pending review")
    p.add_argument("review_id", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    p = sub.add_parser("rollback", help="make an earlier version champion again")
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--to", type=int, help="version to restore (default: the previous champion)")
    p.add_argument(
        "--expect",
        type=int,
        metavar="VERSION",
        help="the champion you mean to replace; refused (Conflict) if it is no longer champion "
        "(default: the champion read just before, so two concurrent rollbacks cannot toggle)",
    )

    p = sub.add_parser(
        "users", help="'users add NAME --role admin|viewer --password-stdin', 'users list'"
    )
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", default="viewer")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.add_argument("--json", action="store_true")
    p = sub.add_parser(
        "promotions", help="announced automatic promotions (--all: also applied and vetoed)"
    )
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("veto", help="stop an announced promotion before its notice period ends")
    p.add_argument("promotion_id", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    p = sub.add_parser(
        "notify", help="'notify test' sends a test email and reports the SMTP result"
    )
    p.add_argument("action", choices=["test"])
    p = sub.add_parser("outbox", help="recent notifications: status, attempts, last error")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "drift", help="compare two CSV/Parquet files for drift (exit 0 when computed)"
    )
    p.add_argument("reference")
    p.add_argument("current")
    p.add_argument("--target", help="column to leave out (the label)")
    p.add_argument("--timestamp", help="column to leave out (the time)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "dashboard", help="serve the dashboard (sign in with a user from 'modelgate users')"
    )
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--address", default="127.0.0.1", help="interface to listen on (default: this machine only)"
    )

    p = sub.add_parser(
        "up", help="start the embedded Airflow scheduler and the dashboard; Ctrl-C stops both"
    )
    p.add_argument("--airflow-port", type=int, default=8080)
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    return ap


COMMANDS = {
    "init": cmd_init,
    "run": cmd_run,
    "simulate": cmd_simulate,
    "status": cmd_status,
    "versions": cmd_versions,
    "reviews": cmd_reviews,
    "audit": cmd_audit,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "rollback": cmd_rollback,
    "drift": cmd_drift,
    "notify": cmd_notify,
    "promotions": cmd_promotions,
    "users": cmd_users,
    "veto": cmd_veto,
    "outbox": cmd_outbox,
    "rollout": cmd_rollout,
    "traffic": cmd_traffic,
    "dashboard": cmd_dashboard,
    "up": cmd_up,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config()
        return COMMANDS[args.command](cfg, args)
    except ModelGateError as exc:
        print(f"modelgate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
