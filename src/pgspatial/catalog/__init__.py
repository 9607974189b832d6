"""A typed snapshot of a live database's spatial tables, views and their indexes.

``verify_schema`` compares models against it, ``pgspatial doctor`` audits it (missing,
duplicate or invalid spatial indexes, missing or NOT VALID validity checks, SRID 0, generic
types) and the OGC API Features service publishes the relations it lists. They all need the
same facts, so :meth:`Catalog.load` gathers them once, straight from ``pg_catalog``, in a fixed
number of round trips whatever the number of tables (the SQL is in ``sql/catalog.sql``):

1. whether PostGIS is installed (its version and the OIDs of ``geometry``/``geography``);
2. the relations having a spatial column;
3. their columns; 4. their indexes; 5. their constraints.

Spatial columns are found by type OID in ``pg_attribute``, so typmod-less ``geometry``
columns (SRID 0, type ``GEOMETRY``) are found too, and nothing depends on the search_path.
When loaded through an engine, the queries share one REPEATABLE READ snapshot.
"""

from __future__ import annotations

from pgspatial.catalog._catalog import Catalog
from pgspatial.catalog._relations import (
    SPATIAL_INDEX_METHODS,
    AttributeInfo,
    ConstraintInfo,
    ConstraintKind,
    IndexInfo,
    RelationKind,
    SpatialColumnInfo,
    SpatialTable,
)

__all__ = [
    "SPATIAL_INDEX_METHODS",
    "AttributeInfo",
    "Catalog",
    "ConstraintInfo",
    "ConstraintKind",
    "IndexInfo",
    "RelationKind",
    "SpatialColumnInfo",
    "SpatialTable",
]
