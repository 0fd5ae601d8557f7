"""Witnesses of the audit log that live outside its table: a checkpoint file and HMAC signatures.

The SHA-256 chain alone proves only that the rows present are consistent with each other: whoever
can write the database can delete the newest rows, or rewrite every row and its hash. So:

* **The checkpoint** (``audit_checkpoint``, default ``<artifacts>/audit-checkpoint.json``) holds
  the event count and head hash after every committed append, written atomically (temp file,
  fsync, rename) and never backwards. A log shorter than it, or whose event at the checkpoint's
  count has another hash, was cut or rewritten. The log may be longer (a crash between commit and
  checkpoint, or a forged append: only the key tells these apart).
* **The key** (``MODELGATE_AUDIT_KEY``): each event carries HMAC-SHA256(key, "seq\\nhash"), and the
  checkpoint its own, so an event appended or rewritten without the key is detected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RegistryError
from registry.artifacts import atomic_write


def mac(key: str, seq: int, row_hash: str) -> str:
    return hmac.new(key.encode(), f"{seq}\n{row_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    events: int
    head: str
    at: str
    mac: str | None = None

    def body(self) -> str:
        return f"checkpoint\n{self.events}\n{self.head}\n{self.at}"

    def signed_by(self, key: str) -> bool:
        expected = hmac.new(key.encode(), self.body().encode(), hashlib.sha256).hexdigest()
        return self.mac is not None and hmac.compare_digest(self.mac, expected)


def read(path: Path) -> Checkpoint | None:
    """The checkpoint, None when there is none; RegistryError (one line) when it is unreadable."""
    try:
        raw = json.loads(path.read_text())
        return Checkpoint(
            events=int(raw["events"]), head=str(raw["head"]), at=str(raw["at"]), mac=raw.get("mac")
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"The audit checkpoint {path} is unreadable ({exc}).") from exc


def write(path: Path, events: int, head: str, key: str | None) -> None:
    """Record ``events``/``head`` unless the checkpoint already witnesses as many events (two
    writers never move it backwards: a lock file serialises them). Atomic: temp, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(RegistryError):
            current = read(path)
            if current is not None and current.events >= events:
                return
        cp = Checkpoint(events, head, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        if key:
            digest = hmac.new(key.encode(), cp.body().encode(), hashlib.sha256).hexdigest()
            cp = Checkpoint(cp.events, cp.head, cp.at, digest)
        record = {"events": cp.events, "head": cp.head, "at": cp.at, "mac": cp.mac}
        atomic_write(path, json.dumps(record).encode())
