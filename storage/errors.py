"""Exceptions of the storage package.

Every message says what was wrong, where (URL, database, file, row) and what was expected.
"""

from __future__ import annotations

__all__ = [
    "InvalidName",
    "PermissionDenied",
    "RollupsMissing",
    "StorageError",
    "StoreUnavailable",
    "WriteRejected",
]


class StorageError(Exception):
    """Base of every storage error."""


class StoreUnavailable(StorageError):
    """The store cannot be reached, or refused a write for a reason that may pass.

    For example a 5xx answer, a timeout, a lost connection or a locked database. Collectors catch
    exactly this and spool the readings.
    """


class PermissionDenied(StoreUnavailable):
    """The server refused the credentials or the action (HTTP 401/403).

    A subclass of :class:`StoreUnavailable` so that a collector keeps the readings in its spool
    until the credentials are fixed: nothing read is ever lost.
    """


class WriteRejected(StorageError):
    """The server rejected the data itself (HTTP 400): retrying the same data cannot succeed."""


class InvalidName(StorageError, ValueError):
    """A meter, point, database or zone name that this backend cannot store or quote."""


class RollupsMissing(StorageError):
    """The store was written before rollups existed: its daily and hourly reads need a rebuild.

    The message is one line naming the store and the command to run
    (``jieneng store rebuild-rollups --config FILE``).
    """
