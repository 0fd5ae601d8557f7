"""pipeline.config: defaults, legacy names, TOML then environment, and errors that say what is wrong.

Every call passes ``env`` and ``path`` explicitly, so neither the real environment nor a
``modelgate.toml`` in the working directory can leak in (``os.devnull`` is an empty TOML file).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import SETTINGS, load_config, settings_table
from pipeline.errors import ConfigError


def load(env=None, path=os.devnull, **kwargs):
    return load_config(env=env or {}, path=path, **kwargs)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("auto_promote_threshold", 0.05),
        ("min_relative_improvement", 0.02),
        ("alpha", 0.05),
        ("schedule", "0 2 1 * *"),
        ("review_ttl_days", 14),
        ("bootstrap_resamples", 2000),
        ("task", "regression"),
        ("primary_metric", "mae"),
        ("require_approval", False),
        ("metric_floor", None),
        ("estimator", "sklearn.ensemble.HistGradientBoostingRegressor"),
    ],
)
def test_defaults(name, value):
    assert getattr(load(), name) == value


def test_default_paths_live_under_home(tmp_path):
    c = load({"MODELGATE_HOME": str(tmp_path / "mg")})
    assert c.home == tmp_path / "mg"
    assert c.registry_db == c.home / "registry.db"
    assert c.artifacts_dir == c.home / "artifacts"
    assert c.airflow_home == c.home / "airflow"
    assert c.data_path is None


def test_classification_defaults():
    c = load({"MODELGATE_TASK": "classification"})
    assert c.primary_metric == "roc_auc" and c.higher_is_better
    assert c.estimator == "sklearn.ensemble.HistGradientBoostingClassifier"


def test_defaults_match_the_settings_table():
    c = load().to_dict()
    for s in SETTINGS:
        if s.default is not None and s.kind not in ("path", "list"):
            assert c[s.name] == s.default, s.name


# --------------------------------------------------------------------------------------------
# Legacy names and the order of sources
# --------------------------------------------------------------------------------------------
def test_legacy_min_relative_improvement_is_honoured():
    assert load({"PROMOTION_MIN_RELATIVE_IMPROVEMENT": "0.03"}).min_relative_improvement == 0.03


def test_legacy_model_registry_dir_is_honoured(tmp_path):
    assert load({"MODEL_REGISTRY_DIR": str(tmp_path)}).artifacts_dir == tmp_path


def test_modelgate_names_win_over_legacy_names(tmp_path):
    env = {
        "PROMOTION_MIN_RELATIVE_IMPROVEMENT": "0.03",
        "MODELGATE_MIN_RELATIVE_IMPROVEMENT": "0.04",
        "MODEL_REGISTRY_DIR": str(tmp_path / "legacy"),
        "MODELGATE_ARTIFACTS_DIR": str(tmp_path / "new"),
    }
    c = load(env)
    assert c.min_relative_improvement == 0.04
    assert c.artifacts_dir == tmp_path / "new"


def test_toml_file_is_read(tmp_path):
    path = write_toml(
        tmp_path,
        'alpha = 0.01\nseed = 7\nrequire_approval = true\nfeatures = ["a", "b"]\n'
        'schedule = "@daily"\nestimator_params = { max_iter = 50 }\nmetric_floor = 9.5\n',
    )
    c = load(path=path)
    assert (c.alpha, c.seed, c.require_approval, c.features) == (0.01, 7, True, ("a", "b"))
    assert (c.schedule, c.metric_floor) == ("@daily", 9.5)
    assert dict(c.estimator_params) == {"max_iter": 50}


def test_toml_modelgate_table_is_read(tmp_path):
    path = write_toml(tmp_path, "[modelgate]\nalpha = 0.02\nreview_ttl_days = 3\n")
    c = load(path=path)
    assert (c.alpha, c.review_ttl_days) == (0.02, 3)


def test_environment_overrides_toml(tmp_path):
    path = write_toml(tmp_path, "alpha = 0.01\nseed = 7\nrequire_approval = true\n")
    c = load({"MODELGATE_SEED": "9", "MODELGATE_REQUIRE_APPROVAL": "no"}, path=path)
    assert (c.alpha, c.seed, c.require_approval) == (0.01, 9, False)


def test_legacy_environment_name_overrides_toml(tmp_path):
    path = write_toml(tmp_path, "min_relative_improvement = 0.01\n")
    c = load({"PROMOTION_MIN_RELATIVE_IMPROVEMENT": "0.03"}, path=path)
    assert c.min_relative_improvement == 0.03


def test_overrides_win_over_everything(tmp_path):
    path = write_toml(tmp_path, "alpha = 0.01\n")
    c = load({"MODELGATE_ALPHA": "0.02"}, path=path, overrides={"alpha": 0.03, "seed": None})
    assert c.alpha == 0.03 and c.seed == 42  # None means "flag not given"


def test_modelgate_config_names_the_file(tmp_path):
    path = write_toml(tmp_path, "seed = 11\n")
    # path=None on purpose: MODELGATE_CONFIG is consulted before any ./modelgate.toml
    assert load_config(env={"MODELGATE_CONFIG": str(path)}).seed == 11


@pytest.mark.parametrize(
    ("env", "name", "value"),
    [
        ({"MODELGATE_REQUIRE_APPROVAL": "yes"}, "require_approval", True),
        ({"MODELGATE_REQUIRE_APPROVAL": "0"}, "require_approval", False),
        ({"MODELGATE_REQUIRE_APPROVAL": " TRUE "}, "require_approval", True),
        ({"MODELGATE_FEATURES": "a, b,,c"}, "features", ("a", "b", "c")),
        ({"MODELGATE_FEATURES": ""}, "features", None),
        ({"MODELGATE_METRIC_FLOOR": "12.5"}, "metric_floor", 12.5),
        ({"MODELGATE_ESTIMATOR_PARAMS": '{"max_depth": 3}'}, "estimator_params", {"max_depth": 3}),
        ({"MODELGATE_RETRIES": " 0 "}, "retries", 0),
        ({"MODELGATE_TARGET": "  y  "}, "target", "y"),
    ],
)
def test_environment_strings_are_coerced(env, name, value):
    assert getattr(load(env), name) == value


# --------------------------------------------------------------------------------------------
# Bad values
# --------------------------------------------------------------------------------------------
BAD = [
    # (id, environment, TOML text or None, fragments the message must contain)
    ("alpha-2", {"MODELGATE_ALPHA": "2"}, None, ["'alpha'", "(0, 1)", "Got 2.0"]),
    ("alpha-0-toml", {}, "alpha = 0\n", ["'alpha'", "modelgate.toml", "Got 0.0"]),
    ("alpha-nan", {"MODELGATE_ALPHA": "nan"}, None, ["'alpha'", "a float", "'nan'"]),
    (
        "bootstrap-10",
        {"MODELGATE_BOOTSTRAP_RESAMPLES": "10"},
        None,
        ["'bootstrap_resamples'", ">= 1000", "Got 10 instead"],
    ),
    ("task-ranking", {"MODELGATE_TASK": "ranking"}, None, ["'task'", "'ranking'", "regression"]),
    (
        "metric-task-mismatch",
        {"MODELGATE_PRIMARY_METRIC": "roc_auc"},
        None,
        ["'primary_metric'", "'roc_auc'", "mae, rmse, r2, mape", "'regression'"],
    ),
    (
        "metric-task-mismatch-classification",
        {"MODELGATE_TASK": "classification", "MODELGATE_PRIMARY_METRIC": "mae"},
        None,
        ["'primary_metric'", "'mae'", "roc_auc", "'classification'"],
    ),
    ("retries-many", {"MODELGATE_RETRIES": "many"}, None, ["'retries'", "an int", "'many'"]),
    ("retries-negative", {"MODELGATE_RETRIES": "-1"}, None, ["'retries'", ">= 0", "Got -1"]),
    ("seed-float", {}, "seed = 1.5\n", ["'seed'", "an int", "1.5"]),
    ("seed-bool", {}, "seed = true\n", ["'seed'", "an int", "True"]),
    (
        "bool-maybe",
        {"MODELGATE_REQUIRE_APPROVAL": "maybe"},
        None,
        ["'require_approval'", "boolean", "'maybe'"],
    ),
    (
        "bool-string-in-toml",
        {},
        'require_approval = "yes"\n',
        ["'require_approval'", "boolean", "'yes'"],
    ),
    ("features-string-in-toml", {}, 'features = "a,b"\n', ["'features'", "list", "'a,b'"]),
    (
        "estimator-params-not-json",
        {"MODELGATE_ESTIMATOR_PARAMS": "max_depth=3"},
        None,
        ["'estimator_params'", "JSON", "'max_depth=3'"],
    ),
    ("empty-schedule", {"MODELGATE_SCHEDULE": " "}, None, ["'schedule'", "non-empty"]),
    (
        "legacy-name-bad",
        {"PROMOTION_MIN_RELATIVE_IMPROVEMENT": "lots"},
        None,
        ["'min_relative_improvement'", "PROMOTION_MIN_RELATIVE_IMPROVEMENT", "'lots'"],
    ),
    ("unknown-key", {}, "colour = 'red'\n", ["Unknown setting 'colour'", "alpha"]),
    ("unknown-key-in-table", {}, "[modelgate]\nalfa = 0.1\n", ["Unknown setting 'alfa'"]),
    ("invalid-toml", {}, "alpha = = 0.1\n", ["modelgate.toml", "not valid TOML"]),
    (
        "min-above-auto",
        {"MODELGATE_MIN_RELATIVE_IMPROVEMENT": "0.06"},
        None,
        ["'min_relative_improvement'", "'auto_promote_threshold'", "0.05", "Got 0.06"],
    ),
    (
        "min-above-auto-toml",
        {},
        "auto_promote_threshold = 0.03\nmin_relative_improvement = 0.04\n",
        ["'min_relative_improvement'", "(0.03)", "Got 0.04"],
    ),
    (
        "demo-start-yesterday",
        {"MODELGATE_DEMO_START": "yesterday"},
        None,
        ["'demo_start'", "YYYY-MM-DD", "'yesterday'"],
    ),
    (
        "drift-date-bad",
        {},
        'demo_data_drift_date = "2025-13-01"\n',
        ["'demo_data_drift_date'", "modelgate.toml", "'2025-13-01'"],
    ),
    (
        "schedule-every-day",
        {"MODELGATE_SCHEDULE": "every day"},
        None,
        ["'schedule'", "cron", "'every day'"],
    ),
    (
        "drift-schedule-bad",
        {"MODELGATE_DRIFT_SCHEDULE": "0 3 *"},
        None,
        ["'drift_schedule'", "cron", "'0 3 *'"],
    ),
    (
        "drift-reference",
        {"MODELGATE_DRIFT_REFERENCE": "yearly"},
        None,
        ["'drift_reference'", "one of training, seasonal", "'yearly'"],
    ),
    (
        "start-date",
        {"MODELGATE_START_DATE": "2013-13-01"},
        None,
        ["'start_date'", "an ISO date", "'2013-13-01'"],
    ),
    (
        "new-rows-share",
        {},
        "new_rows_share = -0.5\n",
        ["'new_rows_share'", "from 0 to 10", "-0.5"],
    ),
    (
        "calibration-sd",
        {"MODELGATE_DRIFT_CALIBRATION_SD": "-1"},
        None,
        ["'drift_calibration_sd'", "from 0 to 100"],
    ),
]


@pytest.mark.parametrize(
    ("env", "toml", "fragments"), [pytest.param(*row[1:], id=row[0]) for row in BAD]
)
def test_bad_values_raise_config_error(tmp_path, env, toml, fragments):
    path = os.devnull if toml is None else write_toml(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load(env, path=path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_env_errors_name_the_variable():
    with pytest.raises(ConfigError, match=r"\(env MODELGATE_ALPHA\)"):
        load({"MODELGATE_ALPHA": "2"})


def test_override_errors_name_the_command_line():
    with pytest.raises(ConfigError, match=r"'alpha' setting \(command line\)"):
        load(overrides={"alpha": 1.5})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(path=tmp_path / "nope.toml")


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        load({"MODELGATE_ALPHA": "2"})


def test_non_table_modelgate_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load(path=write_toml(tmp_path, "modelgate = 1\n"))


# --------------------------------------------------------------------------------------------
# The README's table
# --------------------------------------------------------------------------------------------
def test_settings_table_lists_every_setting():
    table = settings_table()
    lines = table.splitlines()
    assert lines[0].startswith("| setting |") and len(lines) == 2 + len(SETTINGS)
    for s in SETTINGS:
        assert f"| `{s.name}` | `{s.env}`" in table
    assert "`PROMOTION_MIN_RELATIVE_IMPROVEMENT`" in table and "`MODEL_REGISTRY_DIR`" in table


def test_settings_and_config_fields_match():
    assert [s.name for s in SETTINGS] == list(load().to_dict())


def test_the_smtp_password_is_never_shown():
    cfg = load_config(env={"MODELGATE_SMTP_PASSWORD": "hunter2"}, path=os.devnull)
    assert cfg.smtp_password == "hunter2"
    assert "hunter2" not in repr(cfg) and cfg.to_dict()["smtp_password"] == "***"


def test_improvement_measure_is_per_metric_and_checked():
    cfg = load({"MODELGATE_IMPROVEMENT_MEASURE": '{"roc_auc": "absolute"}'})
    assert cfg.improvement_measure == {"roc_auc": "absolute"}
    for bad in ('{"mae": "error_reduction"}', '{"auc": "relative"}', '{"r2": "percent"}'):
        with pytest.raises(ConfigError, match="improvement_measure") as info:
            load({"MODELGATE_IMPROVEMENT_MEASURE": bad})
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MODELGATE_GUARDRAIL_METRICS": '{"auc": 0.1}'},
            "The 'guardrail_metrics' setting (env MODELGATE_GUARDRAIL_METRICS) must be a table "
            "whose keys are among mae, rmse, r2, mape, smape. Got {'auc': 0.1} instead.",
        ),
        (
            {"MODELGATE_GUARDRAIL_METRICS": '{"mae": 0.1}'},
            "The 'guardrail_metrics' setting (env MODELGATE_GUARDRAIL_METRICS) must be a table "
            "of secondary metrics, not the primary 'mae'. Got {'mae': 0.1} instead.",
        ),
        (
            {"MODELGATE_GUARDRAIL_METRICS": '{"rmse": 1.5}'},
            "The 'guardrail_metrics' setting (env MODELGATE_GUARDRAIL_METRICS) must be a table "
            "of metric = tolerance, each a number in [0, 1). Got {'rmse': 1.5} instead.",
        ),
        (
            {"MODELGATE_MAX_SEGMENT_REGRESSION": "0.1"},
            "The 'max_segment_regression' setting (env MODELGATE_MAX_SEGMENT_REGRESSION) must be "
            "unset unless segment_columns names the segments. Got 0.1 instead.",
        ),
        (
            {"MODELGATE_PROMOTION_GATE": "upper"},
            "The 'promotion_gate' setting (env MODELGATE_PROMOTION_GATE) must be one of "
            "lower_bound, point. Got 'upper' instead.",
        ),
        (
            {"MODELGATE_LEADERBOARD_VERSIONS": "0"},
            "The 'leaderboard_versions' setting (env MODELGATE_LEADERBOARD_VERSIONS) must be an "
            "int from 1 to 50. Got 0 instead.",
        ),
    ],
)
def test_gate_settings_are_checked_in_one_line(tmp_path, env, message):
    with pytest.raises(ConfigError) as err:
        load_config(env={"MODELGATE_HOME": str(tmp_path), **env}, path=os.devnull)
    assert str(err.value) == message
