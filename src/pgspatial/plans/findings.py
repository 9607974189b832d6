"""``Finding``: one spatial anti-pattern found by the linter, and the catalogue of rule codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pglast.ast import Node

from pgspatial.plans._ast import display, location

__all__ = ["RULES", "SEVERITY_ORDER", "Finding", "Severity", "finding"]

Severity = Literal["info", "warning", "error"]
SEVERITY_ORDER: Mapping[Severity, int] = {"info": 0, "warning": 1, "error": 2}

#: Every rule code the linter emits (stable: tests, CI filters and docs rely on them).
RULES: Mapping[str, str] = {
    "ST_DISTANCE_IN_WHERE": "ST_Distance(...) compared with a limit in WHERE/ON/HAVING: "
    "index-blind; use ST_DWithin or pgspatial.within_distance",
    "FUNCTION_ON_INDEXED_COLUMN": "a cast or function around a column inside an "
    "index-using spatial predicate, without an index prefilter or a matching expression index",
    "KNN_NON_CONSTANT": "ORDER BY a <-> b with columns on both sides: no index-ordered scan",
    "KNN_PLANAR_DEGREES": "ORDER BY geom <-> point on geometry(4326): planar degrees, so the "
    "top-k differs from the true nearest",
    "MIXED_LITERAL_SRIDS": "two geometries in different SRIDs meet in one predicate or "
    "function: silently wrong rows",
    "METRES_ON_3857": "a distance, radius, length or area measured in Web Mercator units, "
    "which are not ground metres",
    "PARSE_ERROR": "the SQL is not valid PostgreSQL",
}


@dataclass(frozen=True)
class Finding:
    """A spatial anti-pattern: what it is, why it hurts and what to write instead."""

    code: str
    """One of :data:`RULES`."""
    severity: Severity
    message: str
    """What is wrong and what to do about it."""
    snippet: str
    """The offending expression, as SQL."""
    location: int | None = None
    """Character offset of the expression in the analysed SQL, when known."""

    def __str__(self) -> str:
        where = f" (at {self.location})" if self.location is not None else ""
        return f"{self.severity.upper()} {self.code}{where}: {self.message}\n    {self.snippet}"

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready mapping."""
        return asdict(self)


def finding(code: str, severity: Severity, message: str, node: Node) -> Finding:
    """A finding about ``node``, with its SQL and source offset."""
    if code not in RULES:  # pragma: no cover - a programming error in a rule
        raise ValueError(f"unknown lint rule code {code!r}")
    return Finding(
        code=code,
        severity=severity,
        message=message,
        snippet=display(node),
        location=location(node),
    )
