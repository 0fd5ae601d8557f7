"""The ``modelgate`` command line.

The CLI is the composition root: the one part of ``pipeline`` that opens the registry (lazily) and
starts Airflow (as a subprocess). This module holds the parser and ``main``; the commands live by
domain in ``cli_runs`` (init, run, simulate), ``cli_admin`` (status, reviews, audit, users,
notifications), ``cli_decisions`` (decisions and their evidence), ``cli_rollout`` (rollout,
traffic), ``cli_serve`` (drift, dashboard) and ``cli_up`` (up), over the helpers in ``cli_common``. Every user error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.catalog import model_names
from pipeline.config import Config, load_config
from pipeline.errors import ModelGateError

if TYPE_CHECKING:
    pass

from pipeline.cli_admin import (
    cmd_approve,
    cmd_audit,
    cmd_notify,
    cmd_outbox,
    cmd_promotions,
    cmd_reject,
    cmd_reviews,
    cmd_rollback,
    cmd_status,
    cmd_users,
    cmd_versions,
    cmd_veto,
)
from pipeline.cli_common import (  # noqa: F401
    DRIFT_COLUMNS,
    REPO_DAGS,
    _airflow,
    _cell,
    _parse_date,
    _print_json,
    _registry,
    _table,
    airflow_env,
)
from pipeline.cli_decisions import add_parser as add_decisions_parser
from pipeline.cli_decisions import cmd_decisions, cmd_decisions_fleet, cmd_leaderboard
from pipeline.cli_models import add_parser as add_models_parser
from pipeline.cli_models import cmd_models, cmd_reviews_fleet, cmd_status_fleet
from pipeline.cli_rollout import cmd_rollout, cmd_traffic
from pipeline.cli_runs import cmd_init, cmd_run, cmd_simulate, cmd_simulate_fleet
from pipeline.cli_schema import add_parser as add_schema_parser
from pipeline.cli_schema import cmd_schema
from pipeline.cli_serve import DASHBOARD_APP, cmd_dashboard, cmd_drift, dashboard_command  # noqa: F401
from pipeline.cli_up import cmd_up


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
    p.add_argument(
        "--timestamp",
        help="column to leave out (the time); default: timestamp_column and datetime columns",
    )
    p.add_argument("--json", action="store_true")

    add_decisions_parser(sub)
    add_schema_parser(sub)
    add_models_parser(sub)

    p = sub.add_parser(
        "dashboard", help="serve the dashboard (sign in with a user from 'modelgate users')"
    )
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--address", default="127.0.0.1", help="interface to listen on (default: this machine only)"
    )

    p = sub.add_parser(
        "up",
        help="start the embedded Airflow (its API server first, then the scheduler, DAG processor "
        "and triggerer) and the dashboard; Ctrl-C stops them",
    )
    p.add_argument("--airflow-port", type=int, default=8080)
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument(
        "--start-timeout",
        type=float,
        default=300,
        help="seconds to wait for Airflow's API server before starting the rest (default 300)",
    )
    p.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    # One model of the catalog: before or after the command (modelgate --model a run / run --model a).
    model_help = "the catalog's model ([models.NAME]); default MODELGATE_MODEL, else the only one"
    ap.add_argument("--model", help=model_help)
    for p in sub.choices.values():
        if p.prog.split()[-1] not in UNSCOPED:
            p.add_argument("--model", default=argparse.SUPPRESS, help=model_help)
    return ap


# Commands that concern no single model (they read the catalog, or files alone).
UNSCOPED = ("models",)

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
    "schema": cmd_schema,
    "decisions": cmd_decisions,
    "leaderboard": cmd_leaderboard,
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


# Commands of the whole installation: with several models they need none (the registry, Airflow
# and the users are every model's; audit and outbox list every model's events unless one is named).
INSTALLATION = ("init", "users", "audit", "outbox", "notify", "dashboard", "up")
# Commands that, with several models and none named, cover every model.
FLEET = {
    "status": cmd_status_fleet,
    "simulate": cmd_simulate_fleet,
    "reviews": cmd_reviews_fleet,
    "decisions": cmd_decisions_fleet,
}
# Commands whose id (registry-wide) names the model when none is: (kind, argument).
BY_ID = {
    "approve": ("review", "review_id"),
    "reject": ("review", "review_id"),
    "veto": ("promotion", "promotion_id"),
}


def _model_of(names: list[str], args: argparse.Namespace) -> Config:
    """The settings of the model ``args``' review or promotion id belongs to."""
    kind, attr = BY_ID[args.command]
    with _registry(load_config(model=names[0])) as reg:
        model = reg.model_of(kind, getattr(args, attr))
    return load_config(model=model or names[0])  # none: the command says it does not exist


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":  # the whole catalog, not one model
            return cmd_models(None, args)
        named = args.model or os.environ.get("MODELGATE_MODEL")
        args.named_model = named  # None: the command was not given a model
        if not named and args.command in (*FLEET, *INSTALLATION, *BY_ID):
            names = model_names()
            if len(names) > 1:  # several models and none named
                if args.command in FLEET:  # every model's
                    return FLEET[args.command](names, args)
                # a registry-wide id names its model; else the installation's, whichever
                # model's settings carry it
                by_id = args.command in BY_ID
                cfg = _model_of(names, args) if by_id else load_config(model=names[0])
                return COMMANDS[args.command](cfg, args)
        return COMMANDS[args.command](load_config(model=args.model), args)
    except ModelGateError as exc:
        print(f"modelgate: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # 'modelgate audit | head': the reader left; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit must not raise again
        return 128 + 13  # killed by SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
