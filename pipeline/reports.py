"""Frozen result objects shared by the library, the registry and the dashboard.

Plain fields and derived properties only; conversion to rows lives in ``registry/``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["promote", "review", "reject"]
OUTCOMES: tuple[Outcome, ...] = ("reject", "review", "promote")  # in increasing order of trust


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricInterval:
    """A bootstrap estimate of ``challenger - champion`` improvement in the primary metric."""

    low: float
    high: float
    level: float


def finite(v: Any) -> Any:
    """JSON has no NaN or infinity: an undefined figure is stored as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True, slots=True, kw_only=True)
class Delta:
    """One metric for both models on the same rows (a whole holdout, or one segment of it)."""

    metric: str
    higher_is_better: bool
    measure: str
    n: int
    champion: float
    challenger: float
    improvement: float  # in ``measure``; positive: the challenger is better
    low: float  # the interval of the improvement at ``level``
    high: float
    level: float
    p_worse: float  # one-sided: small when the challenger is significantly worse
    p_better: float  # one-sided: small when the challenger is significantly better
    column: str | None = None  # a segment's column and value; None for the whole holdout
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: finite(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Delta:
        nan = float("nan")
        fields: dict[str, Any] = {
            k: (nan if v is None and k in _FLOATS else v) for k, v in d.items()
        }
        return cls(**{k: v for k, v in fields.items() if k in cls.__slots__})  # type: ignore[attr-defined]


_FLOATS = ("champion", "challenger", "improvement", "low", "high", "p_worse", "p_better")


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """Champion and challenger scored on the same holdout rows.

    ``relative_improvement`` is positive when the challenger is better, whatever the metric's
    direction, measured as ``improvement_measure`` says (``pipeline.measures``): relative to the
    champion for errors, ``(challenger - champion) / (1 - champion)`` for bounded scores.
    ``p_value`` is the one-sided paired-bootstrap p-value of "the challenger is not better".
    """

    metric: str
    higher_is_better: bool
    challenger_version: int
    champion_version: int | None
    challenger_value: float
    champion_value: float | None
    relative_improvement: float | None
    absolute_improvement: float | None
    interval: MetricInterval | None
    p_value: float | None
    ttest_p_value: float | None
    n_holdout: int
    n_resamples: int
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    challenger_valid: bool = True
    invalid_reason: str | None = None
    champion_invalid_reason: str | None = None
    holdout_start: str = ""
    holdout_end: str = ""
    improvement_measure: str = "relative"
    # The naive baseline on the same rows (pipeline.baselines): what the challenger must beat.
    baseline: str | None = None
    baseline_value: float | None = None
    baseline_improvement: float | None = None  # the challenger's, over the baseline, in the measure
    baseline_p_value: float | None = None
    # What the bootstrap resampled (rows, or groups of rows), and what the holdout is worth.
    bootstrap_groups: str = "rows"
    n_groups: int | None = None
    effective_n: float | None = None
    # Rows without a target, left out of the training window and of this holdout.
    unlabelled_train: int = 0
    unlabelled_holdout: int = 0
    # The one-sided (1 - alpha) lower confidence bound of relative_improvement: what the
    # lower_bound gate holds against the auto-promotion bar.
    improvement_lower: float | None = None
    # The evidence's tables (pipeline.evidence): every metric, and the primary per segment.
    metric_table: tuple[Delta, ...] = ()
    segments: tuple[Delta, ...] = ()

    @property
    def has_champion(self) -> bool:
        return self.champion_version is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule of the policy as it was checked: its name, whether it fired, and the sentence."""

    name: str
    fired: bool
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "fired": self.fired, "sentence": self.sentence}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the policy decided, and why, in sentences with the numbers in them."""

    outcome: Outcome
    reasons: tuple[str, ...]
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerCheck:
    """One retraining trigger: its measured value, its threshold and whether it fired."""

    name: str
    fired: bool
    value: Any
    threshold: Any
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fired": self.fired,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeFacts:
    """What the age, data-volume and interval checks measure."""

    champion_as_of: dt.datetime | None  # when the champion's training run looked at the data
    new_rows: int | None  # labelled rows since then
    train_rows: int | None  # rows the champion trained on
    last_retraining: dt.datetime | None  # the newest run that trained any challenger


AUTOMATIC_TRIGGERS = ("model_age", "data_volume", "data_drift", "concept_drift", "performance")


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerReport:
    checks: tuple[TriggerCheck, ...]
    # True while the minimum interval since the last retraining holds automatic triggers back.
    held: bool = False

    @property
    def fired(self) -> bool:
        return any(c.fired for c in self.checks)

    @property
    def retrain(self) -> bool:
        """A check fired that may start a retraining now: any, or only the scheduled, forced
        and requested ones while the minimum interval holds the automatic ones back."""
        return any(
            c.fired and not (self.held and c.name in AUTOMATIC_TRIGGERS) for c in self.checks
        )

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.name for c in self.checks if c.fired))  # each name once


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """An immutable registered model."""

    version: int
    run_id: str
    created_at: str
    artifact_path: str
    sha256: str
    size_bytes: int
    estimator: str
    params: dict[str, Any]
    train_start: str
    train_end: str
    train_rows: int
    data_fingerprint: str
    metrics: dict[str, float]
    schema: dict[str, Any]
    feature_importance: dict[str, float]
    reference_profile: dict[str, Any] | None = None
    model: str = "default"  # the catalog's model it belongs to; versions count per model


@dataclass(frozen=True, slots=True, kw_only=True)
class Champion:
    version: int
    since: str
    by: str
    kind: str  # promotion | approval | rollback
    metric: str
    value: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    id: int
    run_id: str
    challenger_version: int
    expected_champion: int | None
    status: str  # pending | approved | rejected | expired | superseded
    requested_at: str
    expires_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    comparison_id: int | None = None
    superseded_by: int | None = None
    model: str = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    seq: int
    at: str
    actor: str
    event: str
    entity: str
    entity_id: str
    details: dict[str, Any]
    hash: str
