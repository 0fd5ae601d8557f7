"""One validated, frozen configuration object.

``load_config`` reads defaults, then an optional TOML file (``modelgate.toml`` in the working
directory, or the file named by ``MODELGATE_CONFIG``), then ``MODELGATE_*`` environment variables,
then explicit overrides (CLI flags). Each later source wins. Every setting is in ``SETTINGS``, which
is also the README's table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

TASKS = ("regression", "classification")
METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "rmse", "r2", "mape"),
    "classification": ("roc_auc", "f1", "accuracy", "precision", "recall", "log_loss"),
}
DEFAULT_METRIC = {"regression": "mae", "classification": "roc_auc"}
DEFAULT_ESTIMATOR = {
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One configurable value: its name, type, default, and the sentence the README shows."""

    name: str
    kind: str  # "path", "str", "int", "float", "bool", "list", "table"
    default: Any
    doc: str
    check: Callable[[Any], bool] | None = None
    valid: str = ""
    aliases: tuple[str, ...] = ()
    optional: bool = False

    @property
    def env(self) -> str:
        return "MODELGATE_" + self.name.upper()


def _positive(x: Any) -> bool:
    return bool(x > 0)


def _unit(x: Any) -> bool:
    return bool(0 < x < 1)


def _non_negative(x: Any) -> bool:
    return bool(x >= 0)


