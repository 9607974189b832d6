"""``lint``: spatial anti-patterns in a statement, found by reading it, without running it.

One analysis serves SQLAlchemy statements and raw SQL: statements are compiled for
PostgreSQL with their values inlined where possible (:mod:`pgspatial.plans.sqltext`) and
everything is parsed by pglast, PostgreSQL's own parser, so the rules see exactly what
PostgreSQL will see. Every query level (sub-queries, CTEs, UNION parts) is checked.

Rules and their stable codes (see :data:`~pgspatial.plans.findings.RULES`):

========================== ======== ==================================================
code                       severity what
========================== ======== ==================================================
ST_DISTANCE_IN_WHERE       warning  ``ST_Distance(a, b) < r`` in WHERE/ON/HAVING
FUNCTION_ON_INDEXED_COLUMN warning  cast/function around an indexed column in a spatial
                                    predicate, no prefilter, no matching index
KNN_NON_CONSTANT           warning  ``ORDER BY a <-> b`` with columns on both sides
KNN_PLANAR_DEGREES         warning  ``ORDER BY geom <-> pt`` on geometry(4326) (catalog)
MIXED_LITERAL_SRIDS        error    different SRIDs in one predicate or function
METRES_ON_3857             warning  radius, distance, length or area in Web Mercator units
PARSE_ERROR                error    the SQL does not parse
========================== ======== ==================================================

With a :class:`~pgspatial.catalog.Catalog`, the rules also know each column's SRID and the
database's expression indexes; without one they rely on the statement's literals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.sql.elements import ClauseElement

from pgspatial.catalog import Catalog
from pgspatial.plans._ast import Scope, scopes
from pgspatial.plans.findings import RULES, Finding
from pgspatial.plans.lint_index import distance_in_where, function_on_indexed_column, knn_ordering
from pgspatial.plans.lint_srid import metres_on_mercator, mixed_srids
from pgspatial.plans.sqltext import AnalysedSql, analyse

__all__ = ["RULES", "Finding", "lint", "lint_analysed"]

Rule = Callable[[Scope, Catalog | None], Iterator[Finding]]

_RULES: tuple[Rule, ...] = (
    distance_in_where,
    function_on_indexed_column,
    knn_ordering,
    mixed_srids,
    metres_on_mercator,
)
_CONTEXT = 30


def lint(statement: ClauseElement | str, *, catalog: Catalog | None = None) -> list[Finding]:
    """The spatial anti-patterns in ``statement`` (a SQLAlchemy statement or SQL text).

    A string is read as ``text()`` would read it (``:name`` is a parameter). Invalid SQL
    gives one ``PARSE_ERROR`` finding rather than an exception. Findings are in source order.
    """
    return lint_analysed(analyse(statement), catalog=catalog)


def lint_analysed(analysed: AnalysedSql, *, catalog: Catalog | None = None) -> list[Finding]:
    """:func:`lint` for SQL that :func:`~pgspatial.plans.sqltext.analyse` already parsed."""
    if analysed.error is not None:
        return [_parse_error(analysed)]
    found: dict[tuple[str, int | None, str], Finding] = {}
    for raw in analysed.statements:
        for scope in scopes(raw.stmt) if raw.stmt is not None else ():
            for rule in _RULES:
                for item in rule(scope, catalog):
                    found.setdefault((item.code, item.location, item.snippet), item)
    return sorted(found.values(), key=lambda f: (f.location or 0, f.code))


def _parse_error(analysed: AnalysedSql) -> Finding:
    location = analysed.error_location
    sql = analysed.sql
    if location is not None and 0 <= location <= len(sql):
        start = max(0, location - _CONTEXT)
        snippet = sql[start : location + _CONTEXT].replace("\n", " ")
        snippet = ("…" if start else "") + snippet + ("…" if location + _CONTEXT < len(sql) else "")
    else:
        snippet = sql[: 2 * _CONTEXT].replace("\n", " ")
    return Finding(
        code="PARSE_ERROR",
        severity="error",
        message=(
            f"the SQL is not valid PostgreSQL ({analysed.error}); fix the syntax near the "
            "position shown. Nothing else was checked."
        ),
        snippet=snippet,
        location=location,
    )
