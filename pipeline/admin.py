"""What an admin can do, with the role checked on the server side on every call.

The dashboard calls these with the signed-in username from its session; each call re-reads the
user from the registry, so a viewer (or a disabled account, or a forged session) cannot write even
if a page shows a button it should not. The CLI, which is trusted with the registry file, calls the
``decide_*`` / ``do_*`` halves directly. Both send the same notifications.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline import auth
from pipeline.errors import ConfigError, Forbidden, NotFound
from pipeline.notify import deliver

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.reports import Champion, Review
    from registry.store import Registry


def require(reg: Registry, username: str | None, role: str = "admin") -> dict[str, Any]:
    """The user's current record if they exist, are enabled and hold ``role`` (admin ⊇ viewer)."""
    if not username:
        raise Forbidden("Sign in first.")
    try:
        user = reg.get_user(username)
    except NotFound:
        raise Forbidden(f"User {username!r} does not exist.") from None
    if user["disabled"]:
        raise Forbidden(f"The account {username!r} is disabled.")
    if role == "admin" and user["role"] != "admin":
        raise Forbidden(f"Only admins can do this; {username!r} is a {user['role']}.")
    return user


# ----------------------------------------------------------------------------- reviews
def decide_approval(
    cfg: Config, reg: Registry, *, by: str, review_id: int, reason: str, as_admin: bool = False
) -> Review:
    """Record an approval; when it is the deciding one the challenger is promoted and announced
    in the same transaction."""
    review = reg.approve(
        review_id, by=by, reason=reason, required=cfg.approvals_required, as_admin=as_admin
    )
    deliver(cfg, reg)  # announced in the approval's transaction
    return review


def approve_review(
    cfg: Config, reg: Registry, *, username: str | None, review_id: int, reason: str
) -> Review:
    require(reg, username)
    assert username is not None
    return decide_approval(cfg, reg, by=username, review_id=review_id, reason=reason, as_admin=True)


def decide_rejection(
    cfg: Config, reg: Registry, *, by: str, review_id: int, reason: str, as_admin: bool = False
) -> Review:
    review = reg.reject_review(review_id, by=by, reason=reason, as_admin=as_admin)
    deliver(cfg, reg)  # announced in the rejection's transaction
    return review


def reject_review(
    cfg: Config, reg: Registry, *, username: str | None, review_id: int, reason: str
) -> Review:
    require(reg, username)
    assert username is not None
    return decide_rejection(
        cfg, reg, by=username, review_id=review_id, reason=reason, as_admin=True
    )


# ----------------------------------------------------------------------------- champion
def do_rollback(
    cfg: Config,
    reg: Registry,
    *,
    by: str,
    reason: str,
    to_version: int | None = None,
    expected_champion: int | None = None,
    as_admin: bool = False,
) -> tuple[Champion, int]:
    """Compare-and-set: the champion it replaces is the one given, else the one read now, so a
    second concurrent rollback gets Conflict instead of toggling back. Announced in the same
    transaction. Returns the new champion and the version it replaced."""
    if expected_champion is None:
        current = reg.current_champion()
        expected_champion = current.version if current else None
    champ, previous = reg.rollback(
        by=by,
        reason=reason,
        to_version=to_version,
        expected_champion=expected_champion,
        as_admin=as_admin,
    )
    deliver(cfg, reg)
    return champ, previous


def rollback(
    cfg: Config,
    reg: Registry,
    *,
    username: str | None,
    reason: str,
    to_version: int | None,
    expected_champion: int | None,
) -> tuple[Champion, int]:
    require(reg, username)
    assert username is not None
    return do_rollback(
        cfg,
        reg,
        by=username,
        reason=reason,
        to_version=to_version,
        expected_champion=expected_champion,
        as_admin=True,
    )


def decide_veto(
    cfg: Config, reg: Registry, *, by: str, promotion_id: int, reason: str, as_admin: bool = False
) -> dict[str, Any]:
    row = reg.veto_promotion(promotion_id, by=by, reason=reason, as_admin=as_admin)
    deliver(cfg, reg)  # announced in the veto's transaction
    return row


def veto(
    cfg: Config, reg: Registry, *, username: str | None, promotion_id: int, reason: str
) -> dict[str, Any]:
    require(reg, username)
    assert username is not None
    return decide_veto(
        cfg, reg, by=username, promotion_id=promotion_id, reason=reason, as_admin=True
    )


# ----------------------------------------------------------------------------- rollouts
ROLLOUT_CONTROLS = {
    # action: (expected statuses, event kind, new status, new share: None keeps it)
    "pause": (("active",), "paused", "paused", None),
    "resume": (("paused",), "resumed", "active", None),
    "abort": (("active", "paused"), "aborted", "aborted", 0.0),
    "promote": (("active", "paused"), "promoted", "promoted", 1.0),
    "rollback": (("active", "paused"), "rolled_back", "rolled_back", 0.0),
}


def do_rollout_control(
    cfg: Config,
    reg: Registry,
    *,
    by: str,
    rollout_id: int,
    action: str,
    reason: str,
    as_admin: bool = False,
) -> dict[str, Any]:
    """Pause, resume, abort, or force-finish (promote / roll back) a rollout; compare-and-set on
    its status, the champion compare-and-set for a promotion. Notifies."""
    if action not in ROLLOUT_CONTROLS:
        raise ConfigError(
            f"The rollout action must be one of {', '.join(ROLLOUT_CONTROLS)}. Got {action!r}."
        )
    if not by.strip() or not reason.strip():
        raise ConfigError(f"To {action} a rollout give --by and a --reason.")
    expect, kind, status, share = ROLLOUT_CONTROLS[action]
    last_step = len(reg.get_rollout(rollout_id)["plan"]["steps"]) - 1
    row = reg.transition_rollout(
        rollout_id,
        kind=kind,
        actor=by,
        reason=reason,
        at=reg.effective_now(),
        expect_status=expect,
        status=status,
        step_index=last_step if action == "promote" else None,
        share=share,
        as_admin=as_admin,
        action=action,
    )
    deliver(cfg, reg)  # announced in the transition's transaction
    return row


def rollout_control(
    cfg: Config,
    reg: Registry,
    *,
    username: str | None,
    rollout_id: int,
    action: str,
    reason: str,
) -> dict[str, Any]:
    require(reg, username)
    assert username is not None
    return do_rollout_control(
        cfg, reg, by=username, rollout_id=rollout_id, action=action, reason=reason, as_admin=True
    )


# ----------------------------------------------------------------------------- users
def add_user(
    reg: Registry, *, username: str | None, name: str, role: str, password: str
) -> dict[str, Any]:
    require(reg, username)
    assert username is not None
    return reg.add_user(
        username=auth.check_username(name),
        password_hash=auth.hash_password(password),
        role=auth.check_role(role),
        by=username,
        as_admin=True,
    )


def change_user(
    reg: Registry,
    *,
    username: str | None,
    name: str,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> dict[str, Any]:
    """Set a role, reset a password (also lifts a lockout) or disable/enable an account. An admin
    cannot demote or disable themself (the last way back in would be the CLI)."""
    require(reg, username)
    if name == username and (role == "viewer" or disabled):
        raise Forbidden("You cannot demote or disable your own account; ask another admin.")
    return reg.update_user(
        name,
        by=str(username),
        role=auth.check_role(role) if role is not None else None,
        password_hash=auth.hash_password(password) if password is not None else None,
        disabled=disabled,
        as_admin=True,
    )
