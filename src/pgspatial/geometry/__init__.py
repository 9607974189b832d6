"""Geometry input for pgspatial: one validated entry point for every geometry.

Every geometry that enters a query or a write goes through :func:`parse_geometry`, which
decodes any common representation (GeoJSON, WKT, EWKT, WKB, EWKB, hex, Shapely,
GeoAlchemy2 elements) and checks it in Python before PostGIS sees it: explicit and
matching SRID (a mismatched SRID can silently return wrong rows, errata item 5), the
column's geometry type, finite and in-range coordinates, OGC validity. The result, a
:class:`ParsedGeometry`, is a GeoAlchemy2 ``WKBElement`` carrying EWKB, so it binds
anywhere GeoAlchemy2 accepts a geometry. :func:`GeoJSONGeometryInput` makes the same
checks a pydantic field type for request bodies.
"""

from __future__ import annotations

from pgspatial.geometry.crs import crs_for_srid, is_lonlat_degrees
from pgspatial.geometry.decode import ACCEPTED_KINDS, GEOJSON_SRID, srid_from_crs_name
from pgspatial.geometry.element import ParsedGeometry, geometry_type_name
from pgspatial.geometry.models import GeoJSONGeometry, GeoJSONGeometryInput, to_geojson_mapping
from pgspatial.geometry.parse import parse_geometry
from pgspatial.geometry.validate import TARGET_TYPES, normalize_target_type

__all__ = [
    "ACCEPTED_KINDS",
    "GEOJSON_SRID",
    "TARGET_TYPES",
    "GeoJSONGeometry",
    "GeoJSONGeometryInput",
    "ParsedGeometry",
    "crs_for_srid",
    "geometry_type_name",
    "is_lonlat_degrees",
    "normalize_target_type",
    "parse_geometry",
    "srid_from_crs_name",
    "to_geojson_mapping",
]
