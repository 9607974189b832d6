"""pgspatial: PostgreSQL/PostGIS + SQLAlchemy 2.0 + GeoAlchemy2, production-ready by default.

The public API is what ``__all__`` lists; everything else lives in modules that may change.
Names are imported on first use, so ``import pgspatial`` stays cheap (the CLI, the pytest
plugin and short scripts do not pay for pyproj or Shapely unless they use them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.errors import (
    InvalidGeometry,
    PgSpatialError,
    QueryTimeout,
    SchemaError,
    SridMismatch,
)
from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.bulk import LoadReport, bulk_load
    from pgspatial.catalog import Catalog
    from pgspatial.columns import geography_of, spatial_column
    from pgspatial.doctor import run_doctor
    from pgspatial.engine import (
        create_analytics_engine,
        create_async_engine,
        create_engine,
        lift_timeouts,
        lift_timeouts_async,
        run_serializable,
        run_serializable_async,
        session_factory,
    )
    from pgspatial.geometry import ParsedGeometry, parse_geometry
    from pgspatial.metrics import GeodesicMetrics
    from pgspatial.plans import explain, explain_async, lint
    from pgspatial.predicates import (
        contains,
        covered_by,
        geodesic_distance,
        in_bbox,
        in_tile,
        intersects,
        nearest,
        tile_envelope,
        within_distance,
    )
    from pgspatial.relationships import spatial_relationship
    from pgspatial.serialize import (
        feature_collection,
        feature_collection_async,
        stream_features,
        stream_features_async,
        vector_tile,
        vector_tile_async,
    )
    from pgspatial.settings import Settings
    from pgspatial.verify import SchemaProblem, verify_schema

__version__ = "0.1.0"

_LAZY = {
    "spatial_relationship": "pgspatial.relationships",
    "LoadReport": "pgspatial.bulk",
    "bulk_load": "pgspatial.bulk",
    "run_doctor": "pgspatial.doctor",
    "explain": "pgspatial.plans",
    "explain_async": "pgspatial.plans",
    "lint": "pgspatial.plans",
    "feature_collection": "pgspatial.serialize",
    "feature_collection_async": "pgspatial.serialize",
    "stream_features": "pgspatial.serialize",
    "stream_features_async": "pgspatial.serialize",
    "vector_tile": "pgspatial.serialize",
    "vector_tile_async": "pgspatial.serialize",
    "contains": "pgspatial.predicates",
    "covered_by": "pgspatial.predicates",
    "geodesic_distance": "pgspatial.predicates",
    "in_bbox": "pgspatial.predicates",
    "in_tile": "pgspatial.predicates",
    "intersects": "pgspatial.predicates",
    "nearest": "pgspatial.predicates",
    "tile_envelope": "pgspatial.predicates",
    "within_distance": "pgspatial.predicates",
    "create_analytics_engine": "pgspatial.engine",
    "create_async_engine": "pgspatial.engine",
    "create_engine": "pgspatial.engine",
    "lift_timeouts": "pgspatial.engine",
    "lift_timeouts_async": "pgspatial.engine",
    "run_serializable": "pgspatial.engine",
    "run_serializable_async": "pgspatial.engine",
    "session_factory": "pgspatial.engine",
    "Catalog": "pgspatial.catalog",
    "GeodesicMetrics": "pgspatial.metrics",
    "ParsedGeometry": "pgspatial.geometry",
    "SchemaProblem": "pgspatial.verify",
    "Settings": "pgspatial.settings",
    "geography_of": "pgspatial.columns",
    "parse_geometry": "pgspatial.geometry",
    "spatial_column": "pgspatial.columns",
    "verify_schema": "pgspatial.verify",
}

__all__ = [
    "Catalog",
    "GeodesicMetrics",
    "InvalidGeometry",
    "LoadReport",
    "ParsedGeometry",
    "PgSpatialError",
    "QueryTimeout",
    "SchemaError",
    "SchemaProblem",
    "Settings",
    "SridMismatch",
    "__version__",
    "bulk_load",
    "contains",
    "covered_by",
    "create_analytics_engine",
    "create_async_engine",
    "create_engine",
    "explain",
    "explain_async",
    "feature_collection",
    "feature_collection_async",
    "geodesic_distance",
    "geography_of",
    "in_bbox",
    "in_tile",
    "intersects",
    "lift_timeouts",
    "lift_timeouts_async",
    "lint",
    "nearest",
    "parse_geometry",
    "run_doctor",
    "run_serializable",
    "run_serializable_async",
    "session_factory",
    "spatial_column",
    "spatial_relationship",
    "stream_features",
    "stream_features_async",
    "tile_envelope",
    "vector_tile",
    "vector_tile_async",
    "verify_schema",
    "within_distance",
]

__getattr__ = lazy_exports(__name__, _LAZY)
