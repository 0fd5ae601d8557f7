"""``modelgate drift`` (two files, ad hoc) and ``dashboard``; ``up`` (the whole stack) is in ``cli_up``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ModelGateError

if TYPE_CHECKING:
    pass

from pipeline.cli_common import (
    DRIFT_COLUMNS,
    REPO_DAGS,
    _print_json,
    _registry,
    _table,
)


def cmd_drift(cfg: Config, args: argparse.Namespace) -> int:
    """Compare two CSV/Parquet files ad hoc: exact statistics, no registry, no model."""
    import pandas as pd

    from pipeline import data as data_mod
    from pipeline import drift

    ref = data_mod.read_source(Path(args.reference))
    cur = data_mod.read_source(Path(args.current))
    skip = {args.target, args.timestamp} - {None}
    if args.timestamp is None:  # a time column is never a feature: it drifts by definition
        times = {
            c
            for c in ref.columns
            if c == cfg.timestamp_column or pd.api.types.is_datetime64_any_dtype(ref[c])
        }
        if times:
            print(
                f"Left out as time: {', '.join(sorted(times))} (--timestamp names another).",
                file=sys.stderr,
            )
        skip |= times
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
        ref,
        cur,
        features=features,
        categorical=categorical,
        thresholds=cfg.drift_thresholds(),
        n_threads=cfg.n_threads,
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
    if getattr(args, "named_model", None):  # the model the pages open on (the picker changes it)
        os.environ["MODELGATE_MODEL"] = cfg.model
    os.execv(command[0], command)
    return 0  # not reached
