"""Stopping the CLI while its runner works (real Airflow through ``dags.runner``): SIGTERM lets the
DAG run in progress finish, a second one kills it; either way nothing writes after the CLI exits
and no process of the runner is left. A run killed midway is marked abandoned by the next run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, make_env

pytestmark = pytest.mark.airflow
MG = [sys.executable, "-m", "pipeline.cli"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELGATE_", "AIRFLOW"))}
    return {**env, **make_env(home)}


def _snapshot(home: Path) -> tuple[list[tuple], int]:
    db = sqlite3.connect(f"file:{home / 'registry.db'}?mode=ro", uri=True)
    try:
        runs = db.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall()
        return runs, db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    finally:
        db.close()


def airflow_rows(home: Path, sql: str) -> list[tuple]:
    """Rows of the embedded Airflow's metadata database (read-only)."""
    db = sqlite3.connect(f"file:{home / 'airflow' / 'airflow.db'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _processes_of(home: Path) -> list[int]:
    """Live processes whose environment names this home (the runner, Airflow's children)."""
    mine = f"MODELGATE_HOME={home}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            live = proc.name.isdigit() and (proc / "stat").read_text().split(") ")[1][0] != "Z"
            if live and mine in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _running_rows(home: Path) -> bool:
    try:
        return any(status == "running" for _, status in _snapshot(home)[0])
    except sqlite3.Error:
        return False


def test_sigterm_stops_the_runner_and_nothing_writes_after_exit(tmp_path):
    began = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
    home = tmp_path / "mg"
    env = _env(home)
    subprocess.run([*MG, "init"], env=env, cwd=REPO, check=True, capture_output=True)
    sim = subprocess.Popen(
        [*MG, "simulate", "--months", "6"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    for line in sim.stdout:  # the first retraining is done; the drift monitor runs next
        if line.startswith("2025-01-01"):
            break
    sim.send_signal(signal.SIGTERM)
    _, err = sim.communicate(timeout=120)
    assert sim.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1].startswith("modelgate: error: Stopped by SIGTERM after "), (
        err
    )
    assert "the DAG run in progress finished first" in err and "Traceback" not in err
    after = _snapshot(home)
    assert _processes_of(home) == []
    time.sleep(2)
    assert _snapshot(home) == after  # no write after the CLI returned
    assert all(status != "running" for _, status in after[0])
    # A simulated run's id carries its logical time, not the wall clock's.
    assert [r for r, _ in after[0]][:1] == ["manual__2025-01-01T02:00:00+00:00"], after[0]
    # ...and Airflow shows it as lasting seconds (dag.test() stamped it started at its logical
    # date: "473d 20h" in the UI), started on the wall clock.
    spans = airflow_rows(
        home, "SELECT run_id, julianday(end_date) - julianday(start_date), start_date FROM dag_run"
    )
    assert spans and all(0 <= days * 86400 < 600 for _, days, _ in spans), spans
    assert all(started >= began for _, _, started in spans), (began, spans)

    # Two signals: the retraining in progress is killed and left 'running'; status says so, and
    # the next run marks it abandoned, audited.
    run = subprocess.Popen(
        [*MG, "run", "--as-of", "2025-03-01T02:00", "--force"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _until(lambda: _running_rows(home))
    run.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM and "was killed" in err, err
    assert _processes_of(home) == []
    (left,) = [r for r, status in _snapshot(home)[0] if status == "running"]
    status = subprocess.run([*MG, "status"], env=env, cwd=REPO, capture_output=True, text=True)
    assert f"Running:         {left} " in status.stdout
    subprocess.run(
        [*MG, "run", "--as-of", "2025-04-01T02:00", "--force"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    runs = dict(_snapshot(home)[0])
    assert runs[left] == "abandoned" and "running" not in runs.values()
    status = subprocess.run([*MG, "status"], env=env, cwd=REPO, capture_output=True, text=True)
    assert "Abandoned runs:  1 (left running by a process that stopped)" in status.stdout
    db = sqlite3.connect(f"file:{home / 'registry.db'}?mode=ro", uri=True)
    (event,) = db.execute(
        "SELECT entity_id FROM audit_log WHERE event = 'run_abandoned'"
    ).fetchall()
    db.close()
    assert event == (left,)


def test_a_reader_that_leaves_early_ends_the_output_quietly(tmp_path):
    """'modelgate audit | head -2': no BrokenPipeError traceback, the shell's SIGPIPE status."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "MODELGATE_HOME": str(tmp_path / "mg"), "MODELGATE_CONFIG": os.devnull}
    mg = str(Path(sys.executable).parent / "modelgate")
    subprocess.run([mg, "init"], env=env, check=True, capture_output=True)
    from registry import Registry

    with Registry(tmp_path / "mg" / "registry.db", tmp_path / "mg" / "artifacts") as reg:
        reg.import_audit_events(  # far more output than a pipe holds once the reader has gone
            {"actor": "t", "event": "login", "entity": "user", "entity_id": "t", "details": {}}
            for _ in range(3000)
        )
    proc = subprocess.run(
        f"'{mg}' audit --limit 3000 | head -2; echo \"status ${{PIPESTATUS[0]}}\"",
        shell=True,
        executable="/bin/bash",
        env=env,
        capture_output=True,
        text=True,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("seq")
    assert proc.stdout.splitlines()[-1] in ("status 0", "status 141")
