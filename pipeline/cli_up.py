"""``modelgate up``: the embedded Airflow and the dashboard, started in an order that cannot race.

``airflow standalone`` starts its four parts at once, so the first task attempts of a scheduler
that is quicker than the API server fail with "Connection refused" (tasks report to the API
server's Execution API). ``up`` therefore starts the API server alone, waits until its health
endpoint answers, and only then starts the scheduler, the DAG processor and the triggerer, each
with its own log. The tasks are pointed at the port the API server really listens on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.cli_common import _airflow, _registry, airflow_db_migrate, airflow_env
from pipeline.config import Config
from pipeline.errors import ModelGateError

# Started only once the API server answers: each of these talks to it (tasks report there).
AFTER_API = ("scheduler", "dag-processor", "triggerer")
HEALTH_PATH = "/api/v2/monitor/health"


def clock_note(cfg: Config, now: dt.datetime | None = None) -> str | None:
    """What the scheduler will run when the registry's history is a simulation (its newest run
    more than two days before the wall clock), said before it runs it; None otherwise."""
    with _registry(cfg) as reg:
        newest = reg.logical_now()
    if not newest:
        return None
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    last = dt.datetime.fromisoformat(newest).replace(tzinfo=None)
    if now - last <= dt.timedelta(days=2):
        return None
    return (
        f"Note: this registry's history ends at {last:%Y-%m-%d %H:%M} (a simulation). The "
        f"scheduler runs on the real clock: its first runs are for now ({now:%Y-%m-%d}), on data "
        "up to now (the demo data reaches the present), so they start a new chapter rather than "
        "continuing the simulated one; 'modelgate simulate' continues the simulated story."
    )


def up_env(cfg: Config, airflow_port: int) -> dict[str, str]:
    """The embedded Airflow's environment with its API server on ``airflow_port``; tasks send
    their reports to that port (Airflow's default is localhost:8080 whatever the port is)."""
    env = airflow_env(cfg)
    env["AIRFLOW__API__PORT"] = str(airflow_port)
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{airflow_port}/execution/"
    return env


def _check_port(port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise ModelGateError(
                f"Port {port} on 127.0.0.1 is already in use (another 'modelgate up' or Airflow?); "
                f"stop it or pass {flag} N."
            )


def healthy(url: str) -> bool:
    """Whether the API server at ``url`` answers its health endpoint with 200."""
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Stack:
    """The processes ``up`` started, each in its own session and log; stopped together."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        proc = subprocess.Popen(
            command,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((name, proc, log))
        return proc

    def check(self) -> None:
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                raise ModelGateError(f"{name} exited with code {proc.returncode}; see {log}.")

    def wait_healthy(self, url: str, timeout: float) -> float:
        """Seconds until the API server answered; an error naming its log if it died or took
        longer than ``timeout``."""
        started = time.monotonic()
        while not healthy(url):
            self.check()
            if time.monotonic() - started > timeout:
                log = self.procs[-1][2]
                raise ModelGateError(
                    f"Airflow's API server did not answer {url}{HEALTH_PATH} within "
                    f"{timeout:.0f} s; see {log}."
                )
            time.sleep(0.5)
        return time.monotonic() - started

    def stop(self) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, _ in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def cmd_up(cfg: Config, args: argparse.Namespace) -> int:
    """Start Airflow's API server, wait for it, then its scheduler, DAG processor and triggerer,
    and the dashboard; Ctrl-C (or SIGTERM) stops them all."""
    from pipeline.cli_serve import _check_dashboard, dashboard_command
    from pipeline.notify import destination

    if not cfg.registry_db.exists():
        raise ModelGateError(f"No registry at {cfg.registry_db}; run 'modelgate init' first.")
    _check_port(args.airflow_port, "--airflow-port")
    _check_port(args.dashboard_port, "--dashboard-port")
    _check_dashboard(cfg)
    logs = cfg.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow_db_migrate(cfg)  # a no-op when 'init' did it, an upgrade after a new Airflow
    url = f"http://127.0.0.1:{args.airflow_port}"
    stack = Stack(up_env(cfg, args.airflow_port), logs)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the children like Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start("airflow-api-server", [_airflow(cfg), "api-server"])
        print(f"Waiting for Airflow's API server at {url} …", flush=True)
        waited = stack.wait_healthy(url, args.start_timeout)
        for part in AFTER_API:
            stack.start(f"airflow-{part}", [_airflow(cfg), part])
        stack.start("dashboard", dashboard_command(args.dashboard_port))
        print(
            f"Airflow (API server ready after {waited:.0f} s; scheduler, DAG processor, triggerer): {url}"
        )
        print(f"Dashboard: http://127.0.0.1:{args.dashboard_port}")
        print(f"Logs: {logs}/airflow-*.log and {logs}/dashboard.log")
        print(destination(cfg))
        note = clock_note(cfg)
        if note:
            print(note)
        print("Press Ctrl-C to stop everything started here.", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            stack.check()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
    finally:
        stack.stop()
    return 0
