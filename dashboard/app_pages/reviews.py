"""Reviews (admins): the pending queue, each review with its evidence record (metrics with
guardrails, segments, error plots, drift, windows, rules); approve or reject with a reason.

``?review=N`` (with ``?model=``) opens one review on its own, the link every review email
carries; it survives the sign-in (``dashboard.app``).
"""

from __future__ import annotations

import streamlit as st

from dashboard import actions, common, evidence_panel
from pipeline import evidence_view as view

cfg = common.config()
st.title("Reviews")
common.show_flash()

if len(common.model_names()) > 1 and st.toggle("Every model's queue", key="mg_all_reviews"):
    with common.registry() as fleet_reg:
        queue = fleet_reg.reviews("pending", every_model=True)
    common.table(
        [
            {
                "model": f"reviews?model={r.model}",
                "id": r.id,
                "version": r.challenger_version,
                "vs": r.expected_champion,
                "requested": r.requested_at[:16],
                "expires": r.expires_at[:16],
            }
            for r in queue
        ],
        {
            "model": "model",
            "id": "review",
            "version": "version",
            "vs": "vs champion",
            "requested": "requested",
            "expires": "expires",
        },
        column_config={
            "model": st.column_config.LinkColumn("model", display_text=r"reviews\?model=(.*)")
        },
    )
    st.caption("Open a model to decide its reviews; each model is decided on its own.")

with common.registry() as reg:
    champ = reg.current_champion()
    pending = reg.reviews("pending")
    decided = [r for r in reversed(reg.reviews()) if r.status != "pending"][:20]
    promotions = reg.pending_promotions()
    details = {r.id: (reg.comparison(r.run_id) or {}, reg.approvals(r.id)) for r in pending}
    focus = common.focused_review()
    focused = None if focus is None else next((r for r in reg.reviews() if r.id == focus), None)
    shown = pending if focus is None else [r for r in pending if r.id == focus]
    evidence = {
        r.id: reg.evidence_for_run(r.run_id) for r in [*shown, *([focused] if focused else [])]
    }
    clock = reg.logical_now()
    common.auto_refresh(reg)
current = champ.version if champ else None


@st.dialog("Approve this review?", on_dismiss=common.close_dialog)
def approve_dialog(review_id: int, version: int) -> None:
    st.write(
        f"Version {version} becomes the champion"
        + (
            f" once {cfg.approvals_required} admins have approved."
            if cfg.approvals_required > 1
            else "."
        )
    )
    reason = st.text_input("Reason", key="approve_reason", placeholder="why it is good to go")

    def confirm() -> None:
        common.finish(actions.approve(cfg, common.username(), review_id, reason))

    common.confirm_buttons("Confirm approval", confirm)


@st.dialog("Reject this review?", on_dismiss=common.close_dialog)
def reject_dialog(review_id: int, version: int) -> None:
    st.write(f"Version {version} will not become the champion.")
    reason = st.text_input("Reason", key="reject_reason", placeholder="required")

    def confirm() -> None:
        common.finish(actions.reject(cfg, common.username(), review_id, reason))

    common.confirm_buttons("Confirm rejection", confirm, disabled=not reason.strip())


@st.dialog("Veto this promotion?", on_dismiss=common.close_dialog)
def veto_dialog(promotion_id: int, version: int) -> None:
    st.write(f"Version {version} will not become the champion.")
    reason = st.text_input("Reason", key="veto_reason", placeholder="required")

    def confirm() -> None:
        common.finish(actions.veto(cfg, common.username(), promotion_id, reason))

    common.confirm_buttons("Confirm veto", confirm, disabled=not reason.strip())


if promotions:
    st.subheader("Announced promotions")
    for p in promotions:
        with st.container(border=True):
            st.markdown(
                f"Version **{p['version']}** replaces v{p['expected_champion']} after "
                f"{common.md(common.when(p['due_at']))} — {common.md(p['reason'])}"
            )
            st.button(
                "Veto",
                key=f"veto_{p['id']}",
                on_click=common.open_dialog,
                args=("veto",),
                kwargs={"promotion_id": p["id"], "version": p["version"]},
            )


def _focus(review_id: int | None) -> None:
    if review_id is None:
        st.query_params.pop("review", None)
    else:
        st.query_params["review"] = str(review_id)


