"""Indexes a load into an empty table drops before its COPY and builds again after it.

Measured on 100k polygons (PostgreSQL 15, PostGIS 3.3): a binary COPY into a table whose
GiST index is present takes 1.0-1.1 s, because every row is inserted into the tree one at
a time; the same COPY without it takes 0.63 s, and building the index afterwards 0.13 s
(PostGIS's GiST sort support builds the tree from sorted input). So a load into an empty
table drops its plain indexes inside the load's transaction and creates them again after
the rows are in, from their own ``pg_get_indexdef`` definitions. A load that fails or is
killed rolls the drop back with everything else.

The price is the lock: ``DROP INDEX`` takes ACCESS EXCLUSIVE on the table until the load
commits, so readers of the (empty) table wait for the load instead of seeing no rows. It
is taken with ``NOWAIT``: when anyone else holds a lock on the table the indexes stay and
the load goes on as usual. Only plain indexes are deferred: not unique ones (they check the
rows as they arrive, with the row named in the error), none that back a constraint or that
other objects depend on, none with their own tablespace, comment, statistics target or
CLUSTER mark (a rebuild from the definition would lose those), and none of a partitioned
table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

__all__ = ["DeferredIndexes", "defer_indexes"]

_PLAIN_INDEXES_SQL = """
    SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class t ON t.oid = i.indrelid AND t.relkind = 'r'
    WHERE i.indrelid = to_regclass(%(table)s)
      AND NOT i.indisunique AND i.indisvalid AND i.indisready AND i.indislive
      AND NOT i.indisclustered AND NOT i.indisreplident
      AND c.reltablespace = 0
      AND obj_description(i.indexrelid, 'pg_class') IS NULL
      AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indexrelid)
      AND NOT EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)
    ORDER BY c.relname
"""


@dataclass(frozen=True)
class DeferredIndexes:
    """The indexes dropped for a load, by name and ``CREATE INDEX`` definition."""

    names: tuple[str, ...]
    definitions: tuple[str, ...]

    def rebuild(self, connection: psycopg.Connection[Any]) -> None:
        """Create every dropped index again (inside the load's transaction)."""
        for definition in self.definitions:
            connection.execute(sql.SQL(definition))  # from the catalog


def defer_indexes(connection: psycopg.Connection[Any], sql_name: str) -> DeferredIndexes | None:
    """Drop the plain indexes of ``sql_name`` when it is empty and nobody else holds a lock
    on it; None when nothing was dropped. Call inside the load's transaction."""
    found = connection.execute(_PLAIN_INDEXES_SQL, {"table": sql_name}).fetchall()
    if not found:
        return None
    table = sql.SQL(sql_name)  # quoted by LoadTarget.sql_name
    exists = connection.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(table))
    if (exists.fetchone() or (False,))[0]:
        return None
    try:
        with connection.transaction():  # a savepoint: the load's transaction survives a refusal
            connection.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(table)
            )
    except errors.LockNotAvailable:
        return None  # someone else is using the table: keep its indexes
    for name, _ in found:
        connection.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return DeferredIndexes(
        names=tuple(name for name, _ in found),
        definitions=tuple(definition for _, definition in found),
    )
