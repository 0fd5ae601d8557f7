"""Every ModelGate setting: name, type, default, check, and the sentence the README shows.

``pipeline.config`` reads and validates them; this module is only the table (and its Markdown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
        "Data volume: more labelled rows than this since the champion's training run trigger "
        "retraining (and at least `new_rows_share` of its training rows).",
        _positive,
        "an int > 0",
    ),
    Setting(
        "new_rows_share",
        "float",
        0.25,
        "Data volume, relative: new labelled rows must also reach this share of the champion's "
        "training rows (0.25: a quarter of what it learnt from is new). 0 turns the relative form off.",
        lambda x: 0 <= x <= 10,
        "a float from 0 to 10",
    ),
    Setting(
        "min_retrain_interval_days",
        "int",
        14,
        "No automatic trigger (drift, concept drift, performance, data volume, model age) starts a "
        "retraining within this many days of the last one; scheduled and forced runs always train.",
        _non_negative,
        "an int >= 0",
        aliases=("MODELGATE_DRIFT_COOLDOWN_DAYS",),
    ),
    Setting(
        "start_date",
        "str",
        "2024-01-01",
        "The DAGs' start_date: the scheduler runs nothing before it. `simulate --start` and "
        "`run --as-of` before it run with their own first date as start_date.",
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
        "drift_calibration",
        "bool",
        True,
        "Calibrate each feature's drift limits from the reference's own windows: a statistic "
        "drifts only beyond the highest value and beyond mean + `drift_calibration_sd` sd of "
        "every `drift_window_days` window of the training data (and never below the thresholds above).",
    ),
    Setting(
        "drift_calibration_sd",
        "float",
        3.0,
        "Standard deviations above the reference windows' mean that a calibrated limit allows.",
        lambda x: 0 <= x <= 100,
        "a float from 0 to 100",
    ),
    Setting(
        "drift_reference",
        "str",
        "training",
        "What a drift check compares with: `training` (the champion's training data, calibrated) "
        "or `seasonal` (the same window 52 weeks earlier, where the data holds it; else training).",
        lambda x: x in ("training", "seasonal"),
        "one of training, seasonal",
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


def settings_table() -> str:
    """The README's table of settings (Markdown)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        env = f"`{s.env}`" + "".join(f", `{a}`" for a in s.aliases)
        default = "—" if s.default is None else f"`{s.default}`" if s.default != {} else "`{}`"
        rows.append(f"| `{s.name}` | {env} | {default} | {s.doc} |")
    return "\n".join(rows)
