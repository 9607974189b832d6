"""Serialization without WKB in Python: DB-built GeoJSON, NDJSON and CSV, and vector tiles."""

from __future__ import annotations

from pgspatial.serialize.features import FULL_PRECISION, FeatureSpec, feature_spec
from pgspatial.serialize.output import (
    ExportFormat,
    feature_collection,
    feature_collection_async,
    stream_features,
    stream_features_async,
)
from pgspatial.serialize.tiles import tile_select, vector_tile, vector_tile_async

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
