"""Index checks: missing spatial indexes, duplicates, INVALID indexes, unused spatial indexes,
and geography queries without a geography expression index.

Missing and unused indexes are judged on the spatial relations of the catalog; duplicates
and INVALID indexes on every table of the non-system schemas, because they cost the same
wherever they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pgspatial.catalog import SPATIAL_INDEX_METHODS, SpatialColumnInfo, SpatialTable
from pgspatial.doctor.context import Context, qualified, quote_ident
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check
from pgspatial.doctor.statements import geography_casts, spatial_statements

__all__ = ["CHECKS"]

_INDEXABLE = ("table", "partitioned_table", "materialized_view")
_CREATE_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX ", re.IGNORECASE)


def _index_name(table: SpatialTable, column: str, suffix: str = "") -> str:
    """``ix_<table>_<column><suffix>``, pgspatial's naming convention, made unique."""
    taken = {index.name for index in table.indexes}
    base = f"ix_{table.name}_{column}{suffix}"[:63]
    name, counter = base, 2
    while name in taken:
        name = f"{base[:60]}_{counter}"
        counter += 1
    return name


def _has_spatial_index(table: SpatialTable, column: SpatialColumnInfo) -> bool:
    return any(
        index.is_valid and index.method in SPATIAL_INDEX_METHODS and index.covers(column.name)
        for index in table.indexes
    )


def missing_spatial(ctx: Context) -> Iterator[Finding]:
    """index.missing_spatial: spatial columns of large tables without a spatial index."""
    minimum = ctx.thresholds.missing_index_min_rows
    for table in ctx.tables(*_INDEXABLE, partitions=False):
        rows = ctx.rows_of(table)
        if rows < minimum:
            continue
        for column in table.columns:
            if _has_spatial_index(table, column):
                continue
            name = _index_name(table, column.name)
            col = quote_ident(column.name)
            partitioned = table.kind == "partitioned_table"
            if partitioned:
                fix = (
                    "-- CONCURRENTLY is refused on a partitioned table: build it on each "
                    "partition concurrently and ATTACH, or accept the lock:\n"
                    f"CREATE INDEX {quote_ident(name)} ON {table.qualified_name} "
                    f"USING gist ({col});"
                )
            else:
                fix = (
                    f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {table.qualified_name} "
                    f"USING gist ({col});"
                )
            yield Finding(
                f"{table.qualified_name}.{column.name} ({rows:,} rows) has no GiST, SP-GiST or "
                "BRIN index: every spatial predicate on it reads the whole table.",
                fix=fix,
                table=table.qualified_name,
                column=column.name,
                index=name,
                details={"rows": rows, "size_bytes": table.size_bytes},
                safe=not partitioned,
            )


def duplicate(ctx: Context) -> Iterator[Finding]:
    """index.duplicate: same method, keys, opclasses, expressions and predicate."""
    for group in ctx.rows("indexes", "duplicates"):
        names = [str(n) for n in group.names]
        keep, extra = names[0], names[1:]
        table = qualified(group.schema, group.table_name)
        geoalchemy = [n for n in names if n.startswith("idx_") and group.method == "gist"]
        hint = (
            f" {geoalchemy[0]} looks like GeoAlchemy2's automatic index (spatial_index=True) "
            "next to a hand-written one (errata 7); pgspatial.spatial_column makes exactly one."
            if geoalchemy and len(geoalchemy) < len(names)
            else ""
        )
        droppable = [n for n, backs in zip(names, group.backs_constraint, strict=True) if not backs]
        lines = [
            f"DROP INDEX CONCURRENTLY {qualified(group.schema, name)};"
            for name in extra
            if name in droppable
        ]
        if len(lines) < len(extra):
            lines.append(
                "-- the others back constraints: drop the constraint that uses one of them "
                "(ALTER TABLE ... DROP CONSTRAINT) if it duplicates another"
            )
        wasted = sum(int(size) for size in group.sizes[1:])
        yield Finding(
            f"{table}: {', '.join(names)} are the same {group.method} index "
            f"({group.definition.split(' USING ', 1)[-1]}); every write maintains all "
            f"{len(names)} while queries use one, {wasted:,} bytes for nothing.{hint}",
            fix=f"-- keep {keep}\n" + "\n".join(lines),
            table=table,
            index=", ".join(names),
            details={"indexes": len(names), "keep": keep, "wasted_bytes": wasted},
        )


def invalid(ctx: Context) -> Iterator[Finding]:
    """index.invalid: indexes left INVALID by a failed concurrent build."""
    for row in ctx.rows("indexes", "invalid"):
        name = qualified(row.schema, row.name)
        table = qualified(row.schema, row.table_name)
        create = _CREATE_INDEX.sub(
            lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", str(row.definition)
        )
        fix = (
            "-- a failed CREATE INDEX CONCURRENTLY: if it failed on duplicate keys or invalid "
            "rows, fix those first\n"
            f"DROP INDEX CONCURRENTLY {name};\n{create};"
        )
        if row.backs_constraint:
            fix = f"REINDEX INDEX CONCURRENTLY {name};"
        yield Finding(
            f"{name} on {table} is INVALID (a failed or cancelled concurrent build): "
            "PostgreSQL updates it on every write but never uses it for reads "
            f"({int(row.size_bytes):,} bytes).",
            fix=fix,
            table=table,
            index=str(row.name),
            details={"size_bytes": int(row.size_bytes)},
        )


