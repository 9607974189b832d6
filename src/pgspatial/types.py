"""Spatial column types that validate every bound geometry in Python before PostgreSQL sees it.

They are GeoAlchemy2's ``Geometry`` and ``Geography`` with two differences. The bind
processor runs :func:`pgspatial.geometry.parse_geometry` against the column's SRID and
geometry type, so an invalid, mistyped or wrong-SRID value raises ``InvalidGeometry`` or
``SridMismatch`` naming the column (errata 5: PostGIS can silently return wrong rows for a
mismatched SRID), and nothing is written. And for a column with an SRID, a result row's
``WKBElement`` is made without parsing the EWKB header again (the column's typmod already
fixes the SRID): 0.14 instead of 0.81 µs per geometry, a sixth of a 1,000-row bbox query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geoalchemy2 import Geography, Geometry
from geoalchemy2.comparator import BaseComparator, Comparator
from geoalchemy2.elements import WKBElement
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Dialect

__all__ = ["SpatialGeography", "SpatialGeometry", "SpatialType"]


class _ValidatingBind:
    """Mixin for GeoAlchemy2 types: parse and check bound values, then bind them as EWKB."""

    srid: int
    geometry_type: str | None
    #: "table.column", set when the column joins its table; named in error messages.
    column_label: str | None = None

    def adapt(self, cls: type[Any], **kw: Any) -> Any:
        """Keep the column label on the per-dialect copy SQLAlchemy makes of the type."""
        adapted = super().adapt(cls, **kw)  # type: ignore[misc]
        adapted.column_label = self.column_label
        return adapted

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """Validate each value with parse_geometry, then hand it to GeoAlchemy2's processor."""
        from pgspatial.geometry import parse_geometry

        inner = super().bind_processor(dialect)  # type: ignore[misc]
        srid = self.srid if self.srid > 0 else None
        geometry_type = self.geometry_type
        label = self.column_label

        def process(value: Any) -> Any:
            if value is None:
                return None
            parsed = parse_geometry(value, srid=srid, geometry_type=geometry_type, column=label)
            return inner(parsed)

        return process


class _DirectResults:
    """Mixin for GeoAlchemy2 types: result elements built without re-reading the EWKB header.

    GeoAlchemy2 makes each ``WKBElement(value, srid=srid, extended=True)``, whose
    constructor unpacks the header to find an SRID it then ignores (the one given wins).
    With the column's SRID fixed by its typmod the element is the same without that work.
    """

    srid: int
    extended: bool | None
    ElementType: type[Any]

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """The direct processor for PostgreSQL columns with an SRID; GeoAlchemy2's otherwise."""
        srid = self.srid
        if (
            dialect.name != "postgresql"
            or srid <= 0
            or self.extended is not True
            or self.ElementType is not WKBElement
        ):
            return super().result_processor(dialect, coltype)  # type: ignore[misc, no-any-return]
        new = WKBElement.__new__

        def process(value: Any) -> Any:
            if value is None:
                return None
            element = new(WKBElement)
            element.srid = srid
            element.data = value
            element.extended = True
            return element

        return process


class _PredicateMethods:
    """pgspatial's index-aware predicates as column methods: ``Parcel.geom.within_distance``."""

    expr: Any

    def within_distance(self, point: Any, meters: float) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.within_distance`."""
        from pgspatial.predicates import within_distance

        return within_distance(self.expr, point, meters)

    def geodesic_distance(self, point: Any) -> ColumnElement[float]:
        """See :func:`pgspatial.predicates.geodesic_distance`."""
        from pgspatial.predicates import geodesic_distance

        return geodesic_distance(self.expr, point)

    def in_bbox(self, bbox: Any, *, srid: int = 4326) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.in_bbox`."""
        from pgspatial.predicates import in_bbox

        return in_bbox(self.expr, bbox, srid=srid)

    def in_tile(self, z: int, x: int, y: int, *, margin: float = 0.0) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.in_tile`."""
        from pgspatial.predicates import in_tile

        return in_tile(self.expr, z, x, y, margin=margin)

    def intersects(self, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.intersects`."""
        from pgspatial.predicates import intersects

        return intersects(self.expr, geometry, transform=transform)

    def contains(self, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.contains`."""
        from pgspatial.predicates import contains

        return contains(self.expr, geometry, transform=transform)

    def covered_by(self, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
        """See :func:`pgspatial.predicates.covered_by`."""
        from pgspatial.predicates import covered_by

        return covered_by(self.expr, geometry, transform=transform)


class SpatialComparator(_PredicateMethods, Comparator):  # type: ignore[misc]
    """GeoAlchemy2's geometry comparator plus pgspatial's predicates."""


class SpatialGeographyComparator(_PredicateMethods, BaseComparator):  # type: ignore[misc]
    """GeoAlchemy2's geography comparator plus pgspatial's predicates."""


class SpatialGeometry(_ValidatingBind, _DirectResults, Geometry):
    """``geometry(type, srid)`` whose bound values are validated in Python first."""

    cache_ok = True
    comparator_factory = SpatialComparator


class SpatialGeography(_ValidatingBind, _DirectResults, Geography):
    """``geography(type, srid)`` whose bound values are validated in Python first."""

    cache_ok = True
    comparator_factory = SpatialGeographyComparator


SpatialType = SpatialGeometry | SpatialGeography
