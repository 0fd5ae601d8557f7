"""``audit --verify``: the chain, its witnesses, and the state checked against the log.

Beyond the hash chain (``audit.verify``) it checks what an auditor asks next:

* the checkpoint outside the database: the log is not shorter than it witnessed, and the event
  at its count still has its head hash; with the key, the checkpoint's own signature;
* each model's champion pointer and ``champion_history`` against its audited promotions and
  rollbacks, change by change (a direct ``UPDATE champion`` serves a model no event announced);
* each version's sha256 against its ``model_registered`` event, and every artifact file against
  its recorded checksum;
* each decision's evidence record against its stored SHA-256 and its ``decided`` event's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pipeline.errors import RegistryError
from registry import audit, witness
from registry.decisions import evidence_digest

CHANGES = ("promoted", "rolled_back")


def _rows(db: Database, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def check_checkpoint(
    db: Database, path: Path, key: str | None, events: int
) -> tuple[list[str], str]:
    """Problems, and a line saying what the checkpoint witnessed."""
    cp = witness.read(path)
    if cp is None:
        started = db.execute(
            "SELECT 1 FROM audit_log WHERE event = 'audit_witness_started' LIMIT 1"
        ).fetchone()
        if started or events:
            return [f"the audit checkpoint {path} is missing"], "checkpoint: missing"
        return [], "checkpoint: none yet"
    problems = []
    if key is not None and not cp.signed_by(key):
        problems.append(f"the audit checkpoint {path} is not signed with MODELGATE_AUDIT_KEY")
    if events < cp.events:
        problems.append(
            f"the log has {events} events but its checkpoint witnessed {cp.events} at {cp.at}: "
            f"events {events + 1}..{cp.events} were deleted"
        )
    else:
        row = db.execute("SELECT hash FROM audit_log WHERE seq = ?", [cp.events]).fetchone()
        if cp.events and (row is None or row[0] != cp.head):
            problems.append(
                f"event {cp.events} does not have the head hash the checkpoint witnessed at "
                f"{cp.at}: the log was rewritten"
            )
    return problems, f"checkpoint: {cp.events} events, head {cp.head[:16]}… at {cp.at}"


def check_state(db: Database, artifacts: Path) -> list[str]:
    """Each model's champion, its history, the versions' checksums and the artifact files,
    against the log."""
    problems = []
    models = [
        r["model"]
        for r in _rows(
            db,
            "SELECT model FROM champion_history UNION SELECT model FROM champion "
            "UNION SELECT model FROM model_versions ORDER BY model",
        )
    ]
    for model in models:
        problems += _check_champion(db, model)
    registered = {
        (r["model"], r["entity_id"]): json.loads(r["details"]).get("sha256")
        for r in _rows(
            db,
            "SELECT model, entity_id, details FROM audit_log WHERE event = 'model_registered'",
        )
    }
    for v in _rows(
        db, "SELECT model, version, artifact_path, sha256, size_bytes FROM model_versions"
    ):
        name = f"{v['model']} version {v['version']}"
        if registered.get((v["model"], str(v["version"]))) != v["sha256"]:
            problems.append(
                f"{name}'s sha256 {v['sha256'][:12]}… is not the one its model_registered event "
                "recorded"
            )
        path = artifacts / v["artifact_path"]
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            problems.append(f"{name}'s artifact {path} is missing")
            continue
        if digest != v["sha256"]:
            problems.append(f"{name}'s artifact {path} fails its checksum")
    return problems + _check_evidence(db)


def _check_evidence(db: Database) -> list[str]:
    decided = {
        r["entity_id"]: json.loads(r["details"]).get("evidence_sha256")
        for r in _rows(db, "SELECT entity_id, details FROM audit_log WHERE event = 'decided'")
    }
    problems = []
    for e in _rows(db, "SELECT decision_id, model, body, sha256 FROM evidence"):
        digest = evidence_digest(e["body"])
        if not digest == e["sha256"] == decided.get(str(e["decision_id"])):
            problems.append(
                f"{e['model']} decision {e['decision_id']}'s evidence does not match the digest "
                "its decided event recorded"
            )
    return problems


def _check_champion(db: Database, model: str) -> list[str]:
    """``model``'s champion pointer and history against its audited promotions and rollbacks."""
    problems = []
    history = _rows(
        db,
        "SELECT id, version, previous_version, kind FROM champion_history WHERE model = ? "
        "ORDER BY id",
        [model],
    )
    events = _rows(
        db,
        "SELECT seq, event, entity_id, details FROM audit_log WHERE model = ? "
        f"AND entity = 'model_version' AND event IN ({', '.join('?' * len(CHANGES))}) ORDER BY seq",
        [model, *CHANGES],
    )
    for i, h in enumerate(history):
        e = events[i] if i < len(events) else None
        d = json.loads(e["details"]) if e else {}
        want = "rolled_back" if h["kind"] == "rollback" else "promoted"
        if e is None or (e["event"], e["entity_id"], d.get("previous")) != (
            want,
            str(h["version"]),
            h["previous_version"],
        ):
            problems.append(
                f"{model}: champion change {h['id']} (v{h['previous_version']} -> v{h['version']}, "
                f"{h['kind']}) does not match the audited change"
                + (f" (event {e['seq']})" if e else ": no such event")
            )
            break
    if len(events) > len(history) and not problems:
        problems.append(
            f"{model}: event {events[len(history)]['seq']} records a champion change that "
            "champion_history does not have"
        )
    champ = _rows(db, "SELECT version, history_id FROM champion WHERE model = ?", [model])
    if history and (
        not champ
        or (champ[0]["version"], champ[0]["history_id"])
        != (history[-1]["version"], history[-1]["id"])
    ):
        now = f"v{champ[0]['version']}" if champ else "no champion"
        problems.append(
            f"{model}: the champion pointer says {now}, but the last audited change made "
            f"v{history[-1]['version']} champion"
        )
    elif champ and not history:
        problems.append(
            f"{model}: the champion pointer says v{champ[0]['version']} with no audited change"
        )
    return problems


def verify(db: Database, *, artifacts: Path, checkpoint: Path, key: str | None) -> audit.ChainCheck:
    """Everything ``audit --verify`` checks; RegistryError (one line) when the registry's tables
    cannot be read at all."""
    import sqlite3

    try:
        chain = audit.verify(db, key)
        count = int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
        found, seen = check_checkpoint(db, checkpoint, key, count)
        found += check_state(db, artifacts)
    except sqlite3.DatabaseError as exc:
        raise RegistryError(f"Cannot verify the audit log: {exc}.") from exc
    problems = ([chain.problem] if chain.problem else []) + found
    witnesses = (seen, "signatures: checked" if key else "signatures: no key set")
    return dataclasses.replace(
        chain,
        ok=not problems,
        problem=problems[0] if problems else None,
        problems=tuple(problems),
        witnesses=witnesses,
    )
