"""Drift statistics, reference profiles and the drift decision: pure numpy/scipy, columns contiguous.

Two ways to compare a current window with the reference:

* ``detect_drift(reference_df, current_df)``: exact statistics from both samples (KS D and its
  p-value as ``scipy.stats.ks_2samp`` computes them, PSI, Wasserstein).
* ``detect_drift(profile, current_df)``: the reference is the profile saved with the model version
  at training time (a sorted quantile sketch, PSI bins and proportions, category frequencies,
  missing share, row count). Only the current window is read and sorted once per column; KS D is
  within ``1 / (SKETCH - 1)`` of the exact value (tested).

Drift is decided on effect sizes (PSI, KS D, change of missing share), not on p-values alone, so
large samples do not make every feature "drift"; p-values are reported and, optionally, required
after Benjamini–Hochberg correction.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

SKETCH = 1001  # quantiles stored per numeric column: probabilities 0, 0.001, ..., 1
PSI_BINS = 10
PSI_FLOOR = 1e-4  # proportion used for an empty bin, so PSI stays finite
UNSEEN = "__unseen__"
MISSING = "__missing__"
_PROBS = np.linspace(0.0, 1.0, SKETCH)


# --------------------------------------------------------------------------------------------
# Statistics on arrays
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KsResult:
    statistic: float
    p_value: float


def ks_p_value(d: float, n_ref: int, n_cur: int) -> float:
    """Two-sided KS p-value for the asymptotic case, as scipy computes it (``kstwo.sf(d, round(en))``).

    ``kolmogorov`` is a cheap stand-in where the p-value is below 1e-7, where the two agree within
    1e-6 absolute and scipy's exact distribution is slow.
    """
    m, n = max(n_ref, n_cur), min(n_ref, n_cur)
    en = m * n / (m + n)
    fast = float(special.kolmogorov(d * math.sqrt(en)))
    if fast < 1e-7:
        return fast
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))


def ks_p_value_fast(d: float, n_ref: int, n_cur: int) -> float:
    """Smirnov's asymptotic p-value, ``kolmogorov(d * sqrt(en))``: what a profile check reports.

    The sketch's D is itself within 0.001 of the exact one, so scipy's slower exact distribution
    (up to hundreds of milliseconds a column) would buy no accuracy; the two differ by < 1e-3.
    """
    m, n = max(n_ref, n_cur), min(n_ref, n_cur)
    return float(special.kolmogorov(d * math.sqrt(m * n / (m + n))))


def ks(reference: np.ndarray, current: np.ndarray) -> KsResult:
    """Two-sample KS test; equals ``scipy.stats.ks_2samp`` (exact below 10,000 rows, as scipy).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=2000), rng.normal(0.5, 1, size=2000)
    >>> round(ks(a, b).statistic, 3) == round(float(stats.ks_2samp(a, b).statistic), 3)
    True
    """
    ref = np.sort(_finite(reference))
    cur = np.sort(_finite(current))
    if len(ref) == 0 or len(cur) == 0:
        return KsResult(math.nan, math.nan)
    if max(len(ref), len(cur)) <= 10_000:
        with warnings.catch_warnings():  # scipy's own fallback from exact to asymptotic is not news
            warnings.filterwarnings(
                "ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning
            )
            res = stats.ks_2samp(ref, cur)
        return KsResult(float(res.statistic), float(res.pvalue))
    return _ks_sorted(ref, cur)


def _ks_sorted(ref: np.ndarray, cur: np.ndarray) -> KsResult:
    both = np.concatenate([ref, cur])
    diff = np.searchsorted(ref, both, side="right") / len(ref) - np.searchsorted(
        cur, both, side="right"
    ) / len(cur)
    d = float(np.max(np.abs(diff)))
    return KsResult(d, ks_p_value(d, len(ref), len(cur)))


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS) -> float:
    """Population stability index on reference-quantile bins with open outer bins.

    Examples
    --------
    >>> x = np.random.default_rng(1).normal(size=5000)
    >>> psi(x, x)
    0.0
    """
    ref = np.sort(_finite(reference))
    cur = np.sort(_finite(current))
    edges = psi_edges(ref, bins)
    return psi_from_proportions(bin_proportions(ref, edges), bin_proportions(cur, edges))


def psi_edges(ref_sorted: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Interior bin edges at the reference's quantiles (duplicates removed); outer bins are open."""
    if len(ref_sorted) == 0:
        return np.array([])
    return np.unique(np.quantile(ref_sorted, np.linspace(0, 1, bins + 1)[1:-1]))