def _percent(x: Any) -> bool:
    try:
        return 0 <= float(x) <= 100
    except ValueError:
        return False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        "path",
        ".modelgate",
        "Folder holding the registry, artifacts and the embedded Airflow home.",
    ),
    Setting(
        "registry_db",
        "path",
        None,
        "SQLite registry file. Default: `<home>/registry.db`.",
        optional=True,
    ),
    Setting(
        "artifacts_dir",
        "path",
        None,
        "Artifact store for model files. Default: `<home>/artifacts`.",
        aliases=("MODEL_REGISTRY_DIR",),
        optional=True,
    ),
    Setting(
        "airflow_home",
        "path",
        None,
        "AIRFLOW_HOME of the embedded Airflow. Default: `<home>/airflow`.",
        optional=True,
    ),
    Setting(
        "data_path",
        "path",
        None,
        "CSV or Parquet file, or folder of them; unset means the built-in demo data.",
        optional=True,
    ),
    Setting(
        "task",
        "str",
        "regression",
        "`regression` or `classification`.",
        lambda x: x in TASKS,
        "one of " + ", ".join(TASKS),
    ),
    Setting("target", "str", "occupancy", "Target column."),
    Setting("timestamp_column", "str", "timestamp", "Timestamp column used for time windows."),
    Setting(
        "features",
        "list",
        None,
        "Feature columns. Default: every column but target and timestamp.",
        optional=True,
    ),
    Setting(
        "key_columns",
        "list",
        None,
        "Columns that with the timestamp identify a row; duplicates of that key are a data error. "
        "Default: the demo's `ward` for the demo data; for your data, fully identical rows are the error.",
        optional=True,
    ),
    Setting(
        "categorical_features",
        "list",
        None,
        "Columns treated as categorical. Default: text, category and boolean columns.",
        optional=True,
    ),
    Setting(
        "primary_metric",
        "str",
        None,
        "Metric that decides: regression `mae` (default), `rmse`, `r2`, `mape`; classification "
        "`roc_auc` (default), `f1`, `accuracy`, `precision`, `recall`, `log_loss`.",
        optional=True,
    ),
    Setting(
        "estimator",
        "str",
        None,
        "Import path of a scikit-learn estimator. Default: HistGradientBoostingRegressor/Classifier.",
        optional=True,
    ),
    Setting(
        "estimator_params",
        "table",
        {},
        "Keyword arguments for the estimator (JSON in the environment).",
    ),
    Setting(
        "seed",
        "int",
        42,
        "Seed for training, bootstrap and demo data.",
        _non_negative,
        "an int >= 0",
    ),
    Setting(
        "train_days",
        "int",
        365,
        "Days of history before the holdout used for training.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "holdout_days",
        "int",
        30,
        "The most recent days before `as_of` held out for the comparison.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "min_train_rows",
        "int",
        200,
        "Fewer training rows is a data error.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "min_holdout_rows",
        "int",
        50,
        "Fewer holdout rows is a data error.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "auto_promote_threshold",
        "float",
        0.05,
        "Relative improvement at or above which a significant win is promoted automatically.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "min_relative_improvement",
        "float",
        0.02,
        "Relative improvement at or above which a challenger is worth a manual review.",
        _unit,
        "a float in (0, 1)",
        aliases=("PROMOTION_MIN_RELATIVE_IMPROVEMENT",),
    ),
    Setting(
        "alpha",
        "float",
        0.05,
        "Significance level of the paired bootstrap test.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "require_approval", "bool", False, "Send every would-be automatic promotion to review."
    ),
    Setting(
        "metric_floor",
        "float",
        None,
        "Worst acceptable primary metric (a maximum for errors, a minimum for scores).",
        optional=True,
    ),
    Setting(
        "promotion_notice_hours",
        "float",
        0.0,
        "Hold automatic promotions this long after announcing them (promotion_pending) so an admin can "
        "veto them; 0 applies them at once, still announced first.",
        _non_negative,
        "a float >= 0",
    ),
    Setting(
        "rollout_strategy",
        "str",
        "immediate",
        "How an automatic promotion reaches traffic: `immediate`, `canary`, `gradual`, `ab` or "
        "`shadow` (the first champion is always immediate).",
        lambda x: x in ("immediate", "canary", "gradual", "ab", "shadow"),
        "one of immediate, canary, gradual, ab, shadow",
    ),
    Setting(
        "rollout_steps",
        "list",
        None,
        "Challenger shares in percent: the steps of a canary or gradual rollout (ending at 100), "
        "the split of an A/B test. Default: canary 5,100; gradual 10,25,50,100; ab 50.",
        lambda x: all(_percent(v) for v in x),
        "percentages between 0 and 100, comma-separated",
        optional=True,
    ),
    Setting(
        "rollout_min_step_hours",
        "float",
        24.0,
        "Minimum time a rollout step is held before it may advance.",
        _non_negative,
        "a float >= 0",
    ),
    Setting(
        "rollout_min_samples",
        "int",
        500,
        "Labelled outcomes per arm before a rollout may decide anything.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "rollout_max_hours",
        "float",
        336.0,
        "A rollout without a decision by then ends and the champion stays.",
        _positive,
        "a float > 0",
    ),
    Setting(
        "rollout_margin",
        "float",
        0.02,
        "Relative improvement in mean loss by which an A/B or shadow challenger must win.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "rollout_max_harm",
        "float",
        0.05,
        "A canary or gradual step moves on only when the always-valid interval rules out a "
        "challenger worse than this share of the champion's mean loss.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "rollout_shadow_share",
        "float",
        0.2,
        "Share of requests a shadow challenger scores (silently).",
        _unit,
        "a float in (0, 1)",
    ),
    Setting("rollout_schedule", "str", "@hourly", "Cron schedule of the rollout monitor DAG."),
    Setting(
        "review_ttl_days",
        "int",
        14,
        "Pending reviews older than this expire (rejected, audited).",
        _positive,
        "an int > 0",
    ),
    Setting(
        "approvals_required",
        "int",
        1,
        "Admin approvals a review needs before its challenger is promoted; 2 is the two-person rule "
        "(the same admin cannot give both).",
        lambda x: 1 <= x <= 5,
        "an int from 1 to 5",
    ),
    Setting(
        "bootstrap_resamples",
        "int",
        2000,
        "Paired bootstrap resamples.",
        lambda x: x >= 1000,
        "an int >= 1000",
    ),
    Setting("schedule", "str", "0 2 1 * *", "Cron schedule of the retraining DAG."),
    Setting("queue", "str", "default", "Airflow queue of the tasks that write the registry."),
    Setting("retries", "int", 2, "Airflow retries per task.", _non_negative, "an int >= 0"),
    Setting(
        "retry_delay_minutes",
        "float",
        5.0,
        "Delay between task retries.",
        _non_negative,
        "a float >= 0",
    ),
    Setting(
        "max_model_age_days",
        "int",
        30,
        "A champion older than this triggers retraining.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "new_rows_trigger",
        "int",
        1000,
        "More labelled rows than this since the champion's training triggers retraining.",
        _positive,
        "an int > 0",
    ),
    Setting("drift_schedule", "str", "0 3 * * *", "Cron schedule of the drift monitor DAG."),
    Setting(
        "drift_window_days",
        "int",
        30,
        "Days before `as_of` that form the current window of a drift check.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "drift_min_rows",
        "int",
        200,
        "Fewer rows in either window gives 'insufficient data', not a verdict.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "drift_psi_threshold",
        "float",
        0.2,
        "A feature drifts when its PSI reaches this.",
        _positive,
        "a float > 0",
    ),
    Setting(
        "drift_ks_threshold",
        "float",
        0.08,
        "A numeric feature drifts when its KS D reaches this.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_missing_threshold",
        "float",
        0.1,
        "A feature drifts when its missing share changes by this much (absolute).",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_require_significance",
        "bool",
        False,
        "Also require a Benjamini–Hochberg adjusted p-value below `drift_alpha`.",
    ),
    Setting(
        "drift_alpha",
        "float",
        0.05,
        "Significance level for `drift_require_significance`.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_top_k",
        "int",
        3,
        "Data drift when any of the champion's k most important features drifts.",
        _positive,
        "an int > 0",
    ),
    Setting(
        "drift_share",
        "float",
        0.3,
        "... or when this share of all features drifts.",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "concept_degradation",
        "float",
        0.15,
        "Concept drift when the champion's metric on recent labels is this much worse (relative).",
        _unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_cooldown_days",
        "int",
        7,
        "The monitor does not start another retraining within this many days of the last one.",
        _non_negative,
        "an int >= 0",
    ),
    Setting(
        "smtp_host",
        "str",
        None,
        "SMTP server; unset means notifications go to the log only.",
        optional=True,
    ),
    Setting(
        "smtp_port",
        "int",
        587,
        "SMTP port (587 for STARTTLS, 465 for implicit TLS).",
        _positive,
        "an int > 0",
    ),
    Setting("smtp_starttls", "bool", True, "Upgrade the connection with STARTTLS."),
    Setting(
        "smtp_ssl",
        "bool",
        False,
        "Implicit TLS from the first byte (port 465); wins over STARTTLS.",
    ),
    Setting("smtp_user", "str", None, "SMTP login user (optional).", optional=True),
    Setting("smtp_password", "str", None, "SMTP login password (optional).", optional=True),
    Setting("smtp_from", "str", "modelgate@localhost", "Sender address."),
    Setting(
        "smtp_ca_file",
        "path",
        None,
        "CA bundle that signs the server's certificate (default: the system's).",
        optional=True,
    ),
    Setting(
        "smtp_timeout_seconds", "float", 10.0, "Connect and send timeout.", _positive, "a float > 0"
    ),
    Setting(
        "notify_to",
        "list",
        None,
        "Admin recipients, comma-separated in the environment.",
        optional=True,
    ),
    Setting(
        "notify_retry_base_seconds",
        "float",
        60.0,
        "A failed notification is retried by later runs after base x 2^(attempts-1) seconds (max 6 h).",
        _non_negative,
        "a float >= 0",
    ),
    Setting(
        "dashboard_url",
        "str",
        "http://127.0.0.1:8501",
        "Base URL of the dashboard, for links in emails.",
    ),
    Setting(
        "dashboard_refresh_seconds",
        "float",
        30.0,
        "How often open dashboard pages look for new runs, reviews and drift checks.",
        lambda x: x >= 2,
        "a float >= 2",
    ),
    Setting("demo_start", "str", "2024-01-01", "First day of the built-in demo data."),
    Setting(
        "demo_wards",
        "int",
        12,
        "Hospital wards in the demo data (rows per day).",
        _positive,
        "an int > 0",
    ),
    Setting(
        "demo_data_drift_date",
        "str",
        "2025-05-01",
        "From this day the demo's emergency admissions run higher (data drift).",
    ),
    Setting(
        "demo_concept_drift_date",
        "str",
        "2025-07-15",
        "From this day the demo's length of stay matters more (concept drift).",
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Validated settings. Build it with ``load_config``; see ``SETTINGS`` for meanings."""

    home: Path
    registry_db: Path
    artifacts_dir: Path
    airflow_home: Path
    data_path: Path | None
    task: str
    target: str
    timestamp_column: str
    features: tuple[str, ...] | None
    key_columns: tuple[str, ...] | None
    categorical_features: tuple[str, ...] | None
    primary_metric: str
    estimator: str
    estimator_params: Mapping[str, Any] = field(default_factory=dict)
    seed: int
    train_days: int
    holdout_days: int
    min_train_rows: int
    min_holdout_rows: int
    auto_promote_threshold: float
    min_relative_improvement: float
    alpha: float
    require_approval: bool
    metric_floor: float | None
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
    approvals_required: int
    bootstrap_resamples: int
    schedule: str
    queue: str
    retries: int
    retry_delay_minutes: float
    max_model_age_days: int
    new_rows_trigger: int
    drift_schedule: str
    drift_window_days: int
    drift_min_rows: int
    drift_psi_threshold: float
    drift_ks_threshold: float
    drift_missing_threshold: float
    drift_require_significance: bool
    drift_alpha: float
    drift_top_k: int
    drift_share: float
    concept_degradation: float
    drift_cooldown_days: int
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
            missing=self.drift_missing_threshold,
            alpha=self.drift_alpha,
            require_significance=self.drift_require_significance,
            min_rows=self.drift_min_rows,
            top_k=self.drift_top_k,
            share=self.drift_share,
            concept_degradation=self.concept_degradation,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = (
                str(v) if isinstance(v, Path) else (list(v) if isinstance(v, tuple) else v)
            )
        out["estimator_params"] = dict(self.estimator_params)
        if out["smtp_password"]:
            out["smtp_password"] = "***"
        return out


def metric_higher_is_better(metric: str) -> bool:
    return metric in ("r2", "roc_auc", "f1", "accuracy", "precision", "recall")


def _bad(setting: Setting, value: Any, source: str, expected: str) -> ConfigError:
    return ConfigError(
        f"The '{setting.name}' setting ({source}) must be {expected}. Got {value!r} instead."
    )


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    """Turn a TOML value or an environment string into the setting's type, or raise ConfigError."""
    if value is None or (isinstance(value, str) and value.strip() == "" and setting.optional):
        if setting.optional:
            return None
        raise _bad(setting, value, source, "set")
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
            "list": "a list of column names (comma-separated in the environment)",
            "table": "a table of keyword arguments (a JSON object in the environment)",
        }[kind]
        raise _bad(setting, value, source, expected) from exc
    raise AssertionError(kind)  # pragma: no cover


