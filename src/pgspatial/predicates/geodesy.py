"""Provable search windows: the planar box that must contain every point within r metres.

Everything here is pure math on the Python side; the predicates turn the numbers into
index-usable ``&&`` conditions and leave the exact decision to PostGIS's spheroid distance.

- In EPSG:4326 a radius is a latitude span and a longitude span that grows with 1/cos(lat):
  we use the spherical bounding-box formula (Matuschek) with the *smallest* radius of
  curvature of the WGS84 ellipsoid and a 1 % margin, so the window is never too small; a
  circle reaching a pole spans every longitude, and one crossing ±180° becomes two boxes.
- In a projected CRS a ground metre is ``k`` projected units, where the scale ``k`` varies
  over the map (EPSG:3857: sec(lat), 1.32 at New York; errata 17) and the unit may be the US
  survey foot (EPSG:2263). Rather than bound ``k``, we project the degree window itself
  (densified, then bounded with a margin): that is right in every CRS and across ±180°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from pgspatial.errors import ConfigError

__all__ = [
    "MERCATOR_MAX_LAT",
    "LonLatWindow",
    "clamps_latitude",
    "lonlat_window",
    "projected_boxes",
]

# Smallest radius of curvature of WGS84 (meridional, at the equator): a(1 - e²).
_MIN_RADIUS_M = 6_335_439.327
_MARGIN = 1.01
_EPSILON_DEG = 1e-9


@dataclass(frozen=True)
class LonLatWindow:
    """Boxes (xmin, ymin, xmax, ymax) in degrees whose union contains the search disc."""

    boxes: tuple[tuple[float, float, float, float], ...]


def angular_radius(metres: float) -> float:
    """An upper bound, in radians, of the central angle spanned by ``metres`` on WGS84."""
    return metres / _MIN_RADIUS_M * _MARGIN


def lonlat_window(lon: float, lat: float, metres: float) -> LonLatWindow:
    """Degree boxes containing every point within ``metres`` of (lon, lat) on WGS84."""
    if metres < 0:
        raise ConfigError(f"A search radius cannot be negative (got {metres} m).")
    sigma = angular_radius(metres)
    dlat = math.degrees(sigma) + _EPSILON_DEG
    ymin, ymax = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    phi = math.radians(lat)
    if sigma >= math.pi / 2 or math.sin(sigma) >= math.cos(phi) or ymax >= 90 or ymin <= -90:
        return LonLatWindow(((-180.0, ymin, 180.0, ymax),))  # the disc holds a pole
    dlon = math.degrees(math.asin(math.sin(sigma) / math.cos(phi))) * _MARGIN + _EPSILON_DEG
    if dlon >= 180:
        return LonLatWindow(((-180.0, ymin, 180.0, ymax),))
    xmin, xmax = lon - dlon, lon + dlon
    if xmin < -180:
        return LonLatWindow(((-180.0, ymin, xmax, ymax), (xmin + 360.0, ymin, 180.0, ymax)))
    if xmax > 180:
        return LonLatWindow(((xmin, ymin, 180.0, ymax), (-180.0, ymin, xmax - 360.0, ymax)))
    return LonLatWindow(((xmin, ymin, xmax, ymax),))


# Mercator-like CRSs cannot represent the poles: windows are clamped to this latitude.
MERCATOR_MAX_LAT = 85.05112878
_DENSIFY = 64
_RELATIVE_MARGIN = 0.005


def _transformed_bounds(
    box: tuple[float, float, float, float], srid: int
) -> tuple[float, float, float, float] | None:
    import shapely

    from pgspatial.geometry.crs import reproject

    xmin, ymin, xmax, ymax = box
    polygon = shapely.segmentize(
        shapely.box(xmin, ymin, xmax, ymax), max(xmax - xmin, ymax - ymin) / _DENSIFY
    )
    bounds = reproject(polygon, 4326, srid).bounds
    return bounds if all(math.isfinite(v) for v in bounds) else None


def projected_boxes(
    window: LonLatWindow, srid: int
) -> tuple[tuple[float, float, float, float], ...]:
    """The degree boxes of ``window`` as boxes in a projected ``srid`` that contain them.

    Each box is densified, reprojected and bounded, then widened by 0.5 % for the curvature
    between samples. This holds in any CRS, including across ±180° in EPSG:3857 where a
    single expanded square around the point would miss the far side (found by the
    geodesic-truth tests). Latitudes a Mercator CRS cannot represent are clamped.
    """
    result = []
    for box in window.boxes:
        bounds = _transformed_bounds(box, srid)
        if bounds is None:
            xmin, ymin, xmax, ymax = box
            clamped = (xmin, max(ymin, -MERCATOR_MAX_LAT), xmax, min(ymax, MERCATOR_MAX_LAT))
            bounds = _transformed_bounds(clamped, srid) if clamped[1] < clamped[3] else None
        if bounds is None:
            raise ConfigError(
                f"The search window {box} cannot be expressed in SRID {srid}; query a "
                "geography or EPSG:4326 column instead."
            )
        bxmin, bymin, bxmax, bymax = bounds
        dx, dy = (bxmax - bxmin) * _RELATIVE_MARGIN, (bymax - bymin) * _RELATIVE_MARGIN
        result.append((bxmin - dx - 1e-6, bymin - dy - 1e-6, bxmax + dx + 1e-6, bymax + dy + 1e-6))
    return tuple(result)


@cache
def clamps_latitude(srid: int) -> bool:
    """Whether ``srid`` cannot represent the poles (Web Mercator and its kin)."""
    from pgspatial.geometry.crs import transformer

    x, y = transformer(4326, srid).transform(0.0, 90.0)
    return not (math.isfinite(x) and math.isfinite(y))
