"""The settings of what watches the champion: retraining triggers, drift, notifications, the
dashboard and the demo data."""

from __future__ import annotations

from pipeline.setting import Setting, non_negative, positive, unit

WATCH_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "max_model_age_days",
        "int",
        30,
        "A champion older than this triggers retraining.",
        positive,
        "an int > 0",
    ),
    Setting(
        "new_rows_trigger",
        "int",
        1000,
        "Data volume: more labelled rows than this since the champion's training run trigger "
        "retraining (and at least `new_rows_share` of its training rows).",
        positive,
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
        non_negative,
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
        positive,
        "an int > 0",
    ),
    Setting(
        "drift_min_rows",
        "int",
        200,
        "Fewer rows in either window gives 'insufficient data', not a verdict.",
        positive,
        "an int > 0",
    ),
    Setting(
        "drift_psi_threshold",
        "float",
        0.2,
        "Without calibrated limits, a feature drifts when its PSI reaches this.",
        positive,
        "a float > 0",
    ),
    Setting(
        "drift_ks_threshold",
        "float",
        0.08,
        "Without calibrated limits, a numeric feature drifts when its KS D reaches this.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_ks_min_effect",
        "float",
        0.03,
        "With calibrated limits, the least KS D that counts as drift: the reference's own windows "
        "set the limit, never below this.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_psi_min_effect",
        "float",
        0.02,
        "With calibrated limits, the least PSI that counts as drift.",
        positive,
        "a float > 0",
    ),
    Setting(
        "drift_missing_threshold",
        "float",
        0.1,
        "A feature drifts when its missing share changes by this much (absolute).",
        unit,
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
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_top_k",
        "int",
        3,
        "Data drift when any of the champion's k most important features drifts.",
        positive,
        "an int > 0",
    ),
    Setting(
        "drift_share",
        "float",
        0.3,
        "... or when this share of all features drifts.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "drift_dataset_rule",
        "str",
        "important",
        "`important`: data drift when a top-k feature drifts or the share is reached; `any`: also "
        "when any one feature drifts beyond its calibrated limit (for a reference that covers "
        "the data's seasons; see Drift detection).",
        lambda x: x in ("important", "any"),
        "'important' or 'any'",
    ),
    Setting(
        "concept_degradation",
        "float",
        0.15,
        "Concept drift when the champion's metric on recent labels is this much worse (relative).",
        unit,
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
        positive,
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
        "smtp_timeout_seconds", "float", 10.0, "Connect and send timeout.", positive, "a float > 0"
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
        non_negative,
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
        positive,
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
