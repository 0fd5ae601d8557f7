"""``modelgate up`` for real: Airflow's API server first, then the scheduler, DAG processor and
triggerer, so no task attempt races the API server; on ports other than Airflow's default
(tasks report to the port the API server listens on); SIGTERM stops everything it started."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_cli_stop import _env, _processes_of, airflow_rows

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
MG = [sys.executable, "-m", "pipeline.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _init(home: Path) -> dict[str, str]:
    env = {**_env(home), "MODELGATE_CONFIG": os.devnull}
    subprocess.run([*MG, "init"], env=env, cwd=REPO, check=True, capture_output=True)
    return env


def _dag_runs(home: Path) -> list[tuple[str, str, str]]:
    try:
        return airflow_rows(home, "SELECT dag_id, run_id, state FROM dag_run")
    except sqlite3.OperationalError:  # not created yet, or locked by a writer
        return []


def _settled(runs: list[tuple[str, str, str]]) -> bool:
    """A retraining run has finished and no DAG run is queued or running."""
    retrained = any(d.startswith("modelgate_retrain") and s == "success" for d, _, s in runs)
    return retrained and all(s in ("success", "failed") for _, _, s in runs)


def test_a_busy_port_is_one_line_before_anything_starts(home: Path) -> None:
    env = _init(home)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        out = subprocess.run(
            [*MG, "up", "--airflow-port", str(port), "--dashboard-port", str(_free_port())],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"modelgate: error: Port {port} on 127.0.0.1 is already in use (another 'modelgate up' or Airflow?); "
        "stop it or pass --airflow-port N."
    ], out.stderr
    assert not (home / "logs" / "airflow-api-server.log").exists()


def test_up_waits_for_the_api_server_and_every_task_runs_at_its_first_try(home: Path) -> None:
    env = _init(home)
    airflow_port, dashboard_port = _free_port(), _free_port()
    up = subprocess.Popen(
        [*MG, "up", "--airflow-port", str(airflow_port), "--dashboard-port", str(dashboard_port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 420
        # The scheduler's first runs (catch-up is off: the latest interval of each DAG), and the
        # retraining a drift verdict triggers; judged only once they have all finished.
        while not _settled(runs := _dag_runs(home)):
            assert up.poll() is None, up.stdout.read() if up.stdout else ""
            assert time.monotonic() < deadline, f"the first DAG runs did not finish: {runs}"
            time.sleep(2)
        with urllib.request.urlopen(f"http://127.0.0.1:{dashboard_port}/_stcore/health") as r:
            assert r.status == 200
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=90)
    assert up.returncode == 0, output
    lines = output.splitlines()
    waiting = lines.index(f"Waiting for Airflow's API server at http://127.0.0.1:{airflow_port} …")
    ready = next(i for i, line in enumerate(lines) if "API server ready after" in line)
    assert waiting < ready, output
    assert not _processes_of(home), "up left processes behind"

    finished = {(d, r) for d, r, _ in runs}
    tries = airflow_rows(
        home, "SELECT dag_id, run_id, task_id, state, try_number FROM task_instance"
    )
    assert [s for d, _, s in runs if d.startswith("modelgate_retrain")].count("failed") == 0, runs
    ran = [t for t in tries if (t[0], t[1]) in finished and t[3] != "skipped"]
    assert ran, tries
    # Before, a scheduler quicker than the API server (or any port but 8080) failed first tries.
    assert [t for t in ran if t[3] != "success" or t[4] != 1] == []
    log = (home / "logs" / "airflow-api-server.log").read_text()
    assert "ConnectError" not in log
    reg = sqlite3.connect(home / "registry.db")
    try:
        runs = reg.execute("SELECT status FROM runs").fetchall()
    finally:
        reg.close()
    assert runs and all(s != "running" for (s,) in runs), runs
