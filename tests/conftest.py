"""Shared fixtures: tiny and composable, each test gets its own temporary ModelGate home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent


def make_env(home: Path, **settings: object) -> dict[str, str]:
    """MODELGATE_* variables for a temporary home, plus any settings given as keyword arguments."""
    env = {"MODELGATE_HOME": str(home), "MODELGATE_BOOTSTRAP_RESAMPLES": "1000"}
    env.update({f"MODELGATE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mg"


@pytest.fixture
def cfg(home: Path) -> Config:
    return load_config(env=make_env(home), path=os.devnull)


@pytest.fixture
def registry(cfg: Config):
    from registry import Registry

    reg = Registry.open(cfg, create=True)
    yield reg
    reg.close()
