"""ModelGate's exceptions.

::

    ModelGateError
    ├── ConfigError(ModelGateError, ValueError)
    ├── DataValidationError(ModelGateError, ValueError)
    ├── TrainingError
    ├── Forbidden                            # the user may not do this (role, disabled)
    └── RegistryError
        ├── NotFound(RegistryError, LookupError)
        ├── Conflict(RegistryError)          # stale compare-and-set, already decided
        └── IntegrityError(RegistryError)    # checksum mismatch, broken audit chain

Every message names the bad value and, where there are any, the valid options. The CLI prints
a ModelGateError as one line on stderr and exits with code 2.
"""


class ModelGateError(Exception):
    """Base class of every error ModelGate raises on purpose."""


class ConfigError(ModelGateError, ValueError):
    """A setting is missing, malformed or out of range."""


class DataValidationError(ModelGateError, ValueError):
    """Input data cannot be used: it names the file, the column and the offending value."""


class TrainingError(ModelGateError):
    """The estimator could not be built or fitted."""


class Forbidden(ModelGateError):
    """The user may not do this: unknown, disabled, or not an admin (checked again inside the
    registry's write transaction)."""


class RegistryError(ModelGateError):
    """The registry refused an operation."""


class NotFound(RegistryError, LookupError):
    """A version, review or run does not exist."""


class Conflict(RegistryError):
    """The registry changed since the caller looked: stale compare-and-set or already decided."""


class IntegrityError(RegistryError):
    """Stored bytes or audit rows do not match their recorded hashes."""
