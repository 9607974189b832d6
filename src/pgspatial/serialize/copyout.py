"""Streaming a SELECT out of PostgreSQL with ``COPY ... TO STDOUT``, sync or async.

COPY is the fastest way out (errata 10 measured psql's ``\\copy`` as the ceiling) and
streams in chunks, so memory stays flat whatever the row count (errata 11). For feature
text we use CSV format with a quote and a delimiter that never occur in JSON (U+0001,
U+0002): the JSON lines arrive byte for byte, one per row. COPY takes no server-side
parameters; psycopg binds them client-side, after SQLAlchemy's bind processors (so
geometries arrive as validated EWKB).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from pgspatial.loaded import is_instance

if TYPE_CHECKING:  # the ORM and asyncio are imported only by callers that use them
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from sqlalchemy.orm import Session

__all__ = [
    "CSV_WITH_HEADER",
    "RAW_LINES",
    "compile_for_copy",
    "copy_out",
    "copy_out_async",
    "driver_connection",
    "driver_connection_async",
]

#: One value per row, passed through untouched (no quoting, no escaping).
RAW_LINES = "(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
#: Regular CSV, with a header row.
CSV_WITH_HEADER = "(FORMAT csv, HEADER)"


def compile_for_copy(stmt: ClauseElement, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement's SQL (pyformat placeholders) and its processed parameters."""
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    processors: dict[str, Any] = dict(compiled._bind_processors)
    params = {
        key: processors[key](value) if key in processors else value
        for key, value in (compiled.construct_params() or {}).items()
    }
    return compiled.string, params


def driver_connection(bind: Session | Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a session or connection, in its current transaction."""
    if is_instance(bind, "sqlalchemy.orm", "Session"):
        connection = cast("Session", bind).connection()
    else:
        connection = cast("Connection", bind)
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("pgspatial's COPY paths need the psycopg (3) driver.")
    return raw


async def driver_connection_async(
    bind: AsyncSession | AsyncConnection,
) -> psycopg.AsyncConnection[Any]:
    """The async twin of :func:`driver_connection`."""
    if is_instance(bind, "sqlalchemy.ext.asyncio", "AsyncSession"):
        connection = await cast("AsyncSession", bind).connection()
    else:
        connection = cast("AsyncConnection", bind)
    raw = (await connection.get_raw_connection()).driver_connection
    if not isinstance(raw, psycopg.AsyncConnection):
        raise TypeError("pgspatial's COPY paths need the psycopg (3) async driver.")
    return raw


#: COPY sends one message per row; they are gathered into blocks of about this size, so
#: consumers (HTTP responses, the GeoJSON splicer) handle a few large pieces, not 100k.
BLOCK_BYTES = 256 * 1024


def _copy_statement(sql: str, params: dict[str, Any], options: str) -> str:
    """``COPY (<sql>) TO STDOUT <options>``. psycopg merges a COPY's parameters only when
    there are some, and only then turns the compiler's ``%%`` back into ``%`` (a column
    named ``100%``): without parameters that is done here."""
    if not params:
        sql = sql.replace("%%", "%")
    return f"COPY ({sql}) TO STDOUT {options}"


def copy_out(
    raw: psycopg.Connection[Any], sql: str, params: dict[str, Any], options: str
) -> Iterator[bytes]:
    """Yield ``COPY (<sql>) TO STDOUT <options>`` in blocks of about BLOCK_BYTES."""
    pending: list[bytes | bytearray | memoryview] = []
    size = 0
    statement = _copy_statement(sql, params, options)
    with raw.cursor() as cursor, cursor.copy(statement, params) as copy:
        for chunk in copy:
            pending.append(chunk)
            size += len(chunk)
            if size >= BLOCK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


async def copy_out_async(
    raw: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any], options: str
) -> AsyncIterator[bytes]:
    """The async twin of :func:`copy_out`."""
    statement = _copy_statement(sql, params, options)
    pending: list[bytes | bytearray | memoryview] = []
    size = 0
    async with raw.cursor() as cursor, cursor.copy(statement, params) as copy:
        async for chunk in copy:
            pending.append(chunk)
            size += len(chunk)
            if size >= BLOCK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)
