"""The dashboard's writes, free of Streamlit so that tests (and 20 threads at once) can run the
exact code path a button runs. Each opens its own registry connection, lets ``pipeline.admin``
re-check the user's role, and turns a refusal into a message instead of an exception."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline import admin
from pipeline.config import Config
from pipeline.errors import Conflict, ModelGateError
from registry import Registry


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    message: str
    level: str  # success | info | warning | error


def _run(cfg: Config, call: Callable[[Registry], Any], done: Callable[[Any], str]) -> Outcome:
    try:
        with Registry.open(cfg) as reg:
            result = call(reg)
    except admin.Forbidden as exc:
        return Outcome(False, f"Not allowed: {exc}", "error")
    except Conflict as exc:
        return Outcome(False, str(exc), "warning")
    except ModelGateError as exc:
        return Outcome(False, str(exc), "error")
    message = done(result)
    return Outcome(True, message, "info" if message.startswith("Recorded") else "success")


def approve(cfg: Config, username: str | None, review_id: int, reason: str) -> Outcome:
    def done(review: Any) -> str:
        if review.status == "pending":
            return (
                f"Recorded your approval of review {review_id}; it needs "
                f"{cfg.approvals_required} approvals from different admins."
            )
        return (
            f"Approved review {review_id}: version {review.challenger_version} is now the champion."
        )

    return _run(
        cfg,
        lambda reg: admin.approve_review(
            cfg, reg, username=username, review_id=review_id, reason=reason
        ),
        done,
    )


def reject(cfg: Config, username: str | None, review_id: int, reason: str) -> Outcome:
    return _run(
        cfg,
        lambda reg: admin.reject_review(
            cfg, reg, username=username, review_id=review_id, reason=reason
        ),
        lambda r: f"Rejected review {review_id}: version {r.challenger_version} stays out.",
    )


def rollback(
    cfg: Config, username: str | None, to_version: int, expected_champion: int, reason: str
) -> Outcome:
    return _run(
        cfg,
        lambda reg: admin.rollback(
            cfg,
            reg,
            username=username,
            reason=reason,
            to_version=to_version,
            expected_champion=expected_champion,
        ),
        lambda r: f"Rolled back: version {r[0].version} is the champion (was v{r[1]}).",
    )


def veto(cfg: Config, username: str | None, promotion_id: int, reason: str) -> Outcome:
    return _run(
        cfg,
        lambda reg: admin.veto(
            cfg, reg, username=username, promotion_id=promotion_id, reason=reason
        ),
        lambda row: f"Vetoed: version {row['version']} will not become champion.",
    )


def add_user(cfg: Config, username: str | None, name: str, role: str, password: str) -> Outcome:
    return _run(
        cfg,
        lambda reg: admin.add_user(reg, username=username, name=name, role=role, password=password),
        lambda u: f"Added {u['username']} ({u['role']}).",
    )


def change_user(cfg: Config, username: str | None, name: str, **change: Any) -> Outcome:
    what = ", ".join(
        {"role": "role set", "password": "password reset", "disabled": "account updated"}[k]
        for k in change
    )
    return _run(
        cfg,
        lambda reg: admin.change_user(reg, username=username, name=name, **change),
        lambda u: f"{u['username']}: {what}.",
    )


def rollout_control(
    cfg: Config, username: str | None, rollout_id: int, action: str, reason: str
) -> Outcome:
    return _run(
        cfg,
        lambda reg: admin.rollout_control(
            cfg, reg, username=username, rollout_id=rollout_id, action=action, reason=reason
        ),
        lambda r: f"Rollout {rollout_id}: {r['status']}, challenger share {r['share']:.0%}.",
    )
