"""Evidence records end to end: written with each decision on the demo data with wards as
segments, immutable, verified against the audit log, printed by ``decisions show``."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

import pytest

from pipeline import cli, loop
from pipeline.config import load_config
from tests.conftest import make_env


@pytest.fixture
def decided(home, monkeypatch):
    env = make_env(home, segment_columns="ward", guardrail_metrics='{"rmse": 0.05}')
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    cfg = load_config()
    from registry import Registry

    with Registry.open(cfg, create=True) as reg:
        for month in (1, 2, 6):  # promote, reject, review
            ctx = loop.RunContext(
                run_id=f"run-{month}", as_of=dt.datetime(2025, month, 1, 2), force=True
            )
            loop.run_in_process(cfg, reg, ctx)
        yield cfg, reg


def test_every_decision_keeps_its_evidence(decided):
    cfg, reg = decided
    rows = reg.decisions()
    assert [r["outcome"] for r in rows] == ["review", "reject", "promote"]
    assert all(r["evidence"] for r in rows)
    review = reg.evidence(rows[0]["id"])
    assert review["_verified"] and review["outcome"] == "review"
    assert review["run"]["logical_date"] == "2025-06-01T02:00:00"
    assert review["run"]["airflow_url"] == (f"http://127.0.0.1:8080/dags/{loop.DAG_ID}/runs/run-6")
    assert {d["metric"] for d in review["metrics"]} == {"mae", "rmse", "r2", "mape", "smape"}
    wards = [d for d in review["segments"] if d["column"] == "ward"]
    assert (
        len(wards) == cfg.demo_wards
        and sum(d["n"] for d in wards) == review["primary"]["n_holdout"]
    )
    assert review["windows"]["holdout"]["rows"] == review["primary"]["n_holdout"]
    assert len(review["windows"]["holdout"]["fingerprint"]) == 64
    assert review["windows"]["train"]["end"] == review["windows"]["holdout"]["start"]
    assert review["errors"]["kind"] == "residuals"
    assert review["policy"]["settings"]["guardrails"] == {"rmse": 0.05}
    assert any(r["name"] == "guardrail:rmse" for r in review["policy"]["rules"])
    assert review["feature_importance"][0]["change"] is not None
    first = reg.evidence(rows[-1]["id"])
    assert first["champion_version"] is None and first["metrics"] == [] and first["segments"] == []
    assert first["policy"]["rules"][0]["name"] == "first_champion"


def test_evidence_is_immutable_and_tampering_is_found(decided):
    cfg, reg = decided
    did = reg.decisions()[0]["id"]
    db = sqlite3.connect(cfg.registry_db)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        db.execute("UPDATE evidence SET body = '{}' WHERE decision_id = ?", [did])
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        db.execute("DELETE FROM evidence WHERE decision_id = ?", [did])
    assert reg.verify_audit().ok
    db.execute("DROP TRIGGER evidence_no_update")
    body = json.loads(
        db.execute("SELECT body FROM evidence WHERE decision_id = ?", [did]).fetchone()[0]
    )
    body["outcome"] = "promote"
    db.execute("UPDATE evidence SET body = ? WHERE decision_id = ?", [json.dumps(body), did])
    db.commit()
    db.close()
    assert reg.evidence(did)["_verified"] is False
    check = reg.verify_audit()
    assert not check.ok
    assert any("evidence does not match" in p for p in check.problems)


def test_decisions_show_prints_the_record(decided, capsys):
    _, reg = decided
    did = reg.decisions()[0]["id"]
    assert cli.main(["decisions", "show", str(did)]) == 0
    out = capsys.readouterr().out
    for fragment in (
        f"Decision {did} of model 'default'",
        "review: version 3 against champion v1",
        "Airflow:  http://127.0.0.1:8080/dags/",
        "verified against the audit log",
        "guardrail:rmse",
        "Segments (mae):",
        "W01",
        "holdout (both models)",
        "Feature importance",
        "An admin decides",
    ):
        assert fragment in out, fragment
    assert cli.main(["decisions", "show", str(did), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["decision_id"] == did and ev["_verified"] is True
    assert cli.main(["decisions", "list"]) == 0
    listed = capsys.readouterr().out
    assert "review" in listed and "promote" in listed and "evidence" in listed


def test_decisions_show_errors_are_one_line(decided, capsys):
    assert cli.main(["decisions", "show", "999"]) == 2
    assert capsys.readouterr().err.strip() == "modelgate: error: Decision 999 does not exist."
    assert cli.main(["decisions", "show"]) == 2
    assert "needs the decision's id" in capsys.readouterr().err


def test_a_missing_segment_column_is_refused_before_a_run(home, monkeypatch, capsys):
    for k, v in make_env(home, segment_columns="floor").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    assert cli.main(["init"]) == 0
    capsys.readouterr()
    before = (home / "registry.db").read_bytes()
    assert cli.main(["run", "--as-of", "2025-03-01", "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "segment_columns names column 'floor'" in err[0]
    assert (home / "registry.db").read_bytes() == before


def test_up_says_plainly_that_a_simulated_history_meets_the_real_clock(decided):
    import datetime as dt

    from pipeline.cli_up import clock_note

    cfg, _ = decided  # runs up to 2025-06-01
    note = clock_note(cfg, now=dt.datetime(2026, 12, 3, 12))
    assert note is not None and "history ends at 2025-06-01 02:00 (a simulation)" in note
    assert "first runs are for now (2026-12-03)" in note and "modelgate simulate" in note
    assert clock_note(cfg, now=dt.datetime(2025, 6, 2, 12)) is None  # live: nothing to say
