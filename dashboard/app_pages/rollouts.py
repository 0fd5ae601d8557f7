"""Rollouts: traffic share over time, per-variant error with intervals, the always-valid interval
of the difference, the sample-ratio check and the decision history; admins can pause, resume,
abort or finish a rollout."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import actions, common
from pipeline.admin import ROLLOUT_CONTROLS
from pipeline.rollout import SRM_P

cfg = common.config()
st.title("Rollouts")
common.show_flash()

with common.registry() as reg:
    rollouts = reg.rollouts()
    common.auto_refresh(reg)
    if not rollouts:
        st.info(
            "No rollouts yet. With `rollout_strategy` set to canary, gradual, ab or shadow, an "
            "automatic promotion starts one instead of switching all traffic at once."
        )
        st.stop()
    by_id = {r["id"]: r for r in rollouts}
    live = next((r["id"] for r in rollouts if r["status"] in ("active", "paused")), None)
    rid = st.selectbox(
        "Rollout",
        list(by_id),
        index=list(by_id).index(live) if live else 0,
        format_func=lambda i: (
            f"{i}: version {by_id[i]['version']} vs v{by_id[i]['champion_version']} — "
            f"{by_id[i]['strategy']}, {by_id[i]['status']}"
        ),
        # a new widget when any status changes, so the labels never show a state gone by
        key="rollout_id:" + ",".join(f"{r['id']}={r['status']}" for r in rollouts),
    )
    row = by_id[rid]
    events = reg.rollout_events(rid)
    analyses = reg.rollout_analyses(rid)

plan = row["plan"] or {}
a, b, c, d = st.columns(4)
a.metric("Status", common.md(row["status"]))
b.metric("Challenger share", f"{row['share']:.0%}")
c.metric("Strategy", common.md(row["strategy"]))
d.metric("Step", f"{row['step_index'] + 1} of {len(plan.get('steps') or [1])}")
st.caption(
    f"Version {row['version']} against champion v{row['champion_version']} since "
    f"{common.md(common.when(row['started_at']))}; assignment seed {common.md(row['seed'])} "
    "(GrowthBook hash v2). "
    f"Needs {plan.get('min_samples', '?')} labelled outcomes per arm, holds each step "
    f"{plan.get('min_step_hours', '?')} h, ends after {plan.get('max_hours', '?')} h; "
    + (
        f"a step moves on once the challenger is shown to be at most "
        f"{plan.get('max_harm', 0.05):.0%} worse."
        if row["strategy"] in ("canary", "gradual")
        else f"wins by a {plan.get('margin', 0):.0%} margin, loses when significantly worse."
    )
)

last = analyses[-1] if analyses else None
if last is None:
    st.info("No analysis yet: the rollout monitor runs hourly.")
else:
    if last["srm_p"] is not None and last["srm_p"] < SRM_P:
        st.error(
            f"Sample ratio mismatch (p = {last['srm_p']:.2g}): the split is not what was configured."
        )
    elif last["srm_p"] is not None:
        st.success(f"No sample ratio mismatch in this step (chi-square p = {last['srm_p']:.3g}).")
    st.subheader(f"Per-variant error (latest analysis, step {last['step_index'] + 1}, per unit)")
    common.table(
        [
            {
                "variant": name,
                "n": last[f"n_{name}"],
                "mean": last[f"{name}_mean"],
                "low": last[f"{name}_low"],
                "high": last[f"{name}_high"],
            }
            for name in ("champion", "challenger")
        ],
        {
            "variant": "variant",
            "n": "units with labels",
            "mean": "mean loss",
            "low": f"{1 - (plan.get('alpha') or 0.05):.0%} CI low",
            "high": "CI high",
        },
    )
    st.markdown(
        f"Difference (champion − challenger, positive: challenger better): "
        f"**{common.num(last['difference'])}**, always-valid interval "
        f"[{common.num(last['cs_low'])}, {common.num(last['cs_high'])}] · decision **{last['action']}**: "
        f"{last['reason']}"
    )

if events:
    st.subheader("Traffic share over time")
    ev = pd.DataFrame(events)
    ev["when"] = pd.to_datetime(ev["at"], format="ISO8601")
    fig = go.Figure(
        go.Scatter(
            x=ev["when"],
            y=ev["share"],
            mode="lines+markers",
            line={"shape": "hv"},
            customdata=ev[["kind", "actor"]],
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y:.0%} — %{customdata[0]} by %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        height=240,
        yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": "challenger share"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    st.plotly_chart(fig, key="rollout_share")

if len(analyses) > 1:
    st.subheader("Difference with its always-valid interval")
    an = pd.DataFrame(analyses)
    an["when"] = pd.to_datetime(an["at"], format="ISO8601")
    band = go.Figure(
        [
            go.Scatter(x=an["when"], y=an["cs_high"], line={"width": 0}, showlegend=False),
            go.Scatter(
                x=an["when"],
                y=an["cs_low"],
                fill="tonexty",
                line={"width": 0},
                fillcolor="rgba(31,119,180,0.2)",
                name="always-valid interval",
            ),
            go.Scatter(x=an["when"], y=an["difference"], mode="lines+markers", name="difference"),
        ]
    )
    band.add_hline(y=0, line_dash="dot")
    band.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(band, key="rollout_difference")

st.subheader("Decision history")
common.table(
    [{**e, "at": common.when(e["at"]), "share": f"{e['share']:.0%}"} for e in events],
    {"at": "at", "kind": "event", "share": "share", "actor": "by", "reason": "reason"},
)

if st.session_state.get("mg_role") == "admin" and row["status"] in ("active", "paused"):
    st.subheader("Control")
    allowed = [k for k, (expect, *_rest) in ROLLOUT_CONTROLS.items() if row["status"] in expect]
    labels = {
        "pause": "Pause",
        "resume": "Resume",
        "abort": "Abort (keep the champion)",
        "promote": "Promote now",
        "rollback": "Roll back now",
    }
    for col, action in zip(st.columns(len(allowed)), allowed, strict=True):
        col.button(
            labels[action],
            key=f"rollout_{action}",
            on_click=common.open_dialog,
            args=("rollout",),
            kwargs={"rollout_id": rid, "action": action},
        )


@st.dialog("Change this rollout?", on_dismiss=common.close_dialog)
def control_dialog(rollout_id: int, action: str) -> None:
    st.write(f"{action.capitalize()} rollout {rollout_id}.")
    reason = st.text_input("Reason", key="rollout_reason", placeholder="required")

    def confirm() -> None:
        common.finish(actions.rollout_control(cfg, common.username(), rollout_id, action, reason))

    common.confirm_buttons(f"Confirm {action}", confirm, disabled=not reason.strip())


request = common.dialog_requested("rollout")
if request is not None:
    control_dialog(**request)
