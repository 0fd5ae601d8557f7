"""Rollouts: who sees the challenger, and when the evidence says stop, go on, promote or roll back.

Pure functions, no I/O:

* **Assignment** by GrowthBook's hash version 2, ``fnv1a32(str(fnv1a32(seed + id))) % 10000 / 10000``,
  with the rollout id as the seed. A unit is on the challenger while its hash is below the
  challenger's share, so ramping the share up never moves a unit back to the champion. A
  vectorised form hashes millions of ids per second. (Python's ``hash()`` is salted per process.)
* **Analysis**: per-variant n and mean loss (absolute error for regression, 1 − correct for
  classification) with normal intervals; a sample-ratio-mismatch test (chi-square against the
  configured split); and an always-valid confidence sequence on the difference (Robbins' normal
  mixture, as in mSPRT), which stays valid however often it is looked at. Shadow rollouts use the
  paired per-request differences.
* **Decision**: halt (SRM), roll back (the challenger is worse), promote (better by the margin, or
  a ramp that finished its steps unharmed), advance a step, keep running, or expire (keep the
  champion) at the maximum duration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from pipeline.errors import ConfigError

STRATEGIES = ("immediate", "canary", "gradual", "ab", "shadow")
DEFAULT_STEPS = {
    "canary": (0.05, 1.0),
    "gradual": (0.10, 0.25, 0.50, 1.0),
    "ab": (0.5,),
    "shadow": (0.0,),
}
SRM_P = 0.001
_OFFSET = 0x811C9DC5
_PRIME = 0x01000193


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------
def _units(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def fnv1a32(text: str) -> int:
    """FNV-1a 32 over the string's UTF-16 code units, as GrowthBook's SDKs compute it (JS
    ``charCodeAt``; growthbook-python 4): the same as over bytes for ASCII ids."""
    h = _OFFSET
    data = _units(text)
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | (data[i + 1] << 8))) * _PRIME) & 0xFFFFFFFF
    return h


def growthbook_hash(seed: str, value: str, version: int) -> float | None:
    """GrowthBook's bucketing hash in [0, 1): version 1 and 2; any other version gives None."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def _fnv_rows(data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """FNV-1a 32 of each row of a uint8 matrix, using the first ``lengths[i]`` bytes of row i."""
    return _fnv_rows_from(np.full(data.shape[0], _OFFSET, dtype=np.uint64), data, lengths)


