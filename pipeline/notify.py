"""Notifications: every event is a structured log line, and with SMTP settings an email too.

A notification is written to the registry's outbox first (keyed by event and run, so a retried
task queues it once), then sent. A failed send is kept and retried by later runs with backoff; it
never fails the pipeline. Without ``smtp_host`` the outbox records it as ``logged``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ModelGateError

if TYPE_CHECKING:
    from registry.store import Registry

log = logging.getLogger("modelgate.notify")

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
MAX_BACKOFF = 6 * 3600.0


class NotificationError(ModelGateError):
    """An email could not be delivered; the message says which server and why, in one line."""


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


def recipients(cfg: Config) -> list[str]:
    return list(cfg.notify_to or ())


def send_email(cfg: Config, *, subject: str, text: str, html_body: str, to: list[str]) -> None:
    """Deliver one email over SMTP (implicit TLS or STARTTLS, optional login)."""
    if not cfg.smtp_host:
        raise NotificationError(
            "No SMTP server configured (MODELGATE_SMTP_HOST); notifications go to the log."
        )
    if not to:
        raise NotificationError("No recipients configured (MODELGATE_NOTIFY_TO).")
    msg = EmailMessage(policy=email_policy.default.clone(max_line_length=998))  # no folded subjects
    msg["Subject"], msg["From"], msg["To"] = subject, cfg.smtp_from, ", ".join(to)
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    where = f"{cfg.smtp_host}:{cfg.smtp_port}"
    context = ssl.create_default_context(cafile=str(cfg.smtp_ca_file) if cfg.smtp_ca_file else None)
    try:
        if cfg.smtp_ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_seconds, context=context
            )
        else:
            server = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_seconds)
        with server:
            if cfg.smtp_starttls and not cfg.smtp_ssl:
                server.starttls(context=context)
            if cfg.smtp_user:
                server.login(cfg.smtp_user, cfg.smtp_password or "")
            server.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotificationError(
            f"SMTP login as {cfg.smtp_user!r} refused by {where}: {exc.smtp_code} "
            f"{_decode(exc.smtp_error)}"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise NotificationError(
            f"{where} does not offer STARTTLS; set MODELGATE_SMTP_STARTTLS=false or "
            f"MODELGATE_SMTP_SSL=true ({exc})"
        ) from exc
    except ssl.SSLError as exc:
        raise NotificationError(f"TLS with {where} failed: {exc.reason or exc}") from exc
    except smtplib.SMTPResponseException as exc:
        raise NotificationError(
            f"{where} refused the message: {exc.smtp_code} {_decode(exc.smtp_error)}"
        ) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise NotificationError(f"Cannot deliver through {where}: {exc}") from exc


def _decode(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def outbox_entry(cfg: Config, event: str, *, key: str, **facts: Any) -> dict[str, Any]:
    """What the registry queues for a notification it writes in the same transaction as the
    decision it announces (the keyword arguments of its ``_enqueue``); logged here."""
    rendered = render(cfg, event, facts)
    channel = "smtp" if cfg.smtp_host and recipients(cfg) else "log"
    log.info(
        "notification %s",
        json.dumps(
            {"event": event, "key": key, "subject": rendered.subject, "channel": channel, **facts},
            sort_keys=True,
            default=str,
        ),
    )
    return {
        "key": key,
        "event": event,
        "recipients": recipients(cfg),
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "channel": channel,
    }


def notify(
    cfg: Config, reg: Registry | None, event: str, *, key: str, **facts: Any
) -> dict[str, Any]:
    """Log the event, queue it in the outbox (once per key) and try to deliver what is due.

    Never raises: a notification problem must not fail the pipeline."""
    entry = outbox_entry(cfg, event, key=key, **facts)
    record = {"event": event, "key": key, "subject": entry["subject"], "channel": entry["channel"]}
    if reg is None:
        return {**record, **facts}
    try:
        reg.enqueue(**entry)
        if entry["channel"] == "smtp":
            flush(cfg, reg)
    except Exception as exc:
        log.error("notification %s could not be queued or sent: %s", key, exc)
    return {**record, **facts}


def deliver(cfg: Config, reg: Registry) -> None:
    """After a decision committed (its notification queued in the same transaction): try to
    send what is due. Never raises; what fails stays queued for the next run."""
    if not cfg.smtp_host:
        return
    try:
        flush(cfg, reg)
    except Exception as exc:
        log.error("notifications could not be sent: %s", exc)


def flush(cfg: Config, reg: Registry, now: dt.datetime | None = None) -> dict[str, int]:
    """Send every due outbox entry; failures are kept with their error and a later retry time."""
    now = now or dt.datetime.now(dt.UTC)
    sent = failed = 0
    for item in reg.due_notifications(now.isoformat(timespec="microseconds")):
        try:
            send_email(
                cfg,
                subject=item["subject"],
                text=item["text"],
                html_body=item["html"],
                to=item["recipients"] or recipients(cfg),
            )
        except NotificationError as exc:
            delay = min(cfg.notify_retry_base_seconds * 2 ** item["attempts"], MAX_BACKOFF)
            retry = (now + dt.timedelta(seconds=delay)).isoformat(timespec="microseconds")
            reg.mark_notification(item["id"], sent=False, error=str(exc), retry_at=retry)
            log.warning(
                "notification %s not delivered (attempt %d): %s",
                item["key"],
                item["attempts"] + 1,
                exc,
            )
            failed += 1
        else:
            reg.mark_notification(item["id"], sent=True)
            sent += 1
    return {"sent": sent, "failed": failed}


def destination(cfg: Config) -> str:
    """Where notifications go, in one sentence (printed by init and up)."""
    if not cfg.smtp_host:
        return (
            "Notifications: log only (set MODELGATE_SMTP_HOST and MODELGATE_NOTIFY_TO for email)."
        )
    to = ", ".join(recipients(cfg)) or "nobody (set MODELGATE_NOTIFY_TO)"
    mode = "implicit TLS" if cfg.smtp_ssl else ("STARTTLS" if cfg.smtp_starttls else "no TLS")
    return (
        f"Notifications: email via {cfg.smtp_host}:{cfg.smtp_port} ({mode}) to {to}, and the log."
    )
