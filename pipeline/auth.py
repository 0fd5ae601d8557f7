"""Users and sign-in: argon2id password hashes, roles, and a lockout after repeated failures.

The registry stores users and writes the audit rows; this module decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from registry.store import Registry

ROLES = ("viewer", "admin")
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 8
_hasher = PasswordHasher()  # argon2id with the library's current defaults


@dataclass(frozen=True, slots=True)
class SignIn:
    ok: bool
    username: str
    role: str | None
    message: str


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"A password must have at least {MIN_PASSWORD} characters. Got {len(password)}."
        )
    return _hasher.hash(password)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"The role must be one of {', '.join(ROLES)}. Got {role!r} instead.")
    return role


def sign_in(reg: Registry, username: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a password. Unknown user and wrong password get the same message; after
    ``MAX_FAILURES`` failures in a row the account is locked for ``LOCKOUT``."""
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.isoformat()
    wrong = "Wrong username or password."
    try:
        user = reg.get_user(username)
    except LookupError:
        _hasher.hash(password)  # the same cost as a real check: no user enumeration by timing
        reg.record_login(username, ok=False, now=stamp, reason="unknown user")
        return SignIn(False, username, None, wrong)
    if user["disabled"]:
        reg.record_login(username, ok=False, now=stamp, reason="disabled")
        return SignIn(False, username, None, "This account is disabled; ask an admin.")
    if user["locked_until"] and dt.datetime.fromisoformat(user["locked_until"]) > now:
        reg.record_login(username, ok=False, now=stamp, reason="locked")
        return SignIn(
            False,
            username,
            None,
            f"Too many failed attempts: the account is locked until {user['locked_until'][:19]} UTC.",
        )
    try:
        _hasher.verify(user["password_hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        expired_lock = (
            user["locked_until"] is not None
        )  # a lock that has run out starts a new count
        failures = (0 if expired_lock else int(user["failed_attempts"])) + 1
        lock = (now + LOCKOUT).isoformat() if failures >= MAX_FAILURES else None
        reg.record_login(username, ok=False, now=stamp, locked_until=lock, reason="wrong password")
        if lock:
            return SignIn(
                False,
                username,
                None,
                f"Too many failed attempts: the account is locked for {LOCKOUT.seconds // 60} minutes.",
            )
        return SignIn(False, username, None, wrong)
    reg.record_login(username, ok=True, now=stamp)
    return SignIn(True, username, str(user["role"]), f"Signed in as {username} ({user['role']}).")
