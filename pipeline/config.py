"""One validated, frozen configuration object.

``load_config`` reads defaults, then an optional TOML file (``modelgate.toml`` in the working
directory, or the file named by ``MODELGATE_CONFIG``), then ``MODELGATE_*`` environment variables,
then explicit overrides (CLI flags). Each later source wins. Every setting is in ``SETTINGS``, which
is also the README's table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import catalog
from pipeline.config_checks import bad_value, coerce, cross_check
from pipeline.errors import ConfigError
from pipeline.settings import (
    DEFAULT_ESTIMATOR,
    DEFAULT_METRIC,
    METRICS,
    SETTINGS,
    SETTINGS_BY_NAME,
    TASKS,
    Setting,
    settings_table,
)

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_METRIC",
    "METRICS",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "TASKS",
    "Config",
    "Setting",
    "load_config",
    "metric_higher_is_better",
    "settings_table",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Validated settings. Build it with ``load_config``; see ``SETTINGS`` for meanings."""

    home: Path
    registry_db: Path
    artifacts_dir: Path
    audit_checkpoint: Path
    audit_key: str | None = field(default=None, repr=False)  # never in logs or reprs
    airflow_home: Path
    data_path: Path | None
    schema_path: Path | None
    task: str
    target: str
    timestamp_column: str
    timezone: str
    features: tuple[str, ...] | None
    key_columns: tuple[str, ...] | None
    categorical_features: tuple[str, ...] | None
    decimal: str
    primary_metric: str
    estimator: str
    estimator_params: Mapping[str, Any] = field(default_factory=dict)
    onehot_max_levels: int
    seed: int
    train_days: int
    holdout_days: int
    min_train_rows: int
    min_holdout_rows: int
    max_unlabelled_share: float
    max_new_level_share: float
    auto_promote_threshold: float
    min_relative_improvement: float
    improvement_measure: dict[str, str]
    alpha: float
    require_approval: bool
    metric_floor: float | None
    promotion_gate: str
    guardrail_metrics: dict[str, float]
    segment_columns: tuple[str, ...] | None
    max_segment_regression: float | None
    leaderboard_versions: int
    airflow_url: str
    promotion_notice_hours: float
    rollout_strategy: str
    rollout_steps: tuple[str, ...] | None
    rollout_min_step_hours: float
    rollout_min_samples: int
    rollout_max_hours: float
    rollout_margin: float
    rollout_max_harm: float
    rollout_shadow_share: float
    rollout_schedule: str
    review_ttl_days: int
    review_digest: bool
    approvals_required: int
    bootstrap_resamples: int
    bootstrap_group: str
    baseline: str
    baseline_season_days: float
    n_threads: int
    schedule: str
    queue: str
    retries: int
    retry_delay_minutes: float
    max_model_age_days: int
    new_rows_trigger: int
    new_rows_share: float
    min_retrain_interval_days: int
    start_date: str
    drift_schedule: str
    drift_window_days: int
    drift_min_rows: int
    drift_psi_threshold: float
    drift_ks_threshold: float
    drift_ks_min_effect: float
    drift_psi_min_effect: float
    drift_missing_threshold: float
    drift_require_significance: bool
    drift_alpha: float
    drift_top_k: int
    drift_share: float
    drift_dataset_rule: str
    concept_degradation: float
    drift_calibration: bool
    drift_calibration_sd: float
    drift_reference: str
    smtp_host: str | None
    smtp_port: int
    smtp_starttls: bool
    smtp_ssl: bool
    smtp_user: str | None
    smtp_password: str | None = field(default=None, repr=False)  # never in logs or reprs
    smtp_from: str
    smtp_ca_file: Path | None
    smtp_timeout_seconds: float
    notify_to: tuple[str, ...] | None
    notify_retry_base_seconds: float
    dashboard_url: str
    dashboard_refresh_seconds: float
    demo_start: str
    demo_wards: int
    demo_data_drift_date: str
    demo_concept_drift_date: str
    # The catalog's model these settings are for ("default" without a catalog); not a setting.
    model: str = "default"

    @property
    def higher_is_better(self) -> bool:
        """Scikit-learn naming: ``*_error``/``*_loss`` style metrics are lower-is-better."""
        return metric_higher_is_better(self.primary_metric)

    def rollout_plan(self, strategy: str | None = None) -> Any:
        """The rollout plan these settings describe (``pipeline.rollout.Plan``)."""
        from pipeline.rollout import Plan

        steps = [float(v) / 100 for v in self.rollout_steps] if self.rollout_steps else None
        return Plan.make(
            strategy or self.rollout_strategy,
            steps,
            min_step_hours=self.rollout_min_step_hours,
            min_samples=self.rollout_min_samples,
            max_hours=self.rollout_max_hours,
            margin=self.rollout_margin,
            max_harm=self.rollout_max_harm,
            alpha=self.alpha,
            shadow_share=self.rollout_shadow_share,
        )

    def drift_thresholds(self) -> Any:
        from pipeline.drift import DriftThresholds

        return DriftThresholds(
            psi=self.drift_psi_threshold,
            ks=self.drift_ks_threshold,
            ks_min_effect=self.drift_ks_min_effect,
            psi_min_effect=self.drift_psi_min_effect,
            missing=self.drift_missing_threshold,
            alpha=self.drift_alpha,
            require_significance=self.drift_require_significance,
            min_rows=self.drift_min_rows,
            top_k=self.drift_top_k,
            share=self.drift_share,
            dataset_rule=self.drift_dataset_rule,
            calibrated=self.drift_calibration,
            calibration_sd=self.drift_calibration_sd,
            concept_degradation=self.concept_degradation,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "model":  # which model, not a setting
                continue
            v = getattr(self, f.name)
            out[f.name] = (
                str(v) if isinstance(v, Path) else (list(v) if isinstance(v, tuple) else v)
            )
        out["estimator_params"] = dict(self.estimator_params)
        for secret in ("smtp_password", "audit_key"):
            if out[secret]:
                out[secret] = "***"
        return out


# Settings that were renamed: the old TOML key still works.
RENAMED = {"drift_cooldown_days": "min_retrain_interval_days"}


def metric_higher_is_better(metric: str) -> bool:
    return metric in ("r2", "roc_auc", "f1", "accuracy", "precision", "recall")


def load_config(
    env: Mapping[str, str] | None = None,
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    model: str | None = None,
) -> Config:
    """Read and validate the configuration.

    Parameters
    ----------
    env : mapping, optional
        Environment to read ``MODELGATE_*`` variables from; default ``os.environ``.
    path : path, optional
        TOML file. Default: ``MODELGATE_CONFIG`` if set, else ``./modelgate.toml`` if it exists.
    overrides : mapping, optional
        Values that win over every other source (CLI flags), already typed.
    model : str, optional
        The catalog's model (``[models.NAME]``) whose settings overlay the top level; default
        ``MODELGATE_MODEL``, else the catalog's only model (``pipeline.catalog``).

    Raises
    ------
    ConfigError
        Naming the setting, where it came from, what it must be and the bad value.
    """
    env = os.environ if env is None else env
    raw: dict[str, tuple[Any, str]] = {s.name: (s.default, "default") for s in SETTINGS}

    model = model or env.get("MODELGATE_MODEL") or None
    models: dict[str, Any] | None = None
    data, toml_path = catalog.config_file(env, path)
    if toml_path is not None:
        models = catalog.model_tables(data, toml_path)
        for key, value in data.items():
            if key == "models":
                continue
            key = RENAMED.get(key, key)
            if key not in SETTINGS_BY_NAME:
                raise ConfigError(
                    f"Unknown setting '{key}' in {toml_path}. Valid settings: {', '.join(SETTINGS_BY_NAME)}."
                )
            raw[key] = (value, f"in {toml_path}")
    chosen = catalog.choose(models, model, toml_path)
    if models is not None and toml_path is not None:  # the model's own table wins
        table = catalog.check_table(chosen, models[chosen], toml_path, SETTINGS_BY_NAME, RENAMED)
        for key, value in table.items():
            raw[key] = (value, f"in {toml_path} [models.{chosen}]")

    for s in SETTINGS:
        for name in (*s.aliases, s.env):  # the MODELGATE_ name wins over a legacy alias
            if name in env:
                raw[s.name] = (env[name], f"env {name}")

    values: dict[str, Any] = {}
    for s in SETTINGS:
        value, source = raw[s.name]
        if overrides and overrides.get(s.name) is not None:
            value, source = overrides[s.name], "command line"
        value = None if value is None and s.optional else coerce(s, value, source)
        if value is not None and s.check is not None and not s.check(value):
            raise bad_value(s, value, source, s.valid)
        values[s.name] = value

    home = Path(values["home"]).expanduser().resolve()
    values["home"] = home
    for name, leaf in (
        ("registry_db", "registry.db"),
        ("artifacts_dir", "artifacts"),
        ("airflow_home", "airflow"),
    ):
        values[name] = Path(values[name]).expanduser().resolve() if values[name] else home / leaf
    values["audit_checkpoint"] = (
        Path(values["audit_checkpoint"]).expanduser().resolve()
        if values["audit_checkpoint"]
        else values["artifacts_dir"] / "audit-checkpoint.json"
    )
    for name in ("data_path", "schema_path", "smtp_ca_file"):
        if values[name] is not None:
            values[name] = Path(values[name]).expanduser().resolve()

    cross_check(values, raw)
    values["model"] = chosen
    return Config(**values)
