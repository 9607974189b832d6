"""Bloat checks: GiST indexes measured with pgstattuple after a size-ratio prefilter
(errata 6), B-tree indexes with pgstatindex's average leaf density.

Both read whole indexes, so only indexes of the spatial relations that are larger than
``bloat_min_index_bytes`` are measured, and GiST indexes only when their size per row
already looks suspicious.

- GiST: ``pgstatindex()`` refuses GiST ("is not a btree index"), and its
  ``leaf_fragmentation`` means nothing there. ``pgstattuple(index)`` reads any relation:
  ``free_percent + dead_tuple_percent`` is the share of the index that holds no live entry.
  A 2-D entry takes about 28 bytes (8-byte tuple header, 16-byte float4 box, 4-byte line
  pointer), so ``size / (rows x 28)`` near 1-1.5 is a healthy index and the prefilter
  (``gist_prefilter_ratio``, default 2) sends only larger ones to pgstattuple. A healthy
  GiST index is 30-50 % free space (page splits leave pages part-full, half-full when rows
  arrive in spatial order; freshly built N-D and geography indexes up to ~55 %), hence
  ``gist_bloat_percent`` defaults to 60.
- B-tree: pgstattuple's ``pgstatindex()``, ``avg_leaf_density`` against the index's
  fillfactor (90 by default): ``1 - density / fillfactor`` is the share of the leaf level
  a ``REINDEX`` would give back. Randomly inserted B-trees settle near 70 % density (22 %
  by this measure), hence ``btree_bloat_percent`` defaults to 40.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pgspatial.doctor.context import Context, qualified
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check

__all__ = ["CHECKS", "GIST_ENTRY_BYTES", "expected_gist_bytes"]

#: Bytes per leaf entry of a packed GiST index, by PostGIS operator class; others use N-D.
GIST_ENTRY_BYTES = {
    "gist_geometry_ops_2d": 28,  # 8 header + 16 box2df + 4 line pointer (errata 6)
    "gist_geometry_ops_nd": 36,  # gidx: varlena header + 4 dims x 2 x float4, aligned
    "gist_geography_ops": 44,  # gidx in 3-D geocentric coordinates, aligned
}
_POSTGIS_OPCLASSES = frozenset(GIST_ENTRY_BYTES)


def expected_gist_bytes(rows: int, opclass: str) -> int:
    """The size of a perfectly packed GiST index of ``rows`` entries (leaf level only)."""
    return rows * GIST_ENTRY_BYTES.get(opclass, GIST_ENTRY_BYTES["gist_geometry_ops_nd"])


def _spatial_relations(ctx: Context) -> set[tuple[str, str]]:
    return {(t.schema, t.name) for t in ctx.tables()}


def gist(ctx: Context) -> Iterator[Finding]:
    """bloat.gist: pgstattuple free + dead percent of suspicious GiST indexes."""
    thresholds = ctx.thresholds
    relations = _spatial_relations(ctx)
    schema = ctx.schema_of("pgstattuple")
    candidates = measured = 0
    for row in ctx.rows("bloat", "gist_candidates"):
        if (row.schema, row.table_name) not in relations or row.opclass not in _POSTGIS_OPCLASSES:
            continue
        size = int(row.size_bytes)
        if size < thresholds.bloat_min_index_bytes:
            continue
        candidates += 1
        expected = expected_gist_bytes(int(row.rows), str(row.opclass))
        ratio = size / expected if expected else math.inf
        if ratio < thresholds.gist_prefilter_ratio:
            continue
        measured += 1
        stats = ctx.one(
            "bloat", "gist_pgstattuple", {"index_oid": row.index_oid}, pgstattuple=schema
        )
        bloat = float(stats.free_percent) + float(stats.dead_tuple_percent)
        if bloat < thresholds.gist_bloat_percent:
            continue
        name = qualified(row.schema, row.name)
        yield Finding(
            f"GiST index {name} is {bloat:.0f}% free space and dead entries "
            f"(pgstattuple: free {float(stats.free_percent):.1f}%, dead "
            f"{float(stats.dead_tuple_percent):.1f}%); at {size:,} bytes it is "
            f"{ratio:.1f}x a packed index for {int(row.rows):,} rows. Every index scan reads "
            "the empty pages too.",
            fix=f"REINDEX INDEX CONCURRENTLY {name};",
            table=qualified(row.schema, row.table_name),
            index=str(row.name),
            details={
                "size_bytes": size,
                "rows": int(row.rows),
                "size_ratio": round(ratio, 2),
                "free_percent": float(stats.free_percent),
                "dead_tuple_percent": float(stats.dead_tuple_percent),
                "bloat_percent": round(bloat, 1),
            },
        )
    ctx.summary = (
        f"{candidates} GiST index(es) of {thresholds.bloat_min_index_bytes:,} bytes or more; "
        f"{measured} over the size-ratio prefilter ({thresholds.gist_prefilter_ratio:g}x) "
        "measured with pgstattuple"
    )


def btree(ctx: Context) -> Iterator[Finding]:
    """bloat.btree: pgstatindex avg_leaf_density against the fillfactor."""
    thresholds = ctx.thresholds
    relations = _spatial_relations(ctx)
    schema = ctx.schema_of("pgstattuple")
    measured = 0
    rows = ctx.rows("bloat", "btree_candidates", {"min_bytes": thresholds.bloat_min_index_bytes})
    for row in rows:
        if (row.schema, row.table_name) not in relations:
            continue
        measured += 1
        stats = ctx.one(
            "bloat", "btree_pgstatindex", {"index_oid": row.index_oid}, pgstattuple=schema
        )
        density = float(stats.avg_leaf_density)
        if int(stats.leaf_pages) < 2 or math.isnan(density):
            continue  # a root-only index has nothing to give back
        fillfactor = int(row.fillfactor)
        bloat = max(0.0, 100.0 * (1.0 - density / fillfactor))
        if bloat < thresholds.btree_bloat_percent:
            continue
        name = qualified(row.schema, row.name)
        size = int(row.size_bytes)
        yield Finding(
            f"B-tree index {name} has leaf pages {density:.0f}% full against a fillfactor of "
            f"{fillfactor}: about {bloat:.0f}% of its {size:,} bytes would be given back by a "
            "rebuild (pgstatindex avg_leaf_density).",
            fix=f"REINDEX INDEX CONCURRENTLY {name};",
            table=qualified(row.schema, row.table_name),
            index=str(row.name),
            details={
                "size_bytes": size,
                "avg_leaf_density": density,
                "fillfactor": fillfactor,
                "bloat_percent": round(bloat, 1),
                "leaf_fragmentation": float(stats.leaf_fragmentation),
            },
        )
    ctx.summary = (
        f"{measured} B-tree index(es) of {thresholds.bloat_min_index_bytes:,} bytes or more "
        "measured with pgstatindex"
    )


CHECKS = (
    Check(
        id="bloat.gist",
        title="GiST indexes are not bloated",
        severity="warn",
        why="GiST indexes bloat under frequent geometry updates and deletes: scans read "
        "mostly empty pages and the index no longer fits in cache. pgstatindex cannot measure "
        "GiST (errata 6); pgstattuple can.",
        run=gist,
        needs=("postgis", "pgstattuple", "stat_scan_tables"),
    ),
    Check(
        id="bloat.btree",
        title="B-tree indexes are not bloated",
        severity="warn",
        why="Deleted and updated keys leave B-tree leaf pages half-empty; lookups and range "
        "scans read more pages than the data needs.",
        run=btree,
        needs=("postgis", "pgstattuple", "stat_scan_tables"),
    ),
)
