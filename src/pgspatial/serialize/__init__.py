"""Serialization without WKB in Python: DB-built GeoJSON, NDJSON and CSV, and vector tiles.

Names are imported on first use: an export (``pgspatial export``) needs neither the tile
code nor the ORM and asyncio machinery it brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.serialize.features import FULL_PRECISION, FeatureSpec, feature_spec
    from pgspatial.serialize.output import (
        ExportFormat,
        feature_collection,
        feature_collection_async,
        stream_features,
        stream_features_async,
    )
    from pgspatial.serialize.tiles import tile_select, vector_tile, vector_tile_async

_LAZY = {
    "FULL_PRECISION": "pgspatial.serialize.features",
    "ExportFormat": "pgspatial.serialize.output",
    "FeatureSpec": "pgspatial.serialize.features",
    "feature_collection": "pgspatial.serialize.output",
    "feature_collection_async": "pgspatial.serialize.output",
    "feature_spec": "pgspatial.serialize.features",
    "stream_features": "pgspatial.serialize.output",
    "stream_features_async": "pgspatial.serialize.output",
    "tile_select": "pgspatial.serialize.tiles",
    "vector_tile": "pgspatial.serialize.tiles",
    "vector_tile_async": "pgspatial.serialize.tiles",
}

__all__ = [
    "FULL_PRECISION",
    "ExportFormat",
    "FeatureSpec",
    "feature_collection",
    "feature_collection_async",
    "feature_spec",
    "stream_features",
    "stream_features_async",
    "tile_select",
    "vector_tile",
    "vector_tile_async",
]

__getattr__ = lazy_exports(__name__, _LAZY)
