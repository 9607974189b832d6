"""Loading a :class:`Catalog` from a live database (the SQL is in ``sql/catalog.sql``)."""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from sqlalchemy import Connection, Engine, text

from pgspatial.catalog._relations import (
    CONSTRAINT_KINDS,
    RELATION_KINDS,
    AttributeInfo,
    ConstraintInfo,
    IndexInfo,
    SpatialColumnInfo,
    SpatialTable,
    qualify,
    referenced_names,
    strip_outer_parens,
)
from pgspatial.errors import ConfigError
from pgspatial.loaded import is_instance

if TYPE_CHECKING:  # asyncio is imported only by callers that use it
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Catalog"]

_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# Loading through an engine: one consistent snapshot for all the catalog queries.
_SNAPSHOT_OPTIONS: Mapping[str, Any] = {"isolation_level": "REPEATABLE READ"}


@cache
def _statements() -> dict[str, str]:
    """The named statements of ``sql/catalog.sql``, one per ``-- name:`` section."""
    source = files("pgspatial").joinpath("sql/catalog.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(source)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


Bind: TypeAlias = Connection | Engine
AsyncBind: TypeAlias = "AsyncConnection | AsyncEngine"


@dataclass(frozen=True)
class Catalog:
    """A database's spatial relations as the connected role sees them, and PostGIS's version."""

    tables: tuple[SpatialTable, ...]
    postgis_version: str | None
    """``postgis_lib_version()``; None when the postgis extension is not installed."""

    @classmethod
    def load(
        cls,
        bind: Bind,
        *,
        schemas: Sequence[str] | None = None,
        include_system: bool = False,
    ) -> Catalog:
        """Read the catalog through ``bind`` in at most five statements.

        ``schemas`` limits it to those schemas; system schemas and relations that belong to
        extensions (PostGIS's own) are skipped unless ``include_system``, even when named.
        A connection is used as it is (inside the caller's transaction, if any).
        """
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                connection.execution_options(**_SNAPSHOT_OPTIONS)
                return cls._load(connection, schemas=schemas, include_system=include_system)
        return cls._load(bind, schemas=schemas, include_system=include_system)

    @classmethod
    async def load_async(
        cls,
        bind: AsyncBind,
        *,
        schemas: Sequence[str] | None = None,
        include_system: bool = False,
    ) -> Catalog:
        """:meth:`load` for an :class:`AsyncConnection` or :class:`AsyncEngine`."""
        if is_instance(bind, "sqlalchemy.ext.asyncio", "AsyncEngine"):
            async with cast("AsyncEngine", bind).connect() as connection:
                await connection.execution_options(**_SNAPSHOT_OPTIONS)
                return await connection.run_sync(
                    cls._load, schemas=schemas, include_system=include_system
                )
        connection = cast("AsyncConnection", bind)
        return await connection.run_sync(cls._load, schemas=schemas, include_system=include_system)

    @classmethod
    def _load(
        cls, connection: Connection, *, schemas: Sequence[str] | None, include_system: bool
    ) -> Catalog:
        if isinstance(schemas, str):
            raise ConfigError(
                f"schemas must be a sequence of schema names, not the string {schemas!r}"
            )
        sql = _statements()
        postgis = connection.execute(text(sql["postgis"])).one_or_none()
        if postgis is None:
            return cls(tables=(), postgis_version=None)
        types = {"geometry_oid": postgis.geometry_oid, "geography_oid": postgis.geography_oid}
        relations = connection.execute(
            text(sql["relations"]),
            {
                **types,
                "schemas": None if schemas is None else list(schemas),
                "include_system": include_system,
            },
        ).all()
        version = str(postgis.lib_version or postgis.extension_version)
        if not relations:
            return cls(tables=(), postgis_version=version)
        relids = {"relids": [row.relid for row in relations]}
        columns: defaultdict[int, list[Any]] = defaultdict(list)
        for row in connection.execute(text(sql["columns"]), {**types, **relids}):
            columns[row.relid].append(row)
        indexes: defaultdict[int, list[IndexInfo]] = defaultdict(list)
        for row in connection.execute(text(sql["indexes"]), relids):
            indexes[row.relid].append(_index(row))
        constraints: defaultdict[int, list[ConstraintInfo]] = defaultdict(list)
        for row in connection.execute(text(sql["constraints"]), relids):
            constraints[row.relid].append(
                ConstraintInfo(
                    name=row.name,
                    kind=CONSTRAINT_KINDS[row.contype],
                    definition=row.definition,
                    columns=tuple(row.columns),
                    validated=bool(row.validated),
                )
            )
        tables = tuple(
            _table(row, columns[row.relid], indexes[row.relid], constraints[row.relid])
            for row in relations
        )
        return cls(tables=tables, postgis_version=version)

    def table(self, name: str, schema: str = "public") -> SpatialTable:
        """The relation ``schema.name``; KeyError names the closest ones when it is absent."""
        found = self.find(name, schema)
        if found is not None:
            return found
        wanted = qualify(schema, name)
        others = [t.qualified_name for t in self.tables if t.name == name]
        close = difflib.get_close_matches(wanted, [t.qualified_name for t in self.tables], n=5)
        hints = list(dict.fromkeys([*others, *close]))
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise KeyError(
            f"no spatial table or view {wanted} in the catalog "
            f"({len(self.tables)} relation(s) with a geometry/geography column){hint}"
        )

    def find(self, name: str, schema: str = "public") -> SpatialTable | None:
        """The relation ``schema.name``, or None."""
        return next((t for t in self.tables if t.name == name and t.schema == schema), None)

    def readable_tables(self) -> tuple[SpatialTable, ...]:
        """The relations the current role may SELECT from."""
        return tuple(table for table in self.tables if table.readable)


def _index(row: Any) -> IndexInfo:
    """An :class:`IndexInfo` from a row of the ``indexes`` statement."""
    key_columns: tuple[str | None, ...] = tuple(row.key_columns)
    expressions = tuple(strip_outer_parens(e) for e in row.expressions)
    if not key_columns:
        first_key_columns: tuple[str, ...] = ()
    elif key_columns[0] is not None:
        first_key_columns = (key_columns[0],)
    else:
        named = referenced_names(expressions[0])
        first_key_columns = tuple(c for c in row.referenced if c in named)
    return IndexInfo(
        name=row.name,
        method=row.method,
        columns=tuple(c for c in key_columns if c is not None),
        expressions=expressions,
        predicate=row.predicate,
        is_valid=bool(row.is_valid),
        is_unique=bool(row.is_unique),
        is_primary=bool(row.is_primary),
        size_bytes=int(row.size_bytes),
        definition=row.definition,
        key_columns=key_columns,
        first_key_columns=first_key_columns,
    )


def _spatial_column(row: Any) -> SpatialColumnInfo:
    """A :class:`SpatialColumnInfo` from a spatial row of the ``columns`` statement."""
    geometry_type = row.geometry_type or "GEOMETRY"
    if geometry_type.endswith("ZM"):
        dimension = 4
    elif geometry_type.endswith(("Z", "M")):
        dimension = 3
    else:
        dimension = 2
    return SpatialColumnInfo(
        name=row.name,
        kind=row.kind,
        geometry_type=geometry_type,
        srid=row.srid or 0,
        dimension=dimension,
        nullable=bool(row.nullable),
    )


def _table(
    row: Any, columns: list[Any], indexes: list[IndexInfo], constraints: list[ConstraintInfo]
) -> SpatialTable:
    """A :class:`SpatialTable` from a ``relations`` row and its columns, indexes, constraints."""
    spatial = tuple(_spatial_column(c) for c in columns if c.kind is not None)
    attributes = tuple(
        AttributeInfo(name=c.name, data_type=c.data_type, nullable=bool(c.nullable))
        for c in columns
        if c.kind is None
    )
    primary = next((i for i in indexes if i.is_primary), None)
    return SpatialTable(
        schema=row.schema,
        name=row.name,
        kind=RELATION_KINDS[row.relkind],
        columns=spatial,
        attributes=attributes,
        primary_key=primary.columns if primary is not None else (),
        indexes=tuple(indexes),
        constraints=tuple(constraints),
        estimated_rows=int(row.estimated_rows),
        size_bytes=int(row.size_bytes),
        readable=bool(row.readable),
        is_partition=bool(row.is_partition),
    )
