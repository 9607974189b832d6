"""Translate driver and SQLAlchemy exceptions into the PgSpatialError tree.

Installed per engine (``handle_error``) by :func:`pgspatial.create_engine`, never globally.
Validation errors raised while binding parameters (``InvalidGeometry``, ``SridMismatch``)
reach the caller as themselves instead of wrapped in ``StatementError``, and PostGIS's own
refusals (a validity CHECK, a typmod SRID or type mismatch, mixed SRIDs, a statement
timeout) become the same exceptions, so callers catch one family whatever layer caught it.
"""

from __future__ import annotations

import re

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from pgspatial.errors import InvalidGeometry, PgSpatialError, QueryTimeout, SridMismatch

__all__ = ["install_error_translation", "translate_error"]

_SRID_TYPMOD = re.compile(r"Geometry SRID \((-?\d+)\) does not match column SRID \((-?\d+)\)")
_TYPE_TYPMOD = re.compile(r"Geometry type \((\w+)\) does not match column type \((\w+)\)")
_MIXED_SRID = re.compile(r"mixed SRID geometries \((\w+), (-?\d+)\) != \((\w+), (-?\d+)\)")


def translate_error(  # noqa: PLR0911
    error: BaseException, *, statement_timeout_ms: int | None = None
) -> PgSpatialError | None:
    """The PgSpatialError for a driver exception, or None when it is not one of ours."""
    if isinstance(error, PgSpatialError):
        return error
    if not isinstance(error, psycopg.Error):
        return None
    diag = error.diag
    primary = diag.message_primary or str(error)
    table = diag.table_name or "the table"
    if isinstance(error, psycopg.errors.CheckViolation) and (diag.constraint_name or "").endswith(
        "_valid"
    ):
        return InvalidGeometry(
            f"{table}: the database's validity check {diag.constraint_name} rejected an invalid "
            "geometry. Repair it first (parse_geometry(..., make_valid=True) or ST_MakeValid) "
            "or fix the source data.",
            reason=primary,
        )
    if match := _SRID_TYPMOD.search(primary):
        actual, expected = int(match.group(1)), int(match.group(2))
        return SridMismatch(
            f"A geometry in SRID {actual} was written to a column in SRID {expected}. "
            f"Transform it first (ST_Transform(geom, {expected})) or send it in SRID {expected}.",
            expected=expected,
            actual=actual,
        )
    if match := _TYPE_TYPMOD.search(primary):
        return InvalidGeometry(
            f"A {match.group(1)} was written to a {match.group(2)} column. Convert it "
            "(e.g. ST_Multi for Polygon to MultiPolygon) or fix the source data.",
            reason=primary,
        )
    if match := _MIXED_SRID.search(primary):
        left, right = int(match.group(2)), int(match.group(4))
        return SridMismatch(
            f"A query mixed geometries in SRID {left} and SRID {right}. Transform one side "
            f"(ST_Transform) so both use SRID {left}.",
            expected=left,
            actual=right,
        )
    if isinstance(error, psycopg.errors.QueryCanceled) and "statement timeout" in primary:
        limit = f" ({statement_timeout_ms} ms)" if statement_timeout_ms else ""
        return QueryTimeout(
            f"The statement ran past statement_timeout{limit} and PostgreSQL cancelled it. "
            "Make it use an index (pgspatial explain), run it on the analytics engine, or "
            "lift the timeout for its transaction (pgspatial.lift_timeouts) if it must run long.",
            timeout_ms=statement_timeout_ms,
        )
    return None


def install_error_translation(engine: Engine, *, statement_timeout_ms: int | None = None) -> Engine:
    """Make ``engine`` raise PgSpatialError subclasses for the errors above; returns it."""

    def on_error(context: ExceptionContext) -> BaseException | None:
        return translate_error(
            context.original_exception, statement_timeout_ms=statement_timeout_ms
        )

    event.listen(engine, "handle_error", on_error)
    return engine
