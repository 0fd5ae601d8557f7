"""The model catalog: [models.NAME] tables over the top-level settings, checked in one line."""

from __future__ import annotations

import json

import pytest

from pipeline import cli
from pipeline.catalog import model_names
from pipeline.config import load_config
from pipeline.errors import ConfigError

TWO = """
alpha = 0.1
target = "occupancy"

[models.occupancy]

[models.overflow-risk]
task = "classification"
target = "overflow"
schedule = "0 3 * * 1"
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "modelgate.toml"
    path.write_text(TWO.replace("{root}", str(tmp_path)))
    return path


def test_without_a_catalog_the_settings_are_one_model_called_default(tmp_path):
    path = tmp_path / "modelgate.toml"
    path.write_text('target = "occupancy"\n')
    assert load_config(env={}, path=path).model == "default"
    assert model_names(env={}, path=path) == ["default"]
    assert load_config(env={}, path=path, model="default").model == "default"
    with pytest.raises(ConfigError, match=r"No model 'beds': .* has no \[models\] catalog"):
        load_config(env={}, path=path, model="beds")


def test_a_model_inherits_the_top_level_and_its_own_table_wins(catalog, tmp_path):
    risk = load_config(env={}, path=catalog, model="overflow-risk")
    assert (risk.model, risk.task, risk.target, risk.alpha) == (
        "overflow-risk",
        "classification",
        "overflow",
        0.1,
    )
    assert risk.schedule == "0 3 * * 1"
    occ = load_config(env={"MODELGATE_MODEL": "occupancy"}, path=catalog)
    assert (occ.model, occ.task, occ.schedule) == ("occupancy", "regression", "0 2 1 * *")
    # The environment is the operator's override, over the model's table too.
    assert (
        load_config(env={"MODELGATE_ALPHA": "0.2"}, path=catalog, model="overflow-risk").alpha
        == 0.2
    )
    assert model_names(env={}, path=catalog) == ["occupancy", "overflow-risk"]


BAD = [
    ("[models.Ward]\ntarget = 'x'\n", "model name 'Ward' must be lowercase letters"),
    ("[models.a]\ncolour = 1\n", "Model 'a' in {path}: unknown setting 'colour'."),
    (
        "[models.a]\nsmtp_host = 'mail'\n",
        "Model 'a' in {path}: 'smtp_host' is a setting of the whole ModelGate; set it at the top level.",
    ),
    (
        "[models.a]\nalpha = 2\n",
        "The 'alpha' setting (in {path} [models.a]) must be a float in (0, 1). Got 2.0 instead.",
    ),
    (
        "[models.a]\nhome = 'elsewhere'\n",
        "Model 'a' in {path}: 'home' is a setting of the whole ModelGate; set it at the top level.",
    ),
    ("models = 3\n", "[models] must hold one [models.NAME] table per model."),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[m[:24] for _, m in BAD])
def test_a_bad_catalog_is_one_line_exit_2(tmp_path, monkeypatch, capsys, content, message):
    path = tmp_path / "modelgate.toml"
    path.write_text(content)
    monkeypatch.setenv("MODELGATE_CONFIG", str(path))
    monkeypatch.setenv("MODELGATE_HOME", str(tmp_path / "mg"))
    assert cli.main(["models", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(path=path) in err[0], err


def test_a_command_for_one_model_needs_it_named_and_lists_the_names(catalog, monkeypatch, capsys):
    monkeypatch.setenv("MODELGATE_CONFIG", str(catalog))
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    assert cli.main(["versions"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"modelgate: error: {catalog} names 2 models (occupancy, overflow-risk); choose one with "
        "--model NAME (or MODELGATE_MODEL)."
    )
    assert cli.main(["--model", "beds", "versions"]) == 2
    assert "No model 'beds' in" in capsys.readouterr().err


def test_models_list_and_status_name_the_model(catalog, monkeypatch, capsys, tmp_path):
    import dataclasses

    from registry import Registry
    from tests.registry.test_store import _review, _version

    monkeypatch.setenv("MODELGATE_CONFIG", str(catalog))
    monkeypatch.setenv("MODELGATE_HOME", str(tmp_path / "mg"))
    for name in ("REGISTRY_DB", "ARTIFACTS_DIR", "AIRFLOW_HOME", "AUDIT_CHECKPOINT", "MODEL"):
        monkeypatch.delenv(f"MODELGATE_{name}", raising=False)
    assert cli.main(["init", "--model", "overflow-risk"]) == 0
    capsys.readouterr()
    cfg = load_config(model="occupancy")
    with Registry.open(cfg) as reg:  # occupancy: a champion v1 and a review of v2
        reg.promote(
            version=_version(reg, "r1"),
            expected_champion=None,
            run_id="r1",
            at="2025-01-01",
            reason="first",
        )
        _review(reg, "r2", _version(reg, "r2"), expected=1)
    with Registry.open(dataclasses.replace(cfg, model="retired")) as reg:
        _version(reg, "r1")  # a model the registry holds but the catalog no longer names
    assert cli.main(["--model", "overflow-risk", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["model"] == "overflow-risk" and status["runs"] == 0
    # With several models and none named, status covers them all.
    assert cli.main(["status", "--json"]) == 0
    fleet = {m["model"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert list(fleet) == ["occupancy", "overflow-risk"]
    assert fleet["occupancy"]["champion"]["version"] == 1 and fleet["occupancy"]["runs"] == 2
    assert fleet["occupancy"]["pending_reviews"] == 1 and fleet["overflow-risk"]["versions"] == 0
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Model:           occupancy" in out and out.count("Audit events:") == 1
    assert cli.main(["models", "list", "--json"]) == 0
    listed = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(listed) == ["occupancy", "overflow-risk", "retired"]
    assert listed["overflow-risk"]["task"] == "classification"
    assert listed["overflow-risk"]["champion"] is None
    occ = listed["occupancy"]
    assert (occ["champion"]["version"], occ["last_decision"], occ["pending_reviews"]) == (
        1,
        "review",
        1,
    )
    assert listed["retired"]["in_catalog"] is False and listed["retired"]["champion"] is None
    assert cli.main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["model", "task", "schedule", "champion"]
    assert set(lines[1].replace(" ", "")) == {"-"}  # the rule under the header, as every table
    assert lines[2].split()[:5] == ["occupancy", "regression", "0", "2", "1"]
    assert "retired (not in the catalog)" in lines[4]


def test_the_readme_example_catalog_loads(tmp_path, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("**Several models (a catalog).**", 1)[1].split("```toml\n", 1)[1]
    path = tmp_path / "modelgate.toml"
    path.write_text(block.split("```", 1)[0])
    monkeypatch.chdir(tmp_path)
    assert model_names(env={}, path=path) == ["occupancy", "overflow-risk"]
    risk = load_config(env={}, path=path, model="overflow-risk")
    assert list(risk.notify_to) == ["bed-management@example.org"]
    assert (risk.task, risk.schedule, risk.drift_psi_threshold) == (
        "classification",
        "0 3 * * 1",
        0.25,
    )
    occ = load_config(env={}, path=path, model="occupancy")
    assert list(occ.notify_to) == ["ml-team@example.org"] and occ.estimator_params == {
        "max_iter": 300
    }
    assert occ.registry_db == risk.registry_db  # one registry


def test_the_demo_fleet_is_three_models_on_the_demo_data(monkeypatch):
    from pathlib import Path

    from pipeline.demo_data import demo_frame

    path = Path(__file__).resolve().parents[2] / "examples" / "demo-fleet.toml"
    assert model_names(env={}, path=path) == ["occupancy", "overflow-risk", "admissions"]
    risk = load_config(env={}, path=path, model="overflow-risk")
    frame = demo_frame(risk)
    assert risk.task == "classification" and "occupancy" not in frame  # no leak of its source
    assert set(frame["overflow"].unique()) == {0, 1} and 0.05 < frame["overflow"].mean() < 0.5
    weekly = load_config(env={}, path=path, model="admissions")
    assert (weekly.schedule, weekly.drift_schedule) == ("0 2 * * 1", "0 3 * * 1")
    assert "emergency_admissions" not in weekly.features and "occupancy" not in weekly.features
    assert "occupancy" in demo_frame(load_config(env={}, path=path, model="occupancy"))


def test_fleet_cli_errors_are_one_line_exit_2_and_change_nothing(
    catalog, monkeypatch, capsys, tmp_path
):
    from registry import Registry
    from tests.registry.test_store import _review, _version

    monkeypatch.setenv("MODELGATE_CONFIG", str(catalog))
    monkeypatch.setenv("MODELGATE_HOME", str(tmp_path / "mg"))
    for name in ("REGISTRY_DB", "ARTIFACTS_DIR", "AIRFLOW_HOME", "AUDIT_CHECKPOINT", "MODEL"):
        monkeypatch.delenv(f"MODELGATE_{name}", raising=False)
    risk = load_config(model="overflow-risk")
    with Registry.open(risk, create=True) as reg:
        reg.promote(
            version=_version(reg, "r1"),
            expected_champion=None,
            run_id="r1",
            at="2025-01-01",
            reason="first",
        )
        rid = _review(reg, "r2", _version(reg, "r2"), expected=1)
    before = (tmp_path / "mg" / "registry.db").read_bytes()
    cases = [
        (
            ["simulate", "--months", "1", "--data", "x.csv"],
            "--data is one model's data; with 2 models",
        ),
        (
            ["--model", "occupancy", "approve", str(rid), "--by", "ada"],
            f"Review {rid} belongs to model 'overflow-risk', not 'occupancy': add --model overflow-risk.",
        ),
        (["approve", "999", "--by", "ada"], "Review 999 does not exist."),
    ]
    for args, message in cases:
        assert cli.main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert (tmp_path / "mg" / "registry.db").read_bytes() == before
    with Registry.open(risk) as reg:
        assert reg.get_review(rid).status == "pending" and reg.current_champion().version == 1
