"""kill -9 in the middle of decisions: every decision keeps exactly one notification."""

from __future__ import annotations

import sqlite3

from tests.registry.crashes import invariant, kill_repeatedly, seed_registry


def test_thirty_kills_mid_decision_leave_every_decision_with_exactly_one_notification(home):
    seed_registry(home)
    assert kill_repeatedly(home, 30, seed=11) == []
    db = sqlite3.connect(home / "registry.db")
    changes = db.execute("SELECT COUNT(*) FROM champion_history").fetchone()[0]
    decided = db.execute("SELECT COUNT(*) FROM reviews WHERE status != 'pending'").fetchone()[0]
    db.close()
    assert changes > 30 and decided > 10  # the kills landed among many real decisions


def test_the_invariant_notices_a_decision_without_its_notification(home):
    seed_registry(home)
    assert invariant(home) == []
    db = sqlite3.connect(home / "registry.db")
    db.execute("DELETE FROM outbox WHERE key = 'champion:1'")  # what the old two-step code left
    db.commit()
    db.close()
    assert invariant(home) == ["champion change 1 (promotion) has no notification (champion:1)"]
