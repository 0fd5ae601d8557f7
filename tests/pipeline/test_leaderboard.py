"""The leaderboard: the champion and the newest versions on the same recent window, scored at
every retraining run and on demand, ranked, once per time."""

from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np

from pipeline import cli, data, evaluation, leaderboard, loop, training
from pipeline.context import load_data
from tests.conftest import make_env
from tests.pipeline.test_loop import _full_run


def test_every_run_scores_every_version_on_the_same_window(cfg, registry):
    for month in (1, 2, 3):
        at = dt.datetime(2025, month, 1, 2)
        _full_run(cfg, registry, loop.RunContext(run_id=f"run-{month}", as_of=at, force=True))
    boards = registry.leaderboards()
    assert [b["as_of"] for b in boards] == [f"2025-0{m}-01T02:00:00" for m in (3, 2, 1)]
    board = boards[0]
    assert board["window_start"] == "2025-01-30T02:00:00" and board["metric"] == "mae"
    assert [r["version"] for r in sorted(board["scores"], key=lambda r: r["version"])] == [1, 2, 3]
    assert [r["rank"] for r in board["scores"]] == [1, 2, 3]
    values = [r["value"] for r in board["scores"]]
    assert values == sorted(values)  # MAE: lower ranks first
    # Each figure is that version's MAE on exactly these rows.
    ds = load_data(
        cfg, None, None, start=dt.datetime(2025, 1, 30, 2), end=dt.datetime(2025, 3, 1, 2)
    )
    frame = ds.frame[ds.frame[ds.schema.target].notna()]
    assert board["n_rows"] == len(frame) and board["fingerprint"] == data.fingerprint(frame)
    for r in board["scores"]:
        v = registry.get_version(r["version"])
        model = training.loads(registry.load_model_bytes(v.version))
        pred = training.predict(model, frame, data.Schema.from_dict(v.schema), cfg.task)
        y = frame[ds.schema.target].to_numpy(dtype=float)
        assert np.isclose(r["value"], evaluation.score("mae", y, pred))
    champion = [r for r in board["scores"] if r.get("champion")]
    assert [r["version"] for r in champion] == [registry.current_champion().version]


def test_scoring_twice_at_one_time_records_once(cfg, registry):
    _full_run(
        cfg, registry, loop.RunContext(run_id="r", as_of=dt.datetime(2025, 1, 1, 2), force=True)
    )
    first = leaderboard.score(cfg, registry, dt.datetime(2025, 1, 1, 2))
    again = leaderboard.score(cfg, registry, dt.datetime(2025, 1, 1, 2))
    assert first["id"] == again["id"] and len(registry.leaderboards()) == 1
    in_sample = leaderboard.score(cfg, registry, dt.datetime(2024, 12, 1, 2))
    assert in_sample["scores"][0]["in_sample"] is True  # v1 trained on that window


def test_the_leaderboard_command(home, monkeypatch, capsys, cfg, registry):
    for k, v in make_env(home).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    _full_run(
        cfg, registry, loop.RunContext(run_id="r", as_of=dt.datetime(2025, 1, 1, 2), force=True)
    )
    assert cli.main(["leaderboard", "--as-of", "2025-02-01T02:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Leaderboard of model 'default': mae on ") and "champion" in out
    assert cli.main(["leaderboard", "--as-of", "2025-02-01T02:00", "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["window_end"] == "2025-02-01T02:00:00" and board["scores"][0]["version"] == 1
    assert cli.main(["leaderboard", "--as-of", "2019-01-01"]) == 2
    assert "Nothing to score at 2019-01-01 00:00" in capsys.readouterr().err


def test_only_the_newest_versions_and_the_champion_are_scored(home, registry):
    """``leaderboard_versions`` newest plus the champion, whatever the history's length (the
    read is a LIMIT, so a long history costs no more)."""
    import dataclasses

    from pipeline.config import load_config

    cfg = load_config(env=make_env(home, leaderboard_versions=1), path=os.devnull)
    for month in (1, 2, 3, 4):
        at = dt.datetime(2025, month, 1, 2)
        _full_run(cfg, registry, loop.RunContext(run_id=f"run-{month}", as_of=at, force=True))
    assert len(registry.versions()) == 4
    assert [v.version for v in registry.newest_versions(2)] == [4, 3]
    champ = registry.current_champion().version
    assert champ < 2  # older than every newest version: it is added, not one of them
    board = leaderboard.score(cfg, registry, dt.datetime(2025, 5, 1, 2))
    assert sorted(r["version"] for r in board["scores"]) == sorted({4, champ})
    wide = dataclasses.replace(cfg, leaderboard_versions=3)
    board = leaderboard.score(wide, registry, dt.datetime(2025, 5, 2, 2))
    assert sorted(r["version"] for r in board["scores"]) == sorted({2, 3, 4, champ})


def test_the_runs_own_comparison_figures_are_reused_only_on_the_same_rows(cfg, registry):
    """``finish`` hands the comparison's two figures to the leaderboard: used when the window's
    rows are the comparison's holdout (same fingerprint), ignored otherwise."""
    for month in (1, 2):
        at = dt.datetime(2025, month, 1, 2)
        _full_run(cfg, registry, loop.RunContext(run_id=f"run-{month}", as_of=at, force=True))
    known, fingerprint = leaderboard.run_scores(registry, "run-2", cfg.primary_metric)
    comp = registry.comparison("run-2")
    assert known == {2: comp["challenger_value"], 1: comp["champion_value"]}
    board = registry.leaderboards()[0]
    assert board["as_of"] == "2025-02-01T02:00:00" and board["fingerprint"] == fingerprint
    # The recorded figures are the comparison's, and each equals a fresh scoring (first test).
    assert {r["version"]: r["value"] for r in board["scores"]} == known
    bogus = {1: 123.0, 2: 456.0}

    def rows_at(at: dt.datetime) -> str:
        start = at - dt.timedelta(days=cfg.holdout_days)
        frame = load_data(cfg, None, None, start=start, end=at).frame
        return data.fingerprint(frame[frame[cfg.target].notna()])

    at = dt.datetime(2025, 3, 1, 2)
    used = leaderboard.score(cfg, registry, at, known=bogus, known_fingerprint=rows_at(at))
    assert {r["version"]: r["value"] for r in used["scores"]} == bogus
    later = dt.datetime(2025, 3, 9, 2)  # other rows: the figures are scored afresh
    fresh = leaderboard.score(cfg, registry, later, known=bogus, known_fingerprint=rows_at(at))
    assert fresh["fingerprint"] == rows_at(later) != rows_at(at)
    assert not {r["value"] for r in fresh["scores"]} & set(bogus.values())
