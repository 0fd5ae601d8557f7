"""``modelgate decisions list`` and ``modelgate decisions show ID``: every decision the policy
made, and the evidence record behind one (``pipeline.judge``), as text or JSON; and
``modelgate leaderboard``: the versions scored on the same recent window (``pipeline.leaderboard``)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "decisions",
        help="'decisions list': the policy's decisions; 'decisions show ID': the evidence behind one",
    )
    p.add_argument("action", choices=["list", "show"])
    p.add_argument("id", type=int, nargs="?", help="the decision (show)")
    p.add_argument("--limit", type=int, default=50, help="decisions to list (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser(
        "leaderboard",
        help="score the champion and the newest versions on the same recent window, and print it",
    )
    p.add_argument("--as-of", help="the window's end (default: the registry's clock)")
    p.add_argument("--data", help="CSV/Parquet file or folder (overrides data_path)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_leaderboard(cfg: Config, args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from pipeline import leaderboard
    from pipeline.cli_common import _parse_date, _print_json, _registry, _table
    from pipeline.errors import ModelGateError

    with _registry(cfg) as reg:
        when = (
            _parse_date(args.as_of, "--as-of")
            if args.as_of
            else dt.datetime.fromisoformat(reg.effective_now()).replace(microsecond=0)
        )
        board = leaderboard.score(cfg, reg, when, data_path=Path(args.data) if args.data else None)
    if board is None:
        raise ModelGateError(
            f"Nothing to score at {when:%Y-%m-%d %H:%M}: no versions yet, or fewer than "
            f"{cfg.min_holdout_rows} labelled rows in the {cfg.holdout_days} days before it."
        )
    if args.json:
        _print_json(board)
        return 0
    print(
        f"Leaderboard of model '{cfg.model}': {board['metric']} on {board['n_rows']:,} labelled "
        f"rows from {board['window_start'][:16]} to {board['window_end'][:16]} "
        f"(rows {board['fingerprint'][:12]})"
    )
    for r in board["scores"]:
        r["role"] = "champion" if r.get("champion") else ""
        r["in_sample"] = "yes (trained on part of it)" if r.get("in_sample") else ""
    print(_table(board["scores"], ["rank", "version", "role", "value", "in_sample"]))
    return 0


def cmd_decisions(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline.cli_common import _print_json, _registry, _table
    from pipeline.errors import ModelGateError
    from pipeline.evidence_view import render_text

    if args.action == "show":
        if args.id is None:
            raise ModelGateError("decisions show needs the decision's id (see 'decisions list').")
        with _registry(cfg) as reg:
            ev = reg.evidence(args.id)
        if args.json:
            _print_json(ev)
        else:
            print(render_text(ev, _table))
        return 0
    every = getattr(args, "every_model", None) or [cfg.model]
    rows: list[dict[str, Any]] = []
    with _registry(cfg) as reg:
        for name in every:
            rows += [{"model": name, **d} for d in reg.scoped(name).decisions(args.limit)]
    rows.sort(key=lambda r: -int(r["id"]))
    rows = rows[: args.limit]
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        imp = r.get("relative_improvement")
        r["improvement"] = None if imp is None else f"{imp * 100:+.2f}%"
        r["evidence"] = "yes" if r.get("evidence") else "no"
    columns = [
        "id",
        "as_of",
        "version",
        "champion",
        "outcome",
        "metric",
        "improvement",
        "p_value",
        "evidence",
    ]
    print(_table(rows, [*(["model"] if len(every) > 1 else []), *columns]))
    return 0


def cmd_decisions_fleet(names: list[str], args: argparse.Namespace) -> int:
    """With several models and none named: list every model's decisions; show finds the
    decision's model by its (registry-wide) id."""
    from pipeline.cli_common import _registry
    from pipeline.config import load_config

    if args.action == "show" and args.id is not None:
        with _registry(load_config(model=names[0])) as reg:
            owner = reg.model_of("decision", args.id)
        return cmd_decisions(load_config(model=owner or names[0]), args)
    args.every_model = names
    return cmd_decisions(load_config(model=names[0]), args)
