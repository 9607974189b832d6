"""Spatial schema changes for Alembic migrations, safe on large, busy tables.

- ``CREATE INDEX CONCURRENTLY`` cannot run in a transaction block and a failed build leaves
  an INVALID index behind (errata 13): the index ops run in an autocommit block and check
  ``pg_index.indisvalid`` afterwards.
- A CHECK added to a populated table scans it under an exclusive lock; added ``NOT VALID``
  and then validated, the scan runs under a lock that lets reads and writes continue.
- SRID and geometry-type changes rewrite the table under ACCESS EXCLUSIVE (errata 14):
  fine for small tables; large ones want the online path (new column, batched backfill).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from pgspatial.errors import ConfigError, SchemaError
from pgspatial.geometry.validate import normalize_target_type

__all__ = [
    "add_check_constraint_online",
    "change_geometry_type",
    "change_srid",
    "create_spatial_index_concurrently",
    "drop_spatial_index_concurrently",
]


def _quote(name: str) -> str:
    return str(op.get_context().dialect.identifier_preparer.quote(name))


def _qualified(table: str, schema: str | None) -> str:
    return f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)


def _index_validity(name: str, schema: str | None) -> bool | None:
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
            ),
            {"name": name, "schema": schema},
        )
        .first()
    )
    return None if row is None else bool(row[0])


def create_spatial_index_concurrently(
    table: str,
    column: str,
    *,
    name: str | None = None,
    schema: str | None = None,
    geodesic: bool = False,
    where: str | None = None,
) -> str:
    """Build a GiST index (``geodesic=True``: on ``(column)::geography``) without blocking
    writes; raise SchemaError if it ends up INVALID. Returns the index name.

    Idempotent: an existing valid index of that name is kept.
    """
    index = name or (f"ix_{table}_{column}_geography" if geodesic else f"ix_{table}_{column}")
    key = f"(({_quote(column)})::geography)" if geodesic else _quote(column)
    predicate = f" WHERE {where}" if where else ""
    statement = (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_quote(index)} "
        f"ON {_qualified(table, schema)} USING gist ({key}){predicate}"
    )
    failure: Exception | None = None
    with op.get_context().autocommit_block():
        try:
            op.execute(statement)
        except Exception as exc:  # re-raised below, with the index's state
            failure = exc
        valid = _index_validity(index, schema)
    if valid is False:
        cause = f" The build failed with: {failure}." if failure else ""
        raise SchemaError(
            f"Index {index} on {table}.{column} is INVALID: a concurrent build failed or was "
            f"cancelled, now or earlier.{cause} It is ignored by queries but still slows writes. "
            f"Drop it with `DROP INDEX CONCURRENTLY {index}` and run the migration again."
        ) from failure
    if failure is not None:
        raise failure
    return index


def drop_spatial_index_concurrently(name: str, *, schema: str | None = None) -> None:
    """``DROP INDEX CONCURRENTLY IF EXISTS``, in an autocommit block."""
    target = f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {target}")


def add_check_constraint_online(
    name: str, table: str, condition: str, *, schema: str | None = None
) -> None:
    """Add a CHECK as NOT VALID (instant), then VALIDATE it in its own transaction.

    VALIDATE scans the table under SHARE UPDATE EXCLUSIVE, so reads and writes continue.
    """
    target = _qualified(table, schema)
    op.execute(f"ALTER TABLE {target} ADD CONSTRAINT {_quote(name)} CHECK ({condition}) NOT VALID")
    with op.get_context().autocommit_block():
        op.execute(f"ALTER TABLE {target} VALIDATE CONSTRAINT {_quote(name)}")


def _current_type(table: str, column: str, schema: str | None) -> tuple[str, int]:
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT upper(type), srid FROM geometry_columns WHERE f_table_name = :t "
                "AND f_geometry_column = :c AND f_table_schema = coalesce(:s, current_schema())"
            ),
            {"t": table, "c": column, "s": schema},
        )
        .first()
    )
    if row is None:
        raise SchemaError(f"{table}.{column} is not a geometry column (not in geometry_columns).")
    return str(row[0]), int(row[1])


def change_srid(
    table: str,
    column: str,
    *,
    srid: int,
    geometry_type: str | None = None,
    schema: str | None = None,
) -> None:
    """Reproject a geometry column to ``srid`` with ST_Transform, in one statement.

    Rewrites the table under ACCESS EXCLUSIVE (indexes are rebuilt): for small tables.
    ``geometry_type`` is looked up when omitted (needs a connection: not in --sql mode).
    """
    if srid <= 0:
        raise ConfigError(f"change_srid needs a real target SRID, got {srid}.")
    kind = (geometry_type or _current_type(table, column, schema)[0]).upper()
    col = _quote(column)
    op.execute(
        f"ALTER TABLE {_qualified(table, schema)} ALTER COLUMN {col} "
        f"TYPE geometry({kind}, {srid}) USING ST_Transform({col}, {srid})"
    )


def change_geometry_type(
    table: str,
    column: str,
    *,
    geometry_type: str,
    srid: int | None = None,
    schema: str | None = None,
) -> None:
    """Change a column's geometry type in one statement; ``MULTI*`` targets use ST_Multi.

    Only widening changes are offered (to the Multi type, or to GEOMETRY): narrowing would
    fail on the first multi-part row, after locking the table.
    """
    target = normalize_target_type(geometry_type)
    current, current_srid = (None, srid) if srid else _current_type(table, column, schema)
    if current is not None and target not in ("GEOMETRY", f"MULTI{current}"):
        raise ConfigError(
            f"Changing {table}.{column} from {current} to {target} could fail on existing rows; "
            "only widening to the Multi type or to GEOMETRY is offered."
        )
    col = _quote(column)
    using = f"ST_Multi({col})" if target.startswith("MULTI") else col
    op.execute(
        f"ALTER TABLE {_qualified(table, schema)} ALTER COLUMN {col} "
        f"TYPE geometry({target}, {current_srid}) USING {using}"
    )
