"""The settings of a retraining run: where things live, the data, training, the promotion gate,
rollouts, reviews and the Airflow DAG."""

from __future__ import annotations

from pipeline.setting import TASKS, Setting, non_negative, percent, positive, unit
from pipeline.settings_gate import GATE_SETTINGS


def _is_zone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


RUN_SETTINGS: tuple[Setting, ...] = (
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
        "audit_checkpoint",
        "path",
        None,
        "File outside the database witnessing the audit log: event count and head hash, "
        "rewritten atomically after every append. Default: `<artifacts_dir>/audit-checkpoint.json`.",
        optional=True,
    ),
    Setting(
        "audit_key",
        "str",
        None,
        "Secret that signs every audit event with HMAC-SHA256, so an event written without it is "
        "detected. Set it in the environment of every process that opens the registry; never shown.",
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
        "schema_path",
        "path",
        None,
        "A schema file from `modelgate schema infer` (TOML): runs take column kinds, levels, "
        "keys and the timestamp format from it and refuse data that does not match.",
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
        "timezone",
        "str",
        "UTC",
        "The zone of times written without one (`01/01/2025 05:00 AM`), an IANA name such as "
        "`America/New_York`; times with an offset keep it. Everything is stored in UTC.",
        _is_zone,
        "an IANA time zone name such as 'Europe/Paris'",
    ),
    Setting(
        "features",
        "list",
        None,
        "Feature columns. Default: every column but target, timestamp and key_columns.",
        optional=True,
    ),
    Setting(
        "key_columns",
        "list",
        None,
        "Columns that with the timestamp identify a row; duplicates of that key are a data error, and "
        "they are not features unless `features` names them. Default: the demo's `ward` for the demo "
        "data (a feature there); for your data, fully identical rows are the error.",
        optional=True,
    ),
    Setting(
        "categorical_features",
        "list",
        None,
        "Columns treated as categorical. Default: text (unless it is numbers in 95% of its rows), "
        "category and boolean columns.",
        optional=True,
    ),
    Setting(
        "decimal",
        "str",
        ".",
        "The decimal mark of numbers stored as text: `.` (then `1,400` is 1400) or `,` (then "
        "`39,02` is 39.02 and `1.400` is 1400). Text that is numbers in 95% of its rows is numeric.",
        lambda x: x in (".", ","),
        "'.' or ','",
    ),
    Setting(
        "primary_metric",
        "str",
        None,
        "Metric that decides: regression `mae` (default), `rmse`, `r2`, `mape` (refused for a "
        "target with zeros), `smape`; classification "
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
        "onehot_max_levels",
        "int",
        30,
        "A categorical feature with at most this many distinct training values is one-hot "
        "encoded; one with more is target encoded (cross-fitted), so a 3,000-level column stays "
        "one column.",
        lambda x: 2 <= x <= 100_000,
        "an int in [2, 100000]",
    ),
    Setting(
        "seed",
        "int",
        42,
        "Seed for training, bootstrap and demo data.",
        non_negative,
        "an int >= 0",
    ),
    Setting(
        "train_days",
        "int",
        365,
        "Days of history before the holdout used for training.",
        positive,
        "an int > 0",
    ),
    Setting(
        "holdout_days",
        "int",
        30,
        "The most recent days before `as_of` held out for the comparison.",
        positive,
        "an int > 0",
    ),
    Setting(
        "min_train_rows",
        "int",
        200,
        "Fewer training rows is a data error.",
        positive,
        "an int > 0",
    ),
    Setting(
        "min_holdout_rows",
        "int",
        50,
        "Fewer holdout rows is a data error.",
        positive,
        "an int > 0",
    ),
    Setting(
        "max_unlabelled_share",
        "float",
        0.1,
        "Share of a run's training and holdout rows that may lack a target: those rows are left "
        "out of training and the holdout (and counted in the comparison) but kept for drift, "
        "which needs no labels. More is a data error.",
        lambda x: 0 <= x <= 1,
        "a float in [0, 1]",
    ),
    Setting(
        "max_new_level_share",
        "float",
        0.5,
        "Schema drift: when more than this share of the holdout's (or the drift window's) rows "
        "hold values of a categorical feature that the champion never saw in training, the run "
        "is refused, naming both value sets. 1 turns it off.",
        lambda x: 0 <= x <= 1,
        "a float in [0, 1]",
    ),
    *GATE_SETTINGS,
    Setting(
        "promotion_notice_hours",
        "float",
        0.0,
        "Hold automatic promotions this long after announcing them (promotion_pending) so an admin can "
        "veto them; 0 applies them at once, still announced first.",
        non_negative,
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
        lambda x: all(percent(v) for v in x),
        "percentages between 0 and 100, comma-separated",
        optional=True,
    ),
    Setting(
        "rollout_min_step_hours",
        "float",
        24.0,
        "Minimum time a rollout step is held before it may advance.",
        non_negative,
        "a float >= 0",
    ),
    Setting(
        "rollout_min_samples",
        "int",
        500,
        "Labelled outcomes per arm before a rollout may decide anything.",
        positive,
        "an int > 0",
    ),
    Setting(
        "rollout_max_hours",
        "float",
        336.0,
        "A rollout without a decision by then ends and the champion stays.",
        positive,
        "a float > 0",
    ),
    Setting(
        "rollout_margin",
        "float",
        0.02,
        "Relative improvement in mean loss by which an A/B or shadow challenger must win.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "rollout_max_harm",
        "float",
        0.05,
        "A canary or gradual step moves on only when the always-valid interval rules out a "
        "challenger worse than this share of the champion's mean loss.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "rollout_shadow_share",
        "float",
        0.2,
        "Share of requests a shadow challenger scores (silently).",
        unit,
        "a float in (0, 1)",
    ),
    Setting("rollout_schedule", "str", "@hourly", "Cron schedule of the rollout monitor DAG."),
    Setting(
        "review_ttl_days",
        "int",
        14,
        "Pending reviews older than this expire (rejected, audited).",
        positive,
        "an int > 0",
    ),
    Setting(
        "review_digest",
        "bool",
        False,
        "Send one weekly digest of the open reviews (the first run of each ISO week, in its "
        "logical time), besides the mail for each review.",
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
    Setting(
        "bootstrap_group",
        "str",
        "auto",
        "What the bootstrap draws as one unit: `auto` (rows that share a timestamp, when any do; "
        "else rows), `rows`, a time bucket of the timestamp (`30min`, `1h`, `1D`) or a column name.",
    ),
    Setting(
        "baseline",
        "str",
        "mean",
        "The naive forecast a model must beat with significance to be promoted automatically: "
        "`mean` (training mean, median for MAE/MAPE/sMAPE, base rate for classification), "
        "`last_value` or `seasonal_naive` (per key_columns), or `none`.",
        lambda x: x in ("mean", "last_value", "seasonal_naive", "none"),
        "one of mean, last_value, seasonal_naive, none",
    ),
    Setting(
        "baseline_season_days",
        "float",
        7.0,
        "The season of the `seasonal_naive` baseline: each row is forecast by its key's value this "
        "many days earlier.",
        lambda x: 0 < x <= 3660,
        "a float above 0 and at most 3660",
    ),
    Setting(
        "n_threads",
        "int",
        0,
        "Threads a task may use: drift checks compare one feature a thread, and training, "
        "predictions and the bootstrap cap their OpenMP and BLAS pools at it; 0: every core the "
        "task may run on (set 1 on a busy machine).",
        lambda x: 0 <= x <= 256,
        "an int from 0 to 256",
    ),
    Setting("schedule", "str", "0 2 1 * *", "Cron schedule of the retraining DAG."),
    Setting("queue", "str", "default", "Airflow queue of the tasks that write the registry."),
    Setting("retries", "int", 2, "Airflow retries per task.", non_negative, "an int >= 0"),
    Setting(
        "retry_delay_minutes",
        "float",
        5.0,
        "Delay between task retries.",
        non_negative,
        "a float >= 0",
    ),
)
