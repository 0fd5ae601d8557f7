"""Users and sign-in: argon2id password hashes, roles, and a lockout after repeated failures.

The registry stores users and writes the audit rows; this module decides.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
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


USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


def normalise_username(name: str) -> str:
    """Usernames compare case- and width-insensitively: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def check_username(name: str) -> str:
    """A new account's name, normalised; refused unless it is 1-64 of a-z 0-9 . _ @ -
    (so 'Ada' and 'ada' cannot be two accounts)."""
    normal = normalise_username(name)
    if not USERNAME.fullmatch(normal):
        raise ConfigError(
            f"A username is 1 to 64 of a-z, 0-9 and . _ @ - (starting with a letter or digit). "
            f"Got {name!r}."
        )
    return normal


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"The role must be one of {', '.join(ROLES)}. Got {role!r} instead.")
    return role


def sign_in(reg: Registry, username: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a password. Unknown user and wrong password get the same message; after
    ``MAX_FAILURES`` failures in a row the account is locked for ``LOCKOUT``."""
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.isoformat()
    username = normalise_username(username)
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
    lock = (now + LOCKOUT).isoformat()
    slot = reg.reserve_login_attempt(
        username, now=stamp, max_failures=MAX_FAILURES, lock_until=lock
    )
    if slot is None or slot["state"] == "locked":
        until = (slot or user)["locked_until"] or lock
        reg.record_login(username, ok=False, now=stamp, reason="locked", count=False)
        return SignIn(
            False,
            username,
            None,
            f"Too many failed attempts: the account is locked until {until[:19]} UTC.",
        )
    try:
        _hasher.verify(user["password_hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        reg.record_login(username, ok=False, now=stamp, reason="wrong password", count=False)
        if slot["locked_until"]:
            return SignIn(
                False,
                username,
                None,
                f"Too many failed attempts: the account is locked for {LOCKOUT.seconds // 60} minutes.",
            )
        return SignIn(False, username, None, wrong)
    reg.record_login(username, ok=True, now=stamp)
    return SignIn(True, username, str(user["role"]), f"Signed in as {username} ({user['role']}).")
