"""The table a load writes to, as the live database defines it.

COPY BINARY sends every value in its column's exact wire format (an ``int4`` is four
bytes, not eight), so a load must know the real column types, not the ones a model
declares; and each spatial column's SRID and type decide how its geometries are checked.
:func:`resolve_target` reads both from ``pg_catalog`` in one query, on the psycopg
connection the load runs on (the loader's core needs no SQLAlchemy, so ``pgspatial load``
starts without importing it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from pgspatial.errors import ConfigError

__all__ = [
    "LoadTarget",
    "SpatialSpec",
    "TargetColumn",
    "find_target",
    "resolve_target",
    "split_name",
]

_COLUMNS_SQL = """
    SELECT n.nspname AS schema, c.relname AS name, c.relkind AS relkind,
           a.attname AS column, a.atttypid::int AS type_oid,
           format_type(a.atttypid, a.atttypmod) AS type_name, t.typname AS typname,
           CASE WHEN t.typtype = 'e' THEN 'text'::regtype::oid
                WHEN t.typtype = 'd' THEN t.typbasetype
                ELSE t.oid END::int AS send_oid,
           a.attnotnull AS not_null,
           (a.atthasdef OR a.attidentity <> '') AS has_default,
           a.attgenerated <> '' AS generated,
           CASE WHEN t.typname IN ('geometry', 'geography')
                THEN postgis_typmod_type(a.atttypmod) END AS geometry_type,
           CASE WHEN t.typname IN ('geometry', 'geography')
                THEN postgis_typmod_srid(a.atttypmod) END AS srid,
           CASE WHEN t.typname IN ('geometry', 'geography')
                THEN postgis_typmod_dims(a.atttypmod) END AS dims
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE c.oid = to_regclass(%(regclass)s)
    ORDER BY a.attnum
"""
_LOADABLE_KINDS = {"r", "p"}  # ordinary and partitioned tables


@dataclass(frozen=True)
class SpatialSpec:
    """A geometry/geography column's constraints: ``POLYGON``, SRID (None = any), Z/M.

    ``dims`` is the coordinate dimension the column's typmod fixes (None: any), so a 2-D
    geometry for a ``POLYGONZ`` column is refused per row instead of failing the COPY.
    """

    kind: str
    geometry_type: str
    srid: int | None
    has_z: bool
    has_m: bool
    dims: int | None


@dataclass(frozen=True)
class TargetColumn:
    """One live column: its type (OID and SQL spelling) and what COPY may send it.

    ``send_oid`` is the type whose binary format COPY sends: the column's own, a domain's
    base type, or ``text`` for an enum (whose binary form is its label).
    """

    name: str
    type_oid: int
    type_name: str
    send_oid: int
    not_null: bool
    has_default: bool
    generated: bool
    spatial: SpatialSpec | None


@dataclass(frozen=True)
class LoadTarget:
    """A live table: schema, name and its columns in table order."""

    schema: str
    name: str
    columns: Mapping[str, TargetColumn]

    @property
    def qualified_name(self) -> str:
        """``schema.name`` as people write it (unquoted)."""
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        """``"schema"."name"``, quoted for SQL."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def spatial_columns(self) -> list[TargetColumn]:
        """The geometry and geography columns, in table order."""
        return [c for c in self.columns.values() if c.spatial is not None]


def quote_ident(name: str) -> str:
    """A SQL identifier, always double-quoted (names from files may be anything)."""
    return '"' + name.replace('"', '""') + '"'


def split_name(name: str, schema: str | None = None) -> tuple[str | None, str]:
    """``"schema.table"`` or ``"table"`` (plus an optional explicit schema) as a pair."""
    head, dot, tail = name.rpartition(".")
    if not tail:
        raise ConfigError(f"{name!r} is not a table name; give table or schema.table.")
    if dot and schema is not None and schema != head:
        raise ConfigError(
            f"the table {name!r} names schema {head!r} but the schema given is {schema!r}; "
            "give the schema once."
        )
    return (head if dot else schema), tail


def resolve_target(
    connection: psycopg.Connection[Any], schema: str | None, name: str
) -> LoadTarget:
    """Read ``schema.name`` (``name`` on the search_path when no schema) from the catalog.

    Raises ConfigError when there is no such table, or it is a view or another relation
    that COPY cannot fill.
    """
    target = find_target(connection, schema, name)
    if target is None:
        where = f"schema {schema!r}" if schema else "the search_path"
        raise ConfigError(
            f"there is no table {name!r} in {where}. Create it first (metadata.create_all, "
            "or a migration), or let `pgspatial load` create it from a file."
        )
    return target


def find_target(
    connection: psycopg.Connection[Any], schema: str | None, name: str
) -> LoadTarget | None:
    """:func:`resolve_target`, but None when there is no relation of that name at all."""
    regclass = quote_ident(name) if schema is None else f"{quote_ident(schema)}.{quote_ident(name)}"
    with connection.cursor(row_factory=namedtuple_row) as cursor:
        rows: list[Any] = cursor.execute(_COLUMNS_SQL, {"regclass": regclass}).fetchall()
    if not rows:
        return None
    if rows[0].relkind not in _LOADABLE_KINDS:
        raise ConfigError(
            f"{rows[0].schema}.{rows[0].name} is not a table (relkind {rows[0].relkind!r}); "
            "a load needs a table it can COPY into."
        )
    columns = {row.column: _column(row) for row in rows}
    return LoadTarget(schema=rows[0].schema, name=rows[0].name, columns=columns)


def _column(row: Any) -> TargetColumn:
    spatial = None
    if row.typname in ("geometry", "geography"):
        declared = str(row.geometry_type or "Geometry").upper()
        has_m = declared.endswith("M")
        has_z = declared.endswith(("Z", "ZM"))
        base = declared.removesuffix("M").removesuffix("Z")
        srid = int(row.srid) if row.srid and row.srid > 0 else None
        if row.typname == "geography" and srid is None:
            srid = 4326  # geography without a typmod is WGS 84
        spatial = SpatialSpec(
            kind=row.typname,
            geometry_type=base,
            srid=srid,
            has_z=has_z,
            has_m=has_m,
            dims=int(row.dims) if row.dims else None,
        )
    return TargetColumn(
        name=row.column,
        type_oid=int(row.type_oid),
        type_name=row.type_name,
        send_oid=int(row.send_oid),
        not_null=bool(row.not_null),
        has_default=bool(row.has_default),
        generated=bool(row.generated),
        spatial=spatial,
    )
