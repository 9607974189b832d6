"""The pgspatial exception tree.

Every error pgspatial raises on purpose is a :class:`PgSpatialError`, so callers can catch
the whole family at once; every message says what went wrong and what to do next.

::

    PgSpatialError
    ├── ConfigError                  bad settings or arguments
    ├── EnvironmentProblem           the machine lacks something (binaries, PostGIS, a user)
    │   └── ServerNotFound           PostgreSQL or PostGIS binaries are not installed
    ├── ClusterError                 the embedded cluster could not be started/stopped
    ├── DatabaseUnavailable          no database could be reached
    ├── SchemaError                  models and the live database disagree
    ├── RetriesExhausted             a retried unit of work kept failing (serialization)
    ├── ReplicaConflict              a replica cancelled a read twice (recovery conflict)
    ├── TileTooLarge                 a vector tile would hold more features than allowed
    ├── LoadRejected                 a bulk load refused bad rows and committed nothing
    ├── SridMismatch (ValueError)    a geometry's SRID is not the one expected
    ├── InvalidGeometry (ValueError) a geometry is malformed, invalid or of the wrong type
    └── QueryTimeout (TimeoutError)  a statement was cancelled by statement_timeout
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgspatial.bulk.report import LoadReport

__all__ = [
    "ClusterError",
    "ConfigError",
    "DatabaseUnavailable",
    "EnvironmentProblem",
    "InvalidGeometry",
    "LoadRejected",
    "PgSpatialError",
    "QueryTimeout",
    "ReplicaConflict",
    "RetriesExhausted",
    "SchemaError",
    "ServerNotFound",
    "SridMismatch",
    "TileTooLarge",
]


class PgSpatialError(Exception):
    """Base class of every error pgspatial raises deliberately."""


class ConfigError(PgSpatialError):
    """A setting or argument is invalid; the message names it and the accepted values."""


class EnvironmentProblem(PgSpatialError):
    """Something the machine must provide is missing or unusable."""


class ServerNotFound(EnvironmentProblem):
    """PostgreSQL server binaries, or PostGIS for them, are not installed."""


class ClusterError(PgSpatialError):
    """The embedded PostgreSQL cluster failed to initialise, start or stop."""


class DatabaseUnavailable(PgSpatialError):
    """No database server could be reached at the configured URL."""


class SchemaError(PgSpatialError):
    """The live database does not match what the models declare."""


class RetriesExhausted(PgSpatialError):
    """A unit of work retried on serialization failures failed on every attempt."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class ReplicaConflict(PgSpatialError):
    """A read on a replica was cancelled by recovery conflicts, also when retried."""


class TileTooLarge(PgSpatialError):
    """A vector tile would hold more than ``max_features`` features, so it was refused
    rather than built huge or silently truncated."""

    def __init__(self, message: str, *, tile: tuple[int, int, int], max_features: int) -> None:
        super().__init__(message)
        self.tile = tile
        self.max_features = max_features


class LoadRejected(PgSpatialError):
    """A bulk load met rows it may not store, so it committed nothing.

    ``report`` is the :class:`pgspatial.bulk.LoadReport` of the attempt: how many rows were
    read and rejected, and the first rejected rows (1-based input row numbers) with reasons.
    """

    def __init__(self, message: str, *, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


class SridMismatch(PgSpatialError, ValueError):
    """A geometry's SRID differs from the SRID its target requires."""

    def __init__(
        self, message: str, *, expected: int | None = None, actual: int | None = None
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class InvalidGeometry(PgSpatialError, ValueError):
    """A geometry cannot be parsed, is invalid, or is not of the required type."""

    def __init__(
        self, message: str, *, reason: str | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.column = column


class QueryTimeout(PgSpatialError, TimeoutError):
    """A statement ran past statement_timeout and PostgreSQL cancelled it."""

    def __init__(self, message: str, *, timeout_ms: int | None = None) -> None:
        super().__init__(message)
        self.timeout_ms = timeout_ms
