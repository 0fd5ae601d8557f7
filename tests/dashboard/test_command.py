"""`modelgate dashboard` serves the app on the given port and says where; without a registry it
fails in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.seed import env_for
from tests.dashboard.test_browser import free_port, wait_healthy

MG = Path(sys.executable).with_name("modelgate")


def test_dashboard_command_serves_the_app(dash_home, tmp_path):
    port = free_port()
    log = tmp_path / "out.log"
    env = {**os.environ, **env_for(dash_home)}
    proc = subprocess.Popen(
        [str(MG), "dashboard", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"<title>" in r.read()
        assert f"Dashboard: {url}" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with pytest.raises(OSError):  # the server itself stopped: nothing is left listening
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)


def test_dashboard_without_a_registry_is_one_line(tmp_path):
    env = {**os.environ, **env_for(tmp_path / "nothing-here")}
    proc = subprocess.run(
        [str(MG), "dashboard", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"modelgate: error: No registry at {tmp_path / 'nothing-here' / 'registry.db'}; "
        "run 'modelgate init' first."
    ]
