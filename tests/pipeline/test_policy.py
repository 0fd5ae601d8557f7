"""pipeline.policy.decide: a decision table over every outcome and boundary, and monotonicity."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import metric_higher_is_better
from pipeline.policy import Policy, decide
from pipeline.reports import OUTCOMES, Comparison, MetricInterval

RANK = {outcome: i for i, outcome in enumerate(OUTCOMES)}  # reject < review < promote
INVALID = "the challenger predicts the constant 3 for all 500 holdout rows"


def make(
    chall: float,
    champ: float | None = 10.0,
    *,
    metric: str = "mae",
    p: float | None = 0.001,
    rel: float | None = None,
    valid: bool = True,
) -> Comparison:
    """A Comparison whose relative improvement follows from the two values (unless ``rel``)."""
    higher = metric_higher_is_better(metric)
    if champ is None:
        rel = absolute = None
    else:
        absolute = (chall - champ) if higher else (champ - chall)
        if rel is None:
            rel = absolute / abs(champ)
    return Comparison(
        metric=metric,
        higher_is_better=higher,
        challenger_version=7,
        champion_version=None if champ is None else 6,
        challenger_value=chall,
        champion_value=champ,
        relative_improvement=rel,
        absolute_improvement=absolute,
        interval=None if champ is None else MetricInterval(low=0.01, high=0.9, level=0.95),
        p_value=None if champ is None else p,
        ttest_p_value=None,
        n_holdout=500,
        n_resamples=2000,
        challenger_valid=valid,
        invalid_reason=None if valid else INVALID,
    )


# (id, comparison, policy, outcome, fragments every one of which must appear in the reasons)
TABLE = [
    ("no-champion", make(9.0, None), Policy(), "promote", ["No champion", "version 7", "9", "500"]),
    (
        "no-champion-roc-auc",
        make(0.71, None, metric="roc_auc"),
        Policy(),
        "promote",
        ["roc_auc 0.71", "500 holdout rows"],
    ),
    ("invalid", make(9.0, valid=False), Policy(), "reject", ["Rejected version 7", INVALID]),
    ("invalid-no-champion", make(9.0, None, valid=False), Policy(), "reject", [INVALID]),
    ("nan-value", make(math.nan), Policy(), "reject", ["Rejected version 7", "mae", "undefined"]),
    (
        "floor-mae-violated",
        make(9.0),
        Policy(metric_floor=8.5),
        "reject",
        ["mae of 9", "maximum of 8.5", "metric_floor"],
    ),
    (
        "floor-roc-auc-violated",
        make(0.8, 0.7, metric="roc_auc"),
        Policy(metric_floor=0.85),
        "reject",
        ["roc_auc of 0.8", "minimum of 0.85", "metric_floor"],
    ),
    (
        "floor-mae-violated-no-champion",
        make(9.0, None),
        Policy(metric_floor=8.5),
        "reject",
        ["maximum of 8.5"],
    ),
    ("floor-mae-met-exactly", make(9.0), Policy(metric_floor=9.0), "promote", ["+10.00%"]),
    (
        "floor-roc-auc-met-exactly",
        make(0.8, 0.7, metric="roc_auc"),
        Policy(metric_floor=0.8),
        "promote",
        ["+14.29%"],
    ),
    (
        "auto-threshold-exactly-significant",
        make(9.5, p=0.01),
        Policy(),
        "promote",
        ["+5.00%", "p = 0.01", "10 (champion v6)", "9.5 (version 7)", "500 holdout rows"],
    ),
    (
        "auto-threshold-exactly-p-just-below-alpha",
        make(9.5, p=0.0499),
        Policy(),
        "promote",
        ["+5.00%", "p = 0.0499", "alpha 0.05"],
    ),
    (
        "auto-threshold-exactly-p-equals-alpha",
        make(9.5, p=0.05),
        Policy(),
        "review",
        ["+5.00%", "p = 0.05", "not significant"],
    ),
    (
        "big-win-not-significant",
        make(8.0, p=0.3),
        Policy(),
        "review",
        ["+20.00%", "p = 0.3", "not significant", "alpha 0.05"],
    ),
    (
        "big-win-p-missing-counts-as-1",
        make(8.0, p=None),
        Policy(),
        "review",
        ["+20.00%", "p = 1"],
    ),
    (
        "just-below-auto-threshold",
        make(9.501, p=0.001),
        Policy(),
        "review",
        ["+4.99%", "+2.00%", "+5.00%"],
    ),
    (
        "review-threshold-exactly",
        make(9.8, p=0.001, rel=0.02),
        Policy(),
        "review",
        ["+2.00%", "p = 0.001", "review threshold"],
    ),
    (
        "review-threshold-float-noise",  # (10 - 9.8) / 10 == 0.019999999999999928
        make(9.8, p=0.001),
        Policy(),
        "review",
        ["+2.00%"],
    ),
    (
        "just-below-review-threshold",
        make(9.801, p=0.001),
        Policy(),
        "reject",
        ["+1.99%", "below the review threshold +2.00%", "champion stays"],
    ),
    ("negative", make(10.5, p=0.9), Policy(), "reject", ["-5.00%", "p = 0.9"]),
    (
        "roc-auc-clear-win",
        make(0.8, 0.7, metric="roc_auc"),
        Policy(),
        "promote",
        ["roc_auc 0.7 (champion v6) -> 0.8", "+14.29%"],
    ),
    (
        "roc-auc-worse",
        make(0.68, 0.7, metric="roc_auc"),
        Policy(),
        "reject",
        ["-2.86%"],
    ),
    (
        "require-approval-clear-win",
        make(8.0, p=0.001),
        Policy(require_approval=True),
        "review",
        ["+20.00%", "require_approval", "+5.00%"],
    ),
    (
        "custom-thresholds",
        make(9.0, p=0.001),
        Policy(auto_promote_threshold=0.2, min_relative_improvement=0.1),
        "review",
        ["+10.00%", "+20.00%"],
    ),
    (
        "custom-alpha",
        make(9.0, p=0.02),
        Policy(alpha=0.01),
        "review",
        ["p = 0.02", "alpha 0.01"],
    ),
]


@pytest.mark.parametrize(
    ("comparison", "policy", "outcome", "fragments"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_decision_table(comparison, policy, outcome, fragments):
    decision = decide(comparison, policy)
    assert decision.outcome == outcome
    text = " ".join(decision.reasons)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"


@pytest.mark.parametrize(
    ("comparison", "policy"),
    [pytest.param(row[1], row[2], id=row[0]) for row in TABLE],
)
def test_every_reason_is_a_sentence_with_numbers(comparison, policy):
    reasons = decide(comparison, policy).reasons
    assert reasons
    for reason in reasons:
        assert isinstance(reason, str) and len(reason.split()) >= 4
        assert reason == reason.strip() and reason.endswith(".")
        assert any(ch.isdigit() for ch in reason)
    if len(reasons) > 1:  # a real comparison: the first reason states the facts
        imp = f"{comparison.relative_improvement * 100:+.2f}%"
        assert f"improvement {imp}" in reasons[0] and "p = " in reasons[0]
        assert imp in reasons[1] or "require_approval" in reasons[1]


def test_confidence_interval_is_reported():
    reason = decide(make(9.0), Policy()).reasons[0]
    assert "CI of the improvement +0.01 to +0.9" in reason


def test_confidence_interval_reports_its_own_level():
    c90 = dataclasses.replace(make(9.0), interval=MetricInterval(low=0.01, high=0.9, level=0.9))
    assert "90% CI" in decide(c90, Policy()).reasons[0]


def test_policy_from_config(cfg):
    policy = Policy.from_config(cfg)
    assert policy == Policy(
        auto_promote_threshold=cfg.auto_promote_threshold,
        min_relative_improvement=cfg.min_relative_improvement,
        alpha=cfg.alpha,
        require_approval=cfg.require_approval,
        metric_floor=cfg.metric_floor,
    )


# --------------------------------------------------------------------------------------------
# Monotonicity: a better challenger value never gets a worse outcome.
# --------------------------------------------------------------------------------------------
@st.composite
def policies(draw):
    auto = draw(st.floats(0.01, 0.5))
    return Policy(
        auto_promote_threshold=auto,
        min_relative_improvement=draw(st.floats(0.001, auto)),
        alpha=draw(st.sampled_from([0.01, 0.05, 0.1])),
        require_approval=draw(st.booleans()),
        metric_floor=draw(st.none() | st.floats(0.0, 20.0)),
    )


@st.composite
def scenarios(draw):
    """(metric, champion value, worse challenger value, better challenger value)."""
    metric = draw(st.sampled_from(["mae", "roc_auc"]))
    if metric == "mae":
        champ = draw(st.floats(0.1, 10.0))
        a, b = draw(st.floats(0.0, 20.0)), draw(st.floats(0.0, 20.0))
        return metric, champ, max(a, b), min(a, b)  # lower error is better
    champ = draw(st.floats(0.5, 1.0))
    a, b = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
    return metric, champ, min(a, b), max(a, b)


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(), p=st.floats(0.0, 1.0), policy=policies())
def test_decide_is_monotone_in_the_challenger_value(scenario, p, policy):
    metric, champ, worse, better = scenario
    c_worse = make(worse, champ, metric=metric, p=p)
    c_better = make(better, champ, metric=metric, p=p)
    assert c_better.relative_improvement >= c_worse.relative_improvement
    assert RANK[decide(c_better, policy).outcome] >= RANK[decide(c_worse, policy).outcome]


def test_a_champion_with_invalid_predictions_goes_to_review():
    import numpy as np

    from pipeline.evaluation import compare

    y = np.linspace(1, 10, 50)
    c = compare(
        task="regression",
        metric="mae",
        y=y,
        challenger_pred=y + 0.1,
        challenger_version=2,
        champion_pred=np.full(50, np.nan),
        champion_version=1,
        n_resamples=1000,
        seed=0,
    )
    assert (
        c.champion_invalid_reason is not None
        and "champion's predictions contain 50 NaN" in c.champion_invalid_reason
    )
    d = decide(c, Policy())
    assert d.outcome == "review" and "Champion v1 cannot be compared" in d.reasons[0]
