"""One decision's evidence record on a page: why, the metric table with guardrails, the
per-segment bars, residual or calibration plots for both models, the drift context, the data
windows, the rules and the importance change. The Reviews and Models pages draw it; every
figure comes from the stored record (``pipeline.judge``), and every name from the data is text."""

from __future__ import annotations

import itertools
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from dashboard import common
from pipeline import evidence_view as view

COLORS = {"champion": "#7f8c8d", "challenger": "#2e86de"}


def _figure(fig: go.Figure, height: int = 280) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def _segments_chart(ev: dict[str, Any], key: str) -> None:
    rows = view.segment_rows(ev)
    if not rows:
        return
    segs = [d for d in ev["segments"] if d.get("improvement") is not None]
    segs.sort(key=lambda d: (d.get("column") or "", d["improvement"]))
    labels = [common.plot_text(f"{d['column']} = {d['value']}") for d in segs]
    imp = [d["improvement"] * 100 for d in segs]
    flagged = {f"{r['column']}={r['segment']}" for r in rows if r["flag"]}
    fig = go.Figure(
        go.Bar(
            x=imp,
            y=labels,
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [((d["high"] or 0) - d["improvement"]) * 100 for d in segs],
                "arrayminus": [(d["improvement"] - (d["low"] or 0)) * 100 for d in segs],
            },
            marker_color=[
                "#c0392b" if f"{d['column']}={d['value']}" in flagged else "#2e86de" for d in segs
            ],
            customdata=[[d["n"]] for d in segs],
            hovertemplate="%{y}: %{x:+.2f}% on %{customdata[0]} rows<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#555")
    limit = ((ev.get("policy") or {}).get("settings") or {}).get("max_segment_regression")
    if limit:
        fig.add_vline(x=-limit * 100, line_dash="dot", line_color="#c0392b")
    fig.update_layout(xaxis_title=common.plot_text(f"improvement in {ev['primary']['metric']} (%)"))
    st.plotly_chart(_figure(fig, 40 + 24 * len(segs)), key=f"{key}_segments")
    st.caption(
        "Bars: the challenger's improvement per segment, with its 95% interval; red: a segment "
        "that breaks max_segment_regression (dotted line)."
    )


def _calibration(curves: dict[str, Any], actual: str, span: tuple[float, float]) -> go.Figure:
    """Each model's mean prediction against the mean ``actual`` per bin, and the diagonal."""
    fig = go.Figure()
    for name, c in curves.items():
        fig.add_trace(
            go.Scatter(
                x=c["mean_predicted"],
                y=c[actual],
                mode="lines+markers",
                name=name,
                line_color=COLORS[name],
            )
        )
    fig.add_trace(go.Scatter(x=span, y=span, mode="lines", name="ideal", line_dash="dot"))
    return fig


def _errors_chart(ev: dict[str, Any], key: str) -> None:
    errors = ev.get("errors") or {}
    models = errors.get("models") or {}
    if not models:
        return
    left, right = st.columns(2)
    if errors.get("kind") == "residuals":
        edges = errors["edges"]
        mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        hist = go.Figure()
        for name, m in models.items():
            hist.add_trace(
                go.Bar(x=mids, y=m["counts"], name=name, marker_color=COLORS[name], opacity=0.6)
            )
        hist.update_layout(barmode="overlay", xaxis_title="residual (actual − predicted)")
        left.plotly_chart(_figure(hist), key=f"{key}_residuals")
        curves = {name: m["calibration"] for name, m in models.items()}
        seen = [v for c in curves.values() for v in c["mean_predicted"] if v is not None]
        cal = _calibration(curves, "mean_actual", (min(seen), max(seen)))
        cal.update_layout(xaxis_title="mean predicted (per decile)", yaxis_title="mean actual")
        right.plotly_chart(_figure(cal), key=f"{key}_calibration")
        return
    cal = _calibration(models, "observed_rate", (0.0, 1.0))
    cal.update_layout(xaxis_title="mean predicted probability", yaxis_title="observed rate")
    left.plotly_chart(_figure(cal), key=f"{key}_calibration")
    hist = go.Figure()
    for name, m in models.items():
        hist.add_trace(go.Bar(x=list(range(10)), y=m["n"], name=name, marker_color=COLORS[name]))
    hist.update_layout(barmode="group", xaxis_title="probability tenth (0 = 0–0.1)")
    right.plotly_chart(_figure(hist), key=f"{key}_probabilities")


def render(ev: dict[str, Any], *, key: str) -> None:
    """The whole record; ``key`` keeps several panels on one page apart."""
    st.markdown(f"**{common.md(view.headline(ev))}**")
    for reason in ev.get("reasons") or []:
        st.markdown(f"- {common.md(reason)}")
    st.caption(common.md(view.WHAT_NEXT.get(ev.get("outcome", ""), "")))
    primary = {
        **(ev.get("primary") or {}),
        "unlabelled_holdout": ((ev.get("windows") or {}).get("holdout") or {}).get("unlabelled"),
    }
    alpha = ((ev.get("policy") or {}).get("settings") or {}).get("alpha", 0.05)
    st.caption(common.sampling_caption(primary, alpha))
    run = ev.get("run") or {}
    left, right = st.columns([3, 1])
    left.caption(
        f"Run {common.md(run.get('run_id'))} of {common.md(run.get('dag_id'))}, logical time "
        f"{common.md(common.when(run.get('logical_date')))} · policy sha256 "
        f"{common.md(str((ev.get('policy') or {}).get('sha256'))[:12])} · evidence "
        + ("verified against the audit log" if ev.get("_verified") else "NOT verified")
    )
    if run.get("airflow_url"):
        right.link_button("Open the run in Airflow", run["airflow_url"])
    if ev.get("metrics"):
        st.markdown("**Every metric, both models, the same holdout rows**")
        common.table(
            view.metric_rows(ev),
            {
                "metric": "metric",
                "role": "role",
                "champion": "champion",
                "challenger": "challenger",
                "improvement": "improvement",
                "interval": "95% interval",
                "p_worse": "p (not worse)",
                "guardrail": "guardrail",
            },
        )
    if ev.get("segments"):
        st.markdown(f"**Per segment ({common.md(', '.join(ev.get('segment_columns') or []))})**")
        _segments_chart(ev, key)
        common.table(
            view.segment_rows(ev),
            {
                "column": "column",
                "segment": "segment",
                "n": "rows",
                "champion": "champion",
                "challenger": "challenger",
                "improvement": "improvement",
                "interval": "95% interval",
                "p_worse": "p (not worse)",
                "flag": "flag",
            },
        )
    if ev.get("errors"):
        st.markdown("**Errors of both models on the holdout**")
        _errors_chart(ev, key)
    st.markdown("**Drift at the run's logical time**")
    st.markdown(common.md(view.drift_line(ev)))
    st.markdown("**Data windows**")
    common.table(
        view.window_rows(ev),
        {
            "window": "window",
            "start": "start",
            "end": "end",
            "rows": "rows",
            "fingerprint": "fingerprint",
        },
    )
    st.markdown("**Rules the policy checked**")
    common.table(view.rule_rows(ev), {"rule": "rule", "fired": "fired", "sentence": "sentence"})
    if ev.get("feature_importance"):
        st.markdown("**Feature importance, largest change first**")
        common.table(
            view.importance_rows(ev, top=25),
            {
                "feature": "feature",
                "champion": "champion",
                "challenger": "challenger",
                "change": "change",
            },
        )
