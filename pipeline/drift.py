"""The drift decision: per-feature verdicts against calibrated limits, and the dataset verdict.

Two ways to compare a current window with the reference:

* ``detect_drift(reference_df, current_df)``: exact statistics from both samples (KS D and its
  p-value as ``scipy.stats.ks_2samp`` computes them, PSI, Wasserstein), each column sorted once
  (``drift_stats.sorted_distances``), one feature a thread.
* ``detect_drift(profile, current_df)``: the reference is the profile saved with the model version
  at training time (``drift_profile``). Only the current window is read and sorted once per
  column; KS D is within ``1 / (SKETCH - 1)`` of the exact value (tested).

Drift is decided on effect sizes (PSI, KS D, change of missing share), not on p-values alone, so
large samples do not make every feature "drift". Each statistic's limit is the configured floor
or, when the profile is calibrated, what the reference's own windows showed (mean + k sd, and at
least their maximum), whichever is larger: a seasonal feature is judged against its own seasons.
The score is the largest statistic / limit, so 1 is the threshold. p-values are reported and,
optionally, required after Benjamini–Hochberg correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.drift_profile import STATS, categorical_profile, numeric_profile, profile_frame
from pipeline.drift_reports import (
    ConceptCheck,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    concept_check,
)
from pipeline.drift_stats import (
    PROBS,
    PSI_FLOOR,
    SKETCH,
    KsResult,
    benjamini_hochberg,
    bin_labels,
    bin_proportions,
    ks,
    ks_p_value,
    ks_p_value_fast,
    ks_sorted,
    psi,
    psi_from_proportions,
    sort_finite,
    sorted_distances,
    spread,
)
from pipeline.threads import map_ordered

__all__ = [
    "SKETCH",
    "ConceptCheck",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "KsResult",
    "benjamini_hochberg",
    "concept_check",
    "detect_drift",
    "ks",
    "ks_p_value",
    "profile_frame",
    "psi",
]


# --------------------------------------------------------------------------------------------
# Per-feature comparison
# --------------------------------------------------------------------------------------------
def _numeric(
    name: str,
    ref: dict[str, Any],
    current: pd.Series,
    t: DriftThresholds,
    exact_ref: np.ndarray | None,
    calibration: Mapping[str, Any] | None,
) -> FeatureDrift:
    raw = current.to_numpy(dtype=float)
    cur, n_nan = sort_finite(raw)
    missing_delta = (n_nan / len(raw) if len(raw) else 0.0) - ref["missing_share"]
    q = np.asarray(ref["quantiles"], dtype=float)
    if len(cur) == 0 or len(q) == 0:
        return _missing_only(name, "numeric", missing_delta, t, calibration)
    edges = np.asarray(ref["psi_edges"], dtype=float)
    cur_props = bin_proportions(cur, edges)
    value_psi = psi_from_proportions(np.asarray(ref["psi_proportions"]), cur_props)
    distribution: dict[str, list[Any]] = {
        "bins": bin_labels(edges),
        "reference": [round(float(x), 6) for x in ref["psi_proportions"]],
        "current": [round(float(x), 6) for x in cur_props],
    }
    if exact_ref is not None:
        d, w = sorted_distances(exact_ref, cur)
        res = ks_sorted(exact_ref, cur, d)  # scipy's exact p-value for small samples, as ks_2samp
        d, p = res.statistic, res.p_value
    else:
        # The sketch's CDF at and just below each distinct sketch value (plateaus are ties), against
        # the current window's: exact up to the sketch's resolution, also for discrete columns.
        values, first, counts = np.unique(q, return_index=True, return_counts=True)
        at = PROBS[first + counts - 1]
        below = np.where(first > 0, PROBS[np.maximum(first - 1, 0)], 0.0)
        cur_at = np.searchsorted(cur, values, side="right") / len(cur)
        cur_below = np.searchsorted(cur, values, side="left") / len(cur)
        d = float(max(np.max(np.abs(at - cur_at)), np.max(np.abs(below - cur_below))))
        p = ks_p_value_fast(d, int(ref["n"]), len(cur))
        cur_q = cur[np.round(PROBS * (len(cur) - 1)).astype(np.int64)]
        w = float(np.trapezoid(np.abs(q - cur_q), PROBS))
    w_norm = w / spread(q, float(ref["std"] or 0.0))
    return _judge(
        name, "numeric", d, p, value_psi, w_norm, None, missing_delta, t, calibration, distribution
    )


def _categorical(
    name: str,
    ref: dict[str, Any],
    current: pd.Series,
    t: DriftThresholds,
    calibration: Mapping[str, Any] | None,
) -> FeatureDrift:
    n_all = len(current)
    missing_delta = (float(current.isna().mean()) if n_all else 0.0) - ref["missing_share"]
    counts = current.dropna().astype(str).value_counts()
    n = int(counts.sum())
    freqs: dict[str, float] = ref["frequencies"]
    if n == 0 or not freqs:
        return _missing_only(name, "categorical", missing_delta, t, calibration)
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
        name,
        "categorical",
        None,
        p,
        value_psi,
        None,
        chi2,
        missing_delta,
        t,
        calibration,
        distribution,
    )


def _missing_only(
    name: str,
    kind: str,
    missing_delta: float,
    t: DriftThresholds,
    calibration: Mapping[str, Any] | None,
) -> FeatureDrift:
    return _judge(name, kind, None, None, 0.0, None, None, missing_delta, t, calibration)


def limits(
    t: DriftThresholds, calibration: Mapping[str, Any] | None, windows: int
) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Each statistic's limit, its rule and the rule in words: with a calibration, the largest of
    the reference windows' maximum, their mean + ``calibration_sd`` sd and the minimum effect
    ("calibrated", or "min_effect" when that binds); without one, the fixed threshold ("floor")."""
    out, rules, words = {}, {}, {}
    for stat in STATS:
        s = (calibration or {}).get(stat) if t.calibrated else None
        if not s:
            floor = t.floor(stat)
            out[stat], rules[stat] = floor, "floor"
            words[stat] = f"floor drift_{stat}_threshold {floor:g}"
            continue
        band, highest, least = s["mean"] + t.calibration_sd * s["sd"], s["max"], t.min_effect(stat)
        out[stat] = max(highest, band, least)
        if max(highest, band) >= least:
            rules[stat] = "calibrated"
        else:  # the missing share's least limit is its threshold
            rules[stat] = "floor" if least == t.floor(stat) else "min_effect"
        words[stat] = (
            f"calibrated: the reference's {windows} windows reached {highest:.3g}, "
            f"mean + {t.calibration_sd:g} sd {band:.3g}, minimum effect {least:g}"
        )
    return out, rules, words


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
    calibration: Mapping[str, Any] | None,
    distribution: dict[str, list[Any]] | None = None,
) -> FeatureDrift:
    cal = (calibration or {}).get("columns", {}).get(name)
    lim, rules, words = limits(t, cal, int((calibration or {}).get("windows", 0)))
    measured = {"psi": value_psi, "ks": d, "missing": abs(missing_delta)}
    labels = {"psi": "PSI", "ks": "KS D", "missing": "missing share change"}
    reasons = [
        f"{labels[s]} {v:.3f} >= {lim[s]:.3f} ({words[s]})"
        for s, v in measured.items()
        if v is not None and v >= lim[s]
    ]
    score = max(v / lim[s] for s, v in measured.items() if v is not None)
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
        limits={s: round(v, 6) for s, v in lim.items() if measured[s] is not None},
        rules={s: r for s, r in rules.items() if measured[s] is not None},
        distribution=distribution,
    )


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
    reference_label: str = "training",
    n_threads: int = 0,
) -> DriftReport:
    """Compare ``current`` with a reference DataFrame (exact) or a saved profile (fast).

    Dataset-level drift: any of the ``top_k`` most important features drifts, or the share of
    drifted features reaches ``share``, or (``dataset_rule = "any"``) any feature's alarm against
    a calibrated limit. Without importances every feature counts as important.
    A profile with a calibration judges each feature against its reference windows. Features are
    compared on up to ``n_threads`` threads (0: every available core).
    """
    t = thresholds or DriftThresholds()
    if isinstance(reference, pd.DataFrame):
        feats = (
            list(features)
            if features is not None
            else [c for c in reference.columns if c in current.columns]
        )
        cats = set(
            categorical
            if categorical is not None
            else [
                c
                for c in feats
                if not pd.api.types.is_numeric_dtype(reference[c])
                or pd.api.types.is_bool_dtype(reference[c])
            ]
        )
        profile: dict[str, Any] = {"rows": len(reference), "columns": {}}
    else:
        profile = dict(reference)
        feats = list(features) if features is not None else list(profile["columns"])
    calibration = profile.get("calibration")
    n_cur = len(current)
    n_ref = len(reference) if isinstance(reference, pd.DataFrame) else int(profile["rows"])
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
            reference=reference_label,
        )

    def compare(name: str) -> FeatureDrift:
        exact = None
        if isinstance(reference, pd.DataFrame):  # each reference column sorted once, for both
            if name in cats:
                ref_col = categorical_profile(reference[name])
            else:
                ref_col, exact = numeric_profile(reference[name].to_numpy(dtype=float))
        else:
            ref_col = profile["columns"][name]
        if ref_col["kind"] == "categorical":
            return _categorical(name, ref_col, current[name], t, calibration)
        return _numeric(name, ref_col, current[name], t, exact, calibration)

    # One feature a thread: sorting and merging run in numpy, outside the GIL.
    results = map_ordered(compare, feats, n_threads)
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
    if t.dataset_rule == "any":  # a limit the reference's own windows set is evidence enough
        data_drift = data_drift or any(
            f.drifted and any(rule != "floor" for rule in (f.rules or {}).values()) for f in final
        )
    concept_drift = bool(concept and (concept.drifted or concept.below_floor))
    drift_type = {(True, True): "both", (True, False): "data", (False, True): "concept"}.get(
        (data_drift, concept_drift), "none"
    )
    score = max([f.score for f in final] + [0.0])
    if concept is not None and concept.degradation > 0:
        score = max(score, concept.degradation / concept.limit)
    windows = int((calibration or {}).get("windows", 0)) if t.calibrated else 0
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
        reference=reference_label,
        thresholds={
            "psi": t.psi,
            "ks": t.ks,
            "missing": t.missing,
            "top_k": t.top_k,
            "share": t.share,
            "dataset_rule": t.dataset_rule,
            "calibrated_windows": windows,
            "calibration_sd": t.calibration_sd if windows else None,
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
