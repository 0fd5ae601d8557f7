"""The layout is the architecture: imports flow one way, and our generic top-level names are ours."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return set(json.loads(out.stdout))


def test_top_level_packages_are_this_repository():
    import dags
    import dashboard
    import pipeline
    import registry

    for pkg in (pipeline, registry, dags, dashboard):
        assert pkg.__file__ is not None and str(REPO) in pkg.__file__


def test_pipeline_imports_no_airflow_streamlit_sql_or_registry():
    names = [
        "pipeline.config",
        "pipeline.data",
        "pipeline.training",
        "pipeline.evaluation",
        "pipeline.policy",
        "pipeline.triggers",
        "pipeline.loop",
        "pipeline.notify",
        "pipeline.reports",
        "pipeline.cli",
        "pipeline.admin",
        "pipeline.auth",
        "pipeline.rollout",
        "pipeline.router",
    ]
    loaded = _modules_after_import(", ".join(names))
    forbidden = {
        m
        for m in loaded
        if m.split(".")[0]
        in {"airflow", "streamlit", "sqlite_utils", "registry", "sqlite3", "dashboard"}
    }
    assert forbidden == set()


def test_registry_does_not_import_airflow_or_streamlit():
    loaded = _modules_after_import("registry")
    assert not {
        m for m in loaded if m.split(".")[0] in {"airflow", "streamlit", "dags", "dashboard"}
    }


def test_sql_lives_only_in_registry():
    for folder in ("pipeline", "dags", "dashboard"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            for word in ("SELECT ", "INSERT INTO", "UPDATE ", "sqlite3.connect"):
                assert word not in text, f"{path} contains {word!r}"
