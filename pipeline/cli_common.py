"""What every ``modelgate`` command shares: the registry, dates, Airflow's environment, tables and JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ConfigError, ModelGateError

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


def airflow_db_migrate(cfg: Config) -> None:
    """Create or upgrade the embedded Airflow's metadata database (a no-op when it is current)."""
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
