"""The categorical encoding rule: one-hot up to onehot_max_levels levels, target encoding above."""

from __future__ import annotations

import dataclasses
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from pipeline import training
from pipeline.config import load_config
from pipeline.data import Schema

SCHEMA = Schema(
    features=("x", "tail", "origin"),
    categorical=("tail", "origin"),
    target="y",
    timestamp="ts",
)


def _frame(rows: int, levels: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, levels, rows)
    effect = rng.normal(0, 10, levels)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "x": x,
            "tail": [f"N{t:04d}" for t in tail],
            "origin": rng.choice(["EWR", "JFK", "LGA"], rows),
            "y": effect[tail] + 3 * x + rng.normal(0, 2, rows),
        }
    )


@pytest.fixture(scope="module")
def cfg():
    return load_config(env={"MODELGATE_N_THREADS": "1"}, path=os.devnull)


def _encoders(model) -> dict[str, list[str]]:
    pre = model.named_steps["preprocess"]
    return {name: list(cols) for name, _, cols in pre.transformers_ if name != "remainder"}


def test_a_many_level_column_is_target_encoded_and_a_few_level_one_one_hot(cfg):
    """3,000 tail numbers over 20k rows: one column, not ~3,000 dense ones; the 3 airports stay
    one-hot. Peak traced memory of the fit stays far below what a dense one-hot would hold."""
    rows = _frame(25_000, 3000)
    train, holdout = rows.iloc[:20_000], rows.iloc[20_000:]
    tracemalloc.start()
    trained = training.train(cfg, SCHEMA, train)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert _encoders(trained.model) == {"num": ["x"], "cat": ["origin"], "many": ["tail"]}
    width = trained.model.named_steps["preprocess"].transform(holdout[list(SCHEMA.features)]).shape
    assert width == (5_000, 1 + 3 + 1)
    dense_onehot = 20_000 * 3000 * 8  # the float64 matrix one-hot would have built: 480 MB
    assert peak < dense_onehot / 4
    # The encoding carries the level's effect: the holdout error is far below ignoring it.
    pred = training.predict(trained.model, holdout, SCHEMA, "regression")
    mae = np.mean(np.abs(pred - holdout["y"]))
    assert mae < 0.5 * np.mean(np.abs(holdout["y"] - holdout["y"].median()))


def test_the_limit_is_a_setting_and_unseen_levels_still_predict(cfg):
    train = _frame(3_000, 40)
    onehot = training.train(dataclasses.replace(cfg, onehot_max_levels=40), SCHEMA, train)
    assert _encoders(onehot.model)["cat"] == ["tail", "origin"]
    target = training.train(dataclasses.replace(cfg, onehot_max_levels=39), SCHEMA, train)
    assert _encoders(target.model)["many"] == ["tail"]
    unseen = train.head(50).assign(tail="N9999", origin=None)
    pred = training.predict(target.model, unseen, SCHEMA, "regression")
    assert np.isfinite(pred).all()


def test_classification_uses_a_binary_target_encoding(cfg):
    train = _frame(4_000, 500)
    train["y"] = (train["y"] > train["y"].median()).astype(int)
    clf = dataclasses.replace(
        cfg, task="classification", estimator="sklearn.ensemble.HistGradientBoostingClassifier"
    )
    trained = training.train(clf, SCHEMA, train)
    encoder = trained.model.named_steps["preprocess"].named_transformers_["many"][-1]
    assert encoder.target_type_ == "binary"
    proba = training.predict(trained.model, train.head(100), SCHEMA, "classification")
    assert ((proba >= 0) & (proba <= 1)).all()
