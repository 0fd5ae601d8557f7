"""The append-only audit log and its SHA-256 hash chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

GENESIS = "0" * 64


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = canonical(
        {k: row[k] for k in ("seq", "at", "actor", "event", "entity", "entity_id", "details")}
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def append(
    db: Database, *, actor: str, event: str, entity: str, entity_id: object, details: dict[str, Any]
) -> int:
    """Append one event; call inside the transaction that made the change it records."""
    last = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = {
        "seq": seq,
        "at": utcnow(),
        "actor": actor,
        "event": event,
        "entity": entity,
        "entity_id": str(entity_id),
        "details": canonical(details),
    }
    row["prev_hash"] = prev
    row["hash"] = row_hash(prev, row)
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, event, entity, entity_id, details, prev_hash, hash) "
        "VALUES (:seq, :at, :actor, :event, :entity, :entity_id, :details, :prev_hash, :hash)",
        row,
    )
    return seq


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    events: int
    head: str
    first_bad_seq: int | None = None
    problem: str | None = None
    problems: tuple[str, ...] = ()  # every finding: the chain's, the witnesses', the state's
    witnesses: tuple[str, ...] = ()  # what was checked besides the chain, for the report


def verify(db: Database, key: str | None = None) -> ChainCheck:
    """Recompute every row's hash in order; an edited, deleted or reordered row breaks the chain.
    With ``key`` every row's HMAC must match too (a row written without the key fails)."""
    from registry.witness import mac

    prev, expected_seq, n = GENESIS, 1, 0
    cur = db.execute(
        "SELECT seq, at, actor, event, entity, entity_id, details, prev_hash, hash, mac "
        "FROM audit_log ORDER BY seq"
    )
    cols = [c[0] for c in cur.description]
    for values in cur:
        row = dict(zip(cols, values, strict=True))
        n += 1
        if row["seq"] != expected_seq:
            return ChainCheck(False, n, prev, row["seq"], f"event {expected_seq} is missing")
        if row["prev_hash"] != prev:
            return ChainCheck(
                False,
                n,
                prev,
                row["seq"],
                f"event {row['seq']} does not follow event {row['seq'] - 1}",
            )
        if row_hash(prev, row) != row["hash"]:
            return ChainCheck(
                False, n, prev, row["seq"], f"event {row['seq']} was altered after it was written"
            )
        if key is not None and not (
            row["mac"] and hmac.compare_digest(row["mac"], mac(key, row["seq"], row["hash"]))
        ):
            what = "is not signed" if not row["mac"] else "has a signature that is not the key's"
            return ChainCheck(
                False,
                n,
                prev,
                row["seq"],
                f"event {row['seq']} {what}: it was written without MODELGATE_AUDIT_KEY "
                "(run 'modelgate audit --sign' once after setting the key on an older log)",
            )
        prev, expected_seq = row["hash"], expected_seq + 1
    return ChainCheck(True, n, prev)