def unused_spatial(ctx: Context) -> Iterator[Finding]:
    """index.unused_spatial: spatial indexes never scanned, judged against the stats' age."""
    facts = ctx.facts
    age = facts.statistics_age_days
    minimum = ctx.thresholds.unused_index_min_stats_days
    young = age < minimum
    ctx.summary = (
        f"statistics count since {facts.statistics_since:%Y-%m-%d %H:%M} UTC "
        f"({facts.statistics_since_source}, {age:.1f} days)"
    )
    for table in ctx.tables():
        if ctx.rows_of(table) < ctx.thresholds.missing_index_min_rows:
            continue  # small tables are read sequentially anyway; the index is for later
        spatial = {c.name for c in table.columns}
        for index in table.indexes:
            if index.method not in SPATIAL_INDEX_METHODS or not index.is_valid:
                continue
            if not spatial.intersection(index.first_key_columns):
                continue
            stats = ctx.index_stats.get((table.schema, index.name))
            if stats is None or not stats.has_stats or stats.backs_constraint:
                continue
            if int(stats.idx_scan) > 0:
                continue
            why = (
                f"the statistics are only {age:.1f} days old (since "
                f"{facts.statistics_since_source}; judged after {minimum:g} days), so this is not "
                "yet evidence"
                if young
                else f"in {age:.0f} days of statistics"
            )
            yield Finding(
                f"{qualified(table.schema, index.name)} on {table.qualified_name} "
                f"({index.size_bytes:,} bytes) has never been scanned: idx_scan = 0, {why}.",
                fix=(
                    "-- idx_scan counts this server only: check pg_stat_user_indexes on every "
                    "replica before dropping\n"
                    f"DROP INDEX CONCURRENTLY {qualified(table.schema, index.name)};"
                ),
                severity="info" if young else "warn",
                table=table.qualified_name,
                column=", ".join(index.first_key_columns),
                index=index.name,
                details={
                    "idx_scan": 0,
                    "size_bytes": index.size_bytes,
                    "statistics_age_days": round(age, 2),
                },
            )


def geography_unindexed(ctx: Context) -> Iterator[Finding]:
    """index.geography_unindexed: geography casts of a column in pg_stat_statements without a
    matching ``((col)::geography)`` expression index."""
    found: dict[tuple[str, str], list[int]] = {}
    typmod: set[tuple[str, str]] = set()
    tables: dict[str, SpatialTable] = {}
    for statement in spatial_statements(ctx):
        for cast in geography_casts(statement.query, ctx.catalog):
            key = (cast.table.qualified_name, cast.column.name)
            tables[key[0]] = cast.table
            found.setdefault(key, []).append(statement.calls)
            if cast.has_typmod:
                typmod.add(key)
    for (name, column), calls in found.items():
        table = tables[name]
        if any(i.is_valid and i.is_geography_expression_on(column) for i in table.indexes):
            continue
        index = _index_name(table, column, "_geography")
        col = quote_ident(column)
        note = (
            " Some of them cast with a type modifier (CAST(col AS geography(GEOMETRY,4326))), "
            f"which never matches the index: write {column}::geography, as "
            "pgspatial.geography_of() does (errata 16)."
            if (name, column) in typmod
            else ""
        )
        yield Finding(
            f"{len(calls)} statement(s) in pg_stat_statements ({sum(calls):,} calls) test "
            f"{name}.{column}::geography, which hides the column from its GiST index "
            "(errata 1: a sequential scan), and there is no index on "
            f"(({column})::geography).{note}",
            fix=(
                f"CREATE INDEX CONCURRENTLY {quote_ident(index)} ON {name} "
                f"USING gist ((({col})::geography));"
            ),
            table=name,
            column=column,
            index=index,
            details={"statements": len(calls), "calls": sum(calls)},
        )


CHECKS = (
    Check(
        id="index.missing_spatial",
        title="Spatial columns of large tables are indexed",
        severity="warn",
        why="Without a GiST (or SP-GiST/BRIN) index every ST_Intersects, ST_DWithin or && "
        "reads the whole table; on a large table that is seconds instead of milliseconds.",
        run=missing_spatial,
        safe_fix=True,
    ),
    Check(
        id="index.duplicate",
        title="No duplicate indexes",
        severity="warn",
        why="Identical indexes double the write cost and the disk and cache they use, while "
        "the planner only ever picks one. GeoAlchemy2's automatic index plus a hand-written "
        "one is the classic case (errata 7).",
        run=duplicate,
        needs=(),
    ),
    Check(
        id="index.invalid",
        title="No INVALID indexes",
        severity="error",
        why="A failed CREATE INDEX CONCURRENTLY leaves an INVALID index (errata 13): written "
        "on every INSERT and UPDATE, never read, and often mistaken for a working index.",
        run=invalid,
        needs=(),
    ),
    Check(
        id="index.unused_spatial",
        title="Spatial indexes are used",
        severity="warn",
        why="An index never scanned costs writes, disk and cache for nothing. idx_scan only "
        "means something over enough time: while the statistics are younger than "
        "unused_index_min_stats_days (a fresh database, a recent reset) this is info.",
        run=unused_spatial,
    ),
    Check(
        id="index.geography_unindexed",
        title="Geography queries have a geography index",
        severity="warn",
        why="ST_DWithin(geom::geography, ...) cannot use the GiST index on geom: each call "
        "reads the whole table (2951 ms vs 4.5 ms on a million rows, errata 1) unless an "
        "index on ((geom)::geography) matches the cast.",
        run=geography_unindexed,
        needs=("postgis", "pg_stat_statements", "read_all_stats"),
    ),
)
