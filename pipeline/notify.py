"""Notifications: every event is a structured log line, and with SMTP settings an email too.

A notification is written to the registry's outbox first (keyed by event and run, so a retried
task queues it once), then sent. A failed send is kept and retried by later runs with backoff; it
never fails the pipeline. Without ``smtp_host`` the outbox records it as ``logged``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import ssl
from email import policy as email_policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ModelGateError
from pipeline.notify_render import EVENTS, PAGES, Rendered, render, subject_for

if TYPE_CHECKING:
    from registry.store import Registry

log = logging.getLogger("modelgate.notify")
__all__ = [
    "EVENTS",
    "PAGES",
    "Rendered",
    "render",
    "subject_for",
]  # the rendering's home is notify_render

MAX_BACKOFF = 6 * 3600.0


class NotificationError(ModelGateError):
    """An email could not be delivered; the message says which server and why, in one line."""


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
