"""The outbox: every notification is written in the transaction of the decision it announces
(``_notify``), once per model and key, then sent (or logged) by ``pipeline.notify``'s flush."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from registry import audit
from registry.base import PIPELINE, RegistryBase, _decode, _j, log, plain_notice


class OutboxMixin(RegistryBase):
    # ---------------------------------------------------------------- outbox
    def enqueue(self, **entry: Any) -> tuple[int, bool]:
        """Write a notification before it is sent (the keyword arguments of ``_enqueue``); the
        same key is queued once. Returns (id, newly queued)."""
        with self._tx() as db:
            return self._enqueue(db, **entry)

    def _enqueue(
        self,
        db: Database,
        *,
        key: str,
        event: str,
        recipients: list[str],
        subject: str,
        text: str,
        html: str,
        channel: str,
    ) -> tuple[int, bool]:
        """Inside a write transaction: queue a notification once per key (with its audit row)."""
        existing = self._one("SELECT id FROM outbox WHERE model = ? AND key = ?", [self.model, key])
        if existing:
            return int(existing["id"]), False
        now = audit.utcnow()
        cur = db.execute(
            "INSERT INTO outbox (model, key, event, recipients, subject, text, html, channel, status, "
            "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.model,
                key,
                event,
                _j(recipients),
                subject,
                text,
                html,
                channel,
                "pending" if channel == "smtp" else "logged",
                now,
                now,
            ],
        )
        oid = int(cur.lastrowid or 0)
        self._audit(
            db,
            actor=PIPELINE,
            event="notification_queued",
            entity="notification",
            entity_id=oid,
            details={
                "key": key,
                "event": event,
                "channel": channel,
                "recipients": recipients,
                "subject": subject,
            },
        )
        return oid, True

    def _notify(self, db: Database, event: str, key: str, facts: Mapping[str, Any]) -> None:
        """Inside the decision's transaction: queue its notification (once per key), so a crash
        can never leave a decision without one. The audit head it follows is written into the
        text as an outside witness. A renderer that fails falls back to plain text: a
        notification problem never blocks a decision."""
        facts = dict(facts)
        try:
            entry = (self.notifier or plain_notice)(event, key, facts)
        except Exception as exc:  # a broken template must not block the decision it announces
            log.error("notification %s could not be rendered: %s", key, exc)
            entry = plain_notice(event, key, facts)
        seq, head = self._head()
        if seq:
            line = f"Audit log: event {seq}, head {head}"
            entry = {**entry, "text": f"{entry['text'].rstrip()}\n\n{line}\n"}
            if entry.get("html"):
                entry["html"] = entry["html"].replace(
                    "</body>", f"<p><small>{line}</small></p></body>"
                )
        self._enqueue(db, **entry)

    def due_notifications(self, now: str) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all(
                "SELECT * FROM outbox WHERE status IN ('pending', 'failed') AND next_attempt_at <= ? ORDER BY id",
                [now],
            )
        ]

    def mark_notification(
        self, oid: int, *, sent: bool, error: str | None = None, retry_at: str | None = None
    ) -> None:
        with self._tx() as db:
            row = self._one("SELECT model, status, attempts FROM outbox WHERE id = ?", [oid])
            if row is None or row["status"] == "sent":
                return
            now = audit.utcnow()
            db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, sent_at = ?, "
                "next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                ["sent" if sent else "failed", error, now if sent else None, retry_at, oid],
            )
            audit.append(
                db,
                actor=PIPELINE,
                event="notification_sent" if sent else "notification_failed",
                entity="notification",
                entity_id=oid,
                details={"model": row["model"], "attempt": row["attempts"] + 1, "error": error},
            )

    def outbox(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            _decode(r) or {}
            for r in self._all("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", [limit])
        ]
