"""A seeded registry made once per session and copied for every test that writes to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import load_config
from tests.dashboard.seed import env_for, populate

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
SETTINGS = {"review_ttl_days": 60, "segment_columns": "ward"}


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("seeded") / "mg"
    populate(home, **SETTINGS)
    return home


@pytest.fixture
def dash_home(seeded, tmp_path, monkeypatch) -> Path:
    """A private copy of the seeded home, selected through the environment as the app reads it."""
    home = tmp_path / "mg"
    shutil.copytree(seeded, home)
    for key, value in env_for(home, **SETTINGS).items():
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture
def dash_cfg(dash_home):
    return load_config()
