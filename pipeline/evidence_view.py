"""The evidence record as rows and sentences: what ``decisions show``, the review page, the Models
page and the emails print. Pure functions of the stored JSON (``pipeline.judge``), so every view
says the same; names from the data (segment values, features) stay plain text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.measures import describe

WHAT_NEXT = {
    "promote": "The challenger cleared every rule: it was promoted (or its rollout started).",
    "review": "An admin decides: Approve makes the challenger champion (a compare-and-set "
    "against the champion it was compared with); Reject keeps the champion. Both need a reason.",
    "reject": "The champion stays; nothing for an admin to do.",
}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def headline(ev: Mapping[str, Any]) -> str:
    """One sentence: outcome, versions, the primary metric and the gate's figures."""
    p = ev.get("primary") or {}
    champ = ev.get("champion_version")
    versus = f" against champion v{champ}" if champ is not None else " (no champion yet)"
    figures = ""
    if p.get("improvement") is not None:
        iv = p.get("interval")
        figures = (
            f": {p['metric']} {num(p.get('champion'))} -> {num(p.get('challenger'))}, "
            f"improvement {pct(p['improvement'])} ({describe(p.get('measure', 'relative'), p['metric'])})"
            f", lower bound {pct(p.get('lower_bound'))}, p = {num(p.get('p_value'))}"
            + (f", {iv[2]:.0%} CI of the difference {iv[0]:+.4g} to {iv[1]:+.4g}" if iv else "")
        )
    elif p:
        figures = f": {p.get('metric')} {num(p.get('challenger'))}"
    return f"{ev.get('outcome', '?')}: version {ev.get('challenger_version')}{versus}{figures}"


def guardrail_of(ev: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((ev.get("policy") or {}).get("settings") or {}).get("guardrails") or {})


def metric_rows(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every metric: both values, the improvement with its interval, p worse, the guardrail."""
    guards = guardrail_of(ev)
    fired = {r["name"] for r in (ev.get("policy") or {}).get("rules", []) if r.get("fired")}
    primary = (ev.get("primary") or {}).get("metric")
    out = []
    for d in ev.get("metrics") or []:
        m = d["metric"]
        role = "primary" if m == primary else "guardrail" if m in guards else ""
        verdict = ""
        if m in guards:
            verdict = (
                "BROKEN" if f"guardrail:{m}" in fired else f"holds (tolerance {guards[m]:.0%})"
            )
        out.append(
            {
                "metric": m,
                "role": role,
                "champion": d.get("champion"),
                "challenger": d.get("challenger"),
                "improvement": pct(d.get("improvement")),
                "interval": f"{pct(d.get('low'))} to {pct(d.get('high'))}",
                "p_worse": d.get("p_worse"),
                "guardrail": verdict or "-",
            }
        )
    return out


def segment_rows(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The primary metric per segment, worst improvement first."""
    fired = {r["name"] for r in (ev.get("policy") or {}).get("rules", []) if r.get("fired")}
    rows = sorted(
        ev.get("segments") or [],
        key=lambda d: (
            d.get("column") or "",
            d["improvement"] if d.get("improvement") is not None else 0.0,
        ),
    )
    return [
        {
            "column": d.get("column"),
            "segment": d.get("value"),
            "n": d.get("n"),
            "champion": d.get("champion"),
            "challenger": d.get("challenger"),
            "improvement": pct(d.get("improvement")),
            "interval": f"{pct(d.get('low'))} to {pct(d.get('high'))}",
            "p_worse": d.get("p_worse"),
            "flag": "REGRESSES" if f"segment:{d.get('column')}={d.get('value')}" in fired else "",
        }
        for d in rows
    ]


def window_rows(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    w = ev.get("windows") or {}
    names = {
        "train": "challenger training",
        "holdout": "holdout (both models)",
        "champion_train": "champion training",
    }
    return [
        {
            "window": names.get(k, k),
            "start": v.get("start"),
            "end": v.get("end"),
            "rows": v.get("rows"),
            "fingerprint": (v.get("fingerprint") or "")[:12],
        }
        for k in ("train", "holdout", "champion_train")
        if isinstance(v := w.get(k), dict)
    ]


def rule_rows(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"rule": r["name"], "fired": "yes" if r["fired"] else "no", "sentence": r["sentence"]}
        for r in (ev.get("policy") or {}).get("rules", [])
    ]


def importance_rows(ev: Mapping[str, Any], top: int = 10) -> list[dict[str, Any]]:
    return list((ev.get("feature_importance") or [])[:top])


def drift_line(ev: Mapping[str, Any]) -> str:
    d = ev.get("drift")
    if not d:
        return "No drift check before this run."
    verdict = f"{d['drift_type']} drift" if d.get("drift_detected") else "no drift"
    affected = d.get("affected") or []
    names = ", ".join(
        str(a.get("feature", a)) if isinstance(a, dict) else str(a) for a in affected[:5]
    )
    return (
        f"Drift check of {d['as_of']} (run {d['run_id']}): {verdict}, score {num(d.get('drift_score'))}"
        + (f"; affected: {names}" if names else "")
        + "."
    )


def render_text(ev: Mapping[str, Any], table: Any) -> str:
    """The whole record as text; ``table(rows, columns)`` lays out the tables."""
    run = ev.get("run") or {}
    policy = ev.get("policy") or {}
    parts = [
        f"Decision {ev.get('decision_id')} of model '{ev.get('model')}'",
        headline(ev),
        "",
        "Why:",
        *(f"  {r}" for r in ev.get("reasons") or []),
        f"  {WHAT_NEXT.get(ev.get('outcome', ''), '')}",
        "",
        f"Run:      {run.get('run_id')} of {run.get('dag_id')}, logical time {run.get('logical_date')}",
        f"Airflow:  {run.get('airflow_url')}",
        f"Policy:   sha256 {str(policy.get('sha256'))[:16]}…  "
        + ", ".join(f"{k}={v}" for k, v in sorted((policy.get("settings") or {}).items())),
        f"Drift:    {drift_line(ev)}",
        f"Evidence: sha256 {str(ev.get('_sha256'))[:16]}…, "
        + (
            "verified against the audit log"
            if ev.get("_verified")
            else "DOES NOT MATCH the audit log"
        ),
        "",
        "Rules:",
        table(rule_rows(ev), ["rule", "fired", "sentence"]),
    ]
    if ev.get("metrics"):
        cols = [
            "metric",
            "role",
            "champion",
            "challenger",
            "improvement",
            "interval",
            "p_worse",
            "guardrail",
        ]
        parts += ["", "Metrics (same holdout rows, both models):", table(metric_rows(ev), cols)]
    if ev.get("segments"):
        cols = [
            "column",
            "segment",
            "n",
            "champion",
            "challenger",
            "improvement",
            "interval",
            "p_worse",
            "flag",
        ]
        parts += [
            "",
            f"Segments ({(ev.get('primary') or {}).get('metric')}):",
            table(segment_rows(ev), cols),
        ]
    parts += [
        "",
        "Data windows:",
        table(window_rows(ev), ["window", "start", "end", "rows", "fingerprint"]),
    ]
    if ev.get("feature_importance"):
        parts += [
            "",
            "Feature importance (largest change first):",
            table(importance_rows(ev), ["feature", "champion", "challenger", "change"]),
        ]
    return "\n".join(parts)
