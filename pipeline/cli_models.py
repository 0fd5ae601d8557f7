"""``modelgate models list``: the catalog's models, one row each, with their registry's state."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("models", help="the catalog's models ([models.NAME] in modelgate.toml)")
    actions = p.add_subparsers(dest="models_command", required=True)
    ls = actions.add_parser(
        "list",
        help="one row per model: task, schedule, champion, last run and decision, drift, open "
        "reviews, live rollout",
    )
    ls.add_argument("--json", action="store_true")


def rows() -> list[dict[str, Any]]:
    """Each model's settings at a glance and its state in the (shared) registry: champion,
    last run and decision, last drift verdict, open reviews and live rollout. A model the
    registry holds but the catalog no longer names is listed too (``in_catalog`` false)."""
    from pipeline.catalog import model_names
    from pipeline.cli_common import _registry
    from pipeline.config import load_config

    names = model_names()
    configs = {name: load_config(model=name) for name in names}
    first = configs[names[0]]
    summaries: dict[str, dict[str, Any]] = {}
    held: list[str] = []
    if first.registry_db.exists():
        with _registry(first) as reg:
            held = reg.models()
            for name in dict.fromkeys([*names, *held]):
                summaries[name] = reg.scoped(name).summary()
    out = []
    for name in dict.fromkeys([*names, *held]):
        cfg = configs.get(name)
        st = summaries.get(name, {})
        run = st.get("last_run") or {}
        drift = st.get("drift") or {}
        out.append(
            {
                "model": name,
                "in_catalog": cfg is not None,
                "task": cfg.task if cfg else None,
                "target": cfg.target if cfg else None,
                "data": (str(cfg.data_path) if cfg.data_path else "demo") if cfg else None,
                "schedule": cfg.schedule if cfg else None,
                "champion": st.get("champion"),
                "last_run": run.get("as_of"),
                "last_decision": run.get("outcome"),
                "drift": None
                if not drift
                else {
                    "as_of": drift["as_of"],
                    "detected": bool(drift["drift_detected"]),
                    "score": drift["drift_score"],
                    "affected": drift["affected"],
                },
                "pending_reviews": st.get("pending_reviews", 0),
                "live_rollout": st.get("live_rollout"),
            }
        )
    return out


def cmd_models(cfg: Config | None, args: argparse.Namespace) -> int:
    from pipeline.cli_common import _print_json, _table

    listed = rows()
    if args.json:
        _print_json(listed)
        return 0
    table = []
    for r in listed:
        c, d, live = r["champion"], r["drift"], r["live_rollout"]
        value = "" if not c or c["value"] is None else f" {c['metric']} {c['value']:.4g}"
        table.append(
            {
                "model": r["model"] + ("" if r["in_catalog"] else " (not in the catalog)"),
                "task": r["task"] or "-",
                "schedule": r["schedule"] or "-",
                "champion": f"v{c['version']}{value}" if c else "none yet",
                "last run": (r["last_run"] or "-")[:16],
                "decision": r["last_decision"] or "-",
                "drift": "-"
                if not d
                else ("drift" if d["detected"] else "ok") + f" {d['as_of'][:10]}",
                "reviews": str(r["pending_reviews"]),
                "rollout": "-"
                if not live
                else f"v{live['version']} {live['share']:.0%} {live['status']}",
            }
        )
    print(_table(table, list(table[0])))
    return 0


def cmd_status_fleet(names: list[str], args: argparse.Namespace) -> int:
    """``status`` with several models and none chosen: each model's status, then the audit
    chain's verdict once (``--json``: ``{"models": [...]}``, each as ``status --json``)."""
    from pipeline.cli_admin import chain_line, print_status
    from pipeline.cli_common import _print_json, _registry
    from pipeline.config import load_config

    with _registry(load_config(model=names[0])) as reg:
        listed = [{"model": name, **reg.scoped(name).status()} for name in names]
        chain = reg.verify_audit()
    if args.json:
        _print_json({"models": listed})
        return 0
    for st in listed:
        print(f"Model:           {st['model']}")
        print_status(st)
        print()
    print(chain_line(listed[0]["audit_events"], chain))
    return 0


def cmd_reviews_fleet(names: list[str], args: argparse.Namespace) -> int:
    """``reviews`` with several models and none named: every model's queue, with a model column
    (``approve ID`` then finds the review's model by its id)."""
    from pipeline.cli_admin import cmd_reviews
    from pipeline.config import load_config

    args.every_model = True
    return cmd_reviews(load_config(model=names[0]), args)
