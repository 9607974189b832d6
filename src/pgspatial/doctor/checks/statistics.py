"""Statistics and vacuum checks: never analyzed, no spatial statistics, stale statistics,
autovacuum disabled, default scale factors on large tables, dead tuples.

The counters come from ``pg_stat_all_tables`` (readable by every role); the server-wide
autovacuum settings from ``pg_settings.reset_val``, i.e. what a new connection gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row

from pgspatial.catalog import SpatialTable
from pgspatial.doctor.context import Context
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check

__all__ = ["CHECKS", "RECOMMENDED_ANALYZE_SCALE_FACTOR", "RECOMMENDED_VACUUM_SCALE_FACTOR"]

#: The brief's scale factors for large spatial tables: analyze after 1 % churn, vacuum 2 %.
RECOMMENDED_ANALYZE_SCALE_FACTOR = 0.01
RECOMMENDED_VACUUM_SCALE_FACTOR = 0.02
_MAINTAINED = ("table", "materialized_view", "partitioned_table")


def _maintained(ctx: Context) -> Iterator[tuple[SpatialTable, Row[Any]]]:
    """Spatial tables and materialized views with their counters."""
    for table in ctx.tables(*_MAINTAINED):
        stats = ctx.table_stats.get((table.schema, table.name))
        if stats is not None:
            yield table, stats


def never_analyzed(ctx: Context) -> Iterator[Finding]:
    """stats.never_analyzed: never analyzed, or analyzed without spatial statistics."""
    for table, stats in _maintained(ctx):
        rows = int(stats.rows)
        if rows <= 0:
            continue  # an empty table needs no statistics yet; autovacuum will do it
        if table.kind == "partitioned_table":
            analyzed = int(stats.reltuples) >= 0  # autovacuum never analyzes a parent
        else:
            analyzed = stats.last_analyze is not None or stats.last_autoanalyze is not None
        fix = f"ANALYZE {table.qualified_name};"
        if not analyzed:
            parent = (
                " Autovacuum never analyzes a partitioned parent: schedule ANALYZE on it."
                if table.kind == "partitioned_table"
                else ""
            )
            yield Finding(
                f"{table.qualified_name} ({rows:,} rows) has never been analyzed: the planner "
                f"guesses row counts and spatial selectivity, and picks bad plans.{parent}",
                fix=fix,
                table=table.qualified_name,
                details={"rows": rows, "n_mod_since_analyze": int(stats.n_mod_since_analyze)},
                safe=True,
            )
            continue
        if table.kind == "partitioned_table":
            continue  # ST_EstimatedExtent reads the leaf partitions' statistics
        for column in table.columns:
            if column.kind != "geometry":
                continue
            extent = ctx.one(
                "statistics",
                "estimated_extent",
                {"schema": table.schema, "table": table.name, "column": column.name},
            ).extent
            if extent is None:
                yield Finding(
                    f"{table.qualified_name}.{column.name}: ST_EstimatedExtent is NULL although "
                    f"the table ({rows:,} rows) was analyzed, so the planner has no spatial "
                    "statistics for the column (added after the last ANALYZE, or a statistics "
                    "target of 0).",
                    fix=fix,
                    table=table.qualified_name,
                    column=column.name,
                    details={"rows": rows},
                    safe=True,
                )


def stale(ctx: Context) -> Iterator[Finding]:
    """stats.stale: many rows modified since the last ANALYZE."""
    ratio, minimum = ctx.thresholds.stale_stats_ratio, ctx.thresholds.stale_stats_min_rows
    for table, stats in _maintained(ctx):
        if stats.last_analyze is None and stats.last_autoanalyze is None:
            continue  # stats.never_analyzed reports it
        modified, rows = int(stats.n_mod_since_analyze), max(int(stats.rows), 1)
        if modified < minimum or modified < ratio * rows:
            continue
        yield Finding(
            f"{table.qualified_name}: {modified:,} rows modified since the last ANALYZE "
            f"({modified / rows:.0%} of {rows:,}): the planner's row counts and spatial "
            "histogram describe a table that no longer exists.",
            fix=f"ANALYZE {table.qualified_name};",
            table=table.qualified_name,
            details={"n_mod_since_analyze": modified, "rows": rows},
            safe=True,
        )


def _server(ctx: Context) -> dict[str, str]:
    return {str(r.name): str(r.value) for r in ctx.rows("statistics", "autovacuum_settings")}


def autovacuum_disabled(ctx: Context) -> Iterator[Finding]:
    """vacuum.autovacuum_disabled: autovacuum off for the server or for a table."""
    server = _server(ctx)
    for name in ("autovacuum", "track_counts"):
        if server.get(name) == "off":
            yield Finding(
                f"{name} is off for the whole server: no table is vacuumed or analyzed "
                "automatically, dead tuples pile up and transaction-ID wraparound looms.",
                fix=f"ALTER SYSTEM SET {name} = on;\nSELECT pg_reload_conf();",
                severity="error",
                details={"setting": name, "value": "off"},
            )
    for table, stats in _maintained(ctx):
        if str(stats.autovacuum_enabled).lower() in {"false", "off", "no", "0"}:
            yield Finding(
                f"{table.qualified_name} has autovacuum_enabled = false: it is never vacuumed "
                "or analyzed automatically (only an anti-wraparound vacuum still runs).",
                fix=f"ALTER TABLE {table.qualified_name} RESET (autovacuum_enabled);",
                table=table.qualified_name,
                details={"n_dead_tup": int(stats.n_dead_tup)},
            )


def default_scale_factors(ctx: Context) -> Iterator[Finding]:
    """vacuum.default_scale_factors: large tables on the server's scale factors."""
    server = _server(ctx)
    analyze_sf = float(server.get("autovacuum_analyze_scale_factor", "0.1"))
    vacuum_sf = float(server.get("autovacuum_vacuum_scale_factor", "0.2"))
    for table, stats in _maintained(ctx):
        rows = int(stats.rows)
        if table.kind == "partitioned_table" or rows < ctx.thresholds.large_table_rows:
            continue
        inherited = []
        if stats.analyze_scale_factor is None and analyze_sf > RECOMMENDED_ANALYZE_SCALE_FACTOR:
            inherited.append(f"autovacuum_analyze_scale_factor {analyze_sf:g}")
        if stats.vacuum_scale_factor is None and vacuum_sf > RECOMMENDED_VACUUM_SCALE_FACTOR:
            inherited.append(f"autovacuum_vacuum_scale_factor {vacuum_sf:g}")
        if not inherited:
            continue
        own_analyze = stats.analyze_scale_factor
        own_vacuum = stats.vacuum_scale_factor
        analyze_rows = rows * (float(own_analyze) if own_analyze is not None else analyze_sf)
        vacuum_rows = rows * (float(own_vacuum) if own_vacuum is not None else vacuum_sf)
        yield Finding(
            f"{table.qualified_name} ({rows:,} rows) uses the server's {' and '.join(inherited)}:"
            f" autovacuum waits for {analyze_rows:,.0f} changed rows before it analyzes "
            f"and {vacuum_rows:,.0f} dead rows before it vacuums.",
            fix=(
                f"ALTER TABLE {table.qualified_name} SET (autovacuum_analyze_scale_factor = "
                f"{RECOMMENDED_ANALYZE_SCALE_FACTOR}, autovacuum_vacuum_scale_factor = "
                f"{RECOMMENDED_VACUUM_SCALE_FACTOR});"
            ),
            table=table.qualified_name,
            details={
                "rows": rows,
                "analyze_scale_factor": analyze_sf,
                "vacuum_scale_factor": vacuum_sf,
            },
        )


