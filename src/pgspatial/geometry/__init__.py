"""Geometry input for pgspatial: one validated entry point for every geometry.

Every geometry that enters a query or a write goes through :func:`parse_geometry`, which
decodes any common representation (GeoJSON, WKT, EWKT, WKB, EWKB, hex, Shapely,
GeoAlchemy2 elements) and checks it in Python before PostGIS sees it: explicit and
matching SRID (a mismatched SRID can silently return wrong rows, errata item 5), the
column's geometry type, finite and in-range coordinates, OGC validity. The result, a
:class:`ParsedGeometry`, is a GeoAlchemy2 ``WKBElement`` carrying EWKB, so it binds
anywhere GeoAlchemy2 accepts a geometry. :func:`GeoJSONGeometryInput` makes the same
checks a pydantic field type for request bodies.

Names are imported on first use: the bulk loader needs the CRS and validation helpers
without GeoAlchemy2 and pydantic, which ``ParsedGeometry`` and the models bring in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.geometry.crs import (
        GEOJSON_SRID,
        crs_for_srid,
        is_lonlat_degrees,
        srid_from_crs_name,
    )
    from pgspatial.geometry.decode import ACCEPTED_KINDS
    from pgspatial.geometry.element import ParsedGeometry
    from pgspatial.geometry.models import (
        GeoJSONGeometry,
        GeoJSONGeometryInput,
        to_geojson_mapping,
    )
    from pgspatial.geometry.parse import parse_geometry
    from pgspatial.geometry.validate import (
        TARGET_TYPES,
        geometry_type_name,
        normalize_target_type,
    )

_LAZY = {
    "ACCEPTED_KINDS": "pgspatial.geometry.decode",
    "GEOJSON_SRID": "pgspatial.geometry.crs",
    "TARGET_TYPES": "pgspatial.geometry.validate",
    "GeoJSONGeometry": "pgspatial.geometry.models",
    "GeoJSONGeometryInput": "pgspatial.geometry.models",
    "ParsedGeometry": "pgspatial.geometry.element",
    "crs_for_srid": "pgspatial.geometry.crs",
    "geometry_type_name": "pgspatial.geometry.validate",
    "is_lonlat_degrees": "pgspatial.geometry.crs",
    "normalize_target_type": "pgspatial.geometry.validate",
    "parse_geometry": "pgspatial.geometry.parse",
    "srid_from_crs_name": "pgspatial.geometry.crs",
    "to_geojson_mapping": "pgspatial.geometry.models",
}

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

__getattr__ = lazy_exports(__name__, _LAZY)
