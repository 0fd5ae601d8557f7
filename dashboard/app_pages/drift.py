"""Drift: the score over time, a feature-by-time heatmap, and one check's per-feature detail."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import common


def _change(degradation: float | None) -> str:
    if degradation is None:
        return "no comparison"
    return f"{abs(degradation):.2%} {'worse' if degradation > 0 else 'better'}"


st.title("Drift")
common.show_flash()
st.caption(
    "A score of 1 is the threshold: a feature's score is the largest of PSI / PSI limit, "
    "KS D / KS limit and missing-share change / limit; a check's score is its largest feature "
    "score (or the concept degradation against its limit). A limit is the configured floor or, "
    "when larger, what the champion's own training windows showed (calibrated): a feature that "
    "swings with the seasons is judged against its seasons."
)

with common.registry() as reg:
    reports = reg.drift_reports(limit=400)
    common.auto_refresh(reg)
    if not reports:
        st.info("No drift checks yet: the drift monitor DAG records one per day.")
        st.stop()
    since = min(r["as_of"] for r in reports)
    cells = pd.DataFrame(reg.drift_matrix(since=since))

history = pd.DataFrame(reports).sort_values("as_of")
history["when"] = pd.to_datetime(history["as_of"])
history["verdict"] = history.apply(
    lambda r: f"{r['drift_type']} drift" if r["drift_detected"] else "no drift", axis=1
)

fig = go.Figure()
fig.add_trace(
    go.Scatter(
        x=history["when"],
        y=history["drift_score"],
        mode="lines+markers",
        name="drift score",
        customdata=history[["run_id", "verdict"]],
        hovertemplate="%{x|%Y-%m-%d}<br>score %{y:.2f}<br>%{customdata[1]}<extra></extra>",
        marker={
            "color": ["#d62728" if d else "#1f77b4" for d in history["drift_detected"]],
            "size": 7,
        },
    )
)
fig.add_hline(y=1.0, line_dash="dot", annotation_text="threshold")
fig.update_layout(
    height=300,
    margin={"l": 10, "r": 10, "t": 30, "b": 10},
    showlegend=False,
    yaxis={"title": "score", "rangemode": "tozero"},
)
st.subheader("Drift score over time")
event = st.plotly_chart(fig, key="drift_history", on_select="rerun", selection_mode="points")
picked = None
points = (event or {}).get("selection", {}).get("points", []) if event else []
if points:
    picked = points[0].get("customdata", [None])[0]

if not cells.empty:
    st.subheader("Per-feature drift over time")
    grid = cells.pivot_table(index="feature", columns="as_of", values="score", aggfunc="max")
    order = grid.max(axis=1).sort_values(ascending=False).index
    grid = grid.loc[order]
    heat = go.Figure(
        go.Heatmap(
            z=grid.to_numpy().clip(0, 3),
            x=pd.to_datetime(grid.columns),
            y=[common.plot_text(f) for f in grid.index],
            zmin=0,
            zmax=3,
            colorscale=[[0, "#f7fbff"], [1 / 3, "#fdd49e"], [1, "#b30000"]],
            colorbar={"title": "score"},
            hovertemplate="%{y}<br>%{x|%Y-%m-%d}<br>score %{z:.2f}<extra></extra>",
        )
    )
    heat.update_layout(
        height=max(260, 18 * len(grid) + 80), margin={"l": 10, "r": 10, "t": 10, "b": 10}
    )
    st.plotly_chart(heat, key="drift_heatmap")

st.subheader("One check in detail")
labels = {
    r[
        "run_id"
    ]: f"{common.when(r['as_of'])} — {'DRIFT ' + r['drift_type'] if r['drift_detected'] else 'no drift'} "
    f"(score {r['drift_score']:.2f})"
    for r in reports
}
run_ids = list(labels)
if picked in labels:
    st.session_state["drift_run"] = picked
run_id = st.selectbox(
    "Drift check (or click a point above)", run_ids, format_func=labels.get, key="drift_run"
)
report = next(r for r in reports if r["run_id"] == run_id)
with common.registry() as reg:
    scores = reg.drift_scores(report_id=report["id"])

st.text(report["recommendation"])
if report.get("reference"):
    st.text(f"Compared with: {report['reference']}")
m1, m2, m3 = st.columns(3)
m1.metric("Reference rows", f"{report['n_reference']:,}")
m2.metric("Current rows", f"{report['n_current']:,}")
m3.metric("Drifted features", len(report["affected"] or []))
concept = report.get("concept")
if isinstance(concept, dict) and concept:
    st.caption(
        f"Concept check: {common.md(concept.get('metric'))} "
        f"{common.num(concept.get('reference_value'))} → "
        f"{common.num(concept.get('current_value'))} ({_change(concept.get('degradation'))}); "
        f"{'drifted' if concept.get('drifted') else 'within the limit'}."
    )


def _limits(s: dict[str, Any]) -> str:
    """Each statistic's limit and where it came from, e.g. "KS 0.125 calibrated, PSI 0.2 floor"."""
    limits: dict[str, float] = s.get("limits") or {}
    rules: dict[str, str] = s.get("rules") or {}
    names = {"ks": "KS", "psi": "PSI", "missing": "missing"}
    return ", ".join(f"{names[k]} {v:.3g} {rules.get(k, '')}".strip() for k, v in limits.items())


common.table(
    [
        {
            **s,
            "drifted": bool(s["drifted"]),
            "limits": _limits(s),
            "why": "; ".join(s.get("reasons") or []),
        }
        for s in sorted(scores, key=lambda s: -s["score"])
    ],
    {
        "feature": "feature",
        "kind": "kind",
        "ks": "KS D",
        "p_value": "p",
        "p_adjusted": "p (BH)",
        "psi": "PSI",
        "wasserstein": "Wasserstein (scaled)",
        "missing_delta": "missing Δ",
        "drifted": "drifted",
        "score": "score",
        "limits": "limits",
        "why": "why",
    },
    column_config={
        "drifted": st.column_config.CheckboxColumn("drifted"),
        "KS D": st.column_config.NumberColumn(format="%.3f"),
        "p": st.column_config.NumberColumn(format="%.2e"),
        "p (BH)": st.column_config.NumberColumn(format="%.2e"),
        "PSI": st.column_config.NumberColumn(format="%.3f"),
        "Wasserstein (scaled)": st.column_config.NumberColumn(format="%.3f"),
        "missing Δ": st.column_config.NumberColumn(format="%.3f"),
        "score": st.column_config.ProgressColumn(min_value=0, max_value=3, format="%.2f"),
    },
)

with_dist = [s for s in scores if s.get("distribution")]
if with_dist:
    names = [s["feature"] for s in sorted(with_dist, key=lambda s: -s["score"])]
    feature = st.selectbox("Distribution of a feature (reference vs current)", names)
    dist = next(s for s in with_dist if s["feature"] == feature)["distribution"]
    bins = [common.plot_text(b) for b in dist["bins"]]  # category values: shown as typed
    bars = go.Figure(
        [
            go.Bar(name="reference", x=bins, y=dist["reference"], marker_color="#9ecae1"),
            go.Bar(name="current", x=bins, y=dist["current"], marker_color="#e6550d"),
        ]
    )
    bars.update_layout(
        barmode="group",
        height=300,
        yaxis_tickformat=".0%",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="bins at the reference's deciles" if dist["bins"][-1] != "(other)" else "",
    )
    st.plotly_chart(bars, key="drift_distribution")