def _bin_labels(edges: np.ndarray) -> list[str]:
    """Readable names of the bins ``bin_proportions`` fills: "≤ a", "a–b", …, "> z"."""
    e = [f"{x:.4g}" for x in edges]
    if not e:
        return ["all"]
    return [f"≤ {e[0]}", *(f"{a}–{b}" for a, b in itertools.pairwise(e)), f"> {e[-1]}"]


def bin_proportions(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values in (-inf, e0], (e0, e1], ..., (ek, inf)."""
    if len(sorted_values) == 0:
        return np.zeros(len(edges) + 1)
    cuts = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate([[0], cuts, [len(sorted_values)]]))
    return np.asarray(counts / len(sorted_values), dtype=float)


def psi_from_proportions(ref: np.ndarray, cur: np.ndarray, floor: float = PSI_FLOOR) -> float:
    r = np.maximum(np.asarray(ref, dtype=float), floor)
    c = np.maximum(np.asarray(cur, dtype=float), floor)
    value = float(np.sum((c - r) * np.log(c / r)))
    return 0.0 if abs(value) < 1e-12 else value


def _finite(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def _scale(quantiles: np.ndarray, std: float) -> float:
    """Reference spread that normalises Wasserstein: the std, else the IQR, else 1."""
    if std > 0:
        return std
    iqr = (
        float(np.quantile(quantiles, 0.75) - np.quantile(quantiles, 0.25))
        if len(quantiles)
        else 0.0
    )
    return iqr if iqr > 0 else 1.0


# --------------------------------------------------------------------------------------------
# Reference profile
# --------------------------------------------------------------------------------------------
def profile_frame(
    frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]
) -> dict[str, Any]:
    """The reference summary saved with a model version (JSON-able)."""
    columns: dict[str, Any] = {}
    for name in features:
        col = frame[name]
        missing = float(col.isna().mean()) if len(col) else 0.0
        if name in categorical:
            counts = col.dropna().astype(str).value_counts()
            total = int(counts.sum())
            columns[name] = {
                "kind": "categorical",
                "count": len(col),
                "missing_share": missing,
                "frequencies": {str(k): int(v) / total for k, v in counts.items()} if total else {},
            }
            continue
        values = np.sort(_finite(col.to_numpy(dtype=float)))
        edges = psi_edges(values)
        columns[name] = {
            "kind": "numeric",
            "count": len(col),
            "n": len(values),
            "missing_share": missing,
            "quantiles": np.quantile(values, _PROBS).tolist() if len(values) else [],
            "psi_edges": edges.tolist(),
            "psi_proportions": bin_proportions(values, edges).tolist(),
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std()) if len(values) else None,
        }
    return {"version": 1, "rows": len(frame), "columns": columns}


# --------------------------------------------------------------------------------------------
# Reports and thresholds
# --------------------------------------------------------------------------------------------
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
            },
        }


# --------------------------------------------------------------------------------------------
# Per-feature comparison
# --------------------------------------------------------------------------------------------
def _numeric(
    name: str,
    ref: dict[str, Any],
    current: pd.Series,
    t: DriftThresholds,
    exact_ref: np.ndarray | None,
) -> FeatureDrift:
    raw = current.to_numpy(dtype=float)
    # One sort per column is the whole cost: NaNs sort last, so the finite values are a prefix view.
    ordered = np.sort(raw)
    n_nan = int(np.count_nonzero(np.isnan(raw))) if len(ordered) and np.isnan(ordered[-1]) else 0
    missing_delta = (n_nan / len(raw) if len(raw) else 0.0) - ref["missing_share"]
    cur = ordered[: len(ordered) - n_nan]
    if len(cur) and not (np.isfinite(cur[0]) and np.isfinite(cur[-1])):
        cur = cur[np.isfinite(cur)]
    q = np.asarray(ref["quantiles"], dtype=float)
    if len(cur) == 0 or len(q) == 0:
        return _missing_only(name, "numeric", missing_delta, t)
    edges = np.asarray(ref["psi_edges"], dtype=float)
    cur_props = bin_proportions(cur, edges)
    value_psi = psi_from_proportions(np.asarray(ref["psi_proportions"]), cur_props)
    distribution: dict[str, list[Any]] = {
        "bins": _bin_labels(edges),
        "reference": [round(float(x), 6) for x in ref["psi_proportions"]],
        "current": [round(float(x), 6) for x in cur_props],
    }
    if exact_ref is not None:
        res = ks(exact_ref, cur)
        d, p = res.statistic, res.p_value
        w = float(stats.wasserstein_distance(exact_ref, cur)) if len(exact_ref) else 0.0
    else:
        # The sketch's CDF at and just below each distinct sketch value (plateaus are ties), against
        # the current window's: exact up to the sketch's resolution, also for discrete columns.
        values, first, counts = np.unique(q, return_index=True, return_counts=True)
        at = _PROBS[first + counts - 1]
        below = np.where(first > 0, _PROBS[np.maximum(first - 1, 0)], 0.0)
        cur_at = np.searchsorted(cur, values, side="right") / len(cur)
        cur_below = np.searchsorted(cur, values, side="left") / len(cur)
        d = float(max(np.max(np.abs(at - cur_at)), np.max(np.abs(below - cur_below))))
        p = ks_p_value_fast(d, int(ref["n"]), len(cur))
        cur_q = cur[np.round(_PROBS * (len(cur) - 1)).astype(np.int64)]
        w = float(np.trapezoid(np.abs(q - cur_q), _PROBS))
    w_norm = w / _scale(q, float(ref["std"] or 0.0))
    return _judge(name, "numeric", d, p, value_psi, w_norm, None, missing_delta, t, distribution)


def _categorical(
    name: str, ref: dict[str, Any], current: pd.Series, t: DriftThresholds
) -> FeatureDrift:
    n_all = len(current)
    missing_delta = (float(current.isna().mean()) if n_all else 0.0) - ref["missing_share"]
    counts = current.dropna().astype(str).value_counts()
    n = int(counts.sum())
    freqs: dict[str, float] = ref["frequencies"]
    if n == 0 or not freqs:
        return _missing_only(name, "categorical", missing_delta, t)
    cats = list(freqs)
    obs = np.array(
        [counts.get(c, 0) for c in cats] + [int(counts[~counts.index.isin(cats)].sum())],
        dtype=float,
    )
    exp_p = np.array([freqs[c] for c in cats] + [0.0])
    value_psi = psi_from_proportions(exp_p, obs / n)
    floored = np.maximum(exp_p, PSI_FLOOR)
    floored /= floored.sum()
    chi = stats.chisquare(obs, floored * n) if len(obs) > 1 else None
    chi2 = float(chi.statistic) if chi is not None else 0.0
    p = float(chi.pvalue) if chi is not None else 1.0
    distribution: dict[str, list[Any]] = {
        "bins": [*cats, "(other)"],
        "reference": [round(float(x), 6) for x in exp_p],
        "current": [round(float(x), 6) for x in obs / n],
    }
    return _judge(
        name, "categorical", None, p, value_psi, None, chi2, missing_delta, t, distribution
    )


def _missing_only(name: str, kind: str, missing_delta: float, t: DriftThresholds) -> FeatureDrift:
    return _judge(name, kind, None, None, 0.0, None, None, missing_delta, t)


def _judge(
    name: str,
    kind: str,
    d: float | None,
    p: float | None,
    value_psi: float,
    w: float | None,
    chi2: float | None,
    missing_delta: float,
    t: DriftThresholds,
    distribution: dict[str, list[Any]] | None = None,
) -> FeatureDrift:
    reasons = []
    if value_psi >= t.psi:
        reasons.append(f"PSI {value_psi:.3f} >= {t.psi}")
    if d is not None and d >= t.ks:
        reasons.append(f"KS D {d:.3f} >= {t.ks}")
    if abs(missing_delta) >= t.missing:
        reasons.append(f"missing share changed by {missing_delta:+.1%} (limit {t.missing:.0%})")
    score = max(value_psi / t.psi, (d or 0.0) / t.ks, abs(missing_delta) / t.missing)
    return FeatureDrift(
        name=name,
        kind=kind,
        ks=d,
        p_value=p,
        p_adjusted=None,
        psi=value_psi,
        wasserstein=w,
        chi2=chi2,
        missing_delta=missing_delta,
        drifted=bool(reasons),
        score=float(score),
        reasons=tuple(reasons),
        distribution=distribution,
    )


def benjamini_hochberg(p: Sequence[float | None]) -> list[float | None]:
    """BH-adjusted p-values (None stays None)."""
    idx = [i for i, v in enumerate(p) if v is not None and not math.isnan(v)]
    out: list[float | None] = [None] * len(p)
    if not idx:
        return out
    vals = np.array([p[i] for i in idx], dtype=float)
    order = np.argsort(vals)
    m = len(vals)
    adj = np.minimum.accumulate((vals[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    for rank, j in enumerate(order):
        out[idx[j]] = float(
            min(max(adj[rank], vals[j]), 1.0)
        )  # never below the raw p (float noise)
    return out


# --------------------------------------------------------------------------------------------
# Dataset level
# --------------------------------------------------------------------------------------------
def detect_drift(
    reference: pd.DataFrame | Mapping[str, Any],
    current: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    thresholds: DriftThresholds | None = None,
    importance: Mapping[str, float] | None = None,
    concept: ConceptCheck | None = None,
) -> DriftReport:
    """Compare ``current`` with a reference DataFrame (exact) or a saved profile (fast).

    Dataset-level drift: any of the ``top_k`` most important features drifts, or the share of
    drifted features reaches ``share``. Without importances every feature counts as important.
    """
    t = thresholds or DriftThresholds()
    exact = isinstance(reference, pd.DataFrame)
    if exact:
        assert isinstance(reference, pd.DataFrame)
        feats = (
            list(features)
            if features is not None
            else [c for c in reference.columns if c in current.columns]
        )
        cats = (
            list(categorical)
            if categorical is not None
            else [
                c
                for c in feats
                if not pd.api.types.is_numeric_dtype(reference[c])
                or pd.api.types.is_bool_dtype(reference[c])
            ]
        )
        profile = profile_frame(reference, feats, cats)
    else:
        profile = dict(reference)
        feats = list(features) if features is not None else list(profile["columns"])
    n_ref, n_cur = int(profile["rows"]), len(current)
    missing_cols = [f for f in feats if f not in current.columns]
    if missing_cols:
        from pipeline.errors import DataValidationError

        raise DataValidationError(
            f"current data: column {missing_cols[0]!r} of the reference is missing."
        )
    if n_cur < t.min_rows or n_ref < t.min_rows:
        return DriftReport(
            drift_detected=False,
            drift_type="none",
            drift_score=0.0,
            features=(),
            affected=(),
            recommendation=(
                f"Insufficient data: {n_cur} current and {n_ref} reference rows; at least {t.min_rows} "
                "of each are needed (drift_min_rows). No verdict."
            ),
            n_reference=n_ref,
            n_current=n_cur,
            status="insufficient_data",
            concept=concept,
        )
    results = []
    for name in feats:
        ref_col = profile["columns"][name]
        if ref_col["kind"] == "categorical":
            results.append(_categorical(name, ref_col, current[name], t))
        else:
            exact_ref = reference[name].to_numpy(dtype=float) if exact else None  # type: ignore[index]
            if exact_ref is not None:
                exact_ref = np.sort(exact_ref[np.isfinite(exact_ref)])
            results.append(_numeric(name, ref_col, current[name], t, exact_ref))
    adjusted = benjamini_hochberg([r.p_value for r in results])
    final = []
    for r, p_adj in zip(results, adjusted, strict=True):
        drifted = r.drifted
        reasons = r.reasons
        if (
            drifted
            and t.require_significance
            and r.p_value is not None
            and (p_adj is None or p_adj >= t.alpha)
            and abs(r.missing_delta) < t.missing
        ):
            drifted, reasons = False, (*reasons, f"not significant after BH (p_adj {p_adj:.3g})")
        imp = None if importance is None else float(importance.get(r.name, 0.0))
        final.append(
            FeatureDrift(
                **{
                    **r.to_dict(),
                    "p_adjusted": p_adj,
                    "drifted": drifted,
                    "importance": imp,
                    "reasons": tuple(reasons),
                }
            )
        )
    drifted_names = tuple(f.name for f in final if f.drifted)
    if importance:
        top = sorted(feats, key=lambda f: -float(importance.get(f, 0.0)))[: t.top_k]
    else:
        top = list(feats)
    share = len(drifted_names) / len(final) if final else 0.0
    data_drift = any(n in top for n in drifted_names) or share >= t.share
    concept_drift = bool(concept and (concept.drifted or concept.below_floor))
    drift_type = {(True, True): "both", (True, False): "data", (False, True): "concept"}.get(
        (data_drift, concept_drift), "none"
    )
    score = max([f.score for f in final] + [0.0])
    if concept is not None and concept.degradation > 0:
        score = max(score, concept.degradation / t.concept_degradation)
    return DriftReport(
        drift_detected=data_drift or concept_drift,
        drift_type=drift_type,
        drift_score=float(score),
        features=tuple(final),
        affected=drifted_names,
        recommendation=_recommend(drift_type, drifted_names, top, share, concept),
        n_reference=n_ref,
        n_current=n_cur,
        concept=concept,
        thresholds={
            "psi": t.psi,
            "ks": t.ks,
            "missing": t.missing,
            "top_k": t.top_k,
            "share": t.share,
        },
    )


def _recommend(
    kind: str, drifted: tuple[str, ...], top: list[str], share: float, concept: ConceptCheck | None
) -> str:
    names = ", ".join(drifted[:5]) + ("…" if len(drifted) > 5 else "")
    if kind == "none":
        if drifted:
            return (
                f"Minor drift in {names} (not among the most important features, {share:.0%} of features): "
                "keep monitoring."
            )
        return "No drift: the current window matches the reference."
    parts = []
    if kind in ("data", "both"):
        parts.append(f"data drift in {names} ({share:.0%} of features)")
    if concept is not None and kind in ("concept", "both"):
        parts.append(f"the champion's {concept.metric} degraded {concept.degradation:+.1%}")
    return "Retrain: " + " and ".join(parts) + "."


def concept_check(
    metric: str,
    higher_is_better: bool,
    reference_value: float,
    current_value: float,
    *,
    degradation_limit: float,
    floor: float | None,
) -> ConceptCheck:
    """Relative degradation of the champion's metric on recent labelled rows (positive = worse)."""
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
        drifted=degradation >= degradation_limit,
        below_floor=below,
    )
