"""The thread limit: native pools (OpenMP, BLAS) capped at n_threads while training and comparing."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
from sklearn.dummy import DummyRegressor

from pipeline import training
from pipeline.config import load_config
from pipeline.data import Schema
from pipeline.threads import available_cores, limited, native_threads
from tests.conftest import make_env

SEEN: list[dict[str, int]] = []


class RecordingRegressor(DummyRegressor):
    """Records the native thread limits in force when it is fitted."""

    def fit(self, X, y, sample_weight=None):
        SEEN.append(native_threads())
        return super().fit(X, y, sample_weight)


def test_limited_caps_every_native_pool_and_restores_it():
    before = native_threads()
    assert before  # OpenMP and BLAS are loaded
    with limited(1) as limit:
        assert limit == 1 and set(native_threads().values()) == {1}
    assert native_threads() == before
    with limited(0) as limit:
        assert limit == available_cores()


@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_runs_under_the_n_threads_setting(tmp_path, n_threads):
    cfg = load_config(
        env=make_env(
            tmp_path,
            n_threads=n_threads,
            estimator="tests.pipeline.test_threads.RecordingRegressor",
        ),
        path=os.devnull,
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)})
    schema = Schema(features=("x",), categorical=(), target="y", timestamp="t")
    SEEN.clear()
    training.train(cfg, schema, frame)
    assert SEEN and set(SEEN[0].values()) == {n_threads}
