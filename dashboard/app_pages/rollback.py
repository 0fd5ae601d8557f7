"""Rollback (admins): make an earlier version champion again, with a reason."""

from __future__ import annotations

import streamlit as st

from dashboard import actions, common

cfg = common.config()
st.title("Rollback")
common.show_flash()

with common.registry() as reg:
    champ = reg.current_champion()
    versions = reg.versions()
    history = reg.champion_history()
    judged = {c["challenger_version"]: c for c in reg.comparisons()}
    common.auto_refresh(reg)

if champ is None:
    st.info("There is no champion to roll back.")
    st.stop()

previous = history[-1]["previous_version"] if history else None
former = [h["version"] for h in history]
candidates = [v.version for v in reversed(versions) if v.version != champ.version]
if not candidates:
    st.info(f"Version {champ.version} is the only version.")
    st.stop()
default = candidates.index(previous) if previous in candidates else 0


def label(v: int) -> str:
    tags = []
    if v == previous:
        tags.append("previous champion")
    elif v in former:
        tags.append("a former champion")
    return f"version {v}" + (f" ({', '.join(tags)})" if tags else "")


st.markdown(
    f"The champion is **version {champ.version}** since {common.md(common.when(champ.since))}."
)
target = st.selectbox("Roll back to", candidates, index=default, format_func=label)
chosen = next(v for v in versions if v.version == target)
comp = judged.get(target, {})
now = judged.get(champ.version, {})
metric = champ.metric or cfg.primary_metric
a, b, c = st.columns(3)
a.metric(
    f"v{target} {common.md(metric)} (its holdout)", common.num((chosen.metrics or {}).get(metric))
)
b.metric(f"v{champ.version} {common.md(metric)} (its holdout)", common.num(champ.value))
c.metric("trained on", common.md(f"{chosen.train_start[:10]} to {chosen.train_end[:10]}"))
if comp:
    st.caption(
        f"When it was compared ({common.md(common.when(comp['created_at']))}): "
        f"{common.md(comp['metric'])} "
        f"{common.num(comp['challenger_value'])} against v{comp['champion_version']}'s "
        f"{common.num(comp['champion_value'])} ({common.pct(comp['relative_improvement'])})."
    )
if now and now.get("holdout_end") and comp.get("holdout_end"):
    st.caption(
        "The two figures come from different holdouts; the next scheduled run compares "
        "the rolled-back champion with a fresh challenger on the same rows."
    )

reason = st.text_input("Reason", key="rollback_reason", placeholder="required: what went wrong")
st.button(
    "Roll back",
    type="primary",
    disabled=not reason.strip(),
    on_click=common.open_dialog,
    args=("rollback",),
    kwargs={"to_version": target, "expected": champ.version, "reason": reason},
)


@st.dialog("Roll back the champion?", on_dismiss=common.close_dialog)
def rollback_dialog(to_version: int, expected: int, reason: str) -> None:
    st.write(f"Version {to_version} replaces version {expected} as champion now.")
    st.caption(f"Reason: {common.md(reason)}")

    def confirm() -> None:
        common.finish(actions.rollback(cfg, common.username(), to_version, expected, reason))

    common.confirm_buttons("Confirm rollback", confirm)


request = common.dialog_requested("rollback")
if request is not None:
    rollback_dialog(**request)
