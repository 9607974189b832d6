"""Small text helpers shared by the geometry modules' error messages.

Every pgspatial geometry error names the column it was meant for (when the caller said
which) and never echoes a whole, possibly megabyte-sized, input back; these helpers keep
that consistent.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ECHO_LIMIT", "echo", "format_coordinate", "prefix"]

ECHO_LIMIT = 80
"""How many characters of an offending input an error message may quote."""


def prefix(column: str | None) -> str:
    """The ``"<column>: "`` lead of an error message, or ``""`` when no column was named."""
    return f"{column}: " if column else ""


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A short quotation of ``value`` for an error message: at most ``limit`` characters."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        text = raw[: limit // 2].hex()
        more = len(raw) > limit // 2
        total = f"{len(raw)} bytes"
    else:
        full = value if isinstance(value, str) else repr(value)
        text = full[:limit]
        more = len(full) > limit
        total = f"{len(full)} characters"
        if isinstance(value, str):
            text = repr(text)
    return f"{text}... ({total})" if more else text


def format_coordinate(values: Sequence[float]) -> str:
    """A coordinate as PostGIS prints it in messages: ``(x y)`` or ``(x y z)``."""
    return "(" + " ".join(f"{float(v):.15g}" for v in values) + ")"