def dead_tuples(ctx: Context) -> Iterator[Finding]:
    """vacuum.dead_tuples: a large share of dead row versions."""
    ratio, minimum = ctx.thresholds.dead_tuple_ratio, ctx.thresholds.dead_tuple_min
    for table, stats in _maintained(ctx):
        dead, live = int(stats.n_dead_tup), int(stats.rows)
        if dead < minimum or dead < ratio * (dead + live):
            continue
        last = stats.last_autovacuum or stats.last_vacuum
        when = f"last vacuumed {last:%Y-%m-%d %H:%M}" if last is not None else "never vacuumed"
        yield Finding(
            f"{table.qualified_name}: {dead:,} dead row versions next to {live:,} live ones "
            f"({dead / (dead + live):.0%}), {when}. Every scan and index lookup steps over them; "
            "if autovacuum runs but cannot remove them, a long transaction or a replication "
            "slot holds them back.",
            fix=f"VACUUM (ANALYZE) {table.qualified_name};",
            table=table.qualified_name,
            details={"n_dead_tup": dead, "n_live_tup": live},
        )


CHECKS = (
    Check(
        id="stats.never_analyzed",
        title="Tables are analyzed and have spatial statistics",
        severity="warn",
        why="Without statistics (pg_statistic, and PostGIS's spatial histogram behind "
        "ST_EstimatedExtent) the planner guesses selectivities, and spatial joins get "
        "nested loops over sequential scans.",
        run=never_analyzed,
        safe_fix=True,
    ),
    Check(
        id="stats.stale",
        title="Statistics are fresh",
        severity="warn",
        why="After a bulk load or a large update the row counts and the spatial histogram "
        "describe the old table; plans chosen on them can be orders of magnitude off.",
        run=stale,
        safe_fix=True,
    ),
    Check(
        id="vacuum.autovacuum_disabled",
        title="Autovacuum is on",
        severity="warn",
        why="Without autovacuum dead tuples accumulate, statistics go stale and the table "
        "creeps towards transaction-ID wraparound. Error when off for the whole server, "
        "warning for one table.",
        run=autovacuum_disabled,
    ),
    Check(
        id="vacuum.default_scale_factors",
        title="Large tables have tuned autovacuum scale factors",
        severity="warn",
        why="The defaults (analyze after 10 %, vacuum after 20 % of the rows change) mean "
        "millions of changed rows before a large table is analyzed; the brief recommends "
        "0.01 and 0.02 per large spatial table.",
        run=default_scale_factors,
    ),
    Check(
        id="vacuum.dead_tuples",
        title="Few dead tuples",
        severity="warn",
        why="Dead row versions make tables and indexes larger and scans slower; many of them "
        "mean autovacuum cannot keep up or is blocked.",
        run=dead_tuples,
    ),
)
