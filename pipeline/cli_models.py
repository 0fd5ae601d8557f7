"""``modelgate models list``: the catalog's models, one row each, with their registry's state."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("models", help="the catalog's models ([models.NAME] in modelgate.toml)")
    actions = p.add_subparsers(dest="models_command", required=True)
    ls = actions.add_parser(
        "list", help="one row per model: task, target, data, schedule, champion, open reviews"
    )
    ls.add_argument("--json", action="store_true")


def rows() -> list[dict[str, Any]]:
    """Each model's settings at a glance and, where its registry exists, its champion, runs and
    open reviews."""
    from pipeline.catalog import model_names
    from pipeline.cli_common import _registry
    from pipeline.config import load_config

    out = []
    for name in model_names():
        cfg = load_config(model=name)
        row: dict[str, Any] = {
            "model": name,
            "task": cfg.task,
            "target": cfg.target,
            "data": str(cfg.data_path) if cfg.data_path else "demo",
            "schedule": cfg.schedule,
            "registry": str(cfg.registry_db),
            "champion": None,
            "runs": 0,
            "pending_reviews": 0,
        }
        if cfg.registry_db.exists():
            with _registry(cfg) as reg:
                st = reg.status()
            row.update(
                champion=st["champion"], runs=st["runs"], pending_reviews=st["pending_reviews"]
            )
        out.append(row)
    return out


def cmd_models(cfg: Config | None, args: argparse.Namespace) -> int:
    from pipeline.cli_common import _print_json

    listed = rows()
    if args.json:
        _print_json(listed)
        return 0
    print(f"{'model':<20} {'task':<15} {'target':<20} {'schedule':<12} {'champion':<22} reviews")
    for r in listed:
        c = r["champion"]
        champ = "none yet" if not c else f"v{c['version']} {c['metric']} {c['value']:.4g}"
        print(
            f"{r['model']:<20} {r['task']:<15} {r['target']:<20} {r['schedule']:<12} "
            f"{champ:<22} {r['pending_reviews']}"
        )
    return 0
