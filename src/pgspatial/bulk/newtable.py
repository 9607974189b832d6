"""New tables for file layers, made the pgspatial way (SQLAlchemy's DDL, imported only here).

A layer loaded into a table that does not exist yet gets one: PostgreSQL types that hold
the Arrow types exactly (see :mod:`pgspatial.bulk.schema`), an integer identity primary key
and a spatial column built by :func:`pgspatial.columns.spatial_column` itself (SRID, one
GiST index, the validity CHECK). The DDL is compiled by SQLAlchemy and run on the load's
psycopg connection, inside its transaction; the indexes come after the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.schema import CreateIndex, CreateTable, ExecutableDDLElement
from sqlalchemy.types import TypeEngine

from pgspatial.bulk.schema import WIDTH_KEY, FieldMap, arrow_kind, field_converter, launder
from pgspatial.bulk.target import LoadTarget, quote_ident
from pgspatial.columns import spatial_column
from pgspatial.errors import SchemaError

__all__ = ["create_table", "finish_new_table", "new_table"]

# numeric_dollar: no "%" doubling, which belongs to parameter formatting (DDL has none, and
# psycopg runs a statement without parameters as it is).
_DIALECT = PGDialect_psycopg(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def _sql_type(field: Any) -> TypeEngine[Any]:
    """The column type that holds an Arrow field's values exactly."""
    import pyarrow as pa

    arrow_type = field.type
    kind = arrow_kind(arrow_type)
    if kind == "int":
        width = arrow_type.bit_width + (1 if pa.types.is_unsigned_integer(arrow_type) else 0)
        if width <= 16:
            return SmallInteger()
        if width <= 32:
            return Integer()
        return BigInteger() if width <= 64 else Numeric(20, 0)
    if kind == "string":
        width = int((field.metadata or {}).get(WIDTH_KEY, b"0") or 0)
        return String(width) if width > 0 else Text()
    simple: dict[str, TypeEngine[Any]] = {
        "bool": Boolean(),
        "float": Double(),
        "date": Date(),
        "time": Time(),
        "binary": LargeBinary(),
        "nested": JSONB(),
    }
    if kind == "decimal":
        simple[kind] = Numeric(arrow_type.precision, arrow_type.scale)
    elif kind == "timestamp":
        simple[kind] = DateTime(timezone=arrow_type.tz is not None)
    return simple.get(kind, Text())


def new_table(
    name: str,
    table_schema: str | None,
    fields: Sequence[tuple[int, Any]],
    *,
    fid_column: str,
    geometry_type: str,
    srid: int,
) -> tuple[Table, list[FieldMap], str, str]:
    """A new Table for the layer, and how its fields map; also the PK and geometry names.

    The geometry column starts nullable; the loader makes it NOT NULL after the load
    unless the layer had NULL geometries.
    """
    maps: list[FieldMap] = []
    taken: set[str] = set()
    columns: list[Column[Any]] = []
    for index, field in fields:
        column = _unique(launder(field.name), taken)
        columns.append(Column(column, _sql_type(field), nullable=True))
        maps.append(FieldMap(index, field.name, column, field_converter(field.type, None)))
    pk = _unique(launder(fid_column) if fid_column else "fid", taken, fallbacks=("ogc_fid",))
    geometry = _unique("geom", taken, fallbacks=("geometry", "the_geom"))
    spatial = spatial_column(geometry_type, srid=srid, nullable=True).column
    spatial.name = spatial.key = geometry
    table = Table(
        name,
        MetaData(),
        Column(pk, BigInteger, Identity(), primary_key=True),
        *columns,
        spatial,
        schema=table_schema,
    )
    return table, maps, pk, geometry


def _unique(name: str, taken: set[str], fallbacks: Sequence[str] = ()) -> str:
    for candidate in (name, *fallbacks):
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    taken.add(f"{name}_{number}")
    return f"{name}_{number}"


def _run_ddl(connection: psycopg.Connection[Any], ddl: ExecutableDDLElement) -> None:
    connection.execute(str(ddl.compile(dialect=_DIALECT)))


def create_table(connection: psycopg.Connection[Any], table: Table) -> None:
    """CREATE TABLE (its indexes come after the rows); SchemaError when the database refuses."""
    try:
        _run_ddl(connection, CreateTable(table))
    except psycopg.Error as error:
        detail = error.diag.message_primary or str(error).strip()
        raise SchemaError(
            f"cannot create table {table.fullname}: {detail}. Check the schema exists and "
            "that this role may create tables in it, or load into an existing table."
        ) from None


def finish_new_table(
    connection: psycopg.Connection[Any],
    target: LoadTarget,
    table: Table,
    pk: str,
    geom: str,
    *,
    nulls: int,
) -> None:
    """Index, NOT NULL and identity sequence of a table this load created."""
    for index in table.indexes:
        _run_ddl(connection, CreateIndex(index))
    if not nulls:
        connection.execute(
            f"ALTER TABLE {target.sql_name} ALTER COLUMN {quote_ident(geom)} SET NOT NULL"
        )
    # composed, not parameterised: a name may hold a "%", which parameters would misread
    connection.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence({table}, {column}), "
            "coalesce(max({key}), 0) + 1, false) FROM {relation}"
        ).format(
            table=sql.Literal(target.sql_name),
            column=sql.Literal(pk),
            key=sql.Identifier(pk),
            relation=sql.SQL(target.sql_name),  # quoted already
        )
    )
