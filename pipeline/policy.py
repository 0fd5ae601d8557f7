"""The promotion policy: a pure function from a Comparison to a Decision.

Order of the rules:

1. invalid challenger (NaN or constant predictions, or worse than ``metric_floor``) -> reject;
2. a champion whose own predictions are invalid on this holdout -> review (a person decides
   whether to replace it);
3. no champion -> promote when the model beats the naive baseline with significance, else review
   (the first model too must beat predicting the training mean);
4. improvement >= ``auto_promote_threshold`` and p < ``alpha`` -> promote, or review when
   ``require_approval`` is set or the challenger does not beat the baseline with significance;
5. improvement >= ``min_relative_improvement`` (below the auto threshold, or not significant) -> review;
6. otherwise -> reject.

A rejection is a normal Decision, not an exception. Every reason is a sentence with its numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.config import Config
from pipeline.measures import describe
from pipeline.reports import Comparison, Decision


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    auto_promote_threshold: float = 0.05
    min_relative_improvement: float = 0.02
    alpha: float = 0.05
    require_approval: bool = False
    metric_floor: float | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Policy:
        return cls(
            auto_promote_threshold=cfg.auto_promote_threshold,
            min_relative_improvement=cfg.min_relative_improvement,
            alpha=cfg.alpha,
            require_approval=cfg.require_approval,
            metric_floor=cfg.metric_floor,
        )


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def _reaches(x: float, bar: float) -> bool:
    """``x >= bar``, counting float noise as reaching it: (10 - 9.8) / 10 is 0.01999…, i.e. 2%."""
    return x >= bar or math.isclose(x, bar, rel_tol=1e-9, abs_tol=1e-12)


def _below_floor(c: Comparison, floor: float | None) -> bool:
    if floor is None:
        return False
    return c.challenger_value < floor if c.higher_is_better else c.challenger_value > floor


def _short_of_baseline(c: Comparison, policy: Policy) -> str | None:
    """Why the challenger has not shown it beats the naive baseline, or None (it has, or the
    comparison has no baseline)."""
    if c.baseline is None or c.baseline_value is None or c.baseline_improvement is None:
        return None
    p = c.baseline_p_value if c.baseline_p_value is not None else 1.0
    if c.baseline_improvement > 0 and p < policy.alpha:
        return None
    return (
        f"it does not beat the naive baseline ({c.baseline}: {c.metric} {c.baseline_value:.4g}) "
        f"with significance (improvement {_pct(c.baseline_improvement)}, p = {p:.3g}, "
        f"alpha {policy.alpha})"
    )


def _beats_baseline(c: Comparison) -> str:
    if c.baseline is None or c.baseline_value is None or c.baseline_improvement is None:
        return ""
    p = c.baseline_p_value if c.baseline_p_value is not None else 1.0
    return (
        f"; it beats the naive baseline ({c.baseline}: {c.metric} {c.baseline_value:.4g}) by "
        f"{_pct(c.baseline_improvement)}, p = {p:.3g}"
    )


def decide(c: Comparison, policy: Policy) -> Decision:
    """Promote, review or reject the challenger of ``c``.

    Examples
    --------
    >>> from pipeline.reports import Comparison, MetricInterval
    >>> c = Comparison(metric="mae", higher_is_better=False, challenger_version=2, champion_version=1,
    ...     challenger_value=9.0, champion_value=10.0, relative_improvement=0.1, absolute_improvement=1.0,
    ...     interval=MetricInterval(low=0.5, high=1.5, level=0.95), p_value=0.001, ttest_p_value=0.001,
    ...     n_holdout=900, n_resamples=2000)
    >>> decide(c, Policy()).outcome
    'promote'
    """
    m = c.metric
    name = f"version {c.challenger_version}"
    if not c.challenger_valid:
        return Decision(outcome="reject", reasons=(f"Rejected {name}: {c.invalid_reason}.",))
    if math.isnan(c.challenger_value):
        return Decision(
            outcome="reject", reasons=(f"Rejected {name}: its {m} on the holdout is undefined.",)
        )
    if _below_floor(c, policy.metric_floor):
        bound = "minimum" if c.higher_is_better else "maximum"
        return Decision(
            outcome="reject",
            reasons=(
                f"Rejected {name}: its {m} of {c.challenger_value:.4g} is worse than the configured {bound} "
                f"of {policy.metric_floor:.4g} (metric_floor).",
            ),
        )
    if c.champion_invalid_reason is not None:
        return Decision(
            outcome="review",
            reasons=(
                f"Champion v{c.champion_version} cannot be compared: {c.champion_invalid_reason}; "
                f"{name} scores {m} {c.challenger_value:.4g} on {c.n_holdout} holdout rows. "
                "An admin should decide whether to replace the champion.",
            ),
        )
    short_of_baseline = _short_of_baseline(c, policy)
    if not c.has_champion or c.champion_value is None or c.relative_improvement is None:
        first = f"No champion yet: {name} scores {m} {c.challenger_value:.4g} on {c.n_holdout} holdout rows"
        if short_of_baseline:
            return Decision(
                outcome="review",
                reasons=(
                    f"{first}, but {short_of_baseline}: an admin should decide whether it may serve.",
                ),
            )
        return Decision(
            outcome="promote",
            reasons=(f"{first} and becomes the first champion{_beats_baseline(c)}.",),
        )

    imp, p = c.relative_improvement, c.p_value if c.p_value is not None else 1.0
    ci = c.interval
    ci_text = (
        f" ({ci.level:.0%} CI of the improvement {ci.low:+.4g} to {ci.high:+.4g})" if ci else ""
    )
    facts = (
        f"{m} {c.champion_value:.4g} (champion v{c.champion_version}) -> {c.challenger_value:.4g} "
        f"({name}) on {c.n_holdout} holdout rows: improvement {_pct(imp)} "
        f"({describe(c.improvement_measure, m)}), p = {p:.3g}{ci_text}."
    )
    significant = p < policy.alpha
    if _reaches(imp, policy.auto_promote_threshold) and significant:
        if short_of_baseline:
            return Decision(
                outcome="review",
                reasons=(
                    facts,
                    f"The win clears the auto-promotion bar ({_pct(policy.auto_promote_threshold)}, "
                    f"p < {policy.alpha}), but {short_of_baseline}: an admin should review.",
                ),
            )
        if policy.require_approval:
            return Decision(
                outcome="review",
                reasons=(
                    facts,
                    f"The win clears the auto-promotion bar ({_pct(policy.auto_promote_threshold)}, "
                    f"p < {policy.alpha}), but require_approval is set: an admin must approve.",
                ),
            )
        return Decision(
            outcome="promote",
            reasons=(
                facts,
                f"Improvement {_pct(imp)} is at least the auto-promotion threshold "
                f"{_pct(policy.auto_promote_threshold)} and significant (p = {p:.3g} < alpha {policy.alpha})"
                f"{_beats_baseline(c)}.",
            ),
        )
    if _reaches(imp, policy.min_relative_improvement):
        if _reaches(imp, policy.auto_promote_threshold):
            why = (
                f"Improvement {_pct(imp)} reaches the auto-promotion threshold but is not significant "
                f"(p = {p:.3g} >= alpha {policy.alpha}): an admin should review."
            )
        else:
            why = (
                f"Improvement {_pct(imp)} is at least the review threshold "
                f"{_pct(policy.min_relative_improvement)} but below the auto-promotion threshold "
                f"{_pct(policy.auto_promote_threshold)}: an admin should review."
            )
        if short_of_baseline:
            why += f" Also, {short_of_baseline}."
        return Decision(outcome="review", reasons=(facts, why))
    return Decision(
        outcome="reject",
        reasons=(
            facts,
            f"Improvement {_pct(imp)} is below the review threshold {_pct(policy.min_relative_improvement)}: "
            "the champion stays.",
        ),
    )
