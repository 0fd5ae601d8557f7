"""Models: every version, the champion's history, and any comparison with its statistics."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import common, evidence_panel

cfg = common.config()
st.title("Models")
common.show_flash()

with common.registry() as reg:
    versions = reg.versions()
    history = reg.champion_history()
    comparisons = reg.comparisons()
    champ = reg.current_champion()
    latest = reg.runs(limit=1)
    run_time = {r["run_id"]: r["as_of"] for r in reg.runs(limit=10_000)}
    boards = reg.leaderboards()
    common.auto_refresh(reg)

if not versions:
    st.info("No model versions yet.")
    st.stop()

primary = champ.metric if champ and champ.metric else cfg.primary_metric
st.subheader("Champion history")
if history:
    frame = pd.DataFrame(history)
    frame["when"] = pd.to_datetime(frame["at"], format="ISO8601", utc=True)
    if latest:  # the current champion's step runs on to the newest run
        end = pd.to_datetime(latest[0]["as_of"], format="ISO8601", utc=True)
        if end > frame["when"].max():
            tail = frame.iloc[[-1]].assign(when=end, kind="current")
            frame = pd.concat([frame, tail], ignore_index=True)
    colours = {"promotion": "#2ca02c", "approval": "#1f77b4", "rollback": "#d62728"}
    fig = go.Figure(
        go.Scatter(
            x=frame["when"],
            y=frame["version"],
            mode="lines+markers",
            line={"shape": "hv", "color": "#999"},
            marker={
                "size": [0 if k == "current" else 11 for k in frame["kind"]],
                "color": [colours.get(k, "#555") for k in frame["kind"]],
            },
            customdata=frame[["kind", "by", "reason"]],
            hovertemplate="v%{y} — %{customdata[0]} by %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
        )
    )
    fig.update_layout(
        height=260,
        yaxis={"title": "champion version", "tickformat": "d", "rangemode": "tozero"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    st.plotly_chart(fig, key="champion_timeline")
    st.caption("Green: automatic promotion · blue: approved review · red: rollback.")

if boards:
    board = boards[0]
    st.subheader("Leaderboard: every version on the same recent window")
    st.caption(
        f"{common.md(board['metric'])} on {board['n_rows']:,} labelled rows from "
        f"{common.md(common.when(board['window_start']))} to "
        f"{common.md(common.when(board['window_end']))}, scored at each retraining run: these "
        "figures compare, each version's own-holdout metric below does not."
    )
    common.table(
        [
            {
                **r,
                "role": "champion" if r.get("champion") else "",
                "in_sample": "trained on part of it" if r.get("in_sample") else "",
            }
            for r in board["scores"]
        ],
        {
            "rank": "rank",
            "version": "version",
            "role": "role",
            "value": board["metric"],
            "in_sample": "note",
        },
    )
    trend = [
        {"as_of": b["as_of"], "version": f"v{r['version']}", "value": r["value"]}
        for b in boards
        for r in b["scores"]
        if r.get("value") is not None
    ]
    if len(boards) > 1:
        tf = pd.DataFrame(trend).sort_values("as_of")
        fig = go.Figure()
        for name, part in tf.groupby("version", sort=False):
            fig.add_trace(
                go.Scatter(x=part["as_of"], y=part["value"], mode="lines+markers", name=str(name))
            )
        fig.update_layout(
            height=260,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis_title=common.plot_text(board["metric"]),
        )
        st.plotly_chart(fig, key="leaderboard_trend")

st.subheader("Versions")
current = champ.version if champ else None
common.table(
    [
        {
            "version": v.version,
            "champion": v.version == current,
            "created": common.when(run_time.get(v.run_id) or v.created_at),
            "metric": (v.metrics or {}).get(primary),
            "trained on": f"{v.train_start[:10]} to {v.train_end[:10]} ({v.train_rows:,} rows)",
            "estimator": v.estimator.rsplit(".", 1)[-1],
            "sha256": v.sha256[:12],
            "run": v.run_id,
        }
        for v in reversed(versions)
    ],
    {
        "version": "version",
        "champion": "champion",
        "created": "trained at (run's logical time)",
        "metric": f"{primary} (own holdout)",
        "trained on": "trained on",
        "estimator": "estimator",
        "sha256": "sha256",
        "run": "run",
    },
    column_config={"champion": st.column_config.CheckboxColumn("champion")},
)

if comparisons:
    st.subheader("A comparison")
    by_id = {c["id"]: c for c in comparisons}
    ids = sorted(by_id, reverse=True)
    cid = st.selectbox(
        "Comparison",
        ids,
        format_func=lambda i: (
            f"v{by_id[i]['challenger_version']} vs "
            f"{'v' + str(by_id[i]['champion_version']) if by_id[i]['champion_version'] else 'no champion'}"
            f" — holdout to {common.when(by_id[i]['holdout_end'] or by_id[i]['created_at'])}"
        ),
    )
    c = by_id[cid]
    with common.registry() as reg:
        decision = reg.decision(c["run_id"])
        record = reg.evidence_for_run(c["run_id"])
    if record is not None:  # the decision's evidence, as the review page shows it
        evidence_panel.render(record, key=f"models_{cid}")
    else:  # a comparison from before evidence records
        a, b, d, e = st.columns(4)
        a.metric(f"challenger {common.md(c['metric'])}", common.num(c["challenger_value"]))
        b.metric(f"champion {common.md(c['metric'])}", common.num(c["champion_value"]))
        d.metric(common.improvement_label(c), common.pct(c["relative_improvement"]))
        e.metric("p-value (bootstrap)", common.num(c["p_value"], 3))
        level = c.get("ci_level") or 0.95
        st.markdown(
            f"{level:.0%} bootstrap interval of the improvement in {common.md(c['metric'])} "
            "(positive: the challenger is better): "
            f"**{common.num(c['ci_low'])} to {common.num(c['ci_high'])}** "
            f"({c['n_resamples']:,} paired resamples of {c['n_holdout']:,} holdout rows; "
            f"paired t-test p = {common.num(c['ttest_p_value'], 3)})."
        )
        st.caption(common.sampling_caption(c, cfg.alpha))
        if not c["challenger_valid"]:
            st.warning(f"The challenger was not valid: {common.md(c['invalid_reason'])}")
        rows = []
        for name in sorted(set(c["challenger_metrics"] or {}) | set(c["champion_metrics"] or {})):
            new = (c["challenger_metrics"] or {}).get(name)
            old = (c["champion_metrics"] or {}).get(name)
            rows.append(
                {
                    "metric": name,
                    "champion": old,
                    "challenger": new,
                    "change": None if new is None or old is None else new - old,
                }
            )
        common.table(
            rows,
            {"metric": "metric", "champion": "champion", "challenger": "challenger", "change": "Δ"},
        )
        if decision:
            st.markdown(f"**Decision: {common.md(decision['outcome'])}**")
            for reason in decision["reasons"] or []:
                st.markdown(f"- {common.md(reason)}")
