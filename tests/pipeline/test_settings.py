"""Configuration: defaults, sources and their order, legacy names, and clear errors."""

from __future__ import annotations

import os

import pytest

from pipeline.config import SETTINGS, load_config, settings_table
from pipeline.errors import ConfigError


def test_defaults():
    c = load_config(env={}, path=os.devnull)
    assert (c.auto_promote_threshold, c.min_relative_improvement, c.alpha) == (0.05, 0.02, 0.05)
    assert c.schedule == "0 2 1 * *" and c.review_ttl_days == 14 and c.primary_metric == "mae"
    assert c.registry_db == c.home / "registry.db" and c.airflow_home == c.home / "airflow"
    assert (
        load_config(env={"MODELGATE_TASK": "classification"}, path=os.devnull).primary_metric
        == "roc_auc"
    )


def test_legacy_names_are_honoured_and_modelgate_names_win(tmp_path):
    c = load_config(
        env={"PROMOTION_MIN_RELATIVE_IMPROVEMENT": "0.03", "MODEL_REGISTRY_DIR": str(tmp_path)},
        path=os.devnull,
    )
    assert c.min_relative_improvement == 0.03 and c.artifacts_dir == tmp_path
    both = {
        "PROMOTION_MIN_RELATIVE_IMPROVEMENT": "0.03",
        "MODELGATE_MIN_RELATIVE_IMPROVEMENT": "0.04",
    }
    assert load_config(env=both, path=os.devnull).min_relative_improvement == 0.04


def test_toml_then_environment_then_overrides(tmp_path):
    toml = tmp_path / "modelgate.toml"
    toml.write_text(
        "alpha = 0.01\nseed = 7\nestimator_params = { max_iter = 50 }\nrequire_approval = true\n"
    )
    c = load_config(env={"MODELGATE_SEED": "9"}, path=toml)
    assert (c.alpha, c.seed, dict(c.estimator_params), c.require_approval) == (
        0.01,
        9,
        {"max_iter": 50},
        True,
    )
    assert load_config(env={}, path=toml, overrides={"alpha": 0.2}).alpha == 0.2
    table = tmp_path / "table.toml"
    table.write_text("[modelgate]\nholdout_days = 10\n")
    assert load_config(env={}, path=table).holdout_days == 10


@pytest.mark.parametrize(
    ("env", "toml", "fragment"),
    [
        (
            {"MODELGATE_ALPHA": "2"},
            None,
            "'alpha' setting (env MODELGATE_ALPHA) must be a float in (0, 1). Got 2.0",
        ),
        (
            {"MODELGATE_ALPHA": "lots"},
            None,
            "'alpha' setting (env MODELGATE_ALPHA) must be a float. Got 'lots'",
        ),
        ({"MODELGATE_BOOTSTRAP_RESAMPLES": "10"}, None, "must be an int >= 1000. Got 10"),
        (
            {"MODELGATE_TASK": "ranking"},
            None,
            "'task' setting (env MODELGATE_TASK) must be one of regression, classification",
        ),
        (
            {"MODELGATE_PRIMARY_METRIC": "roc_auc"},
            None,
            "one of mae, rmse, r2, mape for task 'regression'. Got 'roc_auc'",
        ),
        (
            {"MODELGATE_RETRIES": "many"},
            None,
            "'retries' setting (env MODELGATE_RETRIES) must be an int. Got 'many'",
        ),
        (
            {"MODELGATE_REQUIRE_APPROVAL": "maybe"},
            None,
            "must be a boolean (true/false). Got 'maybe'",
        ),
        ({"MODELGATE_ESTIMATOR_PARAMS": "{oops"}, None, "a JSON object in the environment"),
        (
            {"MODELGATE_MIN_RELATIVE_IMPROVEMENT": "0.1"},
            None,
            "must not exceed 'auto_promote_threshold' (0.05)",
        ),
        (
            {"MODELGATE_DEMO_START": "yesterday"},
            None,
            "must be an ISO date (YYYY-MM-DD). Got 'yesterday'",
        ),
        (
            {"MODELGATE_SCHEDULE": "every day"},
            None,
            "a cron expression with 5 fields or an @preset",
        ),
        ({}, "nonsense = 1\n", "Unknown setting 'nonsense'"),
        ({}, "alpha = \n", "is not valid TOML"),
        ({}, "seed = 1.5\n", "'seed' setting"),
    ],
)
def test_bad_settings_name_the_setting_and_the_value(tmp_path, env, toml, fragment):
    path = os.devnull
    if toml is not None:
        path = tmp_path / "modelgate.toml"
        path.write_text(toml)
    with pytest.raises(ConfigError) as exc:
        load_config(env=env, path=path)
    assert fragment in str(exc.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"MODELGATE_CONFIG": str(tmp_path / "none.toml")})


def test_settings_table_lists_every_setting():
    table = settings_table()
    for s in SETTINGS:
        assert f"`{s.name}`" in table and s.env in table
