"""The doctor's checks, one module per family; :func:`all_checks` is the registry's order.

========== ==========================================================================
module     checks
========== ==========================================================================
extension  PostGIS installed and current; pg_stat_statements and pgstattuple present
columns    SRID 0, generic types, mixed SRIDs, invalid geometries, validity CHECKs,
           NOT VALID constraints
indexes    missing, duplicate, INVALID and unused spatial indexes; geography queries
           without a geography index
statistics never analyzed, stale statistics, autovacuum off, default scale factors on
           large tables, dead tuples
bloat      GiST (pgstattuple, size-ratio prefilter) and B-tree (pgstatindex) bloat
workload   slow frequent spatial statements, non-sargable patterns, seq-scan-heavy tables
settings   timeouts, random_page_cost, jit, work_mem
scale      large unpartitioned tables, replica lag
========== ==========================================================================
"""

from __future__ import annotations

from pgspatial.doctor.checks import (
    bloat,
    columns,
    extension,
    indexes,
    scale,
    settings,
    statistics,
    workload,
)
from pgspatial.doctor.registry import Check

__all__ = ["all_checks"]

_FAMILIES = (extension, columns, indexes, statistics, bloat, workload, settings, scale)


def all_checks() -> tuple[Check, ...]:
    """Every check in registry order; ids are unique (a duplicate is a programming error)."""
    checks = tuple(check for family in _FAMILIES for check in family.CHECKS)
    ids = [check.id for check in checks]
    if len(set(ids)) != len(ids):  # pragma: no cover - caught by the unit tests
        raise RuntimeError(f"duplicate doctor check ids: {sorted(ids)}")
    return checks
