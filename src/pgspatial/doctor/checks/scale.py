"""Scale checks: very large unpartitioned tables, and replica lag when replicas exist.

Replicas are found two ways: the primary's ``pg_stat_replication`` (every streaming
standby, lag measured in WAL bytes not yet replayed, and ``replay_lag`` in seconds), and
the replica URLs given to :func:`~pgspatial.doctor.run_doctor` (``Settings.replica_urls``
from the CLI), where the doctor asks the standby itself how much received WAL it has not
replayed and whether replay is paused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Row, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from pgspatial.doctor.context import Context, sql
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check, Skip
from pgspatial.urls import sqlalchemy_url

__all__ = ["CHECKS"]

_REPLICA_CONNECT_TIMEOUT_S = 5
_REPLICA_STATEMENT_TIMEOUT_MS = 5_000


def unpartitioned_large(ctx: Context) -> Iterator[Finding]:
    """scale.unpartitioned_large: tables over ``unpartitioned_rows`` that are not partitioned."""
    limit = ctx.thresholds.unpartitioned_rows
    for table in ctx.tables("table", partitions=False):
        rows = ctx.rows_of(table)
        if rows <= limit:
            continue
        yield Finding(
            f"{table.qualified_name} holds {rows:,} rows (over {limit:,}) in one unpartitioned "
            "table: its GiST index is deep and huge, VACUUM and REINDEX take hours, and old "
            "data cannot be dropped cheaply.",
            fix=(
                "-- partition by a time column (RANGE) or a region (LIST); each partition gets "
                "its own GiST index, and the planner prunes partitions before the spatial test\n"
                f"CREATE TABLE {table.name}_partitioned (LIKE {table.qualified_name} "
                "INCLUDING ALL) PARTITION BY RANGE (<time column>);\n"
                "-- then create the partitions, copy in batches and swap the names (see the "
                "brief's Partitioning Strategies)"
            ),
            table=table.qualified_name,
            details={"rows": rows, "size_bytes": table.size_bytes},
        )


def _lagging(ctx: Context, lag_bytes: int | None, lag_s: float | None) -> bool:
    thresholds = ctx.thresholds
    return (lag_bytes is not None and lag_bytes > thresholds.replica_lag_bytes) or (
        lag_s is not None and lag_s > thresholds.replica_lag_seconds
    )


def _from_primary(ctx: Context, rows: Sequence[Row[Any]]) -> Iterator[Finding]:
    hidden = [r for r in rows if not r.visible]
    if hidden and not ctx.facts.read_all_stats and not ctx.facts.is_superuser:
        raise Skip(
            f"needs pg_read_all_stats to read the positions of {len(hidden)} replica(s) in "
            f"pg_stat_replication: GRANT pg_read_all_stats TO {ctx.facts.role}"
        )
    for row in rows:
        lag_bytes = None if row.lag_bytes is None else int(row.lag_bytes)
        lag_s = None if row.replay_lag_s is None else float(row.replay_lag_s)
        if not _lagging(ctx, lag_bytes, lag_s):
            continue
        seconds = f", replay_lag {lag_s:.1f} s" if lag_s is not None else ""
        yield Finding(
            f"replica {row.application_name} ({row.client}, {row.state}) has not replayed "
            f"{lag_bytes or 0:,} bytes of WAL{seconds}: reads routed to it return stale rows, "
            "and the primary keeps that WAL on disk.",
            fix=(
                "-- on the replica: is replay paused, or is a long query blocking it?\n"
                "SELECT pg_is_wal_replay_paused();  -- resume with SELECT pg_wal_replay_resume();\n"
                "SELECT pid, now() - xact_start, query FROM pg_stat_activity "
                "ORDER BY xact_start LIMIT 5;"
            ),
            details={
                "replica": str(row.application_name),
                "lag_bytes": lag_bytes,
                "replay_lag_s": lag_s,
            },
        )


def _from_url(ctx: Context, url: str) -> Iterator[Finding]:
    parsed = sqlalchemy_url(url)
    shown = parsed.render_as_string(hide_password=True)
    engine = create_engine(
        parsed,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": _REPLICA_CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={_REPLICA_STATEMENT_TIMEOUT_MS}",
            "application_name": "pgspatial doctor",
        },
    )
    try:
        with engine.connect() as connection:
            row = connection.execute(text(sql("scale", "standby"))).one()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        yield Finding(
            f"replica {shown} could not be reached ({reason}): reads routed to it fail over "
            "to the primary or fail.",
            fix="-- check that the replica runs and accepts connections: pgspatial db status",
            details={"replica": shown},
        )
        return
    finally:
        engine.dispose()
    if not row.in_recovery:
        yield Finding(
            f"{shown} is configured as a replica but is not in recovery: it is a primary, so "
            "reads routed to it see a different database.",
            fix="-- remove it from PGSPATIAL_REPLICA_URLS, or rebuild it as a standby",
            details={"replica": shown},
        )
        return
    lag_bytes = None if row.lag_bytes is None else int(row.lag_bytes)
    if not _lagging(ctx, lag_bytes, None):
        return
    paused = " and replay is PAUSED" if row.paused else ""
    yield Finding(
        f"replica {shown} has received {lag_bytes or 0:,} bytes of WAL it has not replayed"
        f"{paused}: reads routed to it return stale rows.",
        fix=(
            "-- on the replica\nSELECT pg_wal_replay_resume();"
            if row.paused
            else "-- on the replica: look for long queries holding replay back\n"
            "SELECT pid, now() - xact_start, query FROM pg_stat_activity "
            "ORDER BY xact_start LIMIT 5;"
        ),
        details={"replica": shown, "lag_bytes": lag_bytes, "paused": bool(row.paused)},
    )


def replica_lag(ctx: Context) -> Iterator[Finding]:
    """scale.replica_lag: replay lag of the configured or streaming replicas."""
    streaming = () if ctx.facts.in_recovery else ctx.rows("scale", "replication")
    yield from _from_primary(ctx, streaming)
    for url in ctx.replica_urls:
        yield from _from_url(ctx, url)
    ctx.summary = (
        f"{len(streaming)} streaming replica(s) in pg_stat_replication, "
        f"{len(ctx.replica_urls)} replica URL(s)"
        if streaming or ctx.replica_urls
        else "no replicas: pg_stat_replication is empty and no replica URLs are configured"
    )


CHECKS = (
    Check(
        id="scale.unpartitioned_large",
        title="Very large tables are partitioned",
        severity="warn",
        why="Past tens of millions of rows (the brief says 50M) one table means one huge "
        "GiST index, hours-long VACUUM and REINDEX, and no cheap way to drop old data; "
        "partitions are pruned before the spatial test.",
        run=unpartitioned_large,
    ),
    Check(
        id="scale.replica_lag",
        title="Replicas keep up",
        severity="warn",
        why="Reads routed to a lagging replica return stale rows, and the primary keeps the "
        "WAL the replica has not replayed (its disk fills if the lag grows).",
        run=replica_lag,
        needs=(),
    ),
)
