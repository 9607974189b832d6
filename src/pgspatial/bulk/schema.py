"""A file layer's fields as table columns: the fit check for an existing table, and the
conversions of Arrow arrays into the values each column's binary format takes.

New tables (:mod:`pgspatial.bulk.newtable`) get PostgreSQL types that hold the Arrow types
exactly (int32 -> integer, int64 -> bigint, floats -> double precision, strings -> text or
varchar(n) when GDAL knows the width, bool, date, timestamps with and without time zone,
decimal -> numeric), names laundered like ogr2ogr's (lower case, ``_`` for anything else).

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

from pgspatial.bulk.target import LoadTarget, TargetColumn
from pgspatial.errors import SchemaError

__all__ = ["WIDTH_KEY", "FieldMap", "arrow_kind", "field_converter", "fit_existing", "launder"]

_NAME_LIMIT = 63
WIDTH_KEY = b"GDAL:OGR:width"
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


def arrow_kind(arrow_type: Any) -> str:
    """How the loader groups an Arrow type: ``"int"``, ``"float"``, ``"string"``, ..."""
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


def _plain(array: Any) -> list[Any]:
    return list(array.to_pylist())


def field_converter(arrow_type: Any, column: TargetColumn | None) -> Callable[[Any], list[Any]]:
    """How a field's Arrow arrays become Python values for ``column`` (None: a new column)."""
    import pyarrow as pa

    kind = arrow_kind(arrow_type)
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
        kind = arrow_kind(field.type)
        if column.send_oid not in _ACCEPTS.get(kind, _TEXTS):
            problems.append(
                f"field {field.name!r} ({field.type}) cannot go into column "
                f"{column.name!r} ({column.type_name})"
            )
            continue
        maps.append(FieldMap(index, field.name, column.name, field_converter(field.type, column)))
    if problems:
        raise SchemaError(
            f"{target.qualified_name} does not fit the layer: {'; '.join(problems)}. Its "
            f"columns are {', '.join(target.columns)}. Load into a new table (another "
            "--table), or add/alter those columns first."
        )
    return maps
