"""The rollout monitor DAG under real Airflow: demo traffic through the Router, then analysis and
the step decisions of a gradual rollout until it promotes."""

from __future__ import annotations

import datetime as dt
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
    return bag.get_dag(loop.DAG_ID), bag.get_dag(loop.ROLLOUT_DAG_ID)


def test_rollout_monitor_graph_and_schedule(dags):
    _, monitor = dags
    edges = {(t.task_id, d) for t in monitor.tasks for d in t.downstream_task_ids}
    assert edges == {("serve_traffic", "analyse_and_act")}
    assert monitor.timetable.expression == "0 * * * *"  # @hourly


def test_a_gradual_rollout_completes_through_dag_runs(dags, mg_home, monkeypatch):
    monkeypatch.setenv("MODELGATE_ROLLOUT_STRATEGY", "gradual")
    retrain, monitor = dags
    for month in (1, 6):
        retrain.test(
            logical_date=pendulum.datetime(2025, month, 1, 2, tz="UTC"),
            run_conf={"force_retrain": True, "data_path": None, "reasons": []},
        )
    cfg = load_config(path=os.devnull)
    with Registry.open(cfg) as reg:
        assert reg.current_champion().version == 1
        ctx = loop.RunContext(run_id="manual-start", as_of=dt.datetime(2025, 6, 1, 3))
        rid = loop.start_rollout(cfg, reg, ctx, 2, 1)["rollout"]
    states = []
    for day in range(2, 8):
        run = monitor.test(
            logical_date=pendulum.datetime(2025, 6, day, 4, tz="UTC"),
            run_conf={"data_path": None, "requests": 20_000},
        )
        states.append(str(getattr(run.state, "value", run.state)))
        with Registry.open(cfg) as reg:
            if reg.get_rollout(rid)["status"] != "active":
                break
    assert set(states) == {"success"}
    with Registry.open(cfg) as reg:
        actions = [a["action"] for a in reg.rollout_analyses(rid)]
        assert actions[-1] == "promote" and actions.count("advance") == 2, actions
        assert set(actions) <= {"advance", "continue", "promote"}
        assert reg.get_rollout(rid)["status"] == "promoted"
        assert reg.current_champion().version == 2
        assert len(reg.rollout_outcomes(rid)) == 20_000 * len(states)
