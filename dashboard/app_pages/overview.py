"""Overview: the champion, the last runs and their decisions, what comes next, what needs a look."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st
from croniter import croniter

from dashboard import common
from pipeline.context import dag_model

cfg = common.config()


def next_run(schedule: str) -> str:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        return f"{croniter(schedule, now).get_next(dt.datetime):%Y-%m-%d %H:%M}"
    except (ValueError, KeyError):
        return schedule


def dag_label(dag_id: str) -> str:
    """What kind of DAG ran (ids of a model's DAGs, or their names before models existed)."""
    kind = (dag_model(dag_id) or ("retrain", ""))[0]
    return {"drift": "drift monitor", "rollout": "rollout monitor"}.get(kind, "retraining")


def triggers_text(reasons: object) -> str:
    if isinstance(reasons, str):
        import json

        try:
            reasons = json.loads(reasons)
        except ValueError:
            return reasons
    if isinstance(reasons, list):
        return ", ".join(str(r) for r in reasons) or "schedule"
    return "schedule"


st.title("Overview")
common.show_flash()
with common.registry() as reg:
    champ = reg.current_champion()
    status = reg.status()
    runs = reg.runs(limit=12)
    pending = reg.reviews("pending")
    promotions = reg.pending_promotions()
    drift = reg.drift_reports(limit=30)
    outbox = reg.outbox(limit=100)
    live = reg.live_rollout()
    boards = reg.leaderboards(limit=2)
    common.auto_refresh(reg)

if champ is None:
    st.subheader("No champion yet")
    st.caption("The first successful run promotes its model.")
else:
    st.subheader(f"Champion: version {champ.version}")
    how = {"promotion": "promoted automatically", "approval": "approved", "rollback": "rolled back"}
    st.caption(
        f"Since {common.md(common.when(champ.since))} — "
        f"{common.md(how.get(champ.kind, champ.kind))} by {common.md(champ.by)}."
    )

if live is not None:
    against = f"v{live['champion_version']}"
    moved = champ is not None and champ.version != live["champion_version"]
    (st.warning if moved else st.info)(
        f"Rollout {live['id']} ({common.md(live['strategy'])}, {common.md(live['status'])}): "
        f"version {live['version']} "
        + (
            f"was rolling out against {against}, which is no longer the champion (now "
            f"v{champ.version}): the rollout monitor aborts it at its next run."
            if moved and champ is not None
            else f"serves {live['share']:.0%} of traffic against champion {against}."
        )
    )
    st.page_link("app_pages/rollouts.py", label="Open the rollout", icon=":material/alt_route:")

c1, c2, c3, c4 = st.columns([1, 1, 1.6, 1])


def _on_board(board: dict[str, Any] | None) -> float | None:
    """The champion's figure on a leaderboard, or None."""
    return next(
        (
            r["value"]
            for r in (board or {}).get("scores", [])
            if champ and r["version"] == champ.version
        ),
        None,
    )


now_value = _on_board(boards[0] if boards else None)
before_value = _on_board(boards[1] if len(boards) > 1 else None)
if now_value is not None and boards:
    c1.metric(
        f"Champion {boards[0]['metric']}, recent {cfg.holdout_days} days",
        common.num(now_value),
        delta=None if before_value is None else f"{now_value - before_value:+.4g}",
        delta_color="inverse" if not cfg.higher_is_better else "normal",
        help="On the leaderboard's window (the same recent rows for every version); the change "
        "since the previous scoring.",
    )
else:
    c1.metric(
        f"Champion {champ.metric or cfg.primary_metric} (own holdout)"
        if champ
        else "Champion metric",
        common.num(champ.value) if champ else "—",
    )
c2.metric("Pending reviews", len(pending))
c3.metric(
    "Next scheduled retraining (UTC)", next_run(cfg.schedule), help=f"schedule: {cfg.schedule}"
)
c4.metric("Model versions", status["versions"])

if pending or promotions:
    st.subheader("Waiting for a decision")
    for r in pending:
        stale = champ is not None and r.expected_champion != champ.version
        st.markdown(
            f"- Review **{r.id}**: version {r.challenger_version} against "
            f"v{r.expected_champion}, expires {common.md(common.when(r.expires_at))}"
            + (" — *stale: the champion changed since*" if stale else "")
        )
    for p in promotions:
        st.markdown(
            f"- Promotion of version **{p['version']}** announced, applies after "
            f"{common.md(common.when(p['due_at']))} unless vetoed"
        )
    if st.session_state.get("mg_role") == "admin":
        st.page_link(
            "app_pages/reviews.py", label="Open the review queue", icon=":material/fact_check:"
        )

st.subheader("Last runs")
common.table(
    [
        {
            **r,
            "as_of": common.when(r["as_of"]),
            "dag": dag_label(r["dag_id"]),
            "why": triggers_text(r["trigger_reasons"]),
            "challenger": f"v{r['challenger_version']}" if r["challenger_version"] else "",
            # as the run ended: a decision whose next task failed is a failed run, with its error
            "outcome": (
                f"failed: {r.get('error') or 'see Airflow'}"
                + (f" (after deciding {r['outcome']})" if r.get("outcome") else "")
                if r["status"] == "failed"
                else r["outcome"]
            ),
        }
        for r in runs
    ],
    {
        "as_of": "as of",
        "dag": "DAG",
        "why": "triggered by",
        "challenger": "challenger",
        "outcome": "ended",
        "status": "status",
        "run_id": "run",
    },
)

st.subheader("Recent alerts and failures")
alerts = [
    {
        "when": common.when(d["as_of"]),
        "what": f"{d['drift_type']} drift",
        "detail": d["recommendation"],
    }
    for d in drift
    if d["drift_detected"]
][:5]
alerts += [
    {"when": common.when(r["as_of"]), "what": "run failed", "detail": r.get("error") or r["run_id"]}
    for r in runs
    if r["status"] == "failed"
]
alerts += [
    {
        "when": common.when(o["created_at"]),
        "what": "email not delivered",
        "detail": f"{o['subject']}: {o['last_error']}",
    }
    for o in outbox
    if o["status"] == "failed"
][:5]
if alerts:
    common.table(alerts, {"when": "when", "what": "what", "detail": "detail"})
else:
    st.success("No drift alerts, failed runs or undelivered emails.")
