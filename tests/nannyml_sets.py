"""NannyML's synthetic car-loan and car-price sets, read from the nannyml 0.13.1 wheel on PyPI
(downloaded once into .cache/, never installed or imported: nannyml pins plotly < 6, and its
import needs statsmodels). Both shift abruptly at the middle of their analysis period.

Each set: a reference period, an analysis period, its features and categoricals, the chunk size
NannyML's tutorials use (5,000 and 6,000 rows) and a calibration window that holds about one chunk.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
WHEEL = "nannyml-0.13.1-py3-none-any.whl"
DATA = "nannyml/datasets/data/"


@dataclass(frozen=True)
class NannySet:
    name: str
    reference: pd.DataFrame
    analysis: pd.DataFrame
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    chunk: int
    window_days: int

    def chunks(self) -> list[pd.DataFrame]:
        n = len(self.analysis) // self.chunk
        return [self.analysis.iloc[k * self.chunk : (k + 1) * self.chunk] for k in range(n)]


SETS = {
    "car_loan": dict(
        files=("synthetic_car_loan_reference.csv", "synthetic_car_loan_analysis.csv"),
        features=(
            "car_value",
            "salary_range",
            "debt_to_income_ratio",
            "loan_length",
            "repaid_loan_on_prev_car",
            "size_of_downpayment",
            "driver_tenure",
        ),
        categorical=("salary_range", "repaid_loan_on_prev_car", "size_of_downpayment"),
        chunk=5000,
        window_days=30,  # ~5,000 reference rows a month
    ),
    "car_price": dict(
        files=("regression_synthetic_reference.csv", "regression_synthetic_analysis.csv"),
        features=(
            "car_age",
            "km_driven",
            "price_new",
            "accident_count",
            "door_count",
            "fuel",
            "transmission",
        ),
        categorical=("fuel", "transmission"),
        chunk=6000,
        window_days=2,  # ~5,200 reference rows in two days
    ),
}


def wheel() -> Path:
    path = CACHE / WHEEL
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("nannyml==0.13.1", "--only-binary", ":all:", "-d", str(CACHE)),
            ],
            check=True,
        )
    return path


def load(name: str) -> NannySet:
    spec = SETS[name]
    with zipfile.ZipFile(wheel()) as z:
        ref, ana = (pd.read_csv(z.open(DATA + f)) for f in spec["files"])  # type: ignore[attr-defined]
    for frame in (ref, ana):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return NannySet(
        name=name,
        reference=ref,
        analysis=ana.reset_index(drop=True),
        features=spec["features"],  # type: ignore[arg-type]
        categorical=spec["categorical"],  # type: ignore[arg-type]
        chunk=spec["chunk"],  # type: ignore[arg-type]
        window_days=spec["window_days"],  # type: ignore[arg-type]
    )
