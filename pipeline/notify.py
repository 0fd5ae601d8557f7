"""Notifications. For now every event is a structured log line; email delivery comes later."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("modelgate.notify")


def notify(event: str, subject: str, **details: Any) -> dict[str, Any]:
    """Emit one notification as a structured log line and return what was sent."""
    record = {"event": event, "subject": f"[ModelGate] {subject}", **details}
    log.info("notification %s", json.dumps(record, sort_keys=True, default=str))
    return record
