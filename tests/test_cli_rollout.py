"""`modelgate rollout` and `modelgate traffic` from the shell, on a registry with a live rollout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from pipeline import loop
from pipeline.config import load_config
from registry import Registry
from tests.dashboard.seed import env_for, populate

MG = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli-rollout") / "mg"
    cfg = populate(home, review_ttl_days=60)
    gradual = dataclasses.replace(cfg, rollout_strategy="gradual")
    with Registry.open(cfg) as reg:
        ctx = loop.RunContext(run_id="scheduled__2025-06-01", as_of=dt.datetime(2025, 6, 1, 2))
        loop.start_rollout(gradual, reg, ctx, 6, 1)
    return home


def mg(home, *args):
    env = {**os.environ, **env_for(home, review_ttl_days=60)}
    return subprocess.run([*MG, *args], env=env, capture_output=True, text=True, timeout=120)


def test_traffic_then_show_list_and_controls(home):
    served = mg(home, "traffic", "simulate", "--requests", "2000")
    assert served.returncode == 0, served.stderr
    assert served.stdout.startswith("Served 2000 requests at 2025-06-02 02:00 for rollout 1:")
    listed = json.loads(mg(home, "rollout", "list", "--json").stdout)
    assert [(r["id"], r["status"], r["share"]) for r in listed] == [(1, "active", 0.1)]
    shown = mg(home, "rollout", "show", "1")
    assert "Rollout 1: version 6 against champion v1, gradual, active" in shown.stdout
    paused = mg(home, "rollout", "pause", "1", "--by", "ada", "--reason", "look")
    assert paused.stdout.strip() == "Rollout 1: paused, challenger share 10%."
    again = mg(home, "rollout", "pause", "1", "--by", "ada", "--reason", "look")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "modelgate: error: Rollout 1 is paused at step 1 (10%); 'paused' needs it active. "
        "Nothing changed."
    ]
    no_reason = mg(home, "rollout", "abort", "1", "--by", "ada")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    traffic = mg(home, "traffic", "simulate", "--requests", "10")
    assert traffic.returncode == 2 and "No active rollout" in traffic.stderr
    resumed = mg(home, "rollout", "resume", "1", "--by", "ada", "--reason", "fine")
    assert resumed.returncode == 0
    with Registry.open(load_config(env=env_for(home), path=os.devnull)) as reg:
        kinds = [e["kind"] for e in reg.rollout_events(1)]
        assert kinds == ["started", "paused", "resumed"]
        assert len(reg.rollout_outcomes(1)) == 2000
