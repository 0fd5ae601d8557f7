"""Rollout assignment and statistics: GrowthBook-compatible hashing, stickiness across a ramp,
SRM, and decisions that stay honest when the results are looked at 40 times."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pipeline import rollout
from pipeline.errors import ConfigError
from pipeline.rollout import Plan, analyse, decide

# FNV-1a 32 reference values (Landon Curt Noll's test suite).
FNV = {"": 0x811C9DC5, "a": 0xE40C292C, "foobar": 0xBF9CF968}
# GrowthBook's SDK test cases (packages/sdk-js/test/cases.json, "hash"): [seed, value, version, expected].
GROWTHBOOK = [
    ("", "a", 1, 0.22),
    ("", "b", 1, 0.077),
    ("b", "a", 1, 0.946),
    ("ef", "d", 1, 0.652),
    ("asdf", "8952klfjas09ujk", 1, 0.549),
    ("", "123", 1, 0.011),
    ("", '___)((*":&', 1, 0.563),
    ("seed", "a", 2, 0.0505),
    ("seed", "b", 2, 0.2696),
    ("foo", "ab", 2, 0.2575),
    ("foo", "def", 2, 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 2, 0.124),
    ("90850943850283058242805", "123", 2, 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 2, 0.0128),
    ("abc", "def", 99, None),
    # Non-ASCII: hashed over UTF-16 code units, as growthbook-python 4.0.0 and the JS SDK do
    # (values computed with growthbook-python 4.0.0's gbhash).
    ("", "é", 2, 0.8917),
    ("s", "😀", 2, 0.2801),
]


@pytest.mark.parametrize(("text", "expected"), FNV.items())
def test_fnv1a32_reference_values(text, expected):
    assert rollout.fnv1a32(text) == expected


@pytest.mark.parametrize(("seed", "value", "version", "expected"), GROWTHBOOK)
def test_growthbook_hash_cases(seed, value, version, expected):
    assert rollout.growthbook_hash(seed, value, version) == expected


@settings(max_examples=60, deadline=None)
@given(
    seed=st.text(max_size=20),
    values=st.lists(st.text(max_size=30), min_size=1, max_size=40),
)
def test_the_batch_form_equals_the_single_call(seed, values):
    batch = rollout.growthbook_hash_batch(seed, values)
    assert batch.tolist() == [rollout.growthbook_hash(seed, v, 2) for v in values]


def test_a_ramp_never_moves_a_unit_back_and_hits_its_shares():
    units = np.array([f"patient-{i}" for i in range(100_000)])
    previous = np.zeros(len(units), dtype=bool)
    for share in (0.10, 0.25, 0.50, 1.00):
        now = rollout.assign_batch("rollout-42", units, share)
        assert not (previous & ~now).any(), "a unit left the challenger"
        assert abs(now.mean() - share) < 0.01
        previous = now
    # The same unit is assigned the same way in a new process-independent call.
    assert rollout.on_challenger("rollout-42", "patient-7", 0.5) == bool(
        rollout.assign_batch("rollout-42", ["patient-7"], 0.5)[0]
    )


def test_different_rollouts_split_independently():
    units = np.array([f"u{i}" for i in range(20_000)])
    a = rollout.assign_batch("rollout-1", units, 0.5)
    b = rollout.assign_batch("rollout-2", units, 0.5)
    assert abs((a & b).mean() - 0.25) < 0.015


# ----------------------------------------------------------------------------- plans
def test_plans_validate_their_steps():
    assert Plan.make("gradual").steps == (0.10, 0.25, 0.50, 1.0)
    with pytest.raises(ConfigError, match="must be one of"):
        Plan.make("blue-green")
    with pytest.raises(ConfigError, match="increasing steps from above 0% ending at 100%"):
        Plan.make("gradual", steps=[0.5, 0.25, 1.0])
    assert Plan.from_dict(Plan.make("canary").to_dict()) == Plan.make("canary")


# ----------------------------------------------------------------------------- SRM
def test_an_induced_10000_vs_10500_split_is_a_sample_ratio_mismatch():
    p = rollout.srm_test(10_000, 10_500, 0.5)
    assert p == pytest.approx(0.000479, rel=0.01)  # chi-square 12.2 on 1 df
    loss = np.ones(10)
    a = analyse(
        loss, loss, plan=Plan.make("ab"), share=0.5, champion_units=10_000, challenger_units=10_500
    )
    assert a.srm
    d = decide(a, Plan.make("ab"), step_index=0, step_hours=1, total_hours=1)
    assert d.action == "halt" and "sample ratio mismatch" in d.reason
    assert not rollout.srm_test(10_000, 10_100, 0.5) < rollout.SRM_P


# ----------------------------------------------------------------------------- peeking
def _first_decision(rng, effect, *, plan, looks=40, per_look=1000):
    """A/B with half-normal absolute errors; the challenger's errors scaled by (1 - effect)."""
    a, b = [], []
    for k in range(1, looks + 1):
        a.append(np.abs(rng.normal(0, 1.0, per_look)))
        b.append(np.abs(rng.normal(0, 1.0 - effect, per_look)))
        result = analyse(np.concatenate(a), np.concatenate(b), plan=plan, share=0.5)
        d = decide(result, plan, step_index=0, step_hours=k, total_hours=k)
        if d.action in ("promote", "rollback"):
            return d.action
    return "none"


