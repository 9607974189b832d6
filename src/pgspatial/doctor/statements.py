"""The spatial statements of pg_stat_statements, and what the linter's parser says of them.

Statements are selected in SQL by a regular expression on function-call syntax,
``~* '\\mst_[a-z0-9_]+\\s*\\('`` (errata 18), never ``ILIKE '%ST_%'``:
:func:`is_spatial_text` is the same test in Python, for the unit tests and for callers
that filter texts themselves. Their texts are normalised by pg_stat_statements (constants
become ``$1``, ``$2``, ...), which PostgreSQL's parser, and so the linter, reads fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pglast.ast import FuncCall, Node, TypeCast

from pgspatial.catalog import Catalog, SpatialColumnInfo, SpatialTable
from pgspatial.doctor.context import Context
from pgspatial.plans import Finding, lint, literal_text
from pgspatial.plans._ast import cast_type, function_name, has_typmods, own_nodes, scopes
from pgspatial.plans._facts import column_info
from pgspatial.plans.lint_index import index_predicate_arguments
from pgspatial.plans.sqltext import analyse

__all__ = [
    "SPATIAL_CALL",
    "GeographyCast",
    "SpatialStatement",
    "geography_casts",
    "is_spatial_text",
    "lint_statement",
    "spatial_statements",
]

#: A call of a function named ``st_*`` (the same pattern the SQL uses, errata 18).
SPATIAL_CALL = re.compile(r"\bst_[a-z0-9_]+\s*\(", re.IGNORECASE)


def is_spatial_text(query: str) -> bool:
    """Whether ``query`` calls an ``st_*`` function (``ST_Intersects(``), not merely contains
    ``st`` and another character (``first_name``, ``statement``)."""
    return SPATIAL_CALL.search(query) is not None


@dataclass(frozen=True)
class SpatialStatement:
    """One pg_stat_statements entry of this database that calls ``st_*`` functions."""

    queryid: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int

    def short(self, limit: int = 160) -> str:
        """The text on one line, cut at ``limit`` characters."""
        flat = " ".join(self.query.split())
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def spatial_statements(ctx: Context) -> Sequence[SpatialStatement]:
    """The top ``workload_top`` spatial statements by total time (memoised per run)."""
    key = "spatial_statements"
    if key not in ctx.memo:
        rows = ctx.rows(
            "workload",
            "spatial_statements",
            {"top": ctx.thresholds.workload_top},
            pgss=ctx.schema_of("pg_stat_statements"),
        )
        ctx.memo[key] = tuple(
            SpatialStatement(
                queryid=str(r.queryid),
                query=str(r.query),
                calls=int(r.calls),
                total_ms=float(r.total_exec_time),
                mean_ms=float(r.mean_exec_time),
                rows=int(r.rows),
            )
            for r in rows
            if is_spatial_text(str(r.query))
        )
    statements: Sequence[SpatialStatement] = ctx.memo[key]
    return statements


def lint_statement(query: str, catalog: Catalog) -> list[Finding]:
    """The linter's findings on a normalised statement; texts that do not parse give none.

    Colons are literal (``literal_text``): ``::geography`` and ``'a:b'`` stay as written.
    """
    return [f for f in lint(literal_text(query), catalog=catalog) if f.code != "PARSE_ERROR"]


@dataclass(frozen=True)
class GeographyCast:
    """A geometry column cast to geography inside an index-usable spatial predicate."""

    table: SpatialTable
    column: SpatialColumnInfo
    has_typmod: bool
    """``CAST(col AS geography(GEOMETRY,4326))``: never matches a ``(col)::geography`` index."""


def _geography_operand(node: Node) -> tuple[Node, bool] | None:
    """The cast expression's operand when ``node`` is ``x::geography`` or ``geography(x)``."""
    if isinstance(node, TypeCast) and cast_type(node) == "geography" and node.arg is not None:
        return node.arg, has_typmods(node)
    if isinstance(node, FuncCall) and function_name(node) == "geography" and node.args:
        return node.args[0], False
    return None


def geography_casts(query: str, catalog: Catalog) -> Iterator[GeographyCast]:
    """Geometry columns cast to geography in index-usable predicates that no index serves.

    Only statements the linter flags with ``FUNCTION_ON_INDEXED_COLUMN`` count: one with an
    index prefilter on the bare column in the same AND (``geom && ST_Expand(...)``, as
    pgspatial.within_distance writes it) or a matching expression index is fine.
    """
    findings = lint_statement(query, catalog)
    if not any(f.code == "FUNCTION_ON_INDEXED_COLUMN" for f in findings):
        return
    analysed = analyse(literal_text(query))
    for raw in analysed.statements:
        if raw.stmt is None:
            continue
        for scope in scopes(raw.stmt):
            for root in scope.predicate_roots():
                for node in own_nodes(root):
                    for argument in index_predicate_arguments(node) or ():
                        operand = _geography_operand(argument)
                        if operand is None:
                            continue
                        info = column_info(operand[0], scope, catalog)
                        if info is not None and info[1].kind == "geometry":
                            yield GeographyCast(info[0], info[1], operand[1])
