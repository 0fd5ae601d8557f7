"""The model catalog: one ``[models.NAME]`` table per model in ``modelgate.toml``.

Each table sets what is the model's own (data, target, task, features, estimator, schedule,
policy, drift, rollout, recipients); anything it leaves unset comes from the top-level settings.
Without a catalog, the top-level settings are one model called ``default``. Settings that belong
to the whole installation (where the registry and Airflow live, the SMTP server, the audit key,
the thread budget) cannot be set per model: every model lives in one registry, each row marked
with its model's name, under one audit chain.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DEFAULT_MODEL = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Settings of the whole installation, never of one model.
GLOBAL_ONLY = frozenset(
    {
        "home",
        "registry_db",
        "artifacts_dir",
        "audit_checkpoint",
        "airflow_home",
        "audit_key",
        "n_threads",
        "smtp_host",
        "smtp_port",
        "smtp_starttls",
        "smtp_ssl",
        "smtp_user",
        "smtp_password",
        "smtp_from",
        "smtp_ca_file",
        "smtp_timeout_seconds",
        "notify_retry_base_seconds",
        "dashboard_refresh_seconds",
    }
)


def model_tables(data: Mapping[str, Any], path: Path) -> dict[str, Any] | None:
    """The ``[models.NAME]`` tables of a config file as written (None: no catalog). Only the
    catalog's shape is checked here; each model's table is checked when that model is loaded
    (``check_table``), so one bad model does not stop the others (their DAGs, for one)."""
    models = data.get("models")
    if models is None:
        return None
    if not isinstance(models, dict) or not models:
        raise ConfigError(
            f"Config file {path}: [models] must hold one [models.NAME] table per model."
        )
    return dict(models)


def check_table(
    name: str, table: Any, path: Path, known: Mapping[str, Any], renamed: Mapping[str, str]
) -> dict[str, Any]:
    """Model ``name``'s settings from its table, checked: its name, that it is a table, and
    that each key is a known setting a model may set."""
    if not NAME.match(name):
        raise ConfigError(
            f"Config file {path}: model name {name!r} must be lowercase letters, digits, '_' "
            "or '-', starting with a letter or digit (at most 63)."
        )
    if not isinstance(table, dict):
        raise ConfigError(f"Config file {path}: [models.{name}] must be a table of settings.")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        key = renamed.get(key, key)
        if key not in known:
            raise ConfigError(f"Model {name!r} in {path}: unknown setting {key!r}.")
        if key in GLOBAL_ONLY:
            raise ConfigError(
                f"Model {name!r} in {path}: {key!r} is a setting of the whole ModelGate; "
                "set it at the top level."
            )
        settings[key] = value
    return settings


def choose(models: Mapping[str, Any] | None, model: str | None, path: Path | None) -> str:
    """The model a command concerns: the one named, the only one, or an error listing them."""
    where = str(path) if path is not None else "the configuration"
    if models is None:
        if model not in (None, DEFAULT_MODEL):
            raise ConfigError(
                f"No model {model!r}: {where} has no [models] catalog, so its only model is "
                f"{DEFAULT_MODEL!r}."
            )
        return DEFAULT_MODEL
    if model is None:
        if len(models) == 1:
            return next(iter(models))
        raise ConfigError(
            f"{where} names {len(models)} models ({', '.join(models)}); choose one with "
            "--model NAME (or MODELGATE_MODEL)."
        )
    if model not in models:
        raise ConfigError(f"No model {model!r} in {where}; its models: {', '.join(models)}.")
    return model


def config_file(
    env: Mapping[str, str], path: str | Path | None
) -> tuple[dict[str, Any], Path | None]:
    """The config file's settings (a [modelgate] table unwrapped) and its path (None: none)."""
    data: dict[str, Any] = {}
    toml_path = Path(path) if path is not None else None
    if toml_path is None and env.get("MODELGATE_CONFIG"):
        toml_path = Path(env["MODELGATE_CONFIG"])
    if toml_path is None and Path("modelgate.toml").is_file():
        toml_path = Path("modelgate.toml")
    home = Path(env.get("MODELGATE_HOME") or ".modelgate") / "modelgate.toml"
    if toml_path is None and home.is_file():  # the catalog kept with the registry (make demo)
        toml_path = home
    if toml_path is not None:
        data = read_toml(toml_path, "Config file")
        if "modelgate" in data and isinstance(data["modelgate"], dict) and "models" in data:
            data = {**data["modelgate"], "models": data["models"]}  # [modelgate] and [models.X]
        if "modelgate" in data:
            if not isinstance(data["modelgate"], dict) or len(data) > 1:
                raise ConfigError(
                    f"Config file {toml_path}: put every setting in the [modelgate] table or none."
                )
            data = data["modelgate"]
    return data, toml_path


def model_names(
    env: Mapping[str, str] | None = None, path: str | Path | None = None, *, check: bool = True
) -> list[str]:
    """The catalog's model names (``["default"]`` without a catalog). With ``check`` each
    model's settings are checked too: a bad catalog fails here in one line naming the model and
    the setting. Without, only the file and the catalog's shape are (the DAG files check each
    model on its own)."""
    env = os.environ if env is None else env
    data, toml_path = config_file(env, path)
    models = model_tables(data, toml_path) if toml_path is not None else None
    names = list(models) if models else [DEFAULT_MODEL]
    if check:
        from pipeline.config import load_config

        for name in names:
            load_config(env, path, model=name if models else None)
    return names


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's content, or one line saying why it cannot be had (``what``: "Config file")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{what} {path} is a folder, not a TOML file.") from exc
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc
