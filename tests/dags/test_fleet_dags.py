"""DAGs per model, generated from the catalog: ids, schedules, tags, a broken model breaking only
itself, and a real run of one model's DAG writing only that model's rows."""

from __future__ import annotations

import pendulum
import pytest

from pipeline.config import load_config
from registry import Registry
from tests.conftest import REPO

pytestmark = pytest.mark.airflow

CATALOG = """
bootstrap_resamples = 1000

[models.beds]

[models.overflow-risk]
task = "classification"
target = "overflow"
schedule = "0 3 * * 1"

[models.weekly-beds]
schedule = "0 4 * * 0"
drift_schedule = "0 5 * * *"
"""


def _bag(tmp_path, monkeypatch, text: str):
    from airflow.dag_processing.dagbag import DagBag

    path = tmp_path / "modelgate.toml"
    path.write_text(text)
    monkeypatch.setenv("MODELGATE_CONFIG", str(path))
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    return DagBag(str(REPO / "dags"))


def test_three_models_make_three_dags_each(airflow_db, tmp_path, monkeypatch):
    bag = _bag(tmp_path, monkeypatch, CATALOG)
    assert bag.import_errors == {}
    models = ("beds", "overflow-risk", "weekly-beds")
    assert sorted(bag.dag_ids) == sorted(
        f"modelgate_{kind}__{m}" for m in models for kind in ("retrain", "drift", "rollout")
    )
    risk = bag.get_dag("modelgate_retrain__overflow-risk")
    assert risk.timetable.expression == "0 3 * * 1"  # its own schedule
    assert bag.get_dag("modelgate_retrain__beds").timetable.expression == "0 2 1 * *"
    assert set(risk.tags) == {"modelgate", "model:overflow-risk"}
    weekly = bag.get_dag("modelgate_drift__weekly-beds")
    assert weekly.timetable.expression == "0 5 * * *"
    trigger = weekly.get_task("trigger_retraining")
    assert trigger.trigger_dag_id == "modelgate_retrain__weekly-beds"  # its own model's


def test_a_broken_model_is_one_import_error_and_breaks_only_itself(
    airflow_db, tmp_path, monkeypatch
):
    bad = CATALOG + '\n[models.typo]\nalpha = 2\n\n[models.Upper]\ntarget = "x"\n'
    bag = _bag(tmp_path, monkeypatch, bad)
    assert len(bag.import_errors) == 1
    (error,) = bag.import_errors.values()
    assert "The 'alpha' setting" in error and "[models.typo]" in error
    assert "model name 'Upper'" in error
    assert not any(d.endswith("__typo") for d in bag.dag_ids)
    assert len([d for d in bag.dag_ids if d.startswith("modelgate_")]) == 9


def test_a_models_dag_writes_only_that_models_rows(airflow_db, tmp_path, monkeypatch):
    bag = _bag(tmp_path, monkeypatch, CATALOG)
    home = tmp_path / "mg"
    monkeypatch.setenv("MODELGATE_HOME", str(home))
    Registry.open(load_config(model="beds"), create=True).close()
    dag = bag.get_dag("modelgate_retrain__weekly-beds")
    conf = {"force_retrain": True, "data_path": None, "reasons": []}
    dr = dag.test(logical_date=pendulum.parse("2025-01-05T04:00"), run_conf=conf)
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    with Registry.open(load_config(model="weekly-beds")) as reg:
        assert reg.get_run(dr.run_id)["dag_id"] == "modelgate_retrain__weekly-beds"
        assert reg.current_champion().version == 1
        assert reg.models() == ["weekly-beds"]
        assert reg.scoped("beds").status()["runs"] == 0
        assert reg.verify_audit().ok


def test_a_task_or_the_runner_parses_only_its_models_dags(airflow_db, tmp_path, monkeypatch):
    # Airflow sets this while a worker parses the file to run one task of one DAG.
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "modelgate_drift__weekly-beds")
    bag = _bag(tmp_path, monkeypatch, CATALOG)
    assert sorted(bag.dag_ids) == [
        f"modelgate_{k}__weekly-beds" for k in ("drift", "retrain", "rollout")
    ]
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID")
    monkeypatch.setenv("MODELGATE_RUNNER_MODEL", "beds")  # the runner, before a dag.test()
    assert {d.rsplit("__", 1)[1] for d in _bag(tmp_path, monkeypatch, CATALOG).dag_ids} == {"beds"}