AB = Plan.make("ab", min_samples=500, max_hours=10**9, min_step_hours=0)


def test_no_true_difference_and_40_looks_rarely_declare_a_winner():
    rng = np.random.default_rng(2026)
    runs = 200
    outcomes = [_first_decision(rng, 0.0, plan=AB) for _ in range(runs)]
    assert outcomes.count("promote") / runs <= 0.05
    assert outcomes.count("rollback") / runs <= 0.05


def test_naive_repeated_t_tests_would_have_declared_false_winners():
    """The same data looked at with a fixed-sample test: the trap the sequence avoids."""
    rng = np.random.default_rng(2026)
    hits = 0
    for _ in range(100):
        a, b = np.empty(0), np.empty(0)
        for _ in range(40):
            a = np.concatenate([a, np.abs(rng.normal(0, 1, 1000))])
            b = np.concatenate([b, np.abs(rng.normal(0, 1, 1000))])
            if stats.ttest_ind(a, b).pvalue < 0.05:
                hits += 1
                break
    assert hits / 100 > 0.15


def test_a_true_5_percent_improvement_is_promoted():
    rng = np.random.default_rng(5)
    assert [_first_decision(rng, 0.05, plan=AB) for _ in range(20)] == ["promote"] * 20


def test_a_challenger_5_percent_worse_is_rolled_back():
    rng = np.random.default_rng(6)
    assert [_first_decision(rng, -0.05, plan=AB) for _ in range(20)] == ["rollback"] * 20


# ----------------------------------------------------------------------------- decisions
def _same(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(0, 1, n)), np.abs(rng.normal(0, 1, n))


def test_gradual_advances_after_the_hold_then_promotes_at_the_last_step():
    plan = Plan.make("gradual", min_samples=200, min_step_hours=24)
    a, b = _same(20_000)
    result = analyse(a, b, plan=plan, share=0.5, champion_units=20_000, challenger_units=20_000)
    assert decide(result, plan, step_index=0, step_hours=5, total_hours=5).action == "continue"
    step = decide(result, plan, step_index=0, step_hours=30, total_hours=30)
    assert (step.action, step.next_share) == ("advance", 0.25)
    last = decide(result, plan, step_index=2, step_hours=30, total_hours=90)
    assert (last.action, last.next_share) == ("promote", 1.0)


def test_too_few_samples_continue_until_the_maximum_then_expire():
    plan = Plan.make("ab", min_samples=500, max_hours=48)
    a, b = _same(100)
    result = analyse(a, b, plan=plan, share=0.5)
    assert decide(result, plan, step_index=0, step_hours=10, total_hours=10).action == "continue"
    assert decide(result, plan, step_index=0, step_hours=50, total_hours=50).action == "expire"


def test_shadow_uses_paired_differences_and_no_srm():
    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, 3000)
    champion = np.abs(truth + rng.normal(0, 1.0, 3000))
    challenger = np.abs(truth + rng.normal(0, 0.8, 3000))  # better on the same requests
    plan = Plan.make("shadow", min_samples=500)
    result = analyse(champion, challenger, plan=plan, share=0.0, paired=True)
    assert result.paired and result.srm_p is None and not result.srm
    assert decide(result, plan, step_index=0, step_hours=1, total_hours=1).action == "promote"


def test_a_ramp_does_not_promote_a_clearly_worse_challenger():
    """Regression (review S1): ramps used to promote on "not proven worse"; a 10% worse
    challenger went to 100% in almost every canary. Now a step needs its harm bounded."""
    plan = Plan.make("gradual", min_samples=300, min_step_hours=6)
    rng = np.random.default_rng(11)
    worse = [rollout.simulate_ramp(rng, 0.10, plan) for _ in range(40)]
    assert worse.count("promote") == 0
    same = [rollout.simulate_ramp(rng, 0.0, plan) for _ in range(20)]
    assert same.count("promote") >= 15  # an equal model still gets through


def test_a_fixed_loss_scale_sets_the_mixing_variance_before_the_data():
    a, b = _same(5000, seed=4)
    fixed = Plan.make("ab", loss_scale=0.8)
    r1 = analyse(a, b, plan=fixed, share=0.5)
    r2 = analyse(a * 3, b * 3, plan=fixed, share=0.5)  # a different observed scale ...
    var = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    expected = rollout.confidence_sequence(r1.difference, var, 0.05, (0.02 * 0.8) ** 2)
    assert (r1.cs_low, r1.cs_high) == pytest.approx(expected)
    # ... keeps the same tau: the boundary scales with the data's variance alone.
    expected2 = rollout.confidence_sequence(r2.difference, var * 9, 0.05, (0.02 * 0.8) ** 2)
    assert (r2.cs_low, r2.cs_high) == pytest.approx(expected2)
