"""A collection's extent (OGC ``extent.spatial.bbox`` in CRS84, and ``extent.temporal``).

Cheap by construction, because ``/collections`` lists every table: the spatial extent
comes from the planner's statistics (``ST_EstimatedExtent``, no scan) and is computed
exactly only for relations small enough to scan (or a temporal column with an index,
whose min and max are two index probes). A view or a large table without statistics gets
no extent, which OGC allows; clients such as GDAL then compute one from the features.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Text, cast, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from pgspatial.service.collections import Collection

__all__ = ["EXACT_SCAN_BYTES", "collection_extent"]

EXACT_SCAN_BYTES = 64 * 1024 * 1024
"""Relations up to this size get an exact extent when the statistics give none."""

_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_TABLE_KINDS = {"table", "partitioned_table", "materialized_view"}
_TO_LONLAT = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Transform(ST_SetSRID(CAST(:box AS box2d)::geometry, :srid), 4326) AS e) AS s
"""


async def _box(conn: AsyncConnection, collection: Collection) -> str | None:
    """The geometry column's box2d as text, estimated or (small relations) exact."""
    relation = collection.relation
    column = collection.geometry_column
    if relation.kind in _TABLE_KINDS and relation.columns[0].kind == "geometry":
        estimated = await conn.scalar(
            text("SELECT CAST(ST_EstimatedExtent(:schema, :table, :column) AS text)"),
            {"schema": relation.schema, "table": relation.name, "column": column},
        )
        if estimated:
            return str(estimated)
    if relation.kind == "view" or relation.size_bytes > EXACT_SCAN_BYTES:
        return None
    geometry: ColumnElement[Any] = collection.table.c[column]
    if relation.columns[0].kind == "geography":
        geometry = func.geometry(geometry)
    exact = await conn.scalar(select(cast(func.ST_Extent(geometry), Text)))
    return str(exact) if exact else None


async def _interval(conn: AsyncConnection, collection: Collection) -> list[str | None] | None:
    name = collection.temporal_column
    relation = collection.relation
    if name is None:
        return None
    indexed = any(index.columns[:1] == (name,) for index in relation.indexes)
    if not indexed and (relation.kind == "view" or relation.size_bytes > EXACT_SCAN_BYTES):
        return None
    column = collection.table.c[name]
    row = (await conn.execute(select(func.min(column), func.max(column)))).one()
    return [_iso(row[0]), _iso(row[1])]


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


async def collection_extent(engine: AsyncEngine, collection: Collection) -> dict[str, Any]:
    """The OGC ``extent`` member (empty when neither extent is cheap to know)."""
    extent: dict[str, Any] = {}
    try:
        async with engine.connect() as conn:
            box = await _box(conn, collection)
            if box is not None and collection.srid > 0:
                row = (
                    await conn.execute(text(_TO_LONLAT), {"box": box, "srid": collection.srid})
                ).one()
                if all(v is not None for v in row):
                    bbox = [[round(float(v), 7) for v in row]]
                    extent["spatial"] = {"bbox": bbox, "crs": _CRS84}
            interval = await _interval(conn, collection)
    except DBAPIError:  # a relation dropped meanwhile, a timeout: describe it without extent
        return extent
    if interval is not None:
        extent["temporal"] = {"interval": [interval], "trs": _GREGORIAN}
    return extent
