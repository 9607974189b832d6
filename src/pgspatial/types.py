"""Spatial column types that validate every bound geometry in Python before PostgreSQL sees it.

They are GeoAlchemy2's ``Geometry`` and ``Geography`` with one difference: the bind
processor runs :func:`pgspatial.geometry.parse_geometry` against the column's SRID and
geometry type, so an invalid, mistyped or wrong-SRID value raises ``InvalidGeometry`` or
``SridMismatch`` naming the column (errata 5: PostGIS can silently return wrong rows for a
mismatched SRID), and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geoalchemy2 import Geography, Geometry
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


class SpatialGeometry(_ValidatingBind, Geometry):
    """``geometry(type, srid)`` whose bound values are validated in Python first."""

    cache_ok = True


class SpatialGeography(_ValidatingBind, Geography):
    """``geography(type, srid)`` whose bound values are validated in Python first."""

    cache_ok = True


SpatialType = SpatialGeometry | SpatialGeography
