"""``modelgate rollout`` and ``traffic``: rollouts by hand and demo traffic."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.errors import ConfigError, ModelGateError

if TYPE_CHECKING:
    pass

from pipeline.cli_common import (
    _cell,
    _parse_date,
    _print_json,
    _registry,
    _table,
)


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
