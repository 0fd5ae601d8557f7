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


WRONG = "Wrong username or password."
CANNOT = "Cannot sign in; ask an admin."
_dummy: list[str] = []  # a hash to verify against for unknown users, made once per process


def _check(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash("modelgate: not a real account"))
    return _dummy[0]


def sign_in(reg: Registry, username: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a password. Unknown user, wrong password, disabled and locked accounts answer with
    the same message at the same cost (one argon2 verification each: against a dummy hash for an
    unknown user or a locked account), so neither the answer nor its timing tells which accounts
    exist or what state they are in. Only the correct password of a disabled account learns
    ``CANNOT``; a locked account answers ``WRONG`` to every password until the lock runs out, so
    the lock is no password oracle. After ``MAX_FAILURES`` failures in a row the account is
    locked for ``LOCKOUT``; every attempt is audited with its true reason."""
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.isoformat()
    username = normalise_username(username)
    try:
        user = reg.get_user(username)
    except LookupError:
        _check(_dummy_hash(), password)
        reg.record_login(username, ok=False, now=stamp, reason="unknown user")
        return SignIn(False, username, None, WRONG)
    if user["disabled"]:
        right = _check(user["password_hash"], password)
        reason = "disabled" if right else "disabled, wrong password"
        reg.record_login(username, ok=False, now=stamp, reason=reason, count=False)
        return SignIn(False, username, None, CANNOT if right else WRONG)
    lock = (now + LOCKOUT).isoformat()
    slot = reg.reserve_login_attempt(
        username, now=stamp, max_failures=MAX_FAILURES, lock_until=lock
    )
    if slot is None or slot["state"] == "locked":
        _check(_dummy_hash(), password)
        reg.record_login(username, ok=False, now=stamp, reason="locked", count=False)
        return SignIn(False, username, None, WRONG)
    if not _check(user["password_hash"], password):
        reason = "wrong password" + ("; account locked" if slot["locked_until"] else "")
        reg.record_login(username, ok=False, now=stamp, reason=reason, count=False)
        return SignIn(False, username, None, WRONG)
    reg.record_login(username, ok=True, now=stamp)
    return SignIn(True, username, str(user["role"]), f"Signed in as {username} ({user['role']}).")
