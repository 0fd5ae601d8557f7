"""The drift monitor DAG under real Airflow: graph, recorded history, and the retraining it starts."""

from __future__ import annotations

import os

import pendulum
import pytest

from pipeline import loop
from pipeline.config import load_config
from registry import Registry
from tests.conftest import REPO

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(loop.DAG_ID), bag.get_dag(loop.DRIFT_DAG_ID)


def _reg() -> Registry:
    return Registry.open(load_config(path=os.devnull))


def test_monitor_graph_and_schedule(dags):
    _, monitor = dags
    edges = {(t.task_id, d) for t in monitor.tasks for d in t.downstream_task_ids}
    assert edges == {
        ("check_drift", "should_retrain"),
        ("should_retrain", "trigger_retraining"),
        ("should_retrain", "no_action"),
    }
    assert monitor.get_task("check_drift").queue == "modelgate-registry"
    trigger = monitor.get_task("trigger_retraining")
    assert trigger.trigger_dag_id == loop.DAG_ID and trigger.trigger_run_id == "drift__{{ run_id }}"


def test_drift_is_recorded_and_starts_one_retraining(dags, mg_home):
    retrain, monitor = dags
    retrain.test(
        logical_date=pendulum.parse("2025-01-01T02:00"),
        run_conf={"force_retrain": True, "data_path": None, "reasons": []},
    )
    quiet = monitor.test(
        logical_date=pendulum.parse("2025-03-10T03:00"),
        run_conf={"data_path": None, "trigger_retraining": True},
    )
    loud = monitor.test(  # four weeks into the admissions shift of 2025-05-01
        logical_date=pendulum.parse("2025-05-28T03:00"),
        run_conf={"data_path": None, "trigger_retraining": True},
    )
    with _reg() as reg:
        q, d = reg.drift_report_for_run(quiet.run_id), reg.drift_report_for_run(loud.run_id)
        assert q["retrain_requested"] == 0 and q["drift_type"] == "none"
        assert d["retrain_requested"] == 1 and d["drift_type"] == "data"
        assert "emergency_admissions" in d["affected"]
        scores = reg.drift_scores(report_id=d["id"])
        assert {s["feature"] for s in scores} == set(reg.get_version(1).schema["features"])
        assert all(s["psi"] >= 0 for s in scores)
    from airflow.models import DagRun

    started = DagRun.find(dag_id=loop.DAG_ID, run_id=f"drift__{loud.run_id}")
    assert len(started) == 1 and "data_drift" in started[0].conf["reasons"]
    assert DagRun.find(dag_id=loop.DAG_ID, run_id=f"drift__{quiet.run_id}") == []
