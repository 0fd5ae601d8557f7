"""The retraining DAG under real Airflow: integrity, full runs, retries and failures."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

from pipeline import loop
from pipeline.config import load_config
from registry import Registry
from tests.conftest import REPO

pytestmark = pytest.mark.airflow
DAG_ID = loop.DAG_ID


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(DAG_ID)


def _registry() -> Registry:
    return Registry.open(load_config(path=os.devnull))


def _run(dag, day: str, **conf):
    # dag.test() in one process keeps the previous run's params on the DAG object: pass all of them.
    full = {"force_retrain": False, "data_path": None, "reasons": [], **conf}
    return dag.test(logical_date=pendulum.parse(day), run_conf=full)


def test_dagbag_has_no_import_errors_and_the_expected_graph(dag):
    assert dag.dag_id == DAG_ID
    assert dag.catchup is False
    assert set(dag.params.keys()) >= {"force_retrain", "data_path", "reasons"}
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == {
        ("check_triggers", "should_train"),
        ("should_train", "train_challenger"),
        ("should_train", "skip_training"),
        ("skip_training", "finish"),
        ("train_challenger", "evaluate"),
        ("evaluate", "route_decision"),
        ("evaluate", "promote"),
        ("evaluate", "request_review"),
        ("evaluate", "reject"),
        ("route_decision", "promote"),
        ("route_decision", "request_review"),
        ("route_decision", "reject"),
        ("promote", "finish"),
        ("request_review", "finish"),
        ("reject", "finish"),
    }
    writers = {
        "check_triggers",
        "train_challenger",
        "evaluate",
        "promote",
        "request_review",
        "reject",
        "finish",
    }
    for t in dag.tasks:
        assert t.retries == 1
        if t.task_id in writers:
            assert t.queue == "modelgate-registry", t.task_id
    assert dag.get_task("finish").trigger_rule == "none_failed_min_one_success"


def test_schedule_is_monthly_by_default():
    from pipeline.config import load_config as lc

    assert lc(env={}, path=os.devnull).schedule == "0 2 1 * *"


def test_airflow_dags_test_command_runs_the_whole_loop(airflow_db, mg_home):
    """One full run through the real `airflow dags test` command."""
    env = dict(os.environ)
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "airflow"),
            "dags",
            "test",
            DAG_ID,
            "2025-01-01T02:00:00+00:00",
            "-c",
            json.dumps({"force_retrain": True}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with _registry() as reg:
        st = reg.status()
        runs = reg.runs()
    assert st["champion"]["version"] == 1
    assert st["versions"] == 1 and st["runs"] == 1
    assert runs[0]["status"] == "success" and runs[0]["outcome"] == "promote"
    assert "manual" in json.loads(runs[0]["trigger_reasons"])
    assert runs[0]["as_of"] == "2025-01-01T02:00:00"


def test_monthly_runs_promote_review_and_reject(dag, mg_home):
    """Four months of the demo: first champion, a loss, a small win, and a significant win of
    +6.2% whose lower confidence bound falls short of the 5% bar: a review, not a promotion."""
    outcomes = []
    for day in ("2025-01-01T02:00", "2025-02-01T02:00", "2025-06-01T02:00", "2025-09-01T02:00"):
        dr = _run(dag, day, reasons=["schedule"])
        assert str(dr.state) in ("success", "DagRunState.SUCCESS")
        with _registry() as reg:
            outcomes.append(reg.decision(dr.run_id)["outcome"])
    assert outcomes == ["promote", "reject", "review", "review"]
    with _registry() as reg:
        st = reg.status()
        assert st["champion"]["version"] == 1
        # the June review expired at the September run (14-day TTL); September's waits
        assert [r.status for r in reg.reviews()] == ["expired", "pending"]
        why = " ".join(reg.decision(dr.run_id)["reasons"])
        assert "lower confidence bound" in why and "does not" in why
        assert reg.evidence_for_run(dr.run_id)["_verified"]
        assert reg.verify_audit().ok


def test_the_point_gate_promotes_the_significant_win(dag, mg_home, monkeypatch):
    """promotion_gate = point: the same September challenger (+6.2%, p < 0.05) is promoted."""
    monkeypatch.setenv("MODELGATE_PROMOTION_GATE", "point")
    for day in ("2025-01-01T02:00", "2025-09-01T02:00"):
        dr = _run(dag, day, reasons=["schedule"])
    with _registry() as reg:
        assert reg.decision(dr.run_id)["outcome"] == "promote"
        assert reg.status()["champion"]["version"] == 2


def test_run_without_trigger_is_skipped(dag, mg_home):
    _run(dag, "2025-01-01T02:00", force_retrain=True)
    dr = _run(dag, "2025-01-10T02:00")
    with _registry() as reg:
        run = reg.get_run(dr.run_id)
        assert run["status"] == "success" and run["outcome"] == "skipped"
        assert reg.status()["versions"] == 1
        checks = {c["name"]: c for c in json.loads(run["triggers"])}
        assert checks["model_age"]["fired"] is False and checks["model_age"]["value"] == 9.0


def test_every_task_retried_after_its_write_changes_nothing(dag, mg_home, monkeypatch):
    """Each step succeeds, then fails once as if the worker died: Airflow retries it."""
    failed_once: set[str] = set()

    def flaky(name):
        real = getattr(loop, name)

        def wrapper(*args, **kwargs):
            result = real(*args, **kwargs)
            if name not in failed_once:
                failed_once.add(name)
                raise RuntimeError(f"worker lost after {name}")
            return result

        return wrapper

    for name in (
        "check_triggers",
        "train_challenger",
        "evaluate_challenger",
        "promote",
        "request_review",
        "finish",
    ):
        monkeypatch.setattr(loop, name, flaky(name))
    first = _run(dag, "2025-01-01T02:00", force_retrain=True)
    third = _run(dag, "2025-06-01T02:00", force_retrain=True)  # a review against v1
    assert {
        "check_triggers",
        "train_challenger",
        "evaluate_challenger",
        "promote",
        "request_review",
        "finish",
    } <= failed_once
    with _registry() as reg:
        st = reg.status()
        assert st["versions"] == 2 and st["runs"] == 2
        assert len(reg.champion_history()) == 1
        assert len(reg.comparisons()) == 2
        assert len(reg.reviews()) == 1
        events = [e["event"] for e in reg.audit_log()]
        for event in ("model_registered", "compared", "decided", "promoted", "review_requested"):
            assert events.count(event) == (
                2 if event in ("model_registered", "compared", "decided") else 1
            )
        assert reg.get_run(first.run_id)["status"] == "success"
        assert reg.get_run(third.run_id)["outcome"] == "review"
        assert reg.verify_audit().ok


def test_failure_is_recorded_in_the_registry(dag, mg_home, tmp_path):
    missing = tmp_path / "nope.csv"
    dr = _run(dag, "2025-01-01T02:00", force_retrain=True, data_path=str(missing))
    assert "failed" in str(dr.state).lower()
    with _registry() as reg:
        run = reg.get_run(dr.run_id)
        assert run["status"] == "failed"
        assert "nope.csv" in run["error"] and "train_challenger" in run["error"]
        assert [e["event"] for e in reg.audit_log(event="run_failed")] == ["run_failed"]
        assert reg.status()["versions"] == 0


def test_as_of_comes_from_the_data_interval(dag, mg_home):
    dr = _run(dag, "2025-02-01T02:00", force_retrain=True)
    with _registry() as reg:
        run = reg.get_run(dr.run_id)
        v = reg.get_version(run["challenger_version"])
    assert run["as_of"] == "2025-02-01T02:00:00"
    assert dt.datetime.fromisoformat(v.train_end) == dt.datetime(2025, 1, 2, 2)
