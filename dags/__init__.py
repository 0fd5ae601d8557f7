"""ModelGate's Airflow DAGs: wiring only; every task calls one function of ``pipeline.loop``."""
