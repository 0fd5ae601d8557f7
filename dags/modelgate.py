"""ModelGate's Airflow DAGs: for each model of the catalog (``[models.NAME]`` in modelgate.toml;
without one, the model ``default``) ``modelgate_retrain__NAME``, ``modelgate_drift__NAME`` and
``modelgate_rollout__NAME``, built by ``dags/fleet.py``."""

from dags.fleet import generate

generate(globals())
