"""Fleet: every model at a glance (champion, its age, last decision, drift with a sparkline,
open reviews, live rollout), sortable and filterable; each row opens that model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import common

st.title("Fleet")


def _age(since: str | None, clock: str | None) -> float | None:
    """Days the champion has served, on the model's own clock (its newest run or check)."""
    if not since or not clock:
        return None
    start = dt.datetime.fromisoformat(since).replace(tzinfo=None)
    now = dt.datetime.fromisoformat(clock).replace(tzinfo=None)
    return max(0.0, round((now - start).total_seconds() / 86400, 1))


def rows(names: list[str]) -> list[dict[str, Any]]:
    out = []
    with common.registry() as reg:
        for name in names:
            view = reg.scoped(name)
            s = view.summary()
            champ, run, drift, live = s["champion"], s["last_run"], s["drift"], s["live_rollout"]
            value = (
                ""
                if not champ or champ["value"] is None
                else f" {champ['metric']} {champ['value']:.4g}"
            )
            out.append(
                {
                    "model": f"overview?model={name}",
                    "champion": f"v{champ['version']}{value}" if champ else "none yet",
                    "age (days)": _age(champ["promoted_at"], view.logical_now()) if champ else None,
                    "last run": (run or {}).get("as_of", "")[:16] or "-",
                    "last decision": (run or {}).get("outcome") or (run or {}).get("status") or "-",
                    "drift": "-" if not drift else ("drift" if drift["drift_detected"] else "ok"),
                    "drift trend": view.drift_trend(30),
                    "open reviews": s["pending_reviews"],
                    "live rollout": "-"
                    if not live
                    else f"v{live['version']} at {live['share']:.0%} ({live['status']})",
                }
            )
    return out


names = common.model_names()
table = pd.DataFrame(rows(names))
left, middle, right = st.columns([2, 1, 1])
needle = left.text_input("Filter models", placeholder="part of a name")
only = middle.selectbox("Show", ["every model", "drifting", "with open reviews", "rolling out"])
right.metric("Models", len(names))
if needle:
    table = table[
        table["model"].str.removeprefix("overview?model=").str.contains(needle.lower(), regex=False)
    ]
if only == "drifting":
    table = table[table["drift"] == "drift"]
elif only == "with open reviews":
    table = table[table["open reviews"] > 0]
elif only == "rolling out":
    table = table[table["live rollout"] != "-"]
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    height=common.table_height(len(table)),
    column_config={
        "model": st.column_config.LinkColumn(
            "model", display_text=r"overview\?model=(.*)", help="open this model"
        ),
        "drift trend": st.column_config.LineChartColumn("drift trend", y_min=0.0),
        "age (days)": st.column_config.NumberColumn("age (days)", format="%.1f"),
    },
)
st.caption(
    "Ages and times are each model's logical clock (its newest run or drift check). Pick a model "
    "in the sidebar, or open one from its row: the model stays in the URL (?model=NAME)."
)
