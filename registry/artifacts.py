"""Content-addressed artifact store: atomic writes, SHA-256 verified on every read."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import IntegrityError, NotFound


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that a crash leaves the old file or the new one, never a
    part: a temp file beside it, fsync, rename, fsync of the folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    path: str  # relative to the store's root, so the store can move
    sha256: str
    size_bytes: int


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, suffix: str = ".joblib") -> StoredArtifact:
        """Write ``data`` under its SHA-256 (temp file, fsync, rename); rewriting the same bytes is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        rel = f"models/{digest[:2]}/{digest}{suffix}"
        target = self.root / rel
        if target.exists() and self._digest(target) == digest:
            return StoredArtifact(rel, digest, len(data))
        atomic_write(target, data)
        return StoredArtifact(rel, digest, len(data))

    def get(self, rel: str, sha256: str, size_bytes: int) -> bytes:
        """The artifact's bytes, or IntegrityError when they are not the bytes that were registered."""
        path = self.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"Artifact {path} is missing from the artifact store.") from exc
        if len(data) != size_bytes or hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(
                f"Artifact {path} fails its checksum: expected sha256 {sha256[:12]}… ({size_bytes} bytes), "
                f"found {hashlib.sha256(data).hexdigest()[:12]}… ({len(data)} bytes). Refusing to load it."
            )
        return data

    @staticmethod
    def _digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()
