"""Workload checks: slow and frequent spatial statements, non-sargable spatial patterns in
their text, and spatial tables read mostly by sequential scans.

Statements come from pg_stat_statements, this database only, selected by a regular
expression on ``st_*`` function calls (errata 18, :mod:`pgspatial.doctor.statements`);
their text is read by the same linter as ``pgspatial explain`` (:func:`pgspatial.lint`),
with the live catalog, so the rules know each column's SRID and expression indexes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from pgspatial.doctor.context import Context
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check, Requirement
from pgspatial.doctor.statements import lint_statement, spatial_statements

__all__ = ["CHECKS"]

_SPATIAL_STATEMENTS: tuple[Requirement, ...] = ("postgis", "pg_stat_statements", "read_all_stats")


def _comment(text: str, width: int = 96) -> str:
    """``text`` as SQL comment lines."""
    return "\n".join(f"-- {line}" for line in textwrap.wrap(text, width) or [""])


def slow_spatial(ctx: Context) -> Iterator[Finding]:
    """workload.slow_spatial: frequent spatial statements with a high mean time."""
    statements = spatial_statements(ctx)
    slow_ms, min_calls = ctx.thresholds.slow_mean_ms, ctx.thresholds.slow_min_calls
    ctx.summary = f"{len(statements)} spatial statement(s) in pg_stat_statements (top by time)"
    for statement in statements:
        if statement.mean_ms < slow_ms or statement.calls < min_calls:
            continue
        yield Finding(
            f"queryid {statement.queryid}: {statement.calls:,} calls, {statement.mean_ms:,.1f} ms "
            f"on average ({statement.total_ms / 1000:,.1f} s in total): "
            f"{statement.short()}",
            fix=(
                "-- see where the time goes (replace $1, $2, ... with typical values), or run "
                "pgspatial explain on it\n"
                f"EXPLAIN (ANALYZE, BUFFERS) {statement.query.strip().rstrip(';')};"
            ),
            details={
                "queryid": statement.queryid,
                "calls": statement.calls,
                "mean_ms": round(statement.mean_ms, 3),
                "total_ms": round(statement.total_ms, 1),
                "rows": statement.rows,
            },
        )


def non_sargable(ctx: Context) -> Iterator[Finding]:
    """workload.non_sargable: the linter's findings on the top spatial statements."""
    statements = spatial_statements(ctx)
    ctx.summary = f"{len(statements)} spatial statement(s) linted"
    for statement in statements:
        for lint in lint_statement(statement.query, ctx.catalog):
            yield Finding(
                f"queryid {statement.queryid} ({statement.calls:,} calls, "
                f"{statement.mean_ms:,.1f} ms mean): {lint.code} in {lint.snippet}: "
                f"{lint.message}",
                fix=_comment(f"rewrite {lint.snippet}: {lint.message}"),
                severity="error" if lint.severity == "error" else "warn",
                details={
                    "queryid": statement.queryid,
                    "rule": lint.code,
                    "calls": statement.calls,
                    "mean_ms": round(statement.mean_ms, 3),
                    "query": statement.short(400),
                },
            )


def seq_scan_heavy(ctx: Context) -> Iterator[Finding]:
    """workload.seq_scan_heavy: large spatial tables read mostly sequentially."""
    thresholds = ctx.thresholds
    for table in ctx.tables("table", "materialized_view"):
        stats = ctx.table_stats.get((table.schema, table.name))
        if stats is None:
            continue
        rows, seq, idx = int(stats.rows), int(stats.seq_scan), int(stats.idx_scan)
        if rows < thresholds.seq_scan_min_rows or seq < thresholds.seq_scan_min_count:
            continue
        share = seq / (seq + idx)
        if share < thresholds.seq_scan_ratio:
            continue
        average = int(stats.seq_tup_read) // max(seq, 1)
        yield Finding(
            f"{table.qualified_name} ({rows:,} rows) was read by {seq:,} sequential scans "
            f"({share:.0%} of its scans, {average:,} rows each on average) against {idx:,} "
            "index scans: some frequent statement cannot use its indexes.",
            fix=(
                "-- find the statements that read it, then EXPLAIN them (pgspatial explain)\n"
                "SELECT queryid, calls, mean_exec_time, query FROM pg_stat_statements\n"
                f" WHERE query ~* '\\m{table.name}\\M' ORDER BY total_exec_time DESC LIMIT 10;"
            ),
            table=table.qualified_name,
            details={"rows": rows, "seq_scan": seq, "idx_scan": idx, "seq_share": round(share, 3)},
        )


CHECKS = (
    Check(
        id="workload.slow_spatial",
        title="No frequent slow spatial statements",
        severity="warn",
        why="A spatial statement that is both frequent and slow (mean over slow_mean_ms) is "
        "where the database spends its time; it usually misses an index or measures in the "
        "wrong space.",
        run=slow_spatial,
        needs=_SPATIAL_STATEMENTS,
    ),
    Check(
        id="workload.non_sargable",
        title="Spatial statements keep the index in play",
        severity="warn",
        why="ST_Distance in WHERE, ST_Transform or a cast around an indexed column, and a "
        "metre radius on EPSG:3857 data either read every row or return the wrong rows "
        "(errata 1, 5, 17); the same linter as pgspatial explain reads each statement.",
        run=non_sargable,
        needs=_SPATIAL_STATEMENTS,
    ),
    Check(
        id="workload.seq_scan_heavy",
        title="Large spatial tables are read through indexes",
        severity="warn",
        why="A large spatial table read mostly by sequential scans means some frequent "
        "statement cannot use its indexes: every call reads the whole table.",
        run=seq_scan_heavy,
    ),
)
