"""Users and sign-in: argon2id hashes, roles, lockout after 5 failures for 15 minutes, audit rows."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest

from pipeline import auth, cli
from pipeline.errors import ConfigError, Conflict
from tests.conftest import make_env

T0 = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def alice(registry):
    registry.add_user(
        username="alice", password_hash=auth.hash_password("correct horse"), role="admin", by="t"
    )
    return registry


def test_hashes_are_argon2id_and_never_the_password(alice):
    stored = alice.get_user("alice")["password_hash"]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    with pytest.raises(ConfigError, match="at least 8 characters"):
        auth.hash_password("short")
    with pytest.raises(ConfigError, match="one of viewer, admin"):
        auth.check_role("root")
    with pytest.raises(Conflict, match="already exists"):
        alice.add_user(username="alice", password_hash="x", role="viewer", by="t")


def test_sign_in_and_the_audit_trail(alice):
    ok = auth.sign_in(alice, "alice", "correct horse", now=T0)
    assert ok.ok and ok.role == "admin"
    bad = auth.sign_in(alice, "alice", "wrong", now=T0)
    ghost = auth.sign_in(alice, "mallory", "whatever", now=T0)
    assert (
        not bad.ok
        and not ghost.ok
        and bad.message == ghost.message == "Wrong username or password."
    )
    alice.record_logout("alice")
    events = [e["event"] for e in reversed(alice.audit_log(limit=4))]
    assert events == ["login", "login_failed", "login_failed", "logout"]


def test_five_failures_lock_the_account_for_fifteen_minutes(alice):
    for i in range(4):
        assert auth.sign_in(
            alice, "alice", "nope", now=T0 + dt.timedelta(seconds=i)
        ).message.startswith("Wrong")
    fifth = auth.sign_in(alice, "alice", "nope", now=T0 + dt.timedelta(seconds=5))
    assert fifth.message == auth.WRONG  # the lock says nothing: unknown names get the same
    locked = auth.sign_in(alice, "alice", "correct horse", now=T0 + dt.timedelta(minutes=14))
    assert not locked.ok and locked.message == auth.WRONG  # not even to the right password
    reasons = [e["details"]["reason"] for e in alice.audit_log(event="login_failed", limit=2)]
    assert reasons == ["locked", "wrong password; account locked"]  # the audit tells the truth
    later = auth.sign_in(alice, "alice", "correct horse", now=T0 + dt.timedelta(minutes=16))
    assert later.ok and alice.get_user("alice")["failed_attempts"] == 0


def test_one_failure_after_a_lock_runs_out_does_not_lock_again(alice):
    for i in range(5):
        auth.sign_in(alice, "alice", "nope", now=T0 + dt.timedelta(seconds=i))
    again = auth.sign_in(alice, "alice", "nope", now=T0 + dt.timedelta(minutes=20))
    assert again.message == "Wrong username or password."
    assert auth.sign_in(alice, "alice", "correct horse", now=T0 + dt.timedelta(minutes=21)).ok


def test_disabled_accounts_and_password_resets(alice):
    alice.update_user("alice", by="root", disabled=True)
    assert auth.sign_in(alice, "alice", "wrong password", now=T0).message == auth.WRONG
    # Only the right password learns that it cannot be used, and not why.
    assert auth.sign_in(alice, "alice", "correct horse", now=T0).message == auth.CANNOT
    alice.update_user(
        "alice",
        by="root",
        disabled=False,
        password_hash=auth.hash_password("new password"),
        role="viewer",
    )
    result = auth.sign_in(alice, "alice", "new password", now=T0)
    assert result.ok and result.role == "viewer"
    changed = alice.audit_log(event="user_changed")[0]["details"]
    assert changed["password_hash"] == "***"


def test_users_from_the_command_line(home, registry, monkeypatch, capsys):
    for k, v in {**make_env(home), "MODELGATE_CONFIG": os.devnull}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert cli.main(["users", "add", "bob", "--role", "admin", "--password-stdin"]) == 0
    assert "Added user bob (admin)." in capsys.readouterr().out
    assert auth.sign_in(registry, "bob", "s3cret-pass", now=T0).ok
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "carol", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert cli.main(["users", "add", "dave", "--role", "root", "--password-stdin"]) == 2
    assert cli.main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "bob" in out and "admin" in out and "carol" not in out and "$argon2" not in out


def test_parallel_guesses_get_at_most_five_password_checks(alice, cfg):
    """Twenty wrong passwords at once, each on its own connection: the attempt is counted
    before the (slow) hash check, so only five are checked and the account ends locked."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from registry import Registry

    start = threading.Barrier(20)

    def guess(i: int) -> str:
        with Registry.open(cfg) as reg:
            start.wait()
            return auth.sign_in(reg, "alice", f"guess-{i}", now=T0).message

    with ThreadPoolExecutor(max_workers=20) as pool:
        messages = list(pool.map(guess, range(20)))
    checked = alice.audit_log(event="login_failed", actor="alice")
    assert sum(e["details"]["reason"].startswith("wrong password") for e in checked) == 5
    assert sum(e["details"].get("reason") == "locked" for e in checked) == 15
    assert set(messages) == {auth.WRONG}
    assert alice.get_user("alice")["locked_until"] is not None
    assert not auth.sign_in(alice, "alice", "correct horse", now=T0).ok


def test_unknown_wrong_disabled_and_locked_cost_the_same(alice):
    """Medians of 30 tries each, within 2x of one another: timing does not tell them apart."""
    import statistics
    import time

    alice.add_user(
        username="dora", password_hash=auth.hash_password("correct horse"), role="viewer", by="t"
    )
    alice.update_user("dora", by="root", disabled=True)
    alice.add_user(
        username="lena", password_hash=auth.hash_password("correct horse"), role="viewer", by="t"
    )
    for i in range(auth.MAX_FAILURES):
        auth.sign_in(alice, "lena", "nope", now=T0 + dt.timedelta(seconds=i))
    cases = {
        "unknown": ("nobody", "whatever1"),
        "wrong": ("alice", "whatever1"),
        "disabled": ("dora", "whatever1"),
        "locked": ("lena", "correct horse"),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(30):
        for kind, (name, password) in cases.items():  # interleaved: drift hits all alike
            start = time.perf_counter()
            result = auth.sign_in(
                alice, name, password, now=T0 + dt.timedelta(minutes=1, seconds=i)
            )
            times[kind].append(time.perf_counter() - start)
            assert result.message == auth.WRONG and not result.ok
        if i == 0:  # the lock held through: every later try is still on a locked account
            assert alice.get_user("lena")["locked_until"] is not None
    medians = {k: statistics.median(v) for k, v in times.items()}
    assert max(medians.values()) < 2 * min(medians.values()), medians
