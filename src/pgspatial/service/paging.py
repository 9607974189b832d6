"""How a collection's items are paged, so that every feature is reachable through ``next``.

- **One key column** (the usual case): a keyset on it, ``WHERE key > cursor ORDER BY key``.
  Every page is an index range scan, however deep.
- **A composite primary key**: a keyset on the row value, ``WHERE (a, b) > (x, y) ORDER BY
  a, b`` (also one index range scan). The feature id is the key as a JSON array in a
  string, e.g. ``"[7,\\"B\\"]"``, which is also the cursor and the id ``/items/{id}`` takes.
- **No key** (a view, a table without a primary key): ``OFFSET`` pages over an order on
  every column, so pages are stable and disjoint; rows that are equal in every column are
  interchangeable, so none is lost. Each page costs a sort of the relation: give it a
  primary key for keyset pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, String, Text, and_, cast, func, tuple_
from sqlalchemy.types import NullType

from pgspatial.errors import ConfigError
from pgspatial.service.collections import Collection
from pgspatial.service.filters import typed_value
from pgspatial.service.streaming import FeatureLines

__all__ = ["KEY_LABEL", "Page", "composite_key_condition", "page", "paging_key"]

KEY_LABEL = "pgspatial_feature_key"
"""The label of the composite key's JSON text in a page's statement (the feature id)."""


@dataclass(frozen=True)
class Page:
    """A page's statement, its feature-id column, and how to make the next cursor."""

    statement: Select[Any]
    id_column: str | None
    next_cursor: Callable[[FeatureLines], str | None]


def composite_key_condition(collection: Collection, text: str) -> ColumnElement[bool]:
    """The key columns as typed by the collection compared ``=`` to a JSON-array id."""
    columns, values = _key_values(collection, text, "feature id")
    return and_(*(column == value for column, value in zip(columns, values, strict=True)))


def paging_key(collection: Collection) -> ColumnElement[str]:
    """The composite key as JSON-array text, labelled :data:`KEY_LABEL` (the feature id)."""
    keys = (collection.table.c[k] for k in collection.key_columns)
    return cast(func.json_build_array(*keys), Text).label(KEY_LABEL)


def _key_values(
    collection: Collection, text: str, what: str
) -> tuple[list[ColumnElement[Any]], list[Any]]:
    keys = collection.key_columns
    form = f'The {what} is a JSON array of the key\'s {len(keys)} values, e.g. [1, "a"].'
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ConfigError(f"{what} {text[:100]!r} is not valid. {form}") from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise ConfigError(f"{what} {text[:100]!r} is not valid. {form}")
    columns: list[ColumnElement[Any]] = []
    typed: list[Any] = []
    for name, value in zip(keys, values, strict=True):
        if isinstance(value, dict | list) or value is None:
            raise ConfigError(f"{what} {text[:100]!r} is not valid. {form}")
        as_text = value if isinstance(value, str) else str(value)
        column, parsed = typed_value(collection, name, as_text)
        columns.append(column)
        typed.append(parsed)
    return columns, typed


def _orderable(collection: Collection) -> list[ColumnElement[Any]]:
    """Every column, in a total order: unknown types (json has no ``<``) as their text."""
    return [
        cast(column, String) if isinstance(column.type, NullType) else column
        for column in collection.table.c
    ]


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise ConfigError(
            f"cursor {cursor[:100]!r} is not valid for this collection; follow the next links."
        )
    return int(cursor)


def page(collection: Collection, stmt: Select[Any], cursor: str | None, size: int) -> Page:
    """``stmt`` limited to the page after ``cursor`` (None: the first page)."""
    keys: Sequence[str] = collection.key_columns
    table = collection.table
    if len(keys) == 1:
        key = keys[0]
        if cursor is not None:
            column, after = typed_value(collection, key, cursor)
            stmt = stmt.where(column > after)
        return Page(stmt.order_by(table.c[key]).limit(size), key, _last_id_when_full(size))
    if keys:
        stmt = stmt.add_columns(paging_key(collection))
        if cursor is not None:
            columns, values = _key_values(collection, cursor, "cursor")
            stmt = stmt.where(tuple_(*columns) > tuple_(*values))
        ordered = stmt.order_by(*(table.c[k] for k in keys)).limit(size)
        return Page(ordered, KEY_LABEL, _last_id_when_full(size))
    start = _offset(cursor)

    def next_offset(lines: FeatureLines) -> str | None:
        return str(start + lines.count) if lines.count == size else None

    return Page(stmt.order_by(*_orderable(collection)).offset(start).limit(size), None, next_offset)


def _last_id_when_full(size: int) -> Callable[[FeatureLines], str | None]:
    def next_cursor(lines: FeatureLines) -> str | None:
        if lines.count != size:
            return None
        last = lines.last_id()
        return None if last is None else str(last)

    return next_cursor
