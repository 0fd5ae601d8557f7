"""Audit log: every event, filterable, with the hash chain's verdict."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import common
from registry import Registry

LIMIT = 500
ALL = "(all)"

st.title("Audit log")
common.show_flash()


@st.cache_data(ttl=60, show_spinner=False)
def chain(path: str, head_seq: int) -> tuple[bool, int, str, str | None]:
    """Verify the log (chain, checkpoint, signatures, state) once per new event (cached across
    sessions by the registry and its newest seq)."""
    with Registry.open(common.config()) as reg:
        check = reg.verify_audit()
    return check.ok, check.events, check.head, "; ".join(check.problems) or None


cfg = common.config()
with common.registry() as reg:
    facets = reg.audit_facets()
    total = reg.count_audit()
    newest = reg.audit_log(limit=1)
    common.auto_refresh(reg)

ok, events, head, problem = chain(str(cfg.registry_db), newest[0]["seq"] if newest else 0)
if ok:
    st.success(
        f"The audit log verifies: {events:,} events, head {head[:16]}…; its checkpoint, the "
        "champion, the versions and their artifacts match it."
    )
else:
    st.error("The audit log does not verify:")
    st.text(problem)

models = [m for m in facets.get("model", []) if m]
fleet = len(models) > 1  # one model: nothing to choose, and no column for it
c0, c1, c2, c3, c4 = st.columns([1.2, 1, 1, 1, 1.3]) if fleet else (None, *st.columns(4))
EVERY = "(every model)"
model = (
    c0.selectbox("Events of", [EVERY, *models], help="The audit log is the whole registry's")
    if c0
    else EVERY
)
event = c1.selectbox("Event", [ALL, *facets["event"]])
actor = c2.selectbox("User", [ALL, *facets["actor"]])
version_text = c3.text_input(
    "Model version",
    placeholder="e.g. 3",
    help="Of the model chosen, else of the model the dashboard is on",
)
dates = c4.date_input(
    "Dates",
    value=(),
    format="YYYY-MM-DD",
    help="By each event's effective time: a run's logical time (a simulation's dates), or the "
    "registry's clock for an action outside a run.",
)

version = None
if version_text.strip():
    if version_text.strip().isdigit():
        version = int(version_text.strip())
    else:
        st.error(f"A model version is a whole number, not {common.md(repr(version_text.strip()))}.")
since = until = None
if isinstance(dates, tuple | list) and dates:
    since = dates[0].isoformat()
    until = ((dates[1] if len(dates) > 1 else dates[0]) + dt.timedelta(days=1)).isoformat()

with common.registry() as reg:
    rows = reg.audit_log(
        limit=LIMIT,
        event=None if event == ALL else event,
        actor=None if actor == ALL else actor,
        version=version,
        model=None if model == EVERY else model,
        since=since,
        until=until,
    )
st.caption(
    f"Showing {len(rows):,} events"
    + (f" (the newest {LIMIT} that match)" if len(rows) == LIMIT else "")
    + f" of {total:,} in the log."
)
common.table(
    [
        {
            **r,
            "effective": common.when(r.get("effective_at") or r["at"]),
            "at": common.when(r["at"]),
            "details": common.details_text(
                {k: v for k, v in (r["details"] or {}).items() if k != "effective_at"}
            ),
        }
        for r in rows
    ],
    {
        "seq": "#",
        **({"model": "model"} if fleet else {}),
        "effective": "effective",
        "at": "recorded (UTC)",
        "actor": "user",
        "event": "event",
        "entity": "entity",
        "entity_id": "id",
        "details": "details",
    },
    column_config={
        "effective": st.column_config.TextColumn(
            "effective", help="When it happened on the run's clock (logical time)"
        ),
        "recorded (UTC)": st.column_config.TextColumn(
            "recorded (UTC)", help="The wall clock when the registry wrote it"
        ),
    },
)
