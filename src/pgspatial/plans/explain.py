"""``explain``: run ``EXPLAIN (FORMAT JSON)`` on a statement exactly as it would execute.

How the statement reaches PostgreSQL matters for the plan. ``explain`` executes the
statement through the bind's own ``execute()``, and only the final SQL text is prefixed
with ``EXPLAIN (...)`` at the last moment (a ``before_cursor_execute`` hook scoped to this
one statement). So the plan is made for what the application really sends: the bind's
dialect compiles it, the column types' bind processors run (pgspatial validates geometries,
GeoAlchemy2 turns them into EWKB and wraps them in ``ST_GeomFromEWKT``), ``IN`` lists are
expanded, typed casts such as ``%(r)s::INTEGER`` are rendered, and psycopg sends the values
as server-side parameters, for which PostgreSQL plans with the actual values. Inlining the
values as literals would plan a different statement (other types, other function calls,
no validation), and some values have no literal form at all.

``EXPLAIN ANALYZE`` executes the statement. Anything that can change data runs inside a
SAVEPOINT that is rolled back, so nothing changes; a plain read (a SELECT without ``INTO``,
row locks or data-modifying CTEs) runs as it is. Planner settings (``settings=``) are
applied with ``SET LOCAL`` inside such a savepoint too, so they never leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

from pglast.ast import ExplainStmt
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import ObjectNotExecutableError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.sql.elements import ClauseElement

from pgspatial.errors import ConfigError
from pgspatial.plans.model import Plan
from pgspatial.plans.sqltext import StatementKind, analyse, statement_kind

__all__ = ["explain", "explain_async"]

Bind: TypeAlias = Session | Connection | Engine
AsyncBind: TypeAlias = AsyncSession | AsyncConnection | AsyncEngine
Statement: TypeAlias = Executable | str

_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_TABLE_SIZES = text(
    "SELECT c.relname, c.reltuples::float8 AS reltuples,"
    " pg_catalog.pg_table_is_visible(c.oid) AS visible"
    " FROM pg_catalog.pg_class AS c"
    " WHERE c.relname = ANY(:names) AND c.relkind IN ('r', 'p', 'm', 'f', 't')"
)


def _as_statement(statement: Statement) -> ClauseElement:
    if isinstance(statement, str):
        return text(statement)
    if isinstance(statement, ExecutableDDLElement):
        raise ConfigError(
            f"{type(statement).__name__} is DDL, which PostgreSQL cannot EXPLAIN; pass a "
            "SELECT, INSERT, UPDATE, DELETE or MERGE statement."
        )
    if isinstance(statement, Executable) and isinstance(statement, ClauseElement):
        return statement
    raise ConfigError(
        f"explain() needs a SQLAlchemy statement (select(), insert(), update(), delete(), "
        f"text()) or SQL text, not {type(statement).__name__}."
    )


def _kind(statement: ClauseElement) -> StatementKind:
    """What the statement is, refusing what EXPLAIN cannot take (with what to do instead)."""
    try:
        analysed = analyse(statement)
    except SQLAlchemyError:
        return "unknown"  # a construct only the bind's own dialect compiles
    if analysed.error is not None:
        return "unknown"  # let PostgreSQL give its own error
    if len(analysed.statements) != 1:
        raise ConfigError(
            f"explain() takes one statement; got {len(analysed.statements)}. Explain them one "
            "at a time."
        )
    parsed = analysed.statements[0].stmt
    if parsed is None:
        return "unknown"
    if isinstance(parsed, ExplainStmt):
        raise ConfigError("pass the statement without EXPLAIN: explain() adds it.")
    kind = statement_kind(parsed)
    if kind == "unexplainable":
        raise ConfigError(
            f"PostgreSQL cannot EXPLAIN a {type(parsed).__name__}; EXPLAIN takes SELECT, "
            "VALUES, INSERT, UPDATE, DELETE, MERGE, EXECUTE, DECLARE and CREATE TABLE AS."
        )
    return kind


def _options(analyze: bool, buffers: bool | None) -> str:
    parts = ["FORMAT JSON"]
    if analyze:
        parts.append("ANALYZE")
    if buffers if buffers is not None else analyze:
        parts.append("BUFFERS")
    return ", ".join(parts)


@contextmanager
def _savepoint(connection: Connection, needed: bool) -> Iterator[None]:
    """A SAVEPOINT that is always rolled back (a no-op when not ``needed``)."""
    if not needed:
        yield
        return
    if getattr(connection.connection.dbapi_connection, "autocommit", False):
        raise ConfigError(
            "this statement must run inside a savepoint that is rolled back (EXPLAIN ANALYZE of "
            "a statement that can change data, or planner settings), but the connection is in "
            "AUTOCOMMIT mode; use a connection without isolation_level='AUTOCOMMIT'."
        )
    nested = connection.begin_nested()
    try:
        yield
    finally:
        if nested.is_active:
            nested.rollback()


def _execute_explain(
    connection: Connection, statement: ClauseElement, options: str, params: Mapping[str, Any]
) -> Any:
    """Execute ``statement`` with its SQL prefixed by EXPLAIN, and return the plan JSON."""
    state: dict[str, Any] = {}

    def before(*args: Any) -> Any:
        sql, parameters, context = args[2], args[3], args[4]
        if "sql" in state or getattr(context, "invoked_statement", None) is not statement:
            return sql, parameters  # another statement (e.g. a per-transaction SET)
        state["sql"] = sql
        return f"EXPLAIN ({options}) {sql}", parameters

    def after(*args: Any) -> None:
        if "sql" in state and "rows" not in state:
            state["rows"] = args[1].fetchall()  # the cursor, before SQLAlchemy reads it

    event.listen(connection, "before_cursor_execute", before, retval=True)
    event.listen(connection, "after_cursor_execute", after)
    try:
        connection.execute(cast(Executable, statement), dict(params)).close()
    except ObjectNotExecutableError as error:
        raise ConfigError(f"explain() cannot execute {statement!r}: {error}") from None
    finally:
        event.remove(connection, "before_cursor_execute", before)
        event.remove(connection, "after_cursor_execute", after)
    rows = state.get("rows")
    if not rows:
        raise ConfigError(
            "EXPLAIN returned no plan: the statement did not reach the database as one "
            "statement (an executemany or an empty IN list?). Explain a single statement."
        )
    return rows[0][0]


def _table_sizes(connection: Connection, plan: Plan) -> dict[str, float]:
    """Estimated rows of each sequentially scanned table (the visible one of that name)."""
    names = sorted({n.relation for n in plan.seq_scans() if n.relation})
    if not names:
        return {}
    sizes: dict[str, float] = {}
    rows = connection.execute(_TABLE_SIZES, {"names": names}).all()
    for row in sorted(rows, key=lambda r: (bool(r.visible), r.reltuples)):
        if row.reltuples is not None and row.reltuples >= 0:
            sizes[row.relname] = float(row.reltuples)  # visible (then largest) wins
    return sizes


def _connection_of(bind: Bind, statement: ClauseElement) -> Connection:
    if isinstance(bind, Session):
        return bind.connection(bind_arguments={"clause": statement})
    if isinstance(bind, Connection):
        return bind
    raise ConfigError(
        f"explain() needs a Session, Connection or Engine, not {type(bind).__name__}; for "
        "asyncio use explain_async()."
    )


def _settings_sql(settings: Mapping[str, object]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in settings.items():
        if not _SETTING_NAME.fullmatch(name):
            raise ConfigError(f"{name!r} is not a PostgreSQL setting name (e.g. enable_seqscan)")
        rendered = ("on" if value else "off") if isinstance(value, bool) else str(value)
        pairs.append((name, rendered))
    return pairs


def explain(
    bind: Bind,
    statement: Statement,
    *,
    analyze: bool = False,
    buffers: bool | None = None,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, object] | None = None,
) -> Plan:
    """The plan of ``statement`` on ``bind`` (a Session, Connection or Engine).

    ``statement`` is a SQLAlchemy statement or SQL text (read as ``text()``, so ``:name``
    are parameters, given in ``params``). ``analyze`` runs it (data-changing statements in
    a rolled-back savepoint); ``buffers`` defaults to ``analyze``. ``settings`` are planner
    settings for this statement only (``{"enable_seqscan": False}``), set with SET LOCAL
    inside a rolled-back savepoint.

    A statement EXPLAIN cannot take (DDL, several statements, EXPLAIN itself) raises
    :class:`~pgspatial.errors.ConfigError`; SQL errors propagate as SQLAlchemy/driver errors,
    translated into pgspatial's errors on engines made by :func:`pgspatial.create_engine`.
    """
    clause = _as_statement(statement)
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError("params must be one mapping of parameter names to values")
    kind = _kind(clause)
    run: dict[str, Any] = {
        "kind": kind,
        "options": _options(analyze, buffers),
        "params": params,
        "settings": settings,
    }
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return _explain(connection, clause, **run)
    return _explain(_connection_of(bind, clause), clause, **run)


def _explain(
    connection: Connection,
    clause: ClauseElement,
    *,
    kind: StatementKind,
    options: str,
    params: Mapping[str, Any] | None,
    settings: Mapping[str, object] | None,
) -> Plan:
    pairs = _settings_sql(settings or {})
    needs_savepoint = bool(pairs) or ("ANALYZE" in options and kind != "read")
    with _savepoint(connection, needs_savepoint):
        for name, value in pairs:
            connection.execute(
                text("SELECT pg_catalog.set_config(:name, :value, true)"),
                {"name": name, "value": value},
            )
        raw = _execute_explain(connection, clause, options, params or {})
    plan = Plan.from_json(raw)
    return plan.with_relation_rows(_table_sizes(connection, plan))


async def explain_async(
    bind: AsyncBind,
    statement: Statement,
    *,
    analyze: bool = False,
    buffers: bool | None = None,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, object] | None = None,
) -> Plan:
    """:func:`explain` for an AsyncSession, AsyncConnection or AsyncEngine (same code, run
    through ``run_sync``)."""
    options: dict[str, Any] = {
        "analyze": analyze,
        "buffers": buffers,
        "params": params,
        "settings": settings,
    }
    if isinstance(bind, AsyncEngine):
        async with bind.connect() as connection:
            return await connection.run_sync(explain, statement, **options)
    if isinstance(bind, AsyncSession | AsyncConnection):
        return await bind.run_sync(explain, statement, **options)
    raise ConfigError(
        f"explain_async() needs an AsyncSession, AsyncConnection or AsyncEngine, not "
        f"{type(bind).__name__}; use explain() for synchronous binds."
    )
