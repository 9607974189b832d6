"""``GeodesicMetrics``: hybrid properties whose SQL and Python sides return the same number.

The brief's ``area_sqm`` used ``ST_Area(ST_Transform(geom, 3857))`` in SQL (Web Mercator
inflates area by sec²(lat): 1.74 times in New York, errata 3) and planar degrees² in Python
(errata 4). Here ``area_m2``, ``length_m`` and ``perimeter_m`` are geodesic on the WGS84
spheroid on both sides: PostGIS geography in SQL, pyproj ``Geod`` (GeographicLib, the same
algorithms) in Python. ``centroid`` and ``bbox`` are planar on both sides, in the column's
own coordinates: a geodesic centroid is not what users of these properties expect.
"""

from __future__ import annotations

from typing import Any, ClassVar

from geoalchemy2 import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from pyproj import Geod
from shapely import LinearRing, LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Float, func, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.hybrid import hybrid_property

from pgspatial.columns import GEOGRAPHIC_SRID, geography_of
from pgspatial.geometry.crs import reproject
from pgspatial.types import SpatialGeography, SpatialGeometry

__all__ = ["GeodesicMetrics", "geodesic_area", "geodesic_length", "geodesic_perimeter"]

_WGS84 = Geod(ellps="WGS84")


def _lonlat(shape: BaseGeometry, srid: int) -> BaseGeometry:
    if srid in (GEOGRAPHIC_SRID, 0, -1):
        return shape
    return reproject(shape, srid, GEOGRAPHIC_SRID)


def _parts(shape: BaseGeometry) -> list[BaseGeometry]:
    return list(getattr(shape, "geoms", [shape]))


def _line_length(line: LineString | LinearRing) -> float:
    lons, lats = line.xy
    return float(_WGS84.line_length(lons, lats))


def geodesic_area(shape: BaseGeometry, srid: int = GEOGRAPHIC_SRID) -> float:
    """Area in m² on the WGS84 spheroid, as PostGIS ``ST_Area(geography)`` computes it."""
    total = 0.0
    for part in _parts(_lonlat(shape, srid)):
        if isinstance(part, Polygon | MultiPolygon):
            area, _ = _WGS84.geometry_area_perimeter(part)
            total += abs(area)
    return total


def geodesic_length(shape: BaseGeometry, srid: int = GEOGRAPHIC_SRID) -> float:
    """Length in m of the linear parts (0 for polygons), as ``ST_Length(geography)``."""
    lines = [p for p in _parts(_lonlat(shape, srid)) if isinstance(p, LineString | MultiLineString)]
    return sum(_line_length(line) for part in lines for line in _parts(part))


def geodesic_perimeter(shape: BaseGeometry, srid: int = GEOGRAPHIC_SRID) -> float:
    """Perimeter in m of the areal parts, holes included, as ``ST_Perimeter(geography)``."""
    total = 0.0
    for part in _parts(_lonlat(shape, srid)):
        for polygon in _parts(part) if isinstance(part, Polygon | MultiPolygon) else []:
            total += _line_length(polygon.exterior)
            total += sum(_line_length(ring) for ring in polygon.interiors)
    return total


class GeodesicMetrics:
    """Mixin for mapped classes: geodesic ``area_m2``/``length_m``/``perimeter_m`` plus
    planar ``centroid`` and ``bbox``, usable in select, where and order_by.

    The metrics read the column named by ``__geodesic_column__`` (default ``"geom"``).
    """

    __geodesic_column__: ClassVar[str] = "geom"

    # -- Python side ------------------------------------------------------------------------

    def _shape_and_srid(self) -> tuple[BaseGeometry, int]:
        element: WKBElement = getattr(self, self.__geodesic_column__)
        return to_shape(element), element.srid

    @hybrid_property
    def area_m2(self) -> float:
        """Geodesic area in square metres."""
        return geodesic_area(*self._shape_and_srid())

    @hybrid_property
    def length_m(self) -> float:
        """Geodesic length in metres of linear geometries (0 for polygons and points)."""
        return geodesic_length(*self._shape_and_srid())

    @hybrid_property
    def perimeter_m(self) -> float:
        """Geodesic perimeter in metres of areal geometries (0 for lines and points)."""
        return geodesic_perimeter(*self._shape_and_srid())

    @hybrid_property
    def centroid(self) -> WKBElement:
        """Planar centroid in the column's SRID."""
        shape, srid = self._shape_and_srid()
        return from_shape(shape.centroid, srid=srid, extended=True)

    @hybrid_property
    def bbox(self) -> list[float]:
        """Planar bounds ``[xmin, ymin, xmax, ymax]`` in the column's SRID."""
        shape, _ = self._shape_and_srid()
        return [float(v) for v in shape.bounds]

    # -- SQL side ----------------------------------------------------------------------------

    @classmethod
    def _column(cls) -> Any:
        return getattr(cls, cls.__geodesic_column__)

    @classmethod
    def _geography(cls) -> ColumnElement[Any]:
        column = cls._column()
        if isinstance(column.type, SpatialGeography):
            return column  # type: ignore[no-any-return]
        if column.type.srid == GEOGRAPHIC_SRID:
            return geography_of(column)
        return geography_of(func.ST_Transform(column, GEOGRAPHIC_SRID))

    @classmethod
    def _planar(cls) -> ColumnElement[Any]:
        column = cls._column()
        if isinstance(column.type, SpatialGeography):
            return func.geometry(column)
        return column  # type: ignore[no-any-return]

    @area_m2.inplace.expression
    @classmethod
    def _area_m2_expression(cls) -> ColumnElement[float]:
        return func.ST_Area(cls._geography(), type_=Float)

    @length_m.inplace.expression
    @classmethod
    def _length_m_expression(cls) -> ColumnElement[float]:
        return func.ST_Length(cls._geography(), type_=Float)

    @perimeter_m.inplace.expression
    @classmethod
    def _perimeter_m_expression(cls) -> ColumnElement[float]:
        return func.ST_Perimeter(cls._geography(), type_=Float)

    @centroid.inplace.expression
    @classmethod
    def _centroid_expression(cls) -> ColumnElement[WKBElement]:
        planar = cls._planar()
        point = SpatialGeometry(
            geometry_type="POINT", srid=cls._column().type.srid, spatial_index=False
        )
        return func.ST_Centroid(planar, type_=point)

    @bbox.inplace.expression
    @classmethod
    def _bbox_expression(cls) -> ColumnElement[list[float]]:
        planar = cls._planar()
        bounds: list[ColumnElement[Any]] = [
            func.ST_XMin(planar),
            func.ST_YMin(planar),
            func.ST_XMax(planar),
            func.ST_YMax(planar),
        ]
        # zero_indexes: Parcel.bbox[0] is xmin in SQL as in Python.
        bbox_type: ARRAY[Any] = ARRAY(Float, zero_indexes=True)
        return type_coerce(array(bounds), bbox_type)  # type: ignore[arg-type]
