"""The OGC collections: every spatial table and view the role can read, from the Catalog.

:class:`CollectionRegistry` turns :meth:`pgspatial.Catalog.load_async` into SQLAlchemy
``Table`` objects the serializers and tile builder accept, so the service publishes
someone else's PostGIS without models. It is loaded by the app's lifespan and refreshed on
demand (``POST /collections/refresh``) and, at most every few seconds, when a request names
a collection it does not know (a table created after startup appears without a restart).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import NullType, TypeEngine

from pgspatial.catalog import Catalog, SpatialTable
from pgspatial.service.extents import collection_extent

__all__ = ["Collection", "CollectionRegistry"]

_INTEGER_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "smallint": SmallInteger,
    "integer": Integer,
    "bigint": BigInteger,
}
_REFRESH_ON_MISS_S = 5.0


def _column_type(data_type: str) -> TypeEngine[Any]:  # noqa: PLR0911 - a lookup table
    """A SQLAlchemy type for a ``format_type()`` spelling (good enough to bind filters)."""
    base = re.sub(r"\(.*\)", "", data_type).strip()
    if base in _INTEGER_TYPES:
        return _INTEGER_TYPES[base]()
    if base == "numeric":
        return Numeric()
    if base in {"real", "double precision"}:
        return Float()
    if base == "boolean":
        return Boolean()
    if base == "date":
        return Date()
    if base.startswith("timestamp"):
        return DateTime(timezone="with time zone" in base)
    if base in {"text", "character varying", "character", "name", "citext"}:
        return String()
    return NullType()


@dataclass(frozen=True)
class Collection:
    """One published relation: its OGC id, the catalog facts and a ``Table`` to query."""

    id: str
    relation: SpatialTable
    table: Table
    geometry_column: str
    key_column: str | None
    """A single-column primary key: the feature id and the keyset-pagination key."""
    key_columns: tuple[str, ...] = ()
    """The whole primary key (several columns: a composite keyset; none: offset pages)."""
    temporal_column: str | None = None
    """The first date or timestamp column: what ``datetime`` filters and the temporal extent."""

    @property
    def title(self) -> str:
        """A human title: the qualified name."""
        return self.relation.qualified_name

    @property
    def property_names(self) -> tuple[str, ...]:
        """The non-spatial columns a client may filter on and select."""
        return tuple(a.name for a in self.relation.attributes)

    @property
    def integer_key(self) -> bool:
        """Whether the key is an integer column (MVT feature ids must be integers)."""
        if self.key_column is None:
            return False
        return isinstance(self.table.c[self.key_column].type, Integer)

    @property
    def srid(self) -> int:
        """The SRID of the published geometry column."""
        return self.relation.column(self.geometry_column).srid


def _collection(relation: SpatialTable, collection_id: str) -> Collection:
    spatial = relation.columns[0]
    columns: list[Column[Any]] = [
        Column(a.name, _column_type(a.data_type)) for a in relation.attributes
    ]
    for info in relation.columns:
        kind = Geography if info.kind == "geography" else Geometry
        columns.append(
            Column(
                info.name,
                kind(geometry_type=info.geometry_type, srid=info.srid, spatial_index=False),
            )
        )
    table = Table(relation.name, MetaData(), *columns, schema=relation.schema)
    key = relation.primary_key[0] if len(relation.primary_key) == 1 else None
    temporal = [
        c.name for c in columns if isinstance(c.type, Date | DateTime) and c.name in table.c
    ]
    return Collection(
        id=collection_id,
        relation=relation,
        table=table,
        geometry_column=spatial.name,
        key_column=key,
        key_columns=relation.primary_key,
        temporal_column=temporal[0] if temporal else None,
    )


def build_collections(catalog: Catalog) -> dict[str, Collection]:
    """Collections by id: the bare name when unique and in ``public``, else ``schema.name``."""
    readable = [t for t in catalog.readable_tables() if t.columns]
    names = [t.name for t in readable]
    result: dict[str, Collection] = {}
    for relation in readable:
        bare = relation.schema == "public" and names.count(relation.name) == 1
        collection_id = relation.name if bare else f"{relation.schema}.{relation.name}"
        result[collection_id] = _collection(relation, collection_id)
    return result


class CollectionRegistry:
    """The current collections, reloaded from the live catalog when asked."""

    def __init__(self, engine: AsyncEngine, *, schemas: tuple[str, ...] | None = None) -> None:
        self._engine = engine
        self._schemas = schemas
        self._collections: dict[str, Collection] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._extents: dict[str, dict[str, Any]] = {}

    async def refresh(self) -> dict[str, Collection]:
        """Reload from ``pg_catalog`` (five statements, one snapshot)."""
        async with self._lock:
            catalog = await Catalog.load_async(self._engine, schemas=self._schemas)
            self._collections = build_collections(catalog)
            self._extents = {}
            self._loaded_at = time.monotonic()
            return self._collections

    def all(self) -> list[Collection]:
        """Every collection, sorted by id."""
        return [self._collections[k] for k in sorted(self._collections)]

    async def get(self, collection_id: str) -> Collection | None:
        """The collection, refreshing first (rate-limited) when the id is unknown."""
        found = self._collections.get(collection_id)
        if found is None and time.monotonic() - self._loaded_at > _REFRESH_ON_MISS_S:
            found = (await self.refresh()).get(collection_id)
        return found

    async def extent(self, collection: Collection) -> dict[str, Any]:
        """The collection's OGC ``extent``, computed once per catalog load."""
        found = self._extents.get(collection.id)
        if found is None:
            found = self._extents[collection.id] = await collection_extent(self._engine, collection)
        return found
