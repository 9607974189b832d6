"""Query-string values turned into typed SQL conditions on a collection's columns.

Every value is parsed in Python for its column's type before it reaches SQL, so a bad one
is a 400 that says what was expected, never a database error (a 500): ``?year=abc`` on an
integer column, a NUL byte in text, an integer out of the column's range, a malformed
``datetime``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    SmallInteger,
    String,
    and_,
    cast,
    true,
)
from sqlalchemy.types import NullType

from pgspatial.errors import ConfigError
from pgspatial.service.collections import Collection

__all__ = ["datetime_condition", "equals", "typed_value"]

_INTEGER_BITS: dict[type[Any], int] = {SmallInteger: 16, Integer: 32, BigInteger: 64}
_OPEN = {"", ".."}
_DATETIME_FORM = (
    "Send an RFC 3339 instant (2024-05-01 or 2024-05-01T12:00:00Z) or a closed or "
    "half-open interval (2024-01-01/2024-12-31, ../2024-12-31, 2024-01-01/..)."
)


def typed_value(collection: Collection, name: str, value: str) -> tuple[ColumnElement[Any], Any]:
    """The column (cast to text when its type is unknown) and ``value`` parsed for it."""
    column: ColumnElement[Any] = collection.table.c[name]
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: a DataError (500) otherwise
        raise ConfigError(f"{name}: the value contains a NUL character; remove it.")
    if isinstance(column.type, NullType):
        return cast(column, String), value
    python_type = column.type.python_type
    if python_type is str:
        return column, value
    if python_type is bool:
        if value.lower() not in {"true", "false", "1", "0", "t", "f"}:
            raise ConfigError(f"{name}={value!r} is not a boolean; send true or false.")
        return column, value.lower() in {"true", "1", "t"}
    parse = getattr(python_type, "fromisoformat", python_type)  # dates and timestamps
    try:
        parsed = parse(value)
    except (ValueError, ArithmeticError, TypeError):
        raise ConfigError(
            f"{name}={value[:100]!r} is not a valid {python_type.__name__}; fix the value."
        ) from None
    bits = _INTEGER_BITS.get(type(column.type))
    if bits is not None and not -(2 ** (bits - 1)) <= parsed < 2 ** (bits - 1):
        # out of the column's range: PostgreSQL would raise NumericValueOutOfRange (a 500)
        raise ConfigError(f"{name}={value[:100]!r} is out of range for this {bits}-bit column.")
    return column, parsed


def equals(collection: Collection, name: str, value: str) -> ColumnElement[bool]:
    """``column = value`` with ``value`` parsed for the column (``?land_use=retail``)."""
    column, bound = typed_value(collection, name, value)
    condition: ColumnElement[bool] = column == bound
    return condition


def _instant(text: str) -> dt.date | dt.datetime:
    """An RFC 3339 date or date-time; a time without an offset is taken as UTC."""
    if "T" not in text.upper():
        return dt.date.fromisoformat(text)
    parsed = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _bounds(text: str) -> tuple[dt.date | dt.datetime | None, dt.date | dt.datetime | None, bool]:
    """(start, end, is_instant) of an OGC ``datetime`` value; None is an open end."""
    malformed = ConfigError(
        f"datetime {text[:100]!r} is not a date, time or interval. {_DATETIME_FORM}"
    )
    if "\x00" in text or len(text) > 100:
        raise malformed
    parts = text.split("/")
    try:
        if len(parts) == 1:
            instant = _instant(parts[0])
            return instant, instant, True
        if len(parts) == 2:
            start = None if parts[0] in _OPEN else _instant(parts[0])
            end = None if parts[1] in _OPEN else _instant(parts[1])
            if start is None and end is None:
                return None, None, False
            if start is not None and end is not None and _as_datetime(start) > _as_datetime(end):
                raise ConfigError(f"datetime {text!r} ends before it starts. {_DATETIME_FORM}")
            return start, end, False
    except ValueError:
        pass
    raise malformed


def _as_datetime(value: dt.date | dt.datetime, *, end: bool = False) -> dt.datetime:
    """A date as the first instant of its day, or of the next day for an interval's end."""
    if isinstance(value, dt.datetime):
        return value
    day = value + dt.timedelta(days=1) if end else value
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def datetime_condition(collection: Collection, text: str) -> ColumnElement[bool]:
    """OGC ``datetime`` on the collection's temporal column: features whose instant is in it.

    Intervals are closed; a date stands for its whole day (UTC) on a timestamp column. A
    collection without a date or timestamp column has no temporal extent, so every
    feature matches (the value is still checked).
    """
    start, end, instant = _bounds(text)
    name = collection.temporal_column
    if name is None:
        return true()
    column: ColumnElement[Any] = collection.table.c[name]
    if isinstance(column.type, Date):
        low = start.date() if isinstance(start, dt.datetime) else start
        high = end.date() if isinstance(end, dt.datetime) else end
        return and_(true(), *([column >= low] if low else []), *([column <= high] if high else []))
    timezone = bool(getattr(column.type, "timezone", False))

    def stamp(value: dt.date | dt.datetime, *, upper: bool) -> dt.datetime:
        moment = _as_datetime(value, end=upper)
        return moment if timezone else moment.astimezone(dt.UTC).replace(tzinfo=None)

    conditions: list[ColumnElement[bool]] = []
    day_bound = not isinstance(end, dt.datetime)
    if start is not None:
        conditions.append(column >= stamp(start, upper=False))
    if end is not None:
        upper = stamp(end, upper=True)
        # a date's day ends before the next one starts; an explicit instant is included
        conditions.append(column < upper if day_bound else column <= upper)
    if instant and isinstance(start, dt.datetime):
        return column == stamp(start, upper=False)
    return and_(true(), *conditions)
