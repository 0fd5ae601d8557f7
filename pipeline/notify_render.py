"""What a notification says: its subject, its plain-text and HTML bodies (every name escaped in
HTML, the figures formatted) and the dashboard link it carries (the page, the model, the review).
``pipeline.notify`` queues, sends and flushes them."""

from __future__ import annotations

import html
import urllib.parse
from dataclasses import dataclass
from typing import Any

from pipeline.config import Config

EVENTS = (
    "drift_detected",
    "review_requested",
    "promotion_pending",
    "promoted",
    "rejected",
    "rolled_back",
    "review_expiring",
    "review_expired",
    "review_superseded",
    "review_digest",
    "promotion_vetoed",
    "promotion_stale",
    "rollout_started",
    "rollout_decision",
    "pipeline_failed",
    "test",
)
PAGES = {
    "drift_detected": "drift",
    "review_requested": "reviews",
    "promotion_pending": "reviews",
    "promoted": "models",
    "rejected": "models",
    "rolled_back": "models",
    "review_expiring": "reviews",
    "review_expired": "reviews",
    "promotion_vetoed": "reviews",
    "promotion_stale": "reviews",
    "review_superseded": "reviews",
    "review_digest": "reviews",
    "rollout_started": "rollouts",
    "rollout_decision": "rollouts",
    "pipeline_failed": "",
    "test": "",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    subject: str
    text: str
    html: str


def _pct(x: Any) -> str:
    return "-" if x is None else f"{float(x) * 100:+.2f}%"


def _num(x: Any) -> str:
    return "-" if x is None else f"{float(x):.4g}"


def subject_for(event: str, f: dict[str, Any]) -> str:
    """The subject line: what happened and the one figure that matters."""
    v, m = f.get("version"), f.get("metric") or "metric"
    if event == "drift_detected":
        names = list(f.get("affected") or [])
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        return (
            f"Drift detected: {len(names)} features ({shown})"
            if names
            else "Drift detected: concept drift"
        )
    if event == "review_requested":
        return f"Review requested: version {v} ({_pct(f.get('relative_improvement'))} {m}, p={_num(f.get('p_value'))})"
    if event == "promotion_pending":
        when = f" at {str(f['due_at'])[:16]}" if f.get("due_at") else " now"
        return f"Promotion pending: version {v} replaces version {f.get('previous') or '-'}{when}"
    if event == "promoted":
        if f.get("champion_value") is None:
            return f"Promoted version {v}: first champion ({m} {_num(f.get('challenger_value'))})"
        return (
            f"Promoted version {v}: {m} {_num(f.get('champion_value'))} -> {_num(f.get('challenger_value'))} "
            f"({_pct(f.get('relative_improvement'))})"
        )
    if event == "rejected":
        return (
            f"Rejected version {v}: {m} {_pct(f.get('relative_improvement'))} against the champion"
        )
    if event == "rolled_back":
        return f"Rolled back to version {v} from version {f.get('previous')}"
    if event == "review_expiring":
        return f"Review expiring: version {v} ({_pct(f.get('relative_improvement'))} {m}) expires {str(f.get('expires_at'))[:10]}"
    if event == "review_expired":
        return f"Review {f.get('review_id')} expired: version {v} was not decided in time and stays out"
    if event == "promotion_vetoed":
        return f"Promotion {f.get('promotion')} vetoed: version {v} will not become champion"
    if event == "promotion_stale":
        return (
            f"Promotion {f.get('promotion')} not applied: the champion is version "
            f"{f.get('champion')}, not version {f.get('previous')} as announced"
        )
    if event == "review_superseded":
        return (
            f"Review {f.get('review_id')} superseded: version {f.get('by_version')} replaces "
            f"version {v} in the queue (review {f.get('superseded_by')})"
        )
    if event == "review_digest":
        return f"{f.get('count')} open reviews in {f.get('week')}"
    if event == "rollout_started":  # the champion has not changed: a share of traffic has
        share = f.get("share")
        serves = f"serves {float(share):.0%}" if share is not None else "starts serving"
        return (
            f"Rollout started: version {v} {serves} against champion version {f.get('previous')} "
            f"({f.get('strategy')}, {_pct(f.get('relative_improvement'))} {m}); "
            "not promoted yet"
        )
    if event == "rollout_decision":
        share = f.get("share")
        at = f" at {float(share):.0%}" if share is not None else ""
        return f"Rollout {f.get('rollout_id')}: {f.get('action')} version {v}{at}"
    if event == "pipeline_failed":
        return f"Pipeline failed: {f.get('dag_id', '')} {f.get('task_id') or ''}".rstrip()
    if event == "test":
        return "Test notification"
    return f"{event.replace('_', ' ').capitalize()}: {f.get('summary', '')}".rstrip(": ")


_LABELS = {
    "version": "Version",
    "previous": "Previous champion",
    "metric": "Metric",
    "champion_value": "Champion",
    "challenger_value": "Challenger",
    "relative_improvement": "Improvement",
    "p_value": "p-value",
    "baseline": "Naive baseline",
    "baseline_value": "Baseline",
    "baseline_improvement": "Improvement over the baseline",
    "baseline_p_value": "p-value over the baseline",
    "bootstrap_groups": "Bootstrap unit",
    "effective_n": "Effective holdout size",
    "unlabelled_holdout": "Unlabelled holdout rows left out",
    "affected": "Affected features",
    "drift_type": "Drift type",
    "drift_score": "Drift score",
    "recommendation": "Recommendation",
    "reasons": "Reasons",
    "error": "Error",
    "by": "By",
    "reason": "Reason",
    "as_of": "As of",
    "run_id": "Run",
    "dag_id": "DAG",
    "task_id": "Task",
    "expires_at": "Expires",
    "due_at": "Applies at",
    "promotion_id": "Veto with",
    "rollout_id": "Rollout",
    "action": "Action",
    "share": "Challenger share",
    "strategy": "Strategy",
    "review_id": "Review",
    "promotion": "Announced promotion",
    "champion": "Champion now",
    "superseded_by": "Superseded by review",
    "by_version": "Newer challenger",
    "reviews": "Open reviews",
    "guardrails": "Guardrails broken",
    "decision_id": "Evidence",
}


def _value(key: str, value: Any) -> str:
    if key in ("relative_improvement", "baseline_improvement"):
        return _pct(value)
    if key == "effective_n":
        return f"{value:,.0f}"
    if key == "promotion_id":
        return f"modelgate veto {value} --by NAME --reason TEXT"
    if key == "decision_id":
        return f"modelgate decisions show {value}"
    if key == "guardrails":
        return "; ".join(map(str, value))
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def render(cfg: Config, event: str, facts: dict[str, Any]) -> Rendered:
    """Subject, plain-text and HTML bodies with the key figures, the run id and a dashboard link."""
    subject = f"[ModelGate] {subject_for(event, facts)}"
    link = cfg.dashboard_url.rstrip("/") + ("/" + PAGES.get(event, "") if PAGES.get(event) else "")
    rows = [
        (_LABELS[k], _value(k, facts[k]))
        for k in _LABELS
        if k in facts and facts[k] not in (None, "", [])
    ]
    query: dict[str, Any] = {}
    if cfg.model != "default":  # a fleet: say which model, and open the dashboard on it
        subject = f"[ModelGate {cfg.model}] {subject_for(event, facts)}"
        query["model"] = cfg.model
        rows.insert(0, ("Model", cfg.model))
    if PAGES.get(event) == "reviews" and isinstance(facts.get("review_id"), int):
        query["review"] = facts["review_id"]  # the review's own page, with its evidence
    if query:
        link += "?" + urllib.parse.urlencode(query)
    text = "\n".join(
        [
            subject.split("] ", 1)[1],
            "",
            *(f"{k}: {v}" for k, v in rows),
            "",
            f"Open the dashboard: {link}",
            "",
        ]
    )
    cells = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    body = (
        f"<html><body><h2>{html.escape(subject.split('] ', 1)[1])}</h2>"
        f"<table cellpadding='4'>{cells}</table>"
        f"<p><a href='{html.escape(link)}'>Open the dashboard</a></p></body></html>"
    )
    return Rendered(subject=subject, text=text, html=body)
