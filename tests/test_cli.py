"""The CLI's happy paths on a registry filled through the library (the DAG tests cover Airflow)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from pipeline import cli, loop
from tests.conftest import make_env
from tests.pipeline.test_loop import _full_run


@pytest.fixture
def filled(home, monkeypatch, cfg, registry):
    for k, v in make_env(home).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    for month in (1, 2, 6):  # promote, reject, review
        _full_run(
            cfg,
            registry,
            loop.RunContext(
                run_id=f"run-{month}", as_of=dt.datetime(2025, month, 1, 2), force=True
            ),
        )
    return registry


def test_status_json_is_one_object_with_the_documented_fields(filled, capsys):
    assert cli.main(["status", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    st = json.loads(out[0])
    assert {"champion", "versions", "runs", "pending_reviews", "audit_events"} <= set(st)
    champ = st["champion"]
    assert isinstance(champ["version"], int) and champ["metric"] == "mae"
    assert isinstance(champ["value"], float) and isinstance(champ["promoted_at"], str)
    assert st["versions"] == 3 and st["runs"] == 3 and st["pending_reviews"] == 1


def test_approve_then_rollback_from_the_command_line(filled, capsys):
    assert cli.main(["reviews", "--json"]) == 0
    (review,) = json.loads(capsys.readouterr().out)
    assert review["status"] == "pending" and review["version"] == 3
    assert cli.main(["approve", str(review["id"]), "--by", "alice", "--reason", "ok"]) == 0
    assert "version 3 is now the champion" in capsys.readouterr().out
    assert cli.main(["approve", str(review["id"]), "--by", "bob"]) == 2
    assert "already decided: approved by alice" in capsys.readouterr().err
    assert cli.main(["rollback", "--by", "carol", "--reason", "bad latency"]) == 0
    assert "v3 -> v1" in capsys.readouterr().out
    assert filled.current_champion().version == 1


def test_rollback_expect_refuses_a_champion_that_changed(filled, capsys):
    champ = filled.current_champion().version
    assert cli.main(["rollback", "--by", "c", "--reason", "r", "--expect", str(champ + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"The champion is v{champ}, not v{champ + 1}" in err
    assert filled.current_champion().version == champ
    args = ["rollback", "--by", "c", "--reason", "r", "--to", "2", "--expect", str(champ)]
    assert cli.main(args) == 0
    assert f"Rolled back: champion v{champ} -> v2." in capsys.readouterr().out


def test_twenty_concurrent_rollbacks_change_the_champion_once(filled, cfg):
    import threading

    from pipeline import admin
    from pipeline.errors import Conflict
    from registry import Registry

    (review,) = filled.reviews("pending")
    admin.decide_approval(cfg, filled, by="alice", review_id=review.id, reason="ok")
    before = len(filled.champion_history())
    barrier, results = threading.Barrier(20), []

    def one() -> None:
        try:
            with Registry.open(cfg) as reg:
                barrier.wait()
                results.append(admin.do_rollback(cfg, reg, by="ops", reason="race"))
        except Exception as exc:  # anything but a Conflict fails below, with its message
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done = [r for r in results if not isinstance(r, Exception)]
    others = {repr(r) for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)}
    assert not others and len(done) == 1 and len(results) == 20
    assert done[0][1] == 3 and done[0][0].version == 1  # the true before and after
    assert len(filled.champion_history()) == before + 1
    last = filled.champion_history()[-1]["id"]
    assert [o["key"] for o in filled.outbox(limit=100)].count(f"champion:{last}") == 1


def test_reject_a_review(filled, capsys):
    (review,) = filled.reviews("pending")
    assert cli.main(["reject", str(review.id), "--by", "bob", "--reason", "too small"]) == 0
    assert filled.get_review(review.id).status == "rejected"


def test_audit_verify_reports_tampering(filled, capsys):
    assert cli.main(["audit", "--verify"]) == 0
    assert "verified" in capsys.readouterr().out
    filled.db.execute("DROP TRIGGER audit_log_append_only_u")
    filled.db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    assert cli.main(["audit", "--verify"]) == 1
    assert "BROKEN at event 2" in capsys.readouterr().err


def test_human_tables(filled, capsys):
    for cmd in (["status"], ["versions"], ["reviews", "--all"], ["audit", "--limit", "5"]):
        assert cli.main(cmd) == 0
    out = capsys.readouterr().out
    assert "Champion:" in out and "sha256" in out and "pending" in out and "review_requested" in out


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_drift_command_json_and_errors(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"a": rng.normal(size=3000), "b": rng.choice(list("xyz"), 3000), "y": rng.normal(size=3000)}
    ).to_csv(tmp_path / "ref.csv", index=False)
    cur = pd.DataFrame(
        {
            "a": rng.normal(0.3, 1, 2000),
            "b": rng.choice(list("xy"), 2000),
            "y": rng.normal(size=2000),
        }
    )
    cur.to_parquet(tmp_path / "cur.parquet")
    assert (
        cli.main(
            [
                "drift",
                str(tmp_path / "ref.csv"),
                str(tmp_path / "cur.parquet"),
                "--target",
                "y",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert {"drift_detected", "drift_type", "drift_score", "features"} <= set(out)
    assert out["drift_detected"] is True and out["drift_type"] == "data"
    by = {f["name"]: f for f in out["features"]}
    assert set(by) == {"a", "b"}
    assert set(by["a"]) == {
        "name",
        "kind",
        "ks",
        "p_value",
        "psi",
        "wasserstein",
        "missing_delta",
        "drifted",
    }
    assert by["a"]["kind"] == "numeric" and by["a"]["drifted"] and by["a"]["ks"] > 0.08
    assert (
        by["b"]["kind"] == "categorical"
        and by["b"]["ks"] is None
        and by["b"]["wasserstein"] is None
    )
    assert cli.main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "ref.csv")]) == 0
    assert "No drift" in capsys.readouterr().out
    assert cli.main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    cur.drop(columns="b").to_csv(tmp_path / "nob.csv", index=False)
    assert cli.main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "nob.csv")]) == 2
    assert "column 'b'" in capsys.readouterr().err


def test_drift_command_leaves_time_columns_out_by_default(tmp_path, capsys, monkeypatch):
    """The README's example has no --timestamp: the time column must not be judged as a drifted
    categorical (it was, with PSI 9.2): timestamp_column and datetime columns are left out."""
    import numpy as np
    import pandas as pd

    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    rng = np.random.default_rng(1)

    def frame(start: str, n: int) -> pd.DataFrame:
        hours = pd.date_range(start, periods=n, freq="h")
        return pd.DataFrame(
            {"timestamp": hours.astype(str), "when": hours, "a": rng.normal(size=n)}
        )

    frame("2025-01-01", 3000).to_parquet(tmp_path / "ref.parquet")
    frame("2025-06-01", 2000).to_parquet(tmp_path / "cur.parquet")
    args = ["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"), "--json"]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [f["name"] for f in out["features"]] == ["a"] and out["drift_detected"] is False
    assert "Left out as time: timestamp, when" in captured.err
