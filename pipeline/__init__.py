"""ModelGate's pure library: data, training, evaluation, policy and the retraining loop.

Nothing here imports Airflow, Streamlit or SQL; the registry is passed in.
"""

__version__ = "0.1.0"
