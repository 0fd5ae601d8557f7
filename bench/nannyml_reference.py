"""Run NannyML's UnivariateDriftCalculator on the synthetic car loan / car price datasets.

Run with (its own venv: nannyml pins plotly < 6): python3.11 -m venv bench/.venv-nannyml && bench/.venv-nannyml/bin/pip install nannyml==0.13.1 statsmodels==0.15.0 && NML_DISABLE_USAGE_LOGGING=1 bench/.venv-nannyml/bin/python bench/nannyml_reference.py
(nannyml 0.13.1 needs `statsmodels` installed too; it is imported but not declared.)

Configuration follows NannyML's docs:
  * car loan: docs/example_notebooks/"Tutorial - Drift - Univariate.ipynb" / "Tutorial - Ranking.ipynb":
      continuous_methods=['kolmogorov_smirnov', 'jensen_shannon'],
      categorical_methods=['chi2', 'jensen_shannon'], treat_as_categorical=['y_pred'],
      timestamp_column_name='timestamp', chunk_size=5000 (ranking tutorial; the univariate
      tutorial passes no chunking -> DefaultChunker = 10 chunks = 5000 rows, identical).
  * car price: same methods (as in the UnivariateDriftCalculator docstring example, which uses the
      car price data), chunk_size=6000 (as in the regression performance tutorials; the default
      10-chunk split of 60000 rows gives the same).
Outputs (all in /tmp/nml):
  car_loan_alerts.csv / car_price_alerts.csv   analysis chunks, columns exactly as requested
  car_loan_alerts_full.csv / car_price_alerts_full.csv   + reference chunks, thresholds, dates
  car_*_reference.parquet, car_*_analysis.parquet, car_*_analysis_targets.parquet  (raw frames)
"""

import logging
import os
import sys

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no telemetry calls

import nannyml as nml
import pandas as pd

OUT = os.environ.get("NML_OUT", "bench/results/nannyml")
os.makedirs(OUT, exist_ok=True)

# surface errors that nannyml swallows in _calculate_for_column (they become NaN values)
logging.basicConfig(
    level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
)

# The same features and chunk sizes as ModelGate's side (tests/nannyml_sets.py: stdlib and
# pandas only, so this venv can import it), plus NannyML's model-output columns.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.nannyml_sets import SETS  # noqa: E402

CONFIGS = {
    "car_loan": dict(
        loader=nml.load_synthetic_car_loan_dataset,
        column_names=[*SETS["car_loan"]["features"], "y_pred_proba", "y_pred"],
        treat_as_categorical=["y_pred"],
        chunk_size=SETS["car_loan"]["chunk"],
    ),
    "car_price": dict(
        loader=nml.load_synthetic_car_price_dataset,
        column_names=[*SETS["car_price"]["features"], "y_pred"],
        treat_as_categorical=[],
        chunk_size=SETS["car_price"]["chunk"],
    ),
}

CONT_METHODS = ["kolmogorov_smirnov", "jensen_shannon"]
CAT_METHODS = ["chi2", "jensen_shannon"]


def run(name, cfg):
    reference, analysis, analysis_targets = cfg["loader"]()
    reference.to_parquet(f"{OUT}/{name}_reference.parquet", index=False)
    analysis.to_parquet(f"{OUT}/{name}_analysis.parquet", index=False)
    analysis_targets.to_parquet(f"{OUT}/{name}_analysis_targets.parquet", index=False)

    calc = nml.UnivariateDriftCalculator(
        column_names=cfg["column_names"],
        treat_as_categorical=cfg["treat_as_categorical"] or None,
        timestamp_column_name="timestamp",
        continuous_methods=CONT_METHODS,
        categorical_methods=CAT_METHODS,
        chunk_size=cfg["chunk_size"],
    )
    calc.fit(reference)
    res = calc.calculate(analysis)
    df = res.to_df(multilevel=False)

    rows = []
    for _, r in df.iterrows():
        for col in res.column_names:
            methods = CONT_METHODS if col in res.continuous_column_names else CAT_METHODS
            for m in methods:
                rows.append(
                    {
                        "dataset": name,
                        "chunk": int(r["chunk_index"]),
                        "chunk_start": int(r["chunk_start_index"]),
                        "chunk_end": int(r["chunk_end_index"]),
                        "feature": col,
                        "method": m,
                        "value": r[f"{col}_{m}_value"],
                        "alert": r[f"{col}_{m}_alert"],
                        "period": r["chunk_period"],
                        "feature_type": "continuous"
                        if col in res.continuous_column_names
                        else "categorical",
                        "upper_threshold": r[f"{col}_{m}_upper_threshold"],
                        "lower_threshold": r[f"{col}_{m}_lower_threshold"],
                        "chunk_start_date": r["chunk_start_date"],
                        "chunk_end_date": r["chunk_end_date"],
                    }
                )
    full = pd.DataFrame(rows)
    full.to_csv(f"{OUT}/{name}_alerts_full.csv", index=False)
    ana = full[full["period"] == "analysis"][
        ["dataset", "chunk", "chunk_start", "chunk_end", "feature", "method", "value", "alert"]
    ]
    ana.to_csv(f"{OUT}/{name}_alerts.csv", index=False)

    n_nan = full["value"].isna().sum()
    print(
        f"== {name}: reference {reference.shape}, analysis {analysis.shape}, targets {analysis_targets.shape}; "
        f"continuous={res.continuous_column_names} categorical={res.categorical_column_names}; NaN values={n_nan}"
    )
    a = full[full["period"] == "analysis"]
    for m in ["jensen_shannon", "kolmogorov_smirnov", "chi2"]:
        sub = a[(a["method"] == m) & (a["alert"] == True)]  # noqa: E712
        if a[a["method"] == m].empty:
            continue
        print(f"-- {m}: alerted features per analysis chunk")
        for (c, s, e, sd, ed), _g in a[a["method"] == m].groupby(
            ["chunk", "chunk_start", "chunk_end", "chunk_start_date", "chunk_end_date"]
        ):
            flagged = sorted(sub[sub["chunk"] == c]["feature"])
            print(
                f"   chunk {c} rows [{s}:{e}] {str(sd)[:10]}..{str(ed)[:10]}: {', '.join(flagged) or '-'}"
            )
    ref_alerts = full[(full["period"] == "reference") & (full["alert"] == True)]  # noqa: E712
    print(
        f"-- alerts inside reference chunks: {len(ref_alerts)} "
        f"{sorted(set(zip(ref_alerts.feature, ref_alerts.method, ref_alerts.chunk, strict=False)))}"
    )
    return res


if __name__ == "__main__":
    print("nannyml", nml.__version__, "pandas", pd.__version__)
    results = {name: run(name, cfg) for name, cfg in CONFIGS.items()}
