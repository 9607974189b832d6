"""GeoJSON FeatureCollections, NDJSON and CSV made by the database, spliced as bytes.

``feature_collection`` returns the whole document; ``stream_features`` yields it in chunks
for HTTP streaming and exports. Neither parses a geometry or builds a dict in Python: the
rows arrive as JSON text through COPY and are joined with commas (errata 10). The stream
lifts statement_timeout and idle_in_transaction_session_timeout for its own transaction,
so a slow consumer is not cut off midway (errata 11). Sync and async share every piece
except the I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect

from pgspatial.engine.timeouts import lift_timeouts, lift_timeouts_async
from pgspatial.errors import ConfigError
from pgspatial.loaded import is_instance
from pgspatial.serialize.copyout import (
    CSV_WITH_HEADER,
    RAW_LINES,
    compile_for_copy,
    copy_out,
    copy_out_async,
    driver_connection,
    driver_connection_async,
)
from pgspatial.serialize.features import FeatureSpec, feature_spec

if TYPE_CHECKING:  # the ORM and asyncio are imported only by callers that use them
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from sqlalchemy.orm import Session

__all__ = [
    "ExportFormat",
    "feature_collection",
    "feature_collection_async",
    "stream_features",
    "stream_features_async",
]

ExportFormat = Literal["geojson", "ndjson", "csv"]
_FORMATS = ("geojson", "ndjson", "csv")


class _Splicer:
    """Turns newline-terminated feature lines into the comma-separated body of an array."""

    def __init__(self) -> None:
        self.pending = b""
        self.rows = 0

    def feed(self, chunk: bytes) -> bytes:
        self.rows += chunk.count(b"\n")
        joined = self.pending + chunk.replace(b"\n", b",")
        self.pending, body = joined[-1:], joined[:-1]
        return body

    def finish(self) -> bytes:
        return b"" if self.pending == b"," else self.pending


def _header(bbox: Sequence[float] | None) -> bytes:
    head = b'{"type":"FeatureCollection",'
    if bbox is not None:
        head += b'"bbox":' + orjson.dumps(list(bbox)) + b","
    return head + b'"features":['


_FOOTER = b"]}"


def _plan(stmt: Select[Any], fmt: str, kw: dict[str, Any]) -> tuple[FeatureSpec, Select[Any], str]:
    if fmt not in _FORMATS:
        raise ConfigError(f"Unknown format {fmt!r}; use one of {', '.join(_FORMATS)}.")
    spec = feature_spec(stmt, **kw)
    if fmt == "csv":
        return spec, spec.csv_select(), CSV_WITH_HEADER
    return spec, spec.features_select(), RAW_LINES


_Compiled = tuple[str, dict[str, Any]]


def _prepare(
    stmt: Select[Any], output_format: str, kw: dict[str, Any], dialect: Dialect, bbox: bool
) -> tuple[_Compiled, str, _Compiled | None]:
    """Everything but the I/O, shared by the sync and async streams: the COPY query and
    its options, and the extent query when a GeoJSON bbox is wanted."""
    spec, query, options = _plan(stmt, output_format, kw)
    extent = None
    if bbox and output_format == "geojson":
        extent = compile_for_copy(spec.extent_select(), dialect)
    return compile_for_copy(query, dialect), options, extent


def _bbox_values(row: Iterable[Any] | None) -> list[float] | None:
    values = list(row) if row is not None else []
    return [float(v) for v in values] if values and None not in values else None


def stream_features(
    bind: Session | Connection,
    stmt: Select[Any],
    *,
    output_format: ExportFormat = "geojson",
    id_column: str | None = None,
    geometry_column: str | None = None,
    properties: Sequence[str] | None = None,
    precision: int | None = None,
    bbox: bool = False,
) -> Iterator[bytes]:
    """Yield ``stmt``'s rows as a GeoJSON FeatureCollection, NDJSON or CSV, in chunks.

    Runs in the caller's transaction with its timeouts lifted for that transaction only.
    Memory stays flat in the row count.
    """
    if is_instance(bind, "sqlalchemy.orm", "Session"):
        dialect = cast("Session", bind).get_bind().dialect
    else:
        dialect = cast("Connection", bind).dialect
    (sql, params), options, extent = _prepare(
        stmt, output_format,
        {"id_column": id_column, "geometry_column": geometry_column,
         "properties": properties, "precision": precision},
        dialect, bbox,
    )  # fmt: skip
    raw = driver_connection(bind)
    lift_timeouts(bind)
    if output_format != "geojson":
        yield from copy_out(raw, sql, params, options)
        return
    box = None
    if extent is not None:
        with raw.cursor() as cursor:
            box = _bbox_values(cursor.execute(*extent).fetchone())
    yield _header(box)
    splicer = _Splicer()
    for chunk in copy_out(raw, sql, params, options):
        body = splicer.feed(chunk)
        if body:
            yield body
    yield splicer.finish() + _FOOTER


def feature_collection(
    bind: Session | Connection,
    stmt: Select[Any],
    *,
    id_column: str | None = None,
    geometry_column: str | None = None,
    properties: Sequence[str] | None = None,
    precision: int | None = None,
    bbox: bool = False,
) -> bytes:
    """``stmt`` as one RFC 7946 FeatureCollection (bytes), built by PostgreSQL."""
    return b"".join(
        stream_features(
            bind, stmt, id_column=id_column, geometry_column=geometry_column,
            properties=properties, precision=precision, bbox=bbox,
        )
    )  # fmt: skip


async def stream_features_async(
    bind: AsyncSession | AsyncConnection,
    stmt: Select[Any],
    *,
    output_format: ExportFormat = "geojson",
    id_column: str | None = None,
    geometry_column: str | None = None,
    properties: Sequence[str] | None = None,
    precision: int | None = None,
    bbox: bool = False,
) -> AsyncIterator[bytes]:
    """The asyncio twin of :func:`stream_features`."""
    if is_instance(bind, "sqlalchemy.ext.asyncio", "AsyncSession"):
        sync_bind = cast("AsyncSession", bind).sync_session.get_bind()
    else:
        sync_bind = cast("AsyncConnection", bind).sync_engine
    (sql, params), options, extent = _prepare(
        stmt, output_format,
        {"id_column": id_column, "geometry_column": geometry_column,
         "properties": properties, "precision": precision},
        sync_bind.dialect, bbox,
    )  # fmt: skip
    raw = await driver_connection_async(bind)
    await lift_timeouts_async(bind)
    if output_format != "geojson":
        async for chunk in copy_out_async(raw, sql, params, options):
            yield chunk
        return
    box = None
    if extent is not None:
        async with raw.cursor() as cursor:
            await cursor.execute(*extent)
            box = _bbox_values(await cursor.fetchone())
    yield _header(box)
    splicer = _Splicer()
    async for chunk in copy_out_async(raw, sql, params, options):
        body = splicer.feed(chunk)
        if body:
            yield body
    yield splicer.finish() + _FOOTER


async def feature_collection_async(
    bind: AsyncSession | AsyncConnection,
    stmt: Select[Any],
    *,
    id_column: str | None = None,
    geometry_column: str | None = None,
    properties: Sequence[str] | None = None,
    precision: int | None = None,
    bbox: bool = False,
) -> bytes:
    """The asyncio twin of :func:`feature_collection`."""
    parts = [
        chunk
        async for chunk in stream_features_async(
            bind, stmt, id_column=id_column, geometry_column=geometry_column,
            properties=properties, precision=precision, bbox=bbox,
        )
    ]  # fmt: skip
    return b"".join(parts)
