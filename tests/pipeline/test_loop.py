"""The loop's steps on the demo data, without Airflow: idempotency and integrity checks."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import loop
from pipeline.errors import IntegrityError


def _ctx(run_id: str, month: int, **kw) -> loop.RunContext:
    return loop.RunContext(run_id=run_id, as_of=dt.datetime(2025, month, 1, 2), force=True, **kw)


def _full_run(cfg, reg, ctx) -> dict:
    return loop.run_in_process(cfg, reg, ctx)


def test_running_every_step_twice_changes_nothing(cfg, registry):
    first = _full_run(cfg, registry, _ctx("run-1", 1))
    snapshot = (registry.status(), registry.audit_log())
    again = _full_run(cfg, registry, _ctx("run-1", 1))
    assert again == first
    assert (registry.status(), registry.audit_log()) == snapshot


def test_a_corrupted_champion_is_never_loaded(cfg, registry):
    _full_run(cfg, registry, _ctx("run-1", 1))
    champ = registry.get_version(registry.current_champion().version)
    path = registry.artifacts.root / champ.artifact_path
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    ctx = _ctx("run-2", 2)
    loop.check_triggers(cfg, registry, ctx)
    trained = loop.train_challenger(cfg, registry, ctx)
    with pytest.raises(IntegrityError, match="checksum"):
        loop.evaluate_challenger(cfg, registry, ctx, trained["version"])
    assert (
        registry.comparison("run-2") is None
        and registry.current_champion().version == champ.version
    )


def test_holdout_is_the_same_rows_for_both_models(cfg, registry):
    _full_run(cfg, registry, _ctx("run-1", 1))
    result = _full_run(cfg, registry, _ctx("run-2", 2))
    comp = registry.comparison("run-2")
    assert result["champion"] == 1 and comp["champion_version"] == 1
    # holdout_days=30 before as_of: the daily rows of Jan 3 .. Feb 1, every ward; both models scored on them.
    assert comp["n_holdout"] == 30 * cfg.demo_wards
    assert (
        comp["holdout_start"] == "2025-01-02T02:00:00"
        and comp["holdout_end"] == "2025-02-01T02:00:00"
    )
    assert (
        set(comp["champion_metrics"])
        == set(comp["challenger_metrics"])
        == {"mae", "rmse", "r2", "mape", "smape"}
    )


def test_binary_classification_from_a_parquet_file(tmp_path, home):
    """Bring-your-own data, classification: ROC AUC decides, the other metrics ride along."""
    import os

    from pipeline.config import load_config
    from pipeline.data import demo_frame
    from registry import Registry
    from tests.conftest import make_env

    frame = demo_frame(load_config(env={}, path=os.devnull))
    ratio = frame["occupancy"] / frame["capacity"]
    frame = frame.assign(full=(ratio > ratio.median()).astype(int))
    frame = frame.drop(columns=["occupancy"]).rename(columns={"timestamp": "day"})
    path = tmp_path / "beds.parquet"
    frame.to_parquet(path)
    env = make_env(
        home,
        task="classification",
        target="full",
        timestamp_column="day",
        data_path=path,
        key_columns="ward",
    )
    cfg = load_config(env=env, path=os.devnull)
    with Registry.open(cfg, create=True) as reg:
        _full_run(cfg, reg, _ctx("c-1", 1))
        result = _full_run(cfg, reg, _ctx("c-2", 2))
        comp = reg.comparison("c-2")
    assert cfg.primary_metric == "roc_auc" and comp["metric"] == "roc_auc"
    assert comp["higher_is_better"] == 1 and 0.5 < comp["challenger_value"] <= 1.0
    assert set(comp["challenger_metrics"]) == {
        "roc_auc",
        "f1",
        "accuracy",
        "precision",
        "recall",
        "log_loss",
    }
    assert comp["ttest_p_value"] is None and comp["p_value"] is not None
    assert result["outcome"] in ("promote", "review", "reject")


def test_drift_check_is_recorded_once_and_a_lasting_shift_retrains_once(cfg, registry):
    _full_run(cfg, registry, _ctx("run-1", 1))

    def check(day: str) -> dict:
        as_of = dt.datetime.fromisoformat(day)
        return loop.drift_check(
            cfg,
            registry,
            loop.RunContext(run_id=f"drift-{day}", dag_id=loop.DRIFT_DAG_ID, as_of=as_of),
        )

    quiet = check("2025-03-01T03:00")
    assert quiet["retrain"] is False
    # The admissions shift began on 2025-05-01; the 30-day window shows it once most of it is new.
    first = check("2025-05-28T03:00")
    assert first["retrain"] is True and "data_drift" in first["reasons"]
    again = check("2025-05-28T03:00")  # a retried task: same answer, nothing new stored
    assert {k: again[k] for k in ("retrain", "reasons", "report_id")} == {
        k: first[k] for k in ("retrain", "reasons", "report_id")
    }
    assert len(registry.drift_reports()) == 2
    # A retraining runs for it; the shift lasts, but it is not news any more.
    _full_run(
        cfg,
        registry,
        loop.RunContext(
            run_id="run-drift", as_of=dt.datetime(2025, 5, 28, 3, 30), reasons=("data_drift",)
        ),
    )
    assert check("2025-05-29T03:00")["cooling_down"] is True  # min_retrain_interval_days 14
    later = check("2025-06-20T03:00")
    assert later["retrain"] is False and later["already_retrained"] is True
    scores = registry.drift_scores(feature="emergency_admissions")
    assert [s["drifted"] for s in scores] == [0, 1, 1, 1]


def test_a_first_model_short_of_its_baseline_waits_for_review_instead_of_retraining_daily(home):
    """A near-constant first model does not beat the training median: it goes to review, and the
    monitor, finding no champion, waits for that review instead of retraining every day; after
    it, the schedule tries again. Only a registry that never trained retrains from the monitor."""
    import os

    from pipeline.config import load_config
    from registry import Registry
    from tests.conftest import make_env

    env = make_env(home, estimator="sklearn.linear_model.Ridge", estimator_params='{"alpha": 1e12}')
    cfg = load_config(env=env, path=os.devnull)
    with Registry.open(cfg, create=True) as reg:

        def check(day: int) -> dict:
            at = dt.datetime(2025, 3, day, 3)
            ctx = loop.RunContext(run_id=f"drift-{day}", dag_id=loop.DRIFT_DAG_ID, as_of=at)
            return loop.drift_check(cfg, reg, ctx)

        assert check(1)["reasons"] == ["no_champion"]  # a new registry: train the first model
        result = _full_run(cfg, reg, _ctx("run-1", 3))
        assert result["outcome"] == "review"
        (review,) = reg.reviews("pending")
        assert "does not beat the naive baseline (training median" in " ".join(
            reg.decision("run-1")["reasons"]
        )
        waiting = check(2)
        assert waiting["retrain"] is False and waiting["waiting_for_review"] == review.id
        reg.reject_review(review.id, by="ada", reason="worse than the median")
        assert check(20) == {
            "retrain": False,
            "reasons": [],
            "report_id": None,
            "cooling_down": None,
            "already_retrained": True,
            "waiting_for_review": None,
        }
