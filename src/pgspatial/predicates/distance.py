"""``within_distance``: rows within r metres on the ground, in every SRID, through an index.

Errata 1: ``ST_DWithin(cast(geom, Geography), ...)`` hides the column from its GiST index
(a sequential scan: 2951 ms instead of 4 ms). Errata 17: in EPSG:3857 a "500" radius is
379 m at New York, and EPSG:2263 counts US survey feet. So, by column:

- geography: ``ST_DWithin(col, point::geography, r, true)`` on the column's own index;
- geometry(4326) with a geodesic index: the same test on ``((col)::geography)``, spelled by
  :func:`~pgspatial.columns.geography_of` exactly as the index is (errata 16);
- geometry(4326) without one: ``col && <degree box>`` (the box from
  :func:`~pgspatial.predicates.geodesy.lonlat_window`, two boxes across ±180°) AND the exact
  spheroid test;
- a projected SRID: ``col && <that degree window, projected>`` (densified, bounded, with a
  margin; two boxes across ±180°) AND the exact spheroid test on
  ``ST_Transform(col, 4326)::geography``.

The exact test is always ``ST_DWithin(geography, geography, r, use_spheroid => true)``:
the same spheroid distance as ``ST_Distance(a::geography, b::geography, true)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, and_, func, literal, or_

from pgspatial.columns import GEOGRAPHIC_SRID, geography_of
from pgspatial.errors import ConfigError
from pgspatial.geometry import ParsedGeometry
from pgspatial.predicates.common import ColumnFacts, bind_geometry, column_facts, query_geometry
from pgspatial.predicates.geodesy import lonlat_window, projected_boxes

__all__ = ["geodesic_distance", "within_distance"]


def _column_as_geography(facts: ColumnFacts) -> ColumnElement[Any]:
    if facts.geography:
        return facts.expression
    if facts.srid == GEOGRAPHIC_SRID:
        return geography_of(facts.expression)
    return geography_of(func.ST_Transform(facts.expression, GEOGRAPHIC_SRID))


def _point_lonlat(point: ParsedGeometry) -> tuple[float, float]:
    if point.geometry_type != "POINT":
        raise ConfigError(
            f"within_distance and nearest measure from a point; got a {point.geometry_type}. "
            "Use its centroid, or ST_DWithin with your geometry on a geography column."
        )
    return float(point.shape.x), float(point.shape.y)


def _envelope(box: tuple[float, float, float, float], srid: int) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(*(literal(v, Float) for v in box), srid)


def geodesic_distance(column: Any, point: Any) -> ColumnElement[float]:
    """Spheroid distance in metres from ``column`` to ``point``, for SELECT and ORDER BY."""
    facts = column_facts(column)
    wgs84 = query_geometry(point, target_srid=GEOGRAPHIC_SRID)
    return func.ST_Distance(
        _column_as_geography(facts), geography_of(bind_geometry(wgs84)), True, type_=Float
    )


def within_distance(column: Any, point: Any, meters: float) -> ColumnElement[bool]:
    """Rows whose ``column`` lies within ``meters`` of ``point`` on the WGS84 spheroid.

    ``point`` is anything :func:`~pgspatial.parse_geometry` accepts with an SRID, or a
    ``(lon, lat)`` tuple in EPSG:4326. The condition always lets PostgreSQL use an index.
    """
    if meters < 0:
        raise ConfigError(f"within_distance needs a non-negative radius, got {meters} m.")
    facts = column_facts(column)
    wgs84 = query_geometry(point, target_srid=GEOGRAPHIC_SRID)
    lon, lat = _point_lonlat(wgs84)
    radius = literal(float(meters), Float)
    exact = func.ST_DWithin(
        _column_as_geography(facts), geography_of(bind_geometry(wgs84)), radius, True
    )
    if facts.geography or (facts.has_geodesic_index and facts.srid == GEOGRAPHIC_SRID):
        return exact
    if facts.lonlat:
        boxes = lonlat_window(lon, lat, meters).boxes
        prefilter = or_(*(facts.expression.op("&&")(_envelope(box, facts.srid)) for box in boxes))
        return and_(prefilter, exact)
    boxes = projected_boxes(lonlat_window(lon, lat, meters), facts.srid)
    prefilter = or_(*(facts.expression.op("&&")(_envelope(box, facts.srid)) for box in boxes))
    return and_(prefilter, exact)
