"""One retraining, drift-monitor and rollout-monitor DAG per model of the catalog (Airflow's
single-file dynamic DAG generation; ``dags/modelgate.py`` is the file Airflow parses).

Each model is built on its own: a model whose settings are wrong gets no DAGs and is reported as
one import error of the file naming the model and the setting (a placeholder DAG whose
validation fails with the catalog's message), while every other model's DAGs load. A config file
that cannot be read at all fails the whole file, as it fails every command.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from airflow.sdk import DAG

from dags import drift_monitor, retraining, rollout_monitor
from pipeline.catalog import model_names
from pipeline.config import load_config
from pipeline.context import dag_model
from pipeline.errors import ConfigError

BUILDERS = (retraining.build, drift_monitor.build, rollout_monitor.build)
BROKEN_DAG_ID = "modelgate_catalog_errors"


class CatalogErrors(DAG):
    """Stands for the models that could not be built: bagging it fails with their messages,
    which Airflow shows as the file's import error."""

    problems: tuple[str, ...] = ()

    def validate(self) -> None:
        raise ConfigError(" | ".join(self.problems))


# The runner (``dags/runner.py``) names the one model whose DAG it is about to test here: each
# ``dag.test()`` parses the whole folder again, and building only that model keeps a run's cost
# independent of the fleet's size.
ONLY = "MODELGATE_RUNNER_MODEL"


def wanted(names: list[str]) -> list[str]:
    """The models to build: all of them, except when Airflow runs a task (it parses the file
    only to find that task's DAG: Airflow's documented dynamic-DAG optimisation) or when the
    runner names one."""
    from airflow.sdk import get_parsing_context

    current = get_parsing_context().dag_id
    owner = (dag_model(current) or ("", ""))[1] if current else os.environ.get(ONLY)
    return [owner] if owner in names else names


def generate(namespace: MutableMapping[str, Any]) -> list[str]:
    """Put every buildable model's DAGs into ``namespace`` (the DAG file's globals); returns
    the problems of the models that could not be built."""
    problems = []
    for name in wanted(model_names(check=False)):
        try:
            cfg = load_config(model=name)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        for build in BUILDERS:
            built = build(cfg)
            namespace[built.dag_id] = built
    if problems:
        broken = CatalogErrors(dag_id=BROKEN_DAG_ID, schedule=None, tags=["modelgate"])
        broken.problems = tuple(problems)
        namespace[BROKEN_DAG_ID] = broken
    return problems
