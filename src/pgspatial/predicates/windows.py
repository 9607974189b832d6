"""Window predicates: bbox, intersects/contains/covered_by, and map tiles.

The query geometry is transformed into the column's SRID in Python, never the column in
SQL (that would hide it from its index). A rectangle that changes CRS is densified first:
its straight edges become curves in the other CRS, and transforming four corners alone
would cut rows off near the edges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from sqlalchemy import ColumnElement, Float, bindparam, func

from pgspatial.errors import ConfigError
from pgspatial.geometry import ParsedGeometry, parse_geometry
from pgspatial.geometry.crs import reproject
from pgspatial.predicates.common import ColumnFacts, bind_geometry, column_facts, query_geometry

__all__ = [
    "WEB_MERCATOR_HALF_WORLD",
    "box_overlap",
    "contains",
    "covered_by",
    "envelope",
    "in_bbox",
    "in_tile",
    "intersects",
    "tile_bounds",
    "tile_envelope",
    "tile_window",
]

WEB_MERCATOR = 3857
GEOGRAPHIC = 4326
WEB_MERCATOR_HALF_WORLD = 20037508.342789244  # as PostGIS ST_TileEnvelope's default bounds
_DENSIFY_SEGMENTS = 64  # points per edge when a rectangle changes CRS


def _checked_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bbox) != 4:
        raise ConfigError(f"A bbox is (xmin, ymin, xmax, ymax); got {tuple(bbox)!r}.")
    xmin, ymin, xmax, ymax = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ConfigError(f"A bbox needs finite numbers; got {tuple(bbox)!r}.")
    if not (xmin < xmax and ymin < ymax):
        raise ConfigError(f"A bbox needs xmin < xmax and ymin < ymax; got {tuple(bbox)!r}.")
    return xmin, ymin, xmax, ymax


def envelope(
    bbox: Sequence[float], *, srid: int, target_srid: int, densify: bool = True
) -> ParsedGeometry:
    """The rectangle ``(xmin, ymin, xmax, ymax)`` in ``srid``, as a polygon in
    ``target_srid`` (densified before reprojection, so curved edges lose no area).
    """
    xmin, ymin, xmax, ymax = _checked_bbox(bbox)
    box = shapely.box(xmin, ymin, xmax, ymax)
    if srid != target_srid:
        if densify:
            step = max(xmax - xmin, ymax - ymin) / _DENSIFY_SEGMENTS
            box = shapely.segmentize(box, step)
        box = reproject(box, srid, target_srid)
    shapely.set_srid(box, target_srid)
    return parse_geometry(box, srid=target_srid)


def in_bbox(column: Any, bbox: Sequence[float], *, srid: int = 4326) -> ColumnElement[bool]:
    """``column && <bbox>``: bounding-box overlap with a rectangle given in ``srid``.

    In the column's own SRID that is ``ST_MakeEnvelope`` of four bound numbers (what one
    would write by hand); in another, the densified rectangle reprojected in Python.
    """
    facts = column_facts(column)
    if srid == facts.srid and not facts.geography:
        return box_overlap(facts.expression, _checked_bbox(bbox), srid)
    window = envelope(bbox, srid=srid, target_srid=facts.srid)
    return facts.expression.op("&&")(bind_geometry(window))


def _relation(function: Any, column: Any, geometry: Any, transform: bool) -> ColumnElement[bool]:
    facts = column_facts(column)
    value = query_geometry(geometry, target_srid=facts.srid, transform=transform)
    return function(facts.expression, bind_geometry(value))  # type: ignore[no-any-return]


def intersects(column: Any, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
    """``ST_Intersects(column, geometry)``; a geometry in another SRID raises SridMismatch
    unless ``transform=True`` (then it is reprojected in Python, the column untouched).
    """
    return _relation(func.ST_Intersects, column, geometry, transform)


def contains(column: Any, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
    """``ST_Contains(column, geometry)``: rows whose geometry contains ``geometry``."""
    return _relation(func.ST_Contains, column, geometry, transform)


def covered_by(column: Any, geometry: Any, *, transform: bool = False) -> ColumnElement[bool]:
    """``ST_CoveredBy(column, geometry)``: rows lying inside ``geometry`` (boundary included)."""
    return _relation(func.ST_CoveredBy, column, geometry, transform)


def _tile_square(
    z: int, x: int, y: int, margin: float, *, clamp: bool
) -> tuple[float, float, float, float]:
    """The tile (and margin) in EPSG:3857 metres, as ``ST_TileEnvelope`` computes it."""
    if z < 0 or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise ConfigError(f"No tile {z}/{x}/{y}: x and y run from 0 to {2 ** max(z, 0) - 1}.")
    half = WEB_MERCATOR_HALF_WORLD
    size = 2 * half / 2**z
    xmin = -half + x * size - margin * size
    xmax = -half + (x + 1) * size + margin * size
    ymax = half - y * size + margin * size
    ymin = half - (y + 1) * size - margin * size
    if clamp:
        # A margin can push the square past the Mercator world: beyond ±180° PROJ wraps the
        # longitudes and the reprojected ring folds onto itself; beyond the top and bottom
        # the inverse projection is undefined. Clamp to the world first.
        return max(-half, xmin), max(-half, ymin), min(half, xmax), min(half, ymax)
    return xmin, ymin, xmax, ymax


def tile_bounds(
    z: int, x: int, y: int, *, srid: int, margin: float = 0.0
) -> tuple[float, float, float, float] | None:
    """The tile (and margin) as an exact rectangle in ``srid`` where it is one, else None.

    In EPSG:3857 it is the square itself; in EPSG:4326 too, since the inverse Mercator maps
    x to longitude and y to latitude separately (the square's edges stay straight).
    """
    if srid == WEB_MERCATOR:
        return _tile_square(z, x, y, margin, clamp=False)
    if srid != GEOGRAPHIC:
        return None
    xmin, ymin, xmax, ymax = _tile_square(z, x, y, margin, clamp=True)
    half = WEB_MERCATOR_HALF_WORLD

    def lat(metres: float) -> float:
        return math.degrees(math.atan(math.sinh(metres / half * math.pi)))

    return xmin / half * 180.0, lat(ymin), xmax / half * 180.0, lat(ymax)


def box_overlap(
    expression: Any, bounds: Sequence[float], srid: int, *, names: Sequence[str] | None = None
) -> ColumnElement[bool]:
    """``expression && ST_MakeEnvelope(...)`` with the four numbers bound (no geometry made
    in Python; the statement is the same for every box, so its compiled form is reused).
    ``names`` gives the four parameters fixed names, to execute the statement again with
    new numbers under them.
    """
    keys: Sequence[str | None] = names if names is not None else (None,) * 4
    corners = (
        bindparam(key, float(v), type_=Float, unique=key is None)
        for key, v in zip(keys, bounds, strict=True)
    )
    condition: ColumnElement[bool] = expression.op("&&")(func.ST_MakeEnvelope(*corners, srid))
    return condition


def tile_envelope(
    z: int, x: int, y: int, *, srid: int = WEB_MERCATOR, margin: float = 0.0
) -> ParsedGeometry:
    """The XYZ tile's square as PostGIS ``ST_TileEnvelope(z, x, y, margin => m)`` makes it,
    in ``srid`` (densified before reprojection when ``srid`` is not 3857).
    """
    square = _tile_square(z, x, y, margin, clamp=srid != WEB_MERCATOR)
    return envelope(square, srid=WEB_MERCATOR, target_srid=srid)


def tile_window(
    facts: ColumnFacts, z: int, x: int, y: int, *, margin: float = 0.0
) -> tuple[float, float, float, float] | ParsedGeometry:
    """What :func:`in_tile` binds for tile ``z/x/y`` on a column: the four numbers of the
    rectangle where the tile is one in the column's SRID (EPSG:3857, EPSG:4326), else the
    densified window reprojected to it (InvalidGeometry or ReprojectionError when that CRS
    cannot draw the tile)."""
    bounds = None if facts.geography else tile_bounds(z, x, y, srid=facts.srid, margin=margin)
    if bounds is not None:
        return bounds
    return tile_envelope(z, x, y, srid=facts.srid, margin=margin)


def in_tile(column: Any, z: int, x: int, y: int, *, margin: float = 0.0) -> ColumnElement[bool]:
    """``column && <tile envelope in the column's SRID>``: the rows a tile may draw."""
    facts = column_facts(column)
    window = tile_window(facts, z, x, y, margin=margin)
    if isinstance(window, ParsedGeometry):
        return facts.expression.op("&&")(bind_geometry(window))
    return box_overlap(facts.expression, window, facts.srid)
