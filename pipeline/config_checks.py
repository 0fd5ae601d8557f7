"""Turning raw setting values (TOML values, environment strings, CLI flags) into typed values,
and the checks that span several settings, for ``pipeline.config.load_config``."""

from __future__ import annotations

import json
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import DEFAULT_ESTIMATOR, DEFAULT_METRIC, METRICS, SETTINGS_BY_NAME, Setting
from pipeline.settings_gate import check_gate


def bad_value(setting: Setting, value: Any, source: str, expected: str) -> ConfigError:
    return ConfigError(
        f"The '{setting.name}' setting ({source}) must be {expected}. Got {value!r} instead."
    )


def coerce(setting: Setting, value: Any, source: str) -> Any:
    """Turn a TOML value or an environment string into the setting's type, or raise ConfigError."""
    if value is None or (isinstance(value, str) and value.strip() == "" and setting.optional):
        if setting.optional:
            return None
        raise bad_value(setting, value, source, "set")
    kind = setting.kind
    from_env = isinstance(value, str) and source.startswith("env")
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if from_env and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if from_env and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, (bool, float)) or (isinstance(value, str) and not from_env):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if out != out:  # NaN
                raise ValueError
            return out
        if kind in ("str", "path"):
            if not isinstance(value, str) or not value.strip():
                raise ValueError
            return value.strip()
        if kind == "list":
            if from_env:
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError
            return tuple(value)
        if kind == "table":
            if from_env:
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (ValueError, TypeError) as exc:
        expected = {
            "bool": "a boolean (true/false)",
            "int": "an int",
            "float": "a float",
            "str": "a non-empty string",
            "path": "a non-empty path",
            "list": "a list of strings (comma-separated in the environment)",
            "table": "a table of keyword arguments (a JSON object in the environment)",
        }[kind]
        raise bad_value(setting, value, source, expected) from exc
    raise AssertionError(kind)  # pragma: no cover


def cross_check(values: dict[str, Any], raw: dict[str, tuple[Any, str]]) -> None:
    """Fill the task's defaults (metric, estimator) into ``values`` and check what no single
    setting can: a ConfigError naming the setting, its source and what it must be."""
    task = values["task"]
    if values["primary_metric"] is None:
        values["primary_metric"] = DEFAULT_METRIC[task]
    if values["primary_metric"] not in METRICS[task]:
        raise bad_value(
            SETTINGS_BY_NAME["primary_metric"],
            values["primary_metric"],
            raw["primary_metric"][1],
            f"one of {', '.join(METRICS[task])} for task '{task}'",
        )
    if values["estimator"] is None:
        values["estimator"] = DEFAULT_ESTIMATOR[task]
    if values["min_relative_improvement"] > values["auto_promote_threshold"]:
        raise ConfigError(
            "The 'min_relative_improvement' setting must not exceed 'auto_promote_threshold' "
            f"({values['auto_promote_threshold']}). Got {values['min_relative_improvement']} instead."
        )
    check_gate(
        values,
        METRICS[task],
        lambda name, expected: _raise(
            bad_value(SETTINGS_BY_NAME[name], values[name], raw[name][1], expected)
        ),
    )
    if values["baseline"] in ("last_value", "seasonal_naive") and not values["key_columns"]:
        raise bad_value(
            SETTINGS_BY_NAME["baseline"],
            values["baseline"],
            raw["baseline"][1],
            "mean or none unless key_columns names the series to follow",
        )
    for name in ("start_date", "demo_start", "demo_data_drift_date", "demo_concept_drift_date"):
        _check_date(SETTINGS_BY_NAME[name], values[name], raw[name][1])
    steps = [float(v) for v in values["rollout_steps"] or ()]
    ramp = values["rollout_strategy"] in ("canary", "gradual")
    if ramp and steps and (steps != sorted(set(steps)) or steps[-1] != 100):
        raise bad_value(
            SETTINGS_BY_NAME["rollout_steps"],
            values["rollout_steps"],
            raw["rollout_steps"][1],
            f"increasing percentages ending at 100 for a {values['rollout_strategy']} rollout",
        )
    for name in ("schedule", "drift_schedule", "rollout_schedule"):
        if len(values[name].split()) not in (5, 6) and not values[name].startswith("@"):
            raise bad_value(
                SETTINGS_BY_NAME[name],
                values[name],
                raw[name][1],
                "a cron expression with 5 or 6 fields or an @preset",
            )


def _raise(exc: Exception) -> None:
    raise exc


def _check_date(setting: Setting, value: str, source: str) -> None:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(value)
    except ValueError as exc:
        raise bad_value(setting, value, source, "an ISO date (YYYY-MM-DD)") from exc