def _fnv_rows_from(h: np.ndarray, data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Continue FNV-1a 32 hashes ``h`` over each row's first ``lengths[i]`` bytes."""
    for j in range(data.shape[1]):
        mixed = ((h ^ data[:, j]) * _PRIME) & 0xFFFFFFFF
        h = np.where(lengths > j, mixed, h)
    return h


def _byte_matrix(values: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-16 code units of each value as rows of a zero-padded uint16 matrix, and the number of
    units (taken before numpy's bytes dtype drops trailing NULs)."""
    texts = [str(v) for v in values]
    if all(t.isascii() for t in texts):  # the common case: one byte per code unit
        ascii_ = [t.encode("ascii") for t in texts]
        lengths = np.fromiter(map(len, ascii_), dtype=np.int64, count=len(ascii_))
        width = max(int(lengths.max()), 1)
        return np.array(ascii_, dtype=f"S{width}").view(np.uint8).reshape(
            len(ascii_), width
        ), lengths
    encoded = [_units(t) for t in texts]
    lengths = np.fromiter((len(e) // 2 for e in encoded), dtype=np.int64, count=len(encoded))
    width = max(int(lengths.max()), 1)
    matrix = np.array(encoded, dtype=f"S{2 * width}").view("<u2").reshape(len(encoded), width)
    return matrix, lengths


def _decimal_matrix(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ASCII decimal digits of uint32 values, left-aligned, and their lengths."""
    n = numbers.astype(np.uint64)
    lengths: np.ndarray = np.ones(len(n), dtype=np.int64)
    for k in range(1, 10):
        lengths += (n >= 10**k).astype(np.int64)
    digits = np.zeros((len(n), 10), dtype=np.uint8)
    for pos in range(10):
        # digit at position pos (from the left) exists when pos < length
        power = np.maximum(lengths - 1 - pos, 0).astype(np.uint64)
        d = (n // (np.uint64(10) ** power)) % np.uint64(10)
        digits[:, pos] = np.where(pos < lengths, d + 48, 0).astype(np.uint8)
    return digits, lengths


def growthbook_hash_batch(seed: str, values: Sequence[str] | np.ndarray) -> np.ndarray:
    """``growthbook_hash(seed, v, 2)`` for many values at once (float64 array)."""
    if len(values) == 0:
        return np.zeros(0)
    matrix, lengths = _byte_matrix(values)
    h: np.ndarray = np.full(len(lengths), _OFFSET, dtype=np.uint64)
    prefix = np.frombuffer(_units(seed), dtype="<u2")
    for unit in prefix:  # the seed is the same for every row
        h = ((h ^ np.uint64(unit)) * _PRIME) & 0xFFFFFFFF
    h = _fnv_rows_from(h, matrix, lengths)
    digits, dlen = _decimal_matrix(h)
    second = _fnv_rows(digits, dlen)
    return (second % 10000).astype(np.float64) / 10000


def on_challenger(seed: str, unit: str, share: float) -> bool:
    """Whether a unit is served by the challenger at this share (sticky as the share grows)."""
    return float(growthbook_hash(seed, unit, 2) or 0.0) < share


def assign_batch(seed: str, units: Sequence[str] | np.ndarray, share: float) -> np.ndarray:
    """Boolean array: True where the unit is on the challenger."""
    return growthbook_hash_batch(seed, units) < share


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """How a rollout proceeds. ``steps`` are challenger shares; the last step of a canary or
    gradual rollout is 1.0 (reaching it is the promotion). ``shadow_share`` is the share of
    requests the challenger scores silently in shadow mode."""

    strategy: str
    steps: tuple[float, ...]
    min_step_hours: float = 24.0
    min_samples: int = 500  # per arm, before any decision
    max_hours: float = 14 * 24.0
    margin: float = 0.02  # relative improvement in mean loss that counts as "better"
    alpha: float = 0.05
    shadow_share: float = 0.2
    # A ramp (canary, gradual) moves on only once its always-valid interval rules out a
    # challenger worse than this share of the champion's mean loss (non-inferiority).
    max_harm: float = 0.05
    # The champion's expected mean loss, fixed when the rollout starts (from its holdout): it sets
    # the confidence sequence's mixing variance before any rollout data is seen, which the
    # always-valid guarantee needs. None: taken from the data (a slightly optimistic fallback).
    loss_scale: float | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"The rollout strategy must be one of {', '.join(STRATEGIES)}. Got {self.strategy!r}."
            )
        if self.strategy in ("canary", "gradual") and (
            len(self.steps) < 2
            or list(self.steps) != sorted(set(self.steps))
            or self.steps[-1] != 1
            or not 0 < self.steps[0] < 1
        ):
            raise ConfigError(
                f"A {self.strategy} rollout needs increasing steps from above 0% ending at 100%. "
                f"Got {', '.join(f'{s:.0%}' for s in self.steps)}."
            )
        if any(not 0 <= s <= 1 for s in self.steps):
            raise ConfigError(f"Rollout steps are shares in [0, 1]. Got {self.steps}.")

    @classmethod
    def make(cls, strategy: str, steps: Sequence[float] | None = None, **kw: Any) -> Plan:
        chosen = tuple(steps) if steps else DEFAULT_STEPS.get(strategy, (1.0,))
        return cls(strategy=strategy, steps=tuple(float(s) for s in chosen), **kw)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "steps": list(self.steps)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(**{**d, "steps": tuple(d["steps"])})


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Arm:
    n: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    champion: Arm
    challenger: Arm
    difference: float | None  # champion loss - challenger loss: positive = challenger better
    cs_low: float | None  # always-valid (1 - alpha) confidence sequence on the difference
    cs_high: float | None
    relative: float | None  # difference / champion mean loss
    srm_p: float | None
    srm: bool
    paired: bool
    expected_share: float
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arm(loss: np.ndarray, z: float) -> Arm:
    n = len(loss)
    if n == 0:
        return Arm(n=0, mean=None, low=None, high=None)
    mean = float(loss.mean())
    se = float(loss.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    return Arm(n=n, mean=mean, low=mean - z * se, high=mean + z * se)


def confidence_sequence(
    estimate: float, variance: float, alpha: float, tau2: float
) -> tuple[float, float]:
    """Robbins' normal-mixture boundary: an interval for the true difference that holds at every
    look simultaneously with probability 1 - alpha (``variance`` is the estimate's variance, ``tau2``
    the mixing variance, of the order of the effect one cares about squared)."""
    if not variance > 0 or not math.isfinite(variance):
        return (-math.inf, math.inf)
    v = variance
    half = math.sqrt(v * (v + tau2) / tau2 * (math.log((v + tau2) / v) + 2 * math.log(1 / alpha)))
    return estimate - half, estimate + half


def srm_test(n_champion: int, n_challenger: int, share: float) -> float | None:
    """Chi-square p-value of the observed split against the configured challenger share."""
    total = n_champion + n_challenger
    if total == 0 or share <= 0 or share >= 1:
        return None
    expected = np.array([total * (1 - share), total * share])
    return float(stats.chisquare([n_champion, n_challenger], expected).pvalue)


def analyse(
    champion_loss: np.ndarray,
    challenger_loss: np.ndarray,
    *,
    plan: Plan,
    share: float,
    paired: bool = False,
    champion_units: int | None = None,
    challenger_units: int | None = None,
) -> Analysis:
    """Compare the arms' per-request losses. Shadow (``paired``): the two arrays are the same
    requests scored by both models. SRM uses unit counts when given (requests otherwise)."""
    z = float(stats.norm.ppf(1 - plan.alpha / 2))
    a = np.asarray(champion_loss, dtype=float)
    b = np.asarray(challenger_loss, dtype=float)
    arm_a, arm_b = _arm(a, z), _arm(b, z)
    diff = cs_low = cs_high = rel = None
    reasons: list[str] = []
    if len(a) > 1 and len(b) > 1:
        if paired:
            d = a - b
            diff = float(d.mean())
            var = float(d.var(ddof=1) / len(d))
        else:
            diff = float(a.mean() - b.mean())
            var = float(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        observed = max(abs(float(a.mean())), 1e-12)
        fixed = plan.loss_scale if plan.loss_scale and plan.loss_scale > 0 else None
        tau2 = (max(plan.margin, 0.01) * (fixed or observed)) ** 2
        scale = observed
        cs_low, cs_high = confidence_sequence(diff, var, plan.alpha, tau2)
        rel = diff / scale
    srm_p = None
    if not paired:
        srm_p = srm_test(
            champion_units if champion_units is not None else len(a),
            challenger_units if challenger_units is not None else len(b),
            share,
        )
    srm = srm_p is not None and srm_p < SRM_P
    if srm:
        reasons.append(
            f"sample ratio mismatch: {champion_units or len(a):,} champion vs "
            f"{challenger_units or len(b):,} challenger units for a {share:.0%} share "
            f"(p = {srm_p:.2g} < {SRM_P})"
        )
    return Analysis(
        champion=arm_a,
        challenger=arm_b,
        difference=diff,
        cs_low=cs_low,
        cs_high=cs_high,
        relative=rel,
        srm_p=srm_p,
        srm=srm,
        paired=paired,
        expected_share=share,
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutDecision:
    action: str  # halt | rollback | promote | advance | continue | expire
    reason: str
    next_share: float | None = None


def decide(
    analysis: Analysis,
    plan: Plan,
    *,
    step_index: int,
    step_hours: float,
    total_hours: float,
) -> RolloutDecision:
    a = analysis
    if a.srm:
        return RolloutDecision(action="halt", reason=a.reasons[0])
    enough = min(a.champion.n, a.challenger.n) >= plan.min_samples
    if not enough:
        if total_hours >= plan.max_hours:
            return RolloutDecision(
                action="expire",
                reason=f"maximum duration {plan.max_hours:g} h reached with too few samples "
                f"({a.champion.n:,} / {a.challenger.n:,}, need {plan.min_samples:,} per arm): "
                "the champion stays",
            )
        return RolloutDecision(
            action="continue",
            reason=f"collecting: {a.champion.n:,} champion and {a.challenger.n:,} challenger "
            f"outcomes, {plan.min_samples:,} per arm needed",
        )
    assert a.cs_low is not None and a.cs_high is not None and a.champion.mean is not None
    margin = plan.margin * abs(a.champion.mean)
    interval = (
        f"difference {a.difference:+.4g}, always-valid CI [{a.cs_low:+.4g}, {a.cs_high:+.4g}]"
    )
    if a.cs_high < 0:
        return RolloutDecision(
            action="rollback", reason=f"the challenger is worse: {interval}", next_share=0.0
        )
    ramp = plan.strategy in ("canary", "gradual")
    if not ramp and a.cs_low > margin:
        return RolloutDecision(
            action="promote",
            reason=f"the challenger is better by more than the {plan.margin:.0%} margin: {interval}",
            next_share=1.0,
        )
    harm = plan.max_harm * abs(a.champion.mean)
    bounded = a.cs_low > -harm
    worst = -a.cs_low / abs(a.champion.mean) if a.champion.mean else math.inf
    if ramp and step_hours >= plan.min_step_hours and bounded:
        nxt = plan.steps[step_index + 1] if step_index + 1 < len(plan.steps) else 1.0
        bound = (
            "no worse than the champion"
            if a.cs_low >= 0
            else f"at most {worst:.1%} worse (limit {plan.max_harm:.0%})"
        )
        held = f"step {plan.steps[step_index]:.0%} held {step_hours:.0f} h and the challenger is {bound}"
        if nxt >= 1.0:
            return RolloutDecision(
                action="promote", reason=f"{held}, the last step: {interval}", next_share=1.0
            )
        return RolloutDecision(action="advance", reason=f"{held}: {interval}", next_share=nxt)
    if total_hours >= plan.max_hours:
        return RolloutDecision(
            action="expire",
            reason=f"maximum duration {plan.max_hours:g} h reached without a clear winner "
            f"({interval}): the champion stays",
        )
    if ramp and step_hours >= plan.min_step_hours:
        return RolloutDecision(
            action="continue",
            reason=f"holding: the challenger may still be up to {worst:.1%} worse (limit "
            f"{plan.max_harm:.0%}): {interval}",
        )
    return RolloutDecision(action="continue", reason=f"no decision yet: {interval}")


def simulate_ramp(
    rng: np.random.Generator,
    effect: float,
    plan: Plan,
    *,
    looks: int = 72,
    per_look: int = 1000,
) -> str:
    """A seeded study of a ramp looked at hourly (tests and the benchmark): each look serves
    ``per_look`` requests split by the step's share, absolute errors half-normal with the
    challenger's scaled by ``1 + effect``; a step's data starts afresh when it advances.
    Returns the final action, or 'running'."""
    step, hours = 0, 0
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    for look in range(1, looks + 1):
        share = plan.steps[step]
        n_b = int(rng.binomial(per_look, share))
        a.append(np.abs(rng.normal(0, 1.0, per_look - n_b)))
        b.append(np.abs(rng.normal(0, 1.0 + effect, n_b)))
        hours += 1
        result = analyse(np.concatenate(a), np.concatenate(b), plan=plan, share=share)
        d = decide(result, plan, step_index=step, step_hours=hours, total_hours=look)
        if d.action == "advance":
            step, hours, a, b = step + 1, 0, [], []
        elif d.action != "continue":
            return d.action
    return "running"
