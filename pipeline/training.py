"""Training: a scikit-learn Pipeline (preprocessing + the configured estimator), seeded.

Preprocessing: numeric columns are median-imputed; a categorical column with at most
``onehot_max_levels`` distinct training values is one-hot encoded (levels seen fewer than 5 times
pooled), and one with more is target encoded (each level's shrunk mean target, cross-fitted in 5
folds so no training row encodes itself; an unseen level gets the overall mean). A dense one-hot of
a 3,000-level tail number over 100k rows took 6.9 GB; target encoding keeps one column.
"""

from __future__ import annotations

import importlib
import inspect
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, TargetEncoder

from pipeline.config import Config
from pipeline.data import Schema
from pipeline.errors import ConfigError, TrainingError
from pipeline.threads import limited

IMPORTANCE_ROWS = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainedModel:
    model: Pipeline
    estimator: str
    params: dict[str, Any]
    feature_importance: dict[str, float]


def estimator_class(path: str) -> type[BaseEstimator]:
    """Import ``package.module.ClassName`` and check that it is a scikit-learn style estimator."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ConfigError(
            f"The 'estimator' setting must be an import path like "
            f"'sklearn.linear_model.Ridge'. Got {path!r} instead."
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"The 'estimator' setting names {path!r}, which cannot be imported: {exc}."
        ) from exc
    if not (inspect.isclass(cls) and hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ConfigError(
            f"The 'estimator' setting names {path!r}, which is not an estimator class "
            "with fit and predict."
        )
    return cls  # type: ignore[no-any-return]


def build_pipeline(
    cfg: Config, schema: Schema, levels: Mapping[str, int] | None = None
) -> tuple[Pipeline, dict[str, Any]]:
    """Preprocessing for numeric and categorical columns, then the estimator with its params.

    ``levels``: each categorical column's number of distinct training values (unknown: one-hot)."""
    cls = estimator_class(cfg.estimator)
    params = dict(cfg.estimator_params)
    accepted = inspect.signature(cls).parameters
    if "random_state" in accepted and "random_state" not in params:
        params["random_state"] = cfg.seed
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ConfigError(
            f"The 'estimator_params' setting does not fit {cfg.estimator}: {exc}."
        ) from exc
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numeric:
        transformers.append(
            (
                "num",
                SimpleImputer(strategy="median", keep_empty_features=True),
                list(schema.numeric),
            )
        )
    many = [c for c in schema.categorical if (levels or {}).get(c, 0) > cfg.onehot_max_levels]
    few = [c for c in schema.categorical if c not in many]
    if few:
        transformers.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=5, sparse_output=False),
                ),
                few,
            )
        )
    if many:
        target_type = "binary" if cfg.task == "classification" else "continuous"
        transformers.append(
            (
                "many",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                    TargetEncoder(
                        target_type=target_type,
                        cv=KFold(5, shuffle=True, random_state=cfg.seed),
                    ),
                ),
                many,
            )
        )
    pre = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", pre), ("model", estimator)]), params


def train(cfg: Config, schema: Schema, train_rows: pd.DataFrame) -> TrainedModel:
    """Fit the pipeline on the training window; feature importance by permutation on a sample."""
    levels = {c: int(train_rows[c].nunique()) for c in schema.categorical}
    model, params = build_pipeline(cfg, schema, levels)
    x = train_rows[list(schema.features)]
    y = train_rows[schema.target].to_numpy()
    with limited(cfg.n_threads):
        try:
            model.fit(x, y)
        except (ValueError, TypeError, np.linalg.LinAlgError) as exc:
            raise TrainingError(f"Fitting {cfg.estimator} failed: {exc}") from exc
        rng = np.random.default_rng(cfg.seed)
        sample = rng.choice(len(x), size=min(IMPORTANCE_ROWS, len(x)), replace=False)
        scoring = "neg_mean_absolute_error" if cfg.task == "regression" else "roc_auc"
        imp = permutation_importance(
            model, x.iloc[sample], y[sample], n_repeats=3, random_state=cfg.seed, scoring=scoring
        )
    total = float(np.clip(imp.importances_mean, 0, None).sum()) or 1.0
    importance = {
        f: round(float(max(v, 0.0)) / total, 6)
        for f, v in zip(schema.features, imp.importances_mean, strict=True)
    }
    return TrainedModel(
        model=model,
        estimator=cfg.estimator,
        params=_jsonable(params),
        feature_importance=importance,
    )


def predict(model: Any, frame: pd.DataFrame, schema: Schema, task: str) -> np.ndarray:
    """Regression predictions, or the positive class's probability for classification."""
    x = frame[list(schema.features)]
    if task == "classification":
        return np.asarray(model.predict_proba(x)[:, 1], dtype=float)
    return np.asarray(model.predict(x), dtype=float)


def dumps(model: Any) -> bytes:
    """Serialise a model to joblib bytes (the artifact store checksums these bytes)."""
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    return buf.getvalue()


def loads(data: bytes) -> Any:
    return joblib.load(io.BytesIO(data))


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        out[k] = v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else repr(v)
    return out
