"""What every run does first, in its logical time: deliver, apply due promotions, expire reviews.

Called by the retraining loop and by the drift monitor before their own work.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.notify import deliver, flush, notify

if TYPE_CHECKING:  # the registry is passed in; pipeline never imports it at run time
    from registry.store import Registry

REVIEW_WARNING = dt.timedelta(days=2)


def housekeeping(cfg: Config, reg: Registry, as_of: dt.datetime) -> list[int]:
    """What every run does first, in its logical time: retry undelivered notifications, apply
    promotions whose notice passed, expire stale reviews and warn of those about to expire, and
    (with ``review_digest``) send the week's digest of open reviews. Returns the ids of the
    reviews it expired."""
    if cfg.smtp_host:
        flush(cfg, reg)
    apply_due_promotions(cfg, reg, as_of)
    expired = reg.expire_reviews(as_of)  # each expiry announced in its transaction
    for review in reg.reviews("pending"):
        if dt.datetime.fromisoformat(review.expires_at) <= as_of + REVIEW_WARNING:
            notify(
                cfg,
                reg,
                "review_expiring",
                key=f"review_expiring:{review.id}",
                expires_at=review.expires_at,
                **reg.review_facts(review),
            )
    if cfg.review_digest:
        review_digest(cfg, reg, as_of)
    return expired


def review_digest(cfg: Config, reg: Registry, as_of: dt.datetime) -> None:
    """One mail a week (keyed by the ISO week of ``as_of``) listing every open review; none in a
    week without open reviews."""
    pending = reg.reviews("pending")
    if not pending:
        return
    year, week, _ = as_of.isocalendar()
    lines = []
    for review in pending:
        facts = reg.review_facts(review)
        gain = facts.get("relative_improvement")
        lines.append(
            f"review {review.id}: version {review.challenger_version} vs v{review.expected_champion}"
            + (f" ({float(gain):+.2%} {facts.get('metric')})" if gain is not None else "")
            + f", expires {review.expires_at[:10]}"
        )
    notify(
        cfg,
        reg,
        "review_digest",
        key=f"review_digest:{year}-W{week:02d}",
        count=len(pending),
        week=f"{year}-W{week:02d}",
        reviews=lines,
    )


def apply_due_promotions(cfg: Config, reg: Registry, as_of: dt.datetime) -> list[int]:
    """Apply announced promotions whose notice has passed (at the run's logical time); each
    champion change is announced in its own transaction."""
    applied = [
        int(row["version"])
        for row in reg.apply_due_promotions(as_of.isoformat())
        if row["status"] == "applied"
    ]
    deliver(cfg, reg)
    return applied
