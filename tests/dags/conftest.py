"""Real Airflow for the DAG tests: a temporary AIRFLOW_HOME on SQLite, set before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO

_AIRFLOW_TMP = Path(tempfile.mkdtemp(prefix="modelgate-airflow-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_AIRFLOW_TMP / "airflow"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    # Parse-time DAG settings for the tests: retry at once, and a dedicated registry queue.
    "MODELGATE_RETRIES": "1",
    "MODELGATE_RETRY_DELAY_MINUTES": "0",
    "MODELGATE_QUEUE": "modelgate-registry",
    "MODELGATE_BOOTSTRAP_RESAMPLES": "1000",
    "MODELGATE_HOME": str(_AIRFLOW_TMP / "unused-home"),
}
os.environ.update(AIRFLOW_ENV)


@pytest.fixture(scope="session")
def airflow_db() -> dict[str, str]:
    """``airflow db migrate`` once per session (about 3 s)."""
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run(
        [str(airflow), "db", "migrate"],
        env=dict(os.environ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return dict(AIRFLOW_ENV)


@pytest.fixture
def mg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ModelGate home that the DAG's tasks will use (they read the environment at run time)."""
    home = tmp_path / "mg"
    monkeypatch.setenv("MODELGATE_HOME", str(home))
    from pipeline.config import load_config
    from registry import Registry

    Registry.open(load_config(path=os.devnull), create=True).close()
    return home
