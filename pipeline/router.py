"""Serving during a rollout: which model answers a request, and what it said.

    with Router(cfg, reg) as router:
        prediction, variant = router.predict("req-1", {"ward": "A", ...}, unit="patient-7")
        ...
        router.record_label("req-1", 41.0)      # whenever the truth arrives
    # leaving the block writes the buffered predictions and labels in batches

Without a live rollout every request goes to the champion and nothing is logged. During a
canary, gradual or A/B rollout a unit (by default the request id) is on the challenger while its
GrowthBook hash is below the rollout's share. In shadow mode the champion answers every request
and the challenger scores a deterministic sample silently (its prediction is only logged). Models
come from the registry, checksum-verified.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import data as data_mod
from pipeline import rollout, training
from pipeline.errors import ModelGateError

if TYPE_CHECKING:
    from pipeline.config import Config
    from registry.store import Registry


class Router:
    def __init__(
        self, cfg: Config, reg: Registry, *, batch_size: int = 1000, refresh_seconds: float = 30
    ) -> None:
        self.cfg, self.reg, self.batch_size = cfg, reg, batch_size
        self.refresh_seconds = refresh_seconds
        self._models: dict[int, Any] = {}
        self._served: list[tuple[Any, ...]] = []
        self._labels: list[tuple[Any, ...]] = []
        self.refresh()

    def refresh(self) -> None:
        """Re-read the champion and the live rollout (at most every ``refresh_seconds`` while
        serving, and at every flush): a paused, finished or superseded rollout stops splitting."""
        champion = self.reg.current_champion()
        if champion is None:
            raise ModelGateError("There is no champion to serve yet; run the retraining first.")
        live = self.reg.live_rollout()
        if live is not None and live["champion_version"] != champion.version:
            live = None  # the champion changed under the rollout: serve the champion only
        self.live = live  # active or paused: still takes labels
        self.rollout = live if live is not None and live["status"] == "active" else None
        self.champion_version = (
            int(self.rollout["champion_version"]) if self.rollout else champion.version
        )
        self.plan = rollout.Plan.from_dict(self.rollout["plan"]) if self.rollout else None
        self.schema = data_mod.Schema.from_dict(self.reg.get_version(self.champion_version).schema)
        self._refreshed = time.monotonic()

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._refreshed >= self.refresh_seconds:
            self.flush()

    # ------------------------------------------------------------------ models
    def _model(self, version: int) -> Any:
        if version not in self._models:
            self._models[version] = training.loads(self.reg.load_model_bytes(version))
        return self._models[version]

    def _predict(self, version: int, frame: pd.DataFrame) -> np.ndarray:
        return training.predict(self._model(version), frame, self.schema, self.cfg.task)

    # ------------------------------------------------------------------ routing
    def variants(self, units: Sequence[str] | np.ndarray) -> np.ndarray:
        """'champion' or 'challenger' per unit: who answers (shadow: always the champion)."""
        out = np.full(len(units), "champion", dtype=object)
        if self.rollout and self.plan and self.plan.strategy != "shadow":
            on = rollout.assign_batch(self.rollout["seed"], units, float(self.rollout["share"]))
            out[on] = "challenger"
        return out

    def predict_frame(
        self,
        frame: pd.DataFrame,
        request_ids: Sequence[str],
        units: Sequence[str] | None = None,
        served_at: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and variants for many requests; buffered for the registry."""
        if len(frame) != len(request_ids):
            raise ModelGateError(
                f"{len(frame)} rows but {len(request_ids)} request ids: one id per row."
            )
        self._maybe_refresh()
        ids = np.asarray([str(r) for r in request_ids], dtype=object)
        keys = ids if units is None else np.asarray([str(u) for u in units], dtype=object)
        variant = self.variants(keys.astype(str))
        pred = self._predict(self.champion_version, frame)
        shadow = np.full(len(frame), np.nan)
        if self.rollout and self.plan:
            version = int(self.rollout["version"])
            if self.plan.strategy == "shadow":
                sampled = rollout.assign_batch(
                    self.rollout["seed"], keys.astype(str), self.plan.shadow_share
                )
                if sampled.any():
                    shadow[sampled] = self._predict(version, frame.loc[sampled])
            else:
                on = variant == "challenger"
                if on.any():
                    pred[on] = self._predict(version, frame.loc[on])
            at = served_at or dt.datetime.now(dt.UTC).isoformat()
            step = int(self.rollout["step_index"])
            self._served.extend(
                (
                    ids[i],
                    keys[i],
                    variant[i],
                    step,
                    float(pred[i]),
                    None if np.isnan(shadow[i]) else float(shadow[i]),
                    at,
                )
                for i in range(len(frame))
            )
            if len(self._served) >= self.batch_size:
                self.flush()
        return pred, variant

    def predict(
        self, request_id: str, features: Mapping[str, Any], unit: str | None = None
    ) -> tuple[float, str]:
        """One request: (prediction, variant)."""
        frame = pd.DataFrame([dict(features)])
        missing = [f for f in self.schema.features if f not in frame.columns]
        if missing:
            raise ModelGateError(f"request {request_id}: feature {missing[0]!r} is missing.")
        pred, variant = self.predict_frame(frame, [request_id], None if unit is None else [unit])
        return float(pred[0]), str(variant[0])

    def record_label(self, request_id: str, actual: float, at: str | None = None) -> None:
        """The truth for a served request (delayed labels are fine; the first one counts)."""
        if self.live:
            self._labels.append(
                (str(request_id), float(actual), at or dt.datetime.now(dt.UTC).isoformat())
            )
            if len(self._labels) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        """Write buffered predictions and labels to the registry (one transaction each; a label
        may even come first), then re-read the rollout's state."""
        if self.live:
            rid = int(self.live["id"])
            if self._served:
                self.reg.record_outcomes(rid, self._served)
            if self._labels:
                self.reg.record_labels(rid, self._labels)
        self._served, self._labels = [], []
        self.refresh()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
