"""The promotion policy: a pure function from a Comparison to a Decision.

Order of the rules:

1. invalid challenger (NaN or constant predictions, or worse than ``metric_floor``) -> reject;
2. a champion whose own predictions are invalid on this holdout -> review (a person decides
   whether to replace it);
3. no champion -> promote when the model beats the naive baseline with significance, else review
   (the first model too must beat predicting the training mean);
4. the gate's figure >= ``auto_promote_threshold`` and p < ``alpha`` -> promote, or review when
   ``require_approval`` is set, the challenger does not beat the baseline with significance, or
   it breaks a guardrail. The gate's figure is the one-sided (1 - alpha) lower confidence bound
   of the improvement (``promotion_gate = "lower_bound"``, the default) or its point estimate
   (``"point"``);
5. improvement >= ``min_relative_improvement`` (below the auto threshold, not significant, or
   a lower bound short of the bar) -> review;
6. otherwise -> reject.

A guardrail is broken when a metric in ``guardrails`` is worse by more than its tolerance and
significantly worse (its one-sided p of "not worse" < alpha), or, with ``max_segment_regression``,
when a segment of at least ``MIN_SEGMENT_ROWS`` rows is. A broken guardrail never makes a
decision better than review, and is named in the reasons of every decision it touches.

A rejection is a normal Decision, not an exception. Every reason is a sentence with its numbers;
``Decision.rules`` lists each rule the policy checked, whether it fired, and its sentence.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.config import Config
from pipeline.measures import describe
from pipeline.reports import Comparison, Decision, Delta, Rule

MIN_SEGMENT_ROWS = 30  # a smaller segment is shown but never gates (as pipeline.evidence says)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    auto_promote_threshold: float = 0.05
    min_relative_improvement: float = 0.02
    alpha: float = 0.05
    require_approval: bool = False
    metric_floor: float | None = None
    promotion_gate: str = "lower_bound"
    guardrails: dict[str, float] = field(default_factory=dict)
    max_segment_regression: float | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Policy:
        return cls(
            auto_promote_threshold=cfg.auto_promote_threshold,
            min_relative_improvement=cfg.min_relative_improvement,
            alpha=cfg.alpha,
            require_approval=cfg.require_approval,
            metric_floor=cfg.metric_floor,
            promotion_gate=cfg.promotion_gate,
            guardrails=dict(cfg.guardrail_metrics),
            max_segment_regression=cfg.max_segment_regression,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """SHA-256 of the policy's canonical JSON: two decisions under the same hash were made
        by the same rules."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


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
    """Promote, review or reject the challenger of ``c``; every decision lists its rules.

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
    d = _decide(c, policy)
    if d.rules:
        return d
    name = {"reject": "rejected", "review": "review", "promote": "first_champion"}[d.outcome]
    return dataclasses.replace(d, rules=(Rule(name=name, fired=True, sentence=d.reasons[-1]),))


def _decide(c: Comparison, policy: Policy) -> Decision:
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
    lower = c.improvement_lower
    by_lower = policy.promotion_gate == "lower_bound" and lower is not None
    gate = lower if by_lower and lower is not None else imp
    lower_text = (
        f", lower bound {_pct(gate)} (one-sided {1 - policy.alpha:.0%})" if by_lower else ""
    )
    facts = (
        f"{m} {c.champion_value:.4g} (champion v{c.champion_version}) -> {c.challenger_value:.4g} "
        f"({name}) on {c.n_holdout} holdout rows: improvement {_pct(imp)} "
        f"({describe(c.improvement_measure, m)}), p = {p:.3g}{ci_text}{lower_text}."
    )
    significant = p < policy.alpha
    bar = _pct(policy.auto_promote_threshold)
    rules = [
        Rule(
            name="significance",
            fired=significant,
            sentence=f"p = {p:.3g} < alpha {policy.alpha}"
            if significant
            else f"p = {p:.3g} >= alpha {policy.alpha}",
        )
    ]
    rules += guardrail_rules(c, policy)
    breaches = [
        r.sentence for r in rules if r.fired and r.name.startswith(("guardrail:", "segment:"))
    ]
    broken = f"it breaks {'a guardrail' if len(breaches) == 1 else f'{len(breaches)} guardrails'}: {'; '.join(breaches)}"
    if _reaches(gate, policy.auto_promote_threshold) and significant:
        head = (
            f"The win clears the auto-promotion bar ({bar}"
            f"{' at its lower bound' if by_lower else ''}, p < {policy.alpha})"
        )
        rules.append(Rule(name="auto_promotion_bar", fired=True, sentence=head + "."))
        if short_of_baseline:
            rules.append(Rule(name="baseline", fired=True, sentence=short_of_baseline))
            why = f"{head}, but {short_of_baseline}: an admin should review."
            return _review((facts, why + (f" Also, {broken}." if breaches else "")), rules)
        if breaches:
            return _review((facts, f"{head}, but {broken}: an admin should review."), rules)
        if policy.require_approval:
            rules.append(
                Rule(name="require_approval", fired=True, sentence="require_approval is set")
            )
            return _review(
                (facts, f"{head}, but require_approval is set: an admin must approve."), rules
            )
        return Decision(
            outcome="promote",
            reasons=(
                facts,
                f"Improvement {_pct(imp)}"
                f"{f' (lower bound {_pct(gate)})' if by_lower else ''} "
                f"is at least the auto-promotion threshold {bar} and significant "
                f"(p = {p:.3g} < alpha {policy.alpha}){_beats_baseline(c)}.",
            ),
            rules=tuple(rules),
        )
    if _reaches(imp, policy.min_relative_improvement):
        if _reaches(imp, policy.auto_promote_threshold) and not significant:
            why = (
                f"Improvement {_pct(imp)} reaches the auto-promotion threshold but is not significant "
                f"(p = {p:.3g} >= alpha {policy.alpha}): an admin should review."
            )
        elif _reaches(imp, policy.auto_promote_threshold) and by_lower:
            why = (
                f"Improvement {_pct(imp)} reaches the auto-promotion threshold {bar}, but its lower "
                f"confidence bound {_pct(gate)} does not (promotion_gate = lower_bound): the win "
                "may be smaller, so an admin should review."
            )
        else:
            why = (
                f"Improvement {_pct(imp)} is at least the review threshold "
                f"{_pct(policy.min_relative_improvement)} but below the auto-promotion threshold "
                f"{bar}: an admin should review."
            )
        rules.append(Rule(name="auto_promotion_bar", fired=False, sentence=why))
        if short_of_baseline:
            why += f" Also, {short_of_baseline}."
        if breaches:
            why += f" Also, {broken}."
        return _review((facts, why), rules)
    why = (
        f"Improvement {_pct(imp)} is below the review threshold {_pct(policy.min_relative_improvement)}: "
        "the champion stays."
    )
    rules.append(Rule(name="review_bar", fired=False, sentence=why))
    return Decision(outcome="reject", reasons=(facts, why), rules=tuple(rules))


def _review(reasons: tuple[str, ...], rules: list[Rule]) -> Decision:
    return Decision(outcome="review", reasons=reasons, rules=tuple(rules))


def _breach(d: Delta, tolerance: float, alpha: float) -> bool:
    """Worse by more than ``tolerance`` (in its measure) and significantly worse."""
    worse = -d.improvement
    return math.isfinite(worse) and not _reaches(tolerance, worse) and d.p_worse < alpha


def guardrail_rules(c: Comparison, policy: Policy) -> list[Rule]:
    """One rule per guardrail metric, and one per segment that breaks ``max_segment_regression``
    (or one saying none does)."""
    out: list[Rule] = []
    table = {d.metric: d for d in c.metric_table}
    for metric, tol in sorted(policy.guardrails.items()):
        d = table.get(metric)
        if d is None:
            out.append(
                Rule(name=f"guardrail:{metric}", fired=False, sentence=f"{metric} was not measured")
            )
            continue
        fired = _breach(d, tol, policy.alpha)
        change = f"{metric} {d.champion:.4g} -> {d.challenger:.4g} ({_pct(d.improvement)}, p worse = {d.p_worse:.3g})"
        verdict = (
            f"{metric} is worse by more than its {tol:.0%} tolerance, significantly: {change}"
            if fired
            else f"{metric} holds within its {tol:.0%} tolerance: {change}"
        )
        out.append(Rule(name=f"guardrail:{metric}", fired=fired, sentence=verdict))
    worst = policy.max_segment_regression
    if worst is None or not c.segments:
        return out
    bad = [d for d in c.segments if d.n >= MIN_SEGMENT_ROWS and _breach(d, worst, policy.alpha)]
    for d in bad:
        out.append(
            Rule(
                name=f"segment:{d.column}={d.value}",
                fired=True,
                sentence=(
                    f"segment {d.column} = {d.value!r} ({d.n} rows) is worse by more than "
                    f"{worst:.0%}, significantly: {d.metric} {d.champion:.4g} -> {d.challenger:.4g} "
                    f"({_pct(d.improvement)}, p worse = {d.p_worse:.3g})"
                ),
            )
        )
    if not bad:
        judged = sum(d.n >= MIN_SEGMENT_ROWS for d in c.segments)
        out.append(
            Rule(
                name="segments",
                fired=False,
                sentence=f"no segment of {judged} judged is significantly worse by more than {worst:.0%}",
            )
        )
    return out
