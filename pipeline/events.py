"""The audit log's event names: what ``audit --event`` accepts and the dashboard's filter offers.

``tests/test_events.py`` scans the registry's code for every event it writes and fails when one
is missing here, so a new event cannot be unfilterable by mistake.
"""

from __future__ import annotations

AUDIT_EVENTS: tuple[str, ...] = (
    # runs and the models they train
    "run_started",
    "run_success",
    "run_failed",
    "run_abandoned",
    "model_registered",
    "compared",
    "decided",
    "challenger_rejected",
    "drift_checked",
    # the champion
    "promoted",
    "rolled_back",
    "promotion_scheduled",
    "promotion_vetoed",
    "promotion_stale",
    # reviews
    "review_requested",
    "review_approval_recorded",
    "review_approved",
    "review_rejected",
    "review_expired",
    "review_superseded",
    # rollouts
    "rollout_started",
    "rollout_advanced",
    "rollout_paused",
    "rollout_resumed",
    "rollout_aborted",
    "rollout_halted",
    "rollout_expired",
    "rollout_promoted",
    "rollout_rolled_back",
    "rollout_decision",
    "rollout_analysed",
    # notifications
    "notification_queued",
    "notification_sent",
    "notification_failed",
    # users and the log itself
    "user_added",
    "user_changed",
    "login",
    "login_failed",
    "logout",
    "audit_signed",
    "audit_witness_started",
    "registry_namespaced",
)


def check_event(name: str, recorded: list[str]) -> str | None:
    """Why ``name`` cannot be an event filter (one line naming the valid ones), or None. An
    event the log holds is always valid (one written by a newer release, say)."""
    if name in AUDIT_EVENTS or name in recorded:
        return None
    return f"Unknown event {name!r}. Events: {', '.join(sorted({*AUDIT_EVENTS, *recorded}))}."
