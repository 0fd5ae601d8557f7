"""Dashboard accounts, sign-in attempts and lockouts."""

from __future__ import annotations

from typing import Any

from pipeline.errors import Conflict, NotFound
from registry import audit
from registry.base import RegistryBase


class UsersMixin(RegistryBase):
    # ---------------------------------------------------------------- users
    def add_user(
        self, *, username: str, password_hash: str, role: str, by: str, as_admin: bool = False
    ) -> dict[str, Any]:
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            if self._one("SELECT 1 FROM users WHERE lower(username) = lower(?)", [username]):
                raise Conflict(f"User {username!r} already exists.")
            now = audit.utcnow()
            db.execute(
                "INSERT INTO users (username, password_hash, role, created_at, updated_at, created_by, "
                "role_set_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [username, password_hash, role, now, now, by, by],
            )
            audit.append(
                db,
                actor=by,
                event="user_added",
                entity="user",
                entity_id=username,
                details={"role": role, "effective_at": self.effective_now()},
            )
        return self.get_user(username)

    def get_user(self, username: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM users WHERE username = ?", [username])
        if row is None:
            raise NotFound(f"User {username!r} does not exist.")
        return row

    def users(self) -> list[dict[str, Any]]:
        return self._all(
            "SELECT username, role, disabled, failed_attempts, locked_until, created_at, updated_at "
            "FROM users ORDER BY username"
        )

    def update_user(
        self,
        username: str,
        *,
        by: str,
        role: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]:
        """Change a user's role, password or disabled flag (a new password also lifts a lockout).
        From the dashboard (``as_admin``), refused when it would leave no enabled admin."""
        count = "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0"
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            self.get_user(username)
            before = self._one(count) or {"n": 0}
            changes: dict[str, Any] = {}
            if role is not None:
                changes.update(role=role, role_set_by=by)
            if disabled is not None:
                changes["disabled"] = int(disabled)
            if password_hash is not None:  # a new password also lifts a lockout
                changes.update(password_hash=password_hash, failed_attempts=0, locked_until=None)
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            db.execute(
                f"UPDATE users SET {sets}, updated_at = :now WHERE username = :username",
                {**changes, "now": audit.utcnow(), "username": username},
            )
            after = self._one(count) or {"n": 0}
            if as_admin and before["n"] > 0 and after["n"] == 0:  # the CLI may, to recover
                raise Conflict(
                    f"This change to {username!r} would leave no enabled admin; nothing changed."
                )
            audit.append(
                db,
                actor=by,
                event="user_changed",
                entity="user",
                entity_id=username,
                details={
                    k: ("***" if k == "password_hash" else v)
                    for k, v in changes.items()
                    if k != "role_set_by"
                },
            )
        return self.get_user(username)

    def reserve_login_attempt(
        self, username: str, *, now: str, max_failures: int, lock_until: str
    ) -> dict[str, Any] | None:
        """Before a password is checked: in one transaction, refuse a locked account ('locked'),
        or count the attempt as a failure in advance and lock the account when it is the
        ``max_failures``-th ('reserved'); a successful check resets the count. So parallel guesses
        get at most ``max_failures`` checks. None for an unknown user."""
        with self._tx() as db:
            user = self._one("SELECT * FROM users WHERE username = ?", [username])
            if user is None:
                return None
            lock = user["locked_until"]
            if lock is not None and lock > now:
                return {**user, "state": "locked"}
            failures = (0 if lock is not None else int(user["failed_attempts"])) + 1
            new_lock = lock_until if failures >= max_failures else None
            db.execute(
                "UPDATE users SET failed_attempts = ?, locked_until = ? WHERE username = ?",
                [failures, new_lock, username],
            )
            return {
                **user,
                "state": "reserved",
                "failed_attempts": failures,
                "locked_until": new_lock,
            }

    def record_login(
        self,
        username: str,
        *,
        ok: bool,
        now: str,
        locked_until: str | None = None,
        reason: str = "",
        count: bool = True,
    ) -> None:
        """One audit row per login or failed login; failures count towards a lockout (unless
        ``count`` is False: the attempt was already counted by ``reserve_login_attempt``)."""
        with self._tx() as db:
            if (ok or count) and self._one("SELECT 1 FROM users WHERE username = ?", [username]):
                if ok:
                    db.execute(
                        "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE username = ?",
                        [username],
                    )
                else:
                    # A lock that has run out is cleared: the count starts again from this failure.
                    db.execute(
                        "UPDATE users SET failed_attempts = CASE WHEN locked_until IS NOT NULL AND "
                        "locked_until <= ? THEN 1 ELSE failed_attempts + 1 END, "
                        "locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= ? THEN ? "
                        "ELSE COALESCE(?, locked_until) END WHERE username = ?",
                        [now, now, locked_until, locked_until, username],
                    )
            audit.append(
                db,
                actor=username,
                event="login" if ok else "login_failed",
                entity="user",
                entity_id=username,
                details={
                    "effective_at": self.effective_now(),
                    **({"reason": reason} if reason else {}),
                },
            )

    def record_logout(self, username: str) -> None:
        with self._tx() as db:
            audit.append(
                db,
                actor=username,
                event="logout",
                entity="user",
                entity_id=username,
                details={"effective_at": self.effective_now()},
            )
