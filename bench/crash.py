"""kill -9 the registry 100 times mid-decision. One command: ``make bench-crash``.

Each kill lands at a random moment of a loop of real decisions (rollbacks, promotions, approvals,
rejections, expiries, announced promotions applied and vetoed; ``tests/registry/crashes.py``).
After each, the audit chain must verify and every decision must have exactly one notification
queued. Prints the decisions made, the violations (target 0) and the median seconds per kill.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.registry.crashes import kill_repeatedly, seed_registry  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "mg"
        seed_registry(home)
        t = time.perf_counter()
        problems = kill_repeatedly(home, args.kills, seed=args.seed)
        seconds = time.perf_counter() - t
        db = sqlite3.connect(home / "registry.db")
        count = {
            name: db.execute(sql).fetchone()[0]
            for name, sql in (
                ("champion changes", "SELECT COUNT(*) FROM champion_history"),
                ("reviews decided", "SELECT COUNT(*) FROM reviews WHERE status != 'pending'"),
                ("announced promotions", "SELECT COUNT(*) FROM pending_promotions"),
                ("notifications", "SELECT COUNT(*) FROM outbox"),
                ("audit events", "SELECT COUNT(*) FROM audit_log"),
            )
        }
        db.close()
    print(f"{args.kills} kills in {seconds:.1f} s ({seconds / args.kills:.2f} s a kill)")
    print(", ".join(f"{n}: {v}" for n, v in count.items()))
    print(f"violations: {len(problems)} (target 0)")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
