"""What a drift check reports: thresholds, per-feature verdicts, the concept check, the report.

Frozen dataclasses with plain fields (``drift`` computes them; ``registry`` stores them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftThresholds:
    psi: float = 0.2
    ks: float = 0.08
    missing: float = 0.1
    alpha: float = 0.05
    require_significance: bool = False
    min_rows: int = 200
    top_k: int = 3
    share: float = 0.3
    concept_degradation: float = 0.15
    # Calibrated limits: a statistic's limit is the largest of the floor above, the highest value
    # the reference's own windows showed and their mean + calibration_sd standard deviations.
    calibrated: bool = True
    calibration_sd: float = 3.0
    # With a calibration, the smallest effect that still counts as drift: the reference's own
    # windows set the limit, but never below this (a shift this small is rarely worth a retraining).
    ks_min_effect: float = 0.03
    psi_min_effect: float = 0.02
    # The dataset verdict: "important" (any of the top_k features drifts, or share of all do) or
    # "any" (also any single feature's alarm against a calibrated limit).
    dataset_rule: str = "important"

    def floor(self, stat: str) -> float:
        """The limit without a calibration (the drift_*_threshold settings)."""
        return {"ks": self.ks, "psi": self.psi, "missing": self.missing}[stat]

    def min_effect(self, stat: str) -> float:
        """The least limit with a calibration (the missing share keeps its threshold)."""
        return {"ks": self.ks_min_effect, "psi": self.psi_min_effect, "missing": self.missing}[stat]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureDrift:
    name: str
    kind: str  # "numeric" | "categorical"
    ks: float | None
    p_value: float | None
    p_adjusted: float | None
    psi: float
    wasserstein: float | None
    chi2: float | None
    missing_delta: float
    drifted: bool
    score: float
    importance: float | None = None
    reasons: tuple[str, ...] = ()
    # The limit each statistic was judged against, and "floor" or "calibrated" for where it came from.
    limits: dict[str, float] | None = None
    rules: dict[str, str] | None = None
    # Reference and current shares per PSI bin (numeric) or category: what the dashboard plots.
    distribution: dict[str, list[Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "ks": self.ks,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "psi": self.psi,
            "wasserstein": self.wasserstein,
            "chi2": self.chi2,
            "missing_delta": self.missing_delta,
            "drifted": self.drifted,
            "score": self.score,
            "importance": self.importance,
            "reasons": list(self.reasons),
            "limits": self.limits,
            "rules": self.rules,
            "distribution": self.distribution,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConceptCheck:
    """The champion's primary metric on recent labelled rows against its metric at training time."""

    metric: str
    reference_value: float
    current_value: float
    degradation: float  # relative, positive = worse
    drifted: bool
    below_floor: bool
    limit: float = 0.15  # the degradation that is drift: concept_degradation, or calibrated
    rule: str = "floor"  # "floor" | "calibrated"


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    drift_detected: bool
    drift_type: str  # data | concept | both | none
    drift_score: float
    features: tuple[FeatureDrift, ...]
    affected: tuple[str, ...]
    recommendation: str
    n_reference: int
    n_current: int
    status: str = "ok"  # ok | insufficient_data
    concept: ConceptCheck | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    reference: str = "training"  # what the current window was compared with, in words

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_detected": self.drift_detected,
            "drift_type": self.drift_type,
            "drift_score": self.drift_score,
            "status": self.status,
            "affected": list(self.affected),
            "recommendation": self.recommendation,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "reference": self.reference,
            "thresholds": self.thresholds,
            "features": [f.to_dict() for f in self.features],
            "concept": None
            if self.concept is None
            else {
                "metric": self.concept.metric,
                "reference_value": self.concept.reference_value,
                "current_value": self.concept.current_value,
                "degradation": self.concept.degradation,
                "drifted": self.concept.drifted,
                "below_floor": self.concept.below_floor,
                "limit": self.concept.limit,
                "rule": self.concept.rule,
            },
        }


def concept_check(
    metric: str,
    higher_is_better: bool,
    reference_value: float,
    current_value: float,
    *,
    degradation_limit: float,
    floor: float | None,
    calibration: dict[str, Any] | None = None,
    calibration_sd: float = 3.0,
) -> ConceptCheck:
    """Relative degradation of the champion's metric on recent labelled rows (positive = worse).

    With a ``calibration`` (``drift_profile.calibrate_concept``) the limit is the largest of
    ``degradation_limit``, the highest swing the training windows showed and their mean +
    ``calibration_sd`` sd, as for the features."""
    limit, rule = degradation_limit, "floor"
    if calibration and calibration.get("windows"):
        learned = max(calibration["max"], calibration["mean"] + calibration_sd * calibration["sd"])
        if learned > limit:
            limit, rule = learned, "calibrated"
    if reference_value == 0:
        degradation = 0.0
    elif higher_is_better:
        degradation = (reference_value - current_value) / abs(reference_value)
    else:
        degradation = (current_value - reference_value) / abs(reference_value)
    below = floor is not None and (
        current_value < floor if higher_is_better else current_value > floor
    )
    return ConceptCheck(
        metric=metric,
        reference_value=reference_value,
        current_value=current_value,
        degradation=float(degradation),
        drifted=degradation >= limit,
        below_floor=below,
        limit=float(limit),
        rule=rule,
    )
