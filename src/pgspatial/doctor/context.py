"""What the checks share: the connection, the catalog, the facts about the role and server,
the thresholds, and the named SQL of ``sql/doctor_*.sql``.

Facts are read once per run (who we are, which extensions exist, what the role may do, how
old the statistics are); per-table and per-index counters are read on first use and cached
for the checks that follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from importlib.resources import files
from typing import Any

from sqlalchemy import Connection, Row, text
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS
from sqlalchemy.exc import DBAPIError

from pgspatial.catalog import Catalog, SpatialTable
from pgspatial.doctor.thresholds import Thresholds

__all__ = [
    "MARKER",
    "Context",
    "ExtensionState",
    "Facts",
    "qualified",
    "quote_ident",
    "sql",
]

#: Prefix of every statement the doctor runs, so its own statements can be told apart in
#: pg_stat_statements (which keeps a leading comment in the query text).
MARKER = "/* pgspatial doctor */"
_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


@cache
def _sections(family: str) -> dict[str, str]:
    source = files("pgspatial").joinpath(f"sql/doctor_{family}.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(source)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def sql(family: str, name: str, **identifiers: str) -> str:
    """The statement ``name`` of ``sql/doctor_<family>.sql``, marked as the doctor's.

    ``identifiers`` fill the ``__NAME__`` placeholders (already quoted identifiers or
    fixed SQL fragments, never user input).
    """
    statement = _sections(family)[name]
    for placeholder, value in identifiers.items():
        statement = statement.replace(f"__{placeholder.upper()}__", value)
    return f"{MARKER} {statement}"


def quote_ident(identifier: str) -> str:
    """``identifier`` double-quoted when PostgreSQL needs it (case, characters, keywords)."""
    if _PLAIN_IDENTIFIER.fullmatch(identifier) and identifier not in RESERVED_WORDS:
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``schema.name``, each part quoted only when needed."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


@dataclass(frozen=True)
class ExtensionState:
    """An extension the doctor uses: on the server (``available``) and in this database."""

    name: str
    available: bool
    default_version: str | None
    installed_version: str | None
    schema: str | None

    @property
    def installed(self) -> bool:
        """Whether ``CREATE EXTENSION`` ran in this database."""
        return self.installed_version is not None


@dataclass(frozen=True)
class Facts:
    """Who the doctor runs as, where, and what it may read."""

    database: str
    role: str
    database_oid: int
    is_superuser: bool
    read_all_stats: bool
    """Member of pg_read_all_stats (or superuser): sees every role's statements and lags."""
    stat_scan_tables: bool
    server_version: str
    server_version_num: int
    in_recovery: bool
    now: datetime
    statistics_since: datetime
    """Start of the statistics window: the latest of the last stats reset, the server
    start and (when readable) the database's creation."""
    statistics_since_source: str
    extensions: Mapping[str, ExtensionState]
    pg_stat_statements_usable: bool = False
    """Installed and readable (its library is preloaded)."""
    pgstattuple_allowed: bool = False
    """Installed, and the role may execute pgstattuple()."""

    def extension(self, name: str) -> ExtensionState:
        """The state of ``name`` (absent extensions are unavailable and not installed)."""
        return self.extensions.get(name, ExtensionState(name, False, None, None, None))

    @property
    def statistics_age_days(self) -> float:
        """How long the cumulative statistics have been counting, in days."""
        return max(0.0, (self.now - self.statistics_since).total_seconds() / 86_400)


class Context:
    """A doctor run: its connection (one read-only transaction per check), facts and cache."""

    def __init__(
        self,
        connection: Connection,
        *,
        thresholds: Thresholds,
        facts: Facts,
        catalog: Catalog,
        replica_urls: Sequence[str] = (),
    ) -> None:
        self.connection = connection
        self.thresholds = thresholds
        self.facts = facts
        self.catalog = catalog
        self.replica_urls = tuple(replica_urls)
        self.notes: list[str] = []
        """Caveats the running check adds (reset by the runner before each check)."""
        self.memo: dict[Any, Any] = {}
        """Results one check computed that another may reuse (e.g. a column's sample)."""
        self.summary: str | None = None
        """The running check's one-line summary, when it has a better one than the count."""

    # -- statements ------------------------------------------------------------------------

    def rows(
        self, family: str, name: str, params: Mapping[str, Any] | None = None, **identifiers: str
    ) -> Sequence[Row[Any]]:
        """All rows of a named doctor statement."""
        return self.connection.execute(text(sql(family, name, **identifiers)), params or {}).all()

    def one(
        self, family: str, name: str, params: Mapping[str, Any] | None = None, **identifiers: str
    ) -> Row[Any]:
        """The single row of a named doctor statement."""
        return self.connection.execute(text(sql(family, name, **identifiers)), params or {}).one()

    def attempt(
        self, family: str, name: str, params: Mapping[str, Any] | None = None, **identifiers: str
    ) -> Sequence[Row[Any]] | str:
        """The rows of a statement that may fail, or PostgreSQL's message when it does.

        Runs in a savepoint, so the check's transaction stays usable after a failure.
        """
        try:
            with self.connection.begin_nested():
                return self.rows(family, name, params, **identifiers)
        except DBAPIError as error:
            diag = getattr(error.orig, "diag", None)
            return str(getattr(diag, "message_primary", None) or error.orig).strip()

    def schema_of(self, extension: str) -> str:
        """The quoted schema ``extension`` is installed in (the runner checked it is)."""
        schema = self.facts.extension(extension).schema
        return quote_ident(schema or "public")

    # -- shared, cached reads ----------------------------------------------------------------

    @cached_property
    def table_stats(self) -> Mapping[tuple[str, str], Row[Any]]:
        """``(schema, table)`` -> activity and maintenance counters (doctor_context.sql)."""
        return {(r.schema, r.name): r for r in self.rows("context", "table_stats")}

    @cached_property
    def index_stats(self) -> Mapping[tuple[str, str], Row[Any]]:
        """``(schema, index)`` -> scans, constraint and build state (doctor_context.sql)."""
        return {(r.schema, r.name): r for r in self.rows("context", "index_stats")}

    def tables(self, *kinds: str, partitions: bool = True) -> tuple[SpatialTable, ...]:
        """The catalog's spatial relations of the given kinds (all kinds when none given)."""
        return tuple(
            t
            for t in self.catalog.tables
            if (not kinds or t.kind in kinds) and (partitions or not t.is_partition)
        )

    def rows_of(self, table: SpatialTable) -> int:
        """Best row estimate: reltuples, or the live-tuple counter when never analyzed."""
        stats = self.table_stats.get((table.schema, table.name))
        if stats is not None:
            return int(stats.rows)
        return max(table.estimated_rows, 0)

    def readable(self, tables: Sequence[SpatialTable], what: str) -> list[SpatialTable]:
        """The tables the role may SELECT from; a note names the others and the GRANT."""
        readable = [t for t in tables if t.readable]
        hidden = [t.qualified_name for t in tables if not t.readable]
        if hidden:
            shown = ", ".join(hidden[:5]) + (
                f" and {len(hidden) - 5} more" if len(hidden) > 5 else ""
            )
            self.notes.append(
                f"{len(hidden)} table(s) not {what} because role {self.facts.role} may not read "
                f"them ({shown}); GRANT SELECT ON them TO {quote_ident(self.facts.role)} or run "
                "the doctor as their owner"
            )
        return readable
