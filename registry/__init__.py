"""The registry: every line of SQL and the artifact store live here."""

from registry.store import Registry

__all__ = ["Registry"]
