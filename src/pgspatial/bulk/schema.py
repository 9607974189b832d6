"""A file layer's fields as table columns: new tables made the pgspatial way, or a fit check.

New tables get PostgreSQL types that hold the Arrow types exactly (int32 -> integer, int64
-> bigint, floats -> double precision, strings -> text or varchar(n) when GDAL knows the
width, bool, date, timestamps with and without time zone, decimal -> numeric), names
laundered like ogr2ogr's (lower case, ``_`` for anything else), an integer primary key,
and a spatial column built by :func:`pgspatial.columns.spatial_column` itself (SRID, one
GiST index, the validity CHECK).

An existing table is appended to only when it fits: the spatial column's type and SRID
accept the layer, every field has a column (same name, or its laundered name) whose type
can take the field's values. Otherwise :class:`~pgspatial.errors.SchemaError` says which
of these fails, and how.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from sqlalchemy.types import TypeEngine

from pgspatial.bulk.target import LoadTarget, TargetColumn
from pgspatial.columns import spatial_column
from pgspatial.errors import SchemaError

__all__ = ["FieldMap", "fit_existing", "launder", "new_table"]

_NAME_LIMIT = 63
_WIDTH_KEY = b"GDAL:OGR:width"
# PostgreSQL type OIDs a field of each Arrow kind may be appended to.
_INTS = {21, 23, 20}
_FLOATS = {700, 701}
_NUMERIC = 1700
_TEXTS = {25, 1043, 1042}
_JSONS = {114, 3802}
_ACCEPTS = {
    "int": _INTS | _FLOATS | {_NUMERIC} | _TEXTS,
    "float": _FLOATS | {_NUMERIC} | _TEXTS,
    "decimal": {_NUMERIC} | _FLOATS | _TEXTS,
    "bool": {16} | _TEXTS,
    "string": _TEXTS | _JSONS,
    "date": {1082, 1114, 1184} | _TEXTS,
    "timestamp": {1114, 1184} | _TEXTS,
    "time": {1083} | _TEXTS,
    "binary": {17},
    "nested": _JSONS,
}


@dataclass(frozen=True)
class FieldMap:
    """A layer field (its position in the record batches, and name) and the column it fills;
    ``convert`` turns an Arrow array into the values the column's binary format takes."""

    index: int
    field: str
    column: str
    convert: Callable[[Any], list[Any]]


def launder(name: str) -> str:
    """A file's field name as a PostgreSQL identifier: lower case, ``[a-z0-9_]`` only."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_") or "field"
    if cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned[:_NAME_LIMIT]


def _kind(arrow_type: Any) -> str:
    import pyarrow as pa

    t = pa.types
    checks: Sequence[tuple[Callable[[Any], bool], str]] = (
        (t.is_boolean, "bool"),
        (t.is_integer, "int"),
        (t.is_floating, "float"),
        (t.is_decimal, "decimal"),
        (lambda x: t.is_string(x) or t.is_large_string(x), "string"),
        (t.is_date, "date"),
        (t.is_timestamp, "timestamp"),
        (t.is_time, "time"),
        (lambda x: t.is_binary(x) or t.is_large_binary(x), "binary"),
        (t.is_nested, "nested"),
    )
    return next((kind for check, kind in checks if check(arrow_type)), "other")


def _sql_type(field: Any) -> TypeEngine[Any]:
    """The column type that holds an Arrow field's values exactly."""
    import pyarrow as pa

    arrow_type = field.type
    kind = _kind(arrow_type)
    if kind == "int":
        width = arrow_type.bit_width + (1 if pa.types.is_unsigned_integer(arrow_type) else 0)
        if width <= 16:
            return SmallInteger()
        if width <= 32:
            return Integer()
        return BigInteger() if width <= 64 else Numeric(20, 0)
    if kind == "string":
        width = int((field.metadata or {}).get(_WIDTH_KEY, b"0") or 0)
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


def _plain(array: Any) -> list[Any]:
    return list(array.to_pylist())


def _converter(arrow_type: Any, column: TargetColumn | None) -> Callable[[Any], list[Any]]:
    """How a field's Arrow arrays become Python values for ``column`` (None: a new column)."""
    import pyarrow as pa

    kind = _kind(arrow_type)
    oid = column.send_oid if column is not None else None
    casts: dict[int, Any] = {21: pa.int16(), 23: pa.int32(), 20: pa.int64(), 700: pa.float32(),
                             701: pa.float64(), 1114: pa.timestamp("us"),
                             1184: pa.timestamp("us", tz="UTC")}  # fmt: skip
    if oid in _TEXTS and kind != "string":
        return lambda array: list(array.cast(pa.string()).to_pylist())
    if oid == _NUMERIC and kind == "float":
        return lambda array: [None if v is None else Decimal(repr(v)) for v in array.to_pylist()]
    if oid == _NUMERIC and kind == "int":
        return _plain  # psycopg sends Python ints as numeric
    if oid is not None and oid in casts and kind != "string":
        target = casts[oid]
        if not arrow_type.equals(target):
            return lambda array: list(array.cast(target, safe=True).to_pylist())
    if kind == "timestamp" and column is None and arrow_type.tz is not None:
        return lambda array: list(array.cast(pa.timestamp("us", tz="UTC")).to_pylist())
    return _plain


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
        maps.append(FieldMap(index, field.name, column, _converter(field.type, None)))
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


def fit_existing(target: LoadTarget, fields: Sequence[tuple[int, Any]]) -> list[FieldMap]:
    """How the layer's fields fill ``target``; SchemaError naming every field that cannot."""
    maps: list[FieldMap] = []
    problems: list[str] = []
    for index, field in fields:
        column = target.columns.get(field.name) or target.columns.get(launder(field.name))
        if column is None or column.spatial is not None:
            problems.append(f"field {field.name!r} has no column (looked for "
                            f"{field.name!r} and {launder(field.name)!r})")  # fmt: skip
            continue
        kind = _kind(field.type)
        if column.send_oid not in _ACCEPTS.get(kind, _TEXTS):
            problems.append(
                f"field {field.name!r} ({field.type}) cannot go into column "
                f"{column.name!r} ({column.type_name})"
            )
            continue
        maps.append(FieldMap(index, field.name, column.name, _converter(field.type, column)))
    if problems:
        raise SchemaError(
            f"{target.qualified_name} does not fit the layer: {'; '.join(problems)}. Its "
            f"columns are {', '.join(target.columns)}. Load into a new table (another "
            "--table), or add/alter those columns first."
        )
    return maps
