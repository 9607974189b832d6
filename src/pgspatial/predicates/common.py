"""What the predicates need to know about a column and a query geometry, without I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import ColumnElement, Index, bindparam
from sqlalchemy.sql.elements import BindParameter

from pgspatial.columns import GEOGRAPHIC_SRID, GeographyOf
from pgspatial.errors import ConfigError
from pgspatial.geometry import ParsedGeometry, parse_geometry
from pgspatial.geometry.crs import is_lonlat_degrees
from pgspatial.types import SpatialGeometry

__all__ = ["ColumnFacts", "bind_geometry", "column_facts", "query_geometry"]


@dataclass(frozen=True)
class ColumnFacts:
    """A spatial column as the predicates see it."""

    expression: ColumnElement[Any]
    srid: int
    geography: bool
    has_geodesic_index: bool

    @property
    def lonlat(self) -> bool:
        """True for geometry columns in degrees (EPSG:4326 and other geographic CRSs)."""
        return not self.geography and is_lonlat_degrees(self.srid)


def _underlying_column(expression: Any) -> Any:
    if hasattr(expression, "__clause_element__"):
        return expression.__clause_element__()
    return expression


def column_facts(column: Any) -> ColumnFacts:
    """SRID, kind and geodesic-index presence of a mapped attribute or Core column."""
    clause = _underlying_column(column)
    spatial_type = getattr(clause, "type", None)
    if not isinstance(spatial_type, Geometry | Geography):
        raise ConfigError(
            f"{clause!r} is not a geometry or geography column; pgspatial's predicates take "
            "a spatial column (e.g. Parcel.geom)."
        )
    if spatial_type.srid <= 0:
        raise ConfigError(
            f"{clause} has no SRID (srid={spatial_type.srid}); metre distances need one. "
            "Declare it with spatial_column(..., srid=...)."
        )
    geography = isinstance(spatial_type, Geography)
    table = getattr(clause, "table", None)
    name = getattr(clause, "name", None)
    indexes = getattr(table, "indexes", ()) or ()
    geodesic = any(
        isinstance(expr, GeographyOf) and getattr(expr.operand, "name", None) == name
        for index in indexes
        if isinstance(index, Index)
        for expr in index.expressions
    )
    return ColumnFacts(clause, spatial_type.srid, geography, geodesic and not geography)


def query_geometry(
    value: Any, *, target_srid: int | None = None, transform: bool = True
) -> ParsedGeometry:
    """A query argument as a ParsedGeometry; ``(lon, lat)`` tuples are EPSG:4326 points.

    With ``target_srid`` and ``transform=False`` a different SRID raises SridMismatch
    (errata 5: PostGIS can silently return wrong rows for mixed SRIDs).
    """
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
    ):
        value = f"SRID={GEOGRAPHIC_SRID};POINT({float(value[0])!r} {float(value[1])!r})"
    if target_srid is None:
        return parse_geometry(value)
    return parse_geometry(value, srid=target_srid, transform=transform)


def bind_geometry(
    parsed: ParsedGeometry, *, name: str | None = None, unique: bool = True
) -> BindParameter[Any]:
    """A bound parameter carrying ``parsed`` as EWKB, typed as geometry in its SRID.

    ``unique=False`` keeps ``name`` as the parameter's name, so a statement built once can
    be executed with a new value under that name (vector tiles do).
    """
    return bindparam(
        name,
        parsed,
        type_=SpatialGeometry(geometry_type="GEOMETRY", srid=parsed.srid, spatial_index=False),
        unique=unique,
    )
