"""Guardrails and the lower-bound gate: the acceptance table (MAE better but RMSE worse beyond
tolerance, one ward 20% worse, a lower bound just under the bar), every boundary, and
monotonicity: a worse guardrail or segment never makes a decision better."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy import Policy, decide
from pipeline.reports import OUTCOMES, Comparison, Delta, MetricInterval

RANK = {outcome: i for i, outcome in enumerate(OUTCOMES)}


def delta(
    metric: str,
    improvement: float,
    p_worse: float,
    *,
    column: str | None = None,
    value: str | None = None,
    n: int = 500,
) -> Delta:
    champion = 10.0
    return Delta(
        metric=metric,
        higher_is_better=False,
        measure="relative",
        n=n,
        champion=champion,
        challenger=champion * (1 - improvement),
        improvement=improvement,
        low=improvement - 0.05,
        high=improvement + 0.05,
        level=0.95,
        p_worse=p_worse,
        p_better=1 - p_worse,
        column=column,
        value=value,
    )


def winner(
    *,
    rel: float = 0.10,
    lower: float | None = 0.07,
    p: float = 0.001,
    rmse: tuple[float, float] = (0.08, 0.9),
    wards: tuple[Delta, ...] = (),
) -> Comparison:
    """A challenger 10% better on MAE (lower bound 7%), significant, with an RMSE row."""
    return Comparison(
        metric="mae",
        higher_is_better=False,
        challenger_version=7,
        champion_version=6,
        challenger_value=10.0 * (1 - rel),
        champion_value=10.0,
        relative_improvement=rel,
        absolute_improvement=10.0 * rel,
        interval=MetricInterval(low=0.3, high=1.6, level=0.95),
        p_value=p,
        ttest_p_value=None,
        n_holdout=500,
        n_resamples=2000,
        improvement_lower=lower,
        metric_table=(delta("mae", rel, 0.999), delta("rmse", *rmse)),
        segments=wards,
    )


def ward(name: str, improvement: float, p_worse: float, n: int = 120) -> Delta:
    return delta("mae", improvement, p_worse, column="ward", value=name, n=n)


GUARDED = Policy(guardrails={"rmse": 0.05}, max_segment_regression=0.10)

# (id, comparison, policy, outcome, fragments that must all appear in the reasons)
TABLE = [
    ("clean-win", winner(), GUARDED, "promote", ["lower bound +7.00%", "auto-promotion"]),
    (
        "mae-better-rmse-worse-beyond-tolerance",
        winner(rmse=(-0.12, 0.001)),
        GUARDED,
        "review",
        ["breaks a guardrail", "rmse is worse by more than its 5% tolerance", "-12.00%"],
    ),
    (
        "rmse-worse-within-tolerance",
        winner(rmse=(-0.04, 0.001)),
        GUARDED,
        "promote",
        [],
    ),
    (
        "rmse-worse-beyond-tolerance-but-noise",
        winner(rmse=(-0.12, 0.2)),
        GUARDED,
        "promote",
        [],
    ),
    (
        "one-ward-20pct-worse",
        winner(wards=(ward("W01", 0.15, 0.99), ward("W02", -0.20, 0.002))),
        GUARDED,
        "review",
        ["segment ward = 'W02'", "120 rows", "worse by more than 10%", "-20.00%"],
    ),
    (
        "small-ward-20pct-worse-is-not-judged",
        winner(wards=(ward("W02", -0.20, 0.002, n=29),)),
        GUARDED,
        "promote",
        [],
    ),
    (
        "segments-without-max-are-shown-not-gated",
        winner(wards=(ward("W02", -0.20, 0.002),)),
        Policy(),
        "promote",
        [],
    ),
    (
        "lower-bound-just-under-the-bar",
        winner(rel=0.09, lower=0.0499),
        Policy(),
        "review",
        ["lower confidence bound +4.99%", "does not", "+5.00%"],
    ),
    ("lower-bound-at-the-bar", winner(rel=0.09, lower=0.05), Policy(), "promote", []),
    (
        "point-gate-ignores-the-bound",
        winner(rel=0.09, lower=0.0499),
        Policy(promotion_gate="point"),
        "promote",
        [],
    ),
    (
        "guardrail-and-require-approval-name-the-guardrail",
        winner(rmse=(-0.12, 0.001)),
        Policy(guardrails={"rmse": 0.05}, require_approval=True),
        "review",
        ["rmse is worse"],
    ),
    (
        "a-review-still-names-the-broken-guardrail",
        winner(rel=0.03, lower=0.001, rmse=(-0.12, 0.001)),
        GUARDED,
        "review",
        ["review threshold", "Also, it breaks a guardrail", "rmse"],
    ),
    (
        "a-loser-stays-rejected",
        winner(rel=0.01, lower=-0.01, rmse=(-0.12, 0.001)),
        GUARDED,
        "reject",
        ["below the review threshold"],
    ),
]


@pytest.mark.parametrize(
    ("comparison", "policy", "outcome", "fragments"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_guardrail_table(comparison, policy, outcome, fragments):
    d = decide(comparison, policy)
    text = " ".join(d.reasons)
    assert d.outcome == outcome, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_rules_list_every_guardrail_with_its_verdict():
    d = decide(winner(rmse=(-0.12, 0.001), wards=(ward("W01", 0.1, 0.9),)), GUARDED)
    rules = {r.name: r for r in d.rules}
    assert rules["guardrail:rmse"].fired
    assert "tolerance" in rules["guardrail:rmse"].sentence
    assert not rules["segments"].fired and "no segment" in rules["segments"].sentence
    assert rules["auto_promotion_bar"].fired and rules["significance"].fired
    ok = decide(winner(), GUARDED)
    assert not {r.name: r for r in ok.rules}["guardrail:rmse"].fired


@pytest.mark.parametrize(
    ("worse", "p_worse", "blocked"),
    [
        (0.05, 0.001, False),  # exactly the tolerance: within it
        (0.0500001, 0.001, True),  # just beyond
        (0.12, 0.05, False),  # p equal to alpha is not significant
        (0.12, 0.0499, True),
    ],
)
def test_guardrail_boundaries(worse, p_worse, blocked):
    d = decide(winner(rmse=(-worse, p_worse)), Policy(guardrails={"rmse": 0.05}))
    assert d.outcome == ("review" if blocked else "promote"), d.reasons


def test_a_guardrail_that_was_not_measured_never_blocks():
    c = dataclasses.replace(winner(), metric_table=())
    d = decide(c, Policy(guardrails={"rmse": 0.05}))
    assert d.outcome == "promote"
    assert "not measured" in {r.name: r for r in d.rules}["guardrail:rmse"].sentence


def test_policy_hash_changes_with_every_rule():
    base = Policy().digest()
    assert Policy().digest() == base and len(base) == 64
    for change in (
        {"guardrails": {"rmse": 0.05}},
        {"max_segment_regression": 0.1},
        {"promotion_gate": "point"},
        {"alpha": 0.01},
    ):
        assert Policy(**change).digest() != base, change


@settings(max_examples=300, deadline=None)
@given(
    rel=st.floats(-0.2, 0.4),
    width=st.floats(0, 0.2),
    rmse=st.floats(-0.5, 0.5),
    worse_by=st.floats(0, 0.5),
    p_worse=st.floats(0.0001, 1),
    seg=st.floats(-0.5, 0.5),
    seg_worse_by=st.floats(0, 0.5),
    gate=st.sampled_from(["lower_bound", "point"]),
)
def test_monotone_in_guardrails_and_segments(
    rel, width, rmse, worse_by, p_worse, seg, seg_worse_by, gate
):
    """Making a guardrail metric or a segment worse never makes the outcome better, and
    widening the interval (a lower bound further down) never does either."""
    policy = Policy(guardrails={"rmse": 0.05}, max_segment_regression=0.1, promotion_gate=gate)

    def outcome(rmse_imp: float, seg_imp: float, lower: float, p: float = p_worse) -> int:
        c = winner(
            rel=rel,
            lower=lower,
            rmse=(rmse_imp, p),
            wards=(ward("W01", seg_imp, p),),
        )
        return RANK[decide(c, policy).outcome]

    lower = rel - width
    now = outcome(rmse, seg, lower)
    assert outcome(rmse - worse_by, seg, lower) <= now
    assert outcome(rmse, seg - seg_worse_by, lower) <= now
    assert outcome(rmse, seg, lower - worse_by) <= now
    assert outcome(rmse, seg, lower, p_worse / 2) <= now  # more surely worse
