"""pgspatial: PostgreSQL/PostGIS + SQLAlchemy 2.0 + GeoAlchemy2, production-ready by default.

The public API is what ``__all__`` lists; everything else lives in private-by-convention
modules and may change.
"""

from __future__ import annotations

from pgspatial.errors import (
    InvalidGeometry,
    PgSpatialError,
    QueryTimeout,
    SchemaError,
    SridMismatch,
)
from pgspatial.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "InvalidGeometry",
    "PgSpatialError",
    "QueryTimeout",
    "SchemaError",
    "Settings",
    "SridMismatch",
    "__version__",
]