def load_config(
    env: Mapping[str, str] | None = None,
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
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

    Raises
    ------
    ConfigError
        Naming the setting, where it came from, what it must be and the bad value.
    """
    env = os.environ if env is None else env
    raw: dict[str, tuple[Any, str]] = {s.name: (s.default, "default") for s in SETTINGS}

    toml_path = Path(path) if path is not None else None
    if toml_path is None and env.get("MODELGATE_CONFIG"):
        toml_path = Path(env["MODELGATE_CONFIG"])
    if toml_path is None and Path("modelgate.toml").is_file():
        toml_path = Path("modelgate.toml")
    if toml_path is not None:
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"Config file {toml_path} does not exist.") from exc
        except IsADirectoryError as exc:
            raise ConfigError(f"Config file {toml_path} is a folder, not a TOML file.") from exc
        except OSError as exc:
            raise ConfigError(f"Config file {toml_path} cannot be read: {exc.strerror}.") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Config file {toml_path} is not valid TOML: {exc}") from exc
        if "modelgate" in data:
            if not isinstance(data["modelgate"], dict) or len(data) > 1:
                raise ConfigError(
                    f"Config file {toml_path}: put every setting in the [modelgate] table or none."
                )
            data = data["modelgate"]
        for key, value in data.items():
            if key not in SETTINGS_BY_NAME:
                raise ConfigError(
                    f"Unknown setting '{key}' in {toml_path}. Valid settings: {', '.join(SETTINGS_BY_NAME)}."
                )
            raw[key] = (value, f"in {toml_path}")

    for s in SETTINGS:
        for name in (*s.aliases, s.env):  # the MODELGATE_ name wins over a legacy alias
            if name in env:
                raw[s.name] = (env[name], f"env {name}")

    values: dict[str, Any] = {}
    for s in SETTINGS:
        value, source = raw[s.name]
        if overrides and overrides.get(s.name) is not None:
            value, source = overrides[s.name], "command line"
        value = None if value is None and s.optional else _coerce(s, value, source)
        if value is not None and s.check is not None and not s.check(value):
            raise _bad(s, value, source, s.valid)
        values[s.name] = value

    home = Path(values["home"]).expanduser().resolve()
    values["home"] = home
    for name, leaf in (
        ("registry_db", "registry.db"),
        ("artifacts_dir", "artifacts"),
        ("airflow_home", "airflow"),
    ):
        values[name] = Path(values[name]).expanduser().resolve() if values[name] else home / leaf
    for name in ("data_path", "smtp_ca_file"):
        if values[name] is not None:
            values[name] = Path(values[name]).expanduser().resolve()

    task = values["task"]
    if values["primary_metric"] is None:
        values["primary_metric"] = DEFAULT_METRIC[task]
    if values["primary_metric"] not in METRICS[task]:
        raise _bad(
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
    for name in ("demo_start", "demo_data_drift_date", "demo_concept_drift_date"):
        _check_date(SETTINGS_BY_NAME[name], values[name], raw[name][1])
    steps = [float(v) for v in values["rollout_steps"] or ()]
    ramp = values["rollout_strategy"] in ("canary", "gradual")
    if ramp and steps and (steps != sorted(set(steps)) or steps[-1] != 100):
        raise _bad(
            SETTINGS_BY_NAME["rollout_steps"],
            values["rollout_steps"],
            raw["rollout_steps"][1],
            f"increasing percentages ending at 100 for a {values['rollout_strategy']} rollout",
        )
    for name in ("schedule", "drift_schedule", "rollout_schedule"):
        if len(values[name].split()) not in (5, 6) and not values[name].startswith("@"):
            raise _bad(
                SETTINGS_BY_NAME[name],
                values[name],
                raw[name][1],
                "a cron expression with 5 or 6 fields or an @preset",
            )
    return Config(**values)


def _check_date(setting: Setting, value: str, source: str) -> None:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _bad(setting, value, source, "an ISO date (YYYY-MM-DD)") from exc


def settings_table() -> str:
    """The README's table of settings (Markdown)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        env = f"`{s.env}`" + "".join(f", `{a}`" for a in s.aliases)
        default = "—" if s.default is None else f"`{s.default}`" if s.default != {} else "`{}`"
        rows.append(f"| `{s.name}` | {env} | {default} | {s.doc} |")
    return "\n".join(rows)
