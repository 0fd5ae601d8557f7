"""The promotion policy: every outcome and every boundary, and monotonicity as a property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy import Policy, decide
from pipeline.reports import OUTCOMES, Comparison, MetricInterval

RANK = {o: i for i, o in enumerate(OUTCOMES)}  # reject < review < promote


def comp(
    *,
    champ: float | None = 10.0,
    chall: float = 9.0,
    p: float | None = 0.001,
    metric: str = "mae",
    valid: bool = True,
) -> Comparison:
    higher = metric in ("roc_auc", "r2", "f1", "accuracy", "precision", "recall")
    if champ is None:
        rel = None
    else:
        rel = (chall - champ) / abs(champ) if higher else (champ - chall) / abs(champ)
    return Comparison(
        metric=metric,
        higher_is_better=higher,
        challenger_version=2,
        champion_version=None if champ is None else 1,
        challenger_value=chall,
        champion_value=champ,
        relative_improvement=rel,
        absolute_improvement=None if rel is None else rel * abs(champ or 1),
        interval=None if champ is None else MetricInterval(low=-0.1, high=0.3, level=0.95),
        p_value=None if champ is None else p,
        ttest_p_value=None,
        n_holdout=360,
        n_resamples=2000,
        challenger_valid=valid,
        invalid_reason=None if valid else "the challenger predicts a constant",
    )


CASES = [
    # (comparison, policy, outcome, text that must be in the reasons)
    (comp(champ=None), Policy(), "promote", "No champion yet"),
    (comp(valid=False), Policy(), "reject", "predicts a constant"),
    (comp(chall=math.nan), Policy(), "reject", "undefined"),
    (comp(chall=9.0), Policy(metric_floor=8.5), "reject", "maximum of 8.5"),
    (
        comp(metric="roc_auc", champ=0.70, chall=0.80),
        Policy(metric_floor=0.85),
        "reject",
        "minimum of 0.85",
    ),
    (
        comp(metric="roc_auc", champ=0.70, chall=0.80),
        Policy(metric_floor=0.75),
        "promote",
        "+14.29%",
    ),
    (comp(chall=9.5, p=0.049), Policy(), "promote", "+5.00%"),  # exactly the auto threshold
    (
        comp(chall=9.5, p=0.05),
        Policy(),
        "review",
        "not significant",
    ),  # p == alpha is not significant
    (comp(chall=8.0, p=0.2), Policy(), "review", "p = 0.2"),
    (comp(chall=9.51, p=0.001), Policy(), "review", "+4.90%"),  # just below auto
    (comp(chall=9.8, p=0.001), Policy(), "review", "+2.00%"),  # exactly the review threshold
    (comp(chall=9.81, p=0.001), Policy(), "reject", "+1.90%"),  # just below review
    (comp(chall=10.5, p=0.9), Policy(), "reject", "-5.00%"),
    (comp(chall=8.0, p=0.001), Policy(require_approval=True), "review", "require_approval"),
    (
        comp(chall=9.7, p=0.001),
        Policy(min_relative_improvement=0.04, auto_promote_threshold=0.1),
        "reject",
        "+3.00%",
    ),
]


@pytest.mark.parametrize(("c", "policy", "outcome", "text"), CASES)
def test_decision_table(c, policy, outcome, text):
    d = decide(c, policy)
    assert d.outcome == outcome
    joined = " ".join(d.reasons)
    assert text in joined, joined
    assert all(r.strip().endswith(".") and len(r) > 20 for r in d.reasons)


def test_reasons_carry_the_numbers():
    d = decide(comp(chall=9.0, p=0.0012), Policy())
    text = " ".join(d.reasons)
    for number in ("10", "9", "+10.00%", "0.0012", "360 holdout rows", "v1", "version 2"):
        assert number in text


@settings(max_examples=300, deadline=None)
@given(
    champ=st.floats(0.5, 100),
    a=st.floats(0.01, 200),
    b=st.floats(0.01, 200),
    p=st.floats(0, 1),
    auto=st.floats(0.03, 0.5),
    review=st.floats(0.001, 0.03),
    require=st.booleans(),
    floor=st.none() | st.floats(0.01, 200),
)
def test_decision_is_monotone_in_the_challengers_metric(
    champ, a, b, p, auto, review, require, floor
):
    """For an error metric, a lower challenger error never gets a less trusted outcome."""
    policy = Policy(
        auto_promote_threshold=auto,
        min_relative_improvement=review,
        require_approval=require,
        metric_floor=floor,
    )
    better, worse = min(a, b), max(a, b)
    d_better = decide(comp(champ=champ, chall=better, p=p), policy)
    d_worse = decide(comp(champ=champ, chall=worse, p=p), policy)
    assert RANK[d_better.outcome] >= RANK[d_worse.outcome]


@settings(max_examples=200, deadline=None)
@given(champ=st.floats(0.5, 0.99), a=st.floats(0.01, 1), b=st.floats(0.01, 1), p=st.floats(0, 1))
def test_decision_is_monotone_for_a_score_metric(champ, a, b, p):
    d_better = decide(comp(metric="roc_auc", champ=champ, chall=max(a, b), p=p), Policy())
    d_worse = decide(comp(metric="roc_auc", champ=champ, chall=min(a, b), p=p), Policy())
    assert RANK[d_better.outcome] >= RANK[d_worse.outcome]