if focus is not None:
    st.button("Show every review", on_click=_focus, args=(None,), key="mg_all")
    if focused is None:
        st.warning(f"Review {focus} does not exist for model {common.md(cfg.model)}.")
    elif focused.status != "pending":
        st.info(
            f"Review {focused.id} is {common.md(focused.status)}"
            + (f" by {common.md(focused.decided_by)}" if focused.decided_by else "")
            + (f": {common.md(focused.reason)}" if focused.reason else ".")
        )
        if evidence.get(focused.id):
            evidence_panel.render(evidence[focused.id], key=f"ev_{focused.id}")
else:
    st.subheader(f"Pending reviews ({len(pending)})")
    if not pending:
        st.info("Nothing to review.")
for r in shown:
    comp, votes = details[r.id]
    stale = r.expected_champion != current
    expired = clock is not None and r.expires_at <= clock
    with st.container(border=True):
        st.markdown(
            f"#### Review {r.id}: version {r.challenger_version} vs champion v{r.expected_champion}"
        )
        st.caption(
            f"Requested {common.md(common.when(r.requested_at))} by run {common.md(r.run_id)} · "
            f"expires {common.md(common.when(r.expires_at))}"
        )
        ev = evidence.get(r.id)
        if ev is not None:
            if focus is None:
                st.markdown(common.md(view.headline(ev)))
                st.caption(common.md(" ".join(ev.get("reasons") or [])))
                if comp:
                    st.caption(common.sampling_caption(comp, cfg.alpha))
                st.button(
                    f"Open review {r.id} with its evidence",
                    key=f"open_{r.id}",
                    on_click=_focus,
                    args=(r.id,),
                )
            else:
                evidence_panel.render(ev, key=f"ev_{r.id}")
        elif comp:  # a review from before evidence records: the comparison's figures
            a, b, c, d = st.columns(4)
            a.metric(
                f"challenger {common.md(comp['metric'])}", common.num(comp["challenger_value"])
            )
            b.metric(f"champion {common.md(comp['metric'])}", common.num(comp["champion_value"]))
            c.metric(common.improvement_label(comp), common.pct(comp["relative_improvement"]))
            d.metric("p-value", common.num(comp["p_value"], 3))
            st.caption(common.sampling_caption(comp, cfg.alpha))
        if votes:
            st.markdown(
                f"Approvals: {len(votes)} of {cfg.approvals_required} ("
                + ", ".join(
                    f"{common.md(v['approver'])} at {common.md(common.when(v['at']))}"
                    for v in votes
                )
                + ")"
            )
        if stale:
            st.warning(
                f"Stale: the champion is now v{current}, not v{r.expected_champion} as when this "
                "comparison ran. Approving would fail; reject it, and the next run compares again."
            )
        if expired:
            st.warning(
                f"Expired at {common.when(r.expires_at)} (the newest run is at "
                f"{common.md(common.when(clock))}); the next run closes it."
            )
        st.caption(
            "Approve: the challenger becomes champion, if the champion is still the one it was "
            "compared with"
            + (
                f" and {cfg.approvals_required} admins approve"
                if cfg.approvals_required > 1
                else ""
            )
            + ". Reject: the champion stays and the next run compares again. Both ask for a reason, "
            "which the audit log keeps."
        )
        left, right, _ = st.columns([1, 1, 4])
        left.button(
            "Approve",
            key=f"approve_{r.id}",
            type="primary",
            disabled=stale or expired,
            on_click=common.open_dialog,
            args=("approve",),
            kwargs={"review_id": r.id, "version": r.challenger_version},
        )
        right.button(
            "Reject",
            key=f"reject_{r.id}",
            on_click=common.open_dialog,
            args=("reject",),
            kwargs={"review_id": r.id, "version": r.challenger_version},
        )

st.subheader("Recently decided")
common.table(
    [
        {
            "id": r.id,
            "version": r.challenger_version,
            "status": r.status,
            "by": r.decided_by,
            "at": common.when(r.decided_at),
            "reason": r.reason,
        }
        for r in decided
    ],
    {
        "id": "review",
        "version": "version",
        "status": "decision",
        "by": "decided by",
        "at": "at",
        "reason": "reason",
    },
)

for kind, show in (("approve", approve_dialog), ("reject", reject_dialog), ("veto", veto_dialog)):
    request = common.dialog_requested(kind)
    if request is not None:
        show(**request)
