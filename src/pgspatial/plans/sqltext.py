"""Statements as PostgreSQL text, parsed by pglast: the one input of the linter and ``explain``.

A SQLAlchemy statement is compiled for PostgreSQL with every bound value rendered as a
literal where SQLAlchemy (or this module, for geometries) can render it, and as a numbered
placeholder ``$n`` where it cannot, so one bind that has no literal form does not cost the
analysis the SRIDs and radii of all the others. Geometries are rendered as EWKT
(``'SRID=4326;POINT (...)'``), which keeps their SRID visible to the SRID rules. The text is
then parsed by pglast (PostgreSQL's own parser), so raw SQL and SQLAlchemy statements go
through exactly the same analysis.

The text produced here is for reading, never for execution: ``explain`` executes the
statement through the bind's own dialect and driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pglast import parse_sql
from pglast.ast import (
    CreateTableAsStmt,
    DeclareCursorStmt,
    DeleteStmt,
    ExecuteStmt,
    InsertStmt,
    MergeStmt,
    Node,
    RawStmt,
    SelectStmt,
    UpdateStmt,
)
from pglast.parser import ParseError
from sqlalchemy import exc, text
from sqlalchemy.dialects.postgresql.base import PGCompiler, PGDialect
from sqlalchemy.sql.base import NO_ARG
from sqlalchemy.sql.elements import BindParameter, ClauseElement, TextClause
from sqlalchemy.types import TypeEngine

__all__ = [
    "AnalysedSql",
    "StatementKind",
    "analyse",
    "literal_text",
    "sql_text",
    "statement_kind",
    "walk",
]

StatementKind = Literal["read", "write", "unexplainable", "unknown"]

# TextClause's own bind-parameter pattern (SQLAlchemy 2.x); "\:" is its escape.
_TEXT_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_EXPLAINABLE_WRITES = (
    InsertStmt,
    UpdateStmt,
    DeleteStmt,
    MergeStmt,
    ExecuteStmt,
    DeclareCursorStmt,
    CreateTableAsStmt,
)


def literal_text(sql: str) -> TextClause:
    """``text(sql)`` in which every colon is literal: for SQL typed by a person or read from a
    file, which has no SQLAlchemy ``:name`` parameters (``'{"a":1}'::jsonb`` stays as it is).
    """
    return text(_TEXT_BIND.sub(r"\\:\1", sql))


def _ewkt(value: object) -> str | None:
    """A geometry element as an EWKT SQL literal, or None when ``value`` is not one."""
    from geoalchemy2.elements import WKBElement, WKTElement

    if isinstance(value, WKTElement):
        body = str(value.data)
    elif isinstance(value, WKBElement):
        import shapely

        shape = getattr(value, "shape", None)  # a pgspatial ParsedGeometry keeps its shape
        if shape is None:
            data = value.data
            shape = shapely.from_wkb(data if isinstance(data, str) else bytes(data))
        body = shapely.to_wkt(shape, rounding_precision=-1)
    else:
        return None
    srid = int(getattr(value, "srid", -1) or -1)
    if srid > 0 and not body.upper().startswith("SRID="):
        body = f"SRID={srid};{body}"
    return "'" + body.replace("'", "''") + "'"


class _AnalysisCompiler(PGCompiler):
    """Literal binds where possible, ``$n`` placeholders where not (per bound value)."""

    _placeholders = 0

    def _placeholder(self) -> str:
        # For an expanding (IN) parameter SQLAlchemy supplies the parentheses itself.
        self._placeholders += 1
        return f"${self._placeholders}"

    def render_literal_bindparam(
        self,
        bindparam: BindParameter[Any],
        render_literal_value: Any = NO_ARG,
        bind_expression_template: str | None = None,
        **kw: Any,
    ) -> str:
        """Render the value inline; a value-less or unrenderable bind becomes ``$n``."""
        if (
            render_literal_value is NO_ARG
            and bindparam.value is None
            and bindparam.callable is None
            and not bindparam.expanding
        ):
            return self._placeholder()
        try:
            return str(
                super().render_literal_bindparam(  # type: ignore[no-untyped-call]
                    bindparam,
                    render_literal_value=render_literal_value,
                    bind_expression_template=bind_expression_template,
                    **kw,
                )
            )
        except exc.CompileError:
            return self._placeholder()

    def render_literal_value(self, value: Any, type_: TypeEngine[Any]) -> str:
        """Geometries as EWKT literals (their SRID stays visible); the rest as SQLAlchemy does."""
        ewkt = _ewkt(value)
        if ewkt is not None:
            return ewkt
        return str(super().render_literal_value(value, type_))  # type: ignore[no-untyped-call]


class _AnalysisDialect(PGDialect):
    """PostgreSQL without a driver: nothing is executed with it."""

    statement_compiler = _AnalysisCompiler


def _dialect() -> PGDialect:
    # numeric_dollar: no "%" doubling (that belongs to pyformat drivers), "$n" as PostgreSQL.
    return _AnalysisDialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def sql_text(statement: ClauseElement | str) -> str:
    """PostgreSQL text of ``statement`` for analysis (a string is taken as ``text()``)."""
    element = text(statement) if isinstance(statement, str) else statement
    try:
        return str(element.compile(dialect=_dialect(), compile_kwargs={"literal_binds": True}))
    except exc.CompileError:
        # A construct that refuses literal rendering as a whole: plain placeholders.
        return str(element.compile(dialect=_dialect()))


@dataclass(frozen=True)
class AnalysedSql:
    """The analysed text and pglast's statements, or the parse error."""

    sql: str
    statements: tuple[RawStmt, ...]
    error: str | None = None
    """pglast's message when the text is not valid PostgreSQL; ``statements`` is then empty."""
    error_location: int | None = None


def analyse(statement: ClauseElement | str) -> AnalysedSql:
    """Compile (when needed) and parse ``statement``; a syntax error is reported, not raised."""
    sql = sql_text(statement)
    try:
        return AnalysedSql(sql=sql, statements=tuple(parse_sql(sql)))
    except ParseError as error:
        message = str(error.args[0]) if error.args else str(error)
        location = error.args[1] if len(error.args) > 1 else None
        if not isinstance(location, int):
            location = len(sql) if "end of input" in message else None
        return AnalysedSql(sql=sql, statements=(), error=message, error_location=location)


def statement_kind(statement: Node) -> StatementKind:
    """How ``EXPLAIN ANALYZE`` may treat one parsed statement.

    ``read``: a SELECT/VALUES without ``INTO``, row locks or data-modifying CTEs, which
    changes nothing (functions with side effects called from a SELECT are out of reach of
    any parser); ``write``: an explainable statement that can change data;
    ``unexplainable``: anything EXPLAIN refuses (DDL, SET, EXPLAIN itself, ...).
    """
    if isinstance(statement, SelectStmt):
        modifies = any(isinstance(node, _EXPLAINABLE_WRITES) for node in walk(statement))
        if statement.intoClause is not None or statement.lockingClause or modifies:
            return "write"
        return "read"
    if isinstance(statement, _EXPLAINABLE_WRITES):
        return "write"
    return "unexplainable"


def walk(node: object) -> list[Node]:
    """Every pglast node under ``node`` (itself included), depth first, in source order."""
    found: list[Node] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            found.append(item)
            stack.extend(reversed([getattr(item, name) for name in item]))
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))
    return found
