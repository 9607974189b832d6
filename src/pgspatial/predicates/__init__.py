"""Index-aware spatial predicates: pure SQLAlchemy expressions, no I/O.

Also reachable from a pgspatial column: ``Parcel.geom.within_distance(point, 500)``.
"""

from __future__ import annotations

from pgspatial.predicates.distance import geodesic_distance, within_distance
from pgspatial.predicates.knn import nearest
from pgspatial.predicates.windows import (
    contains,
    covered_by,
    envelope,
    in_bbox,
    in_tile,
    intersects,
    tile_envelope,
)

__all__ = [
    "contains",
    "covered_by",
    "envelope",
    "geodesic_distance",
    "in_bbox",
    "in_tile",
    "intersects",
    "nearest",
    "tile_envelope",
    "within_distance",
]
