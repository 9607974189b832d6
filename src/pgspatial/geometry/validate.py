"""The rules a geometry must pass before it may enter a query or a write.

PostGIS does not protect every path: a mixed-SRID ``&&`` silently returns wrong rows and
an ``ST_Intersects`` with a foreign-SRID point can return none (errata item 5), and an
invalid polygon gives wrong answers rather than errors. So pgspatial checks in Python
first, with messages that name the column, the problem and the fix:

* target arguments: explicit positive SRIDs, known geometry type names (``ConfigError``);
* SRID: adopt, reproject (``transform=True``) or raise :class:`SridMismatch`;
* coordinates: non-empty, finite, lon/lat in range for geographic SRIDs;
* type: the target's OGC type (Z/M ignored), optionally promoted to its Multi type;
* validity: OGC validity as GEOS/PostGIS define it, optionally repaired by ``make_valid``.
"""

from __future__ import annotations

import re

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from pgspatial.errors import ConfigError, InvalidGeometry, SridMismatch
from pgspatial.geometry._text import echo, format_coordinate, prefix
from pgspatial.geometry.crs import ReprojectionError, is_lonlat_degrees, reproject

__all__ = [
    "MULTI_OF",
    "OGC_NAMES",
    "TARGET_TYPES",
    "check_coordinates",
    "check_lonlat_range",
    "check_target_srid",
    "describe_reason",
    "ensure_valid_and_typed",
    "fit_type",
    "normalize_target_type",
    "resolve_srid",
]

# shapely.get_type_id -> upper-case OGC name (a LinearRing is written as a LineString).
_TYPE_NAMES = (
    "POINT",
    "LINESTRING",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
)


def geometry_type_name(shape: BaseGeometry) -> str:
    """The upper-case OGC type name of a Shapely geometry, without Z/M: ``"POLYGON"``, ..."""
    type_id = int(shapely.get_type_id(shape))
    if not 0 <= type_id < len(_TYPE_NAMES):
        raise TypeError(f"not a Shapely geometry: {echo(shape)}")
    return _TYPE_NAMES[type_id]


OGC_NAMES = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection",
    "GEOMETRY": "Geometry",
}
"""Upper-case type name -> OGC spelling, for messages."""

TARGET_TYPES = frozenset(OGC_NAMES)
"""Geometry types a target may name (any Z/M/ZM suffix is accepted and ignored)."""

MULTI_OF = {"POINT": "MULTIPOINT", "LINESTRING": "MULTILINESTRING", "POLYGON": "MULTIPOLYGON"}
"""Single-part type -> the Multi type ``promote_to_multi`` wraps it into."""

_MULTI_CLASSES = {
    "MULTIPOINT": shapely.MultiPoint,
    "MULTILINESTRING": shapely.MultiLineString,
    "MULTIPOLYGON": shapely.MultiPolygon,
}
_REASON = re.compile(r"(?P<text>.*?)\s*\[(?P<where>[^\]]*)\]\s*")


def check_target_srid(srid: int | None) -> int | None:
    """The target SRID, or None; a zero, negative or non-integer SRID is a ConfigError."""
    if srid is None:
        return None
    if isinstance(srid, bool) or not isinstance(srid, int | np.integer) or srid <= 0:
        raise ConfigError(
            f"srid={srid!r} is not a usable target SRID: pass the column's explicit, positive "
            "SRID (e.g. srid=4326); pgspatial never writes SRID 0 (unknown)."
        )
    return int(srid)


def normalize_target_type(geometry_type: str | None) -> str:
    """The target type's upper-case base name (``"pointz"`` -> ``"POINT"``); None = GEOMETRY."""
    if geometry_type is None:
        return "GEOMETRY"
    if not isinstance(geometry_type, str):
        raise ConfigError(f"geometry_type must be a string, got {geometry_type!r}")
    name = geometry_type.upper().replace(" ", "")
    for suffix in ("ZM", "Z", "M"):
        if name.endswith(suffix) and name[: -len(suffix)] in TARGET_TYPES:
            name = name[: -len(suffix)]
            break
    if name not in TARGET_TYPES:
        raise ConfigError(
            f"geometry_type={geometry_type!r} is not supported; use one of "
            f"{', '.join(sorted(TARGET_TYPES))} (a Z, M or ZM suffix is allowed)."
        )
    return name


def check_coordinates(shape: BaseGeometry, column: str | None) -> None:
    """Reject empty geometries and NaN/infinite coordinates, naming the first bad one."""
    if shape.is_empty:
        raise InvalidGeometry(
            f"{prefix(column)}the {shape.geom_type} is empty; send a geometry with "
            "coordinates, or NULL for no geometry.",
            column=column,
        )
    coords = shapely.get_coordinates(shape, include_z=bool(shape.has_z))
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        index = int(np.argmin(finite))
        raise InvalidGeometry(
            f"{prefix(column)}coordinate #{index + 1} {format_coordinate(coords[index])} of "
            f"the {shape.geom_type} is not finite (NaN or infinity); every coordinate must "
            "be a real number.",
            column=column,
        )


def check_lonlat_range(shape: BaseGeometry, srid: int, column: str | None) -> None:
    """For a geographic SRID, require -180 <= lon <= 180 and -90 <= lat <= 90."""
    if not is_lonlat_degrees(srid):
        return
    coords = shapely.get_coordinates(shape)
    x, y = coords[:, 0], coords[:, 1]
    bad = (x < -180) | (x > 180) | (y < -90) | (y > 90)
    if not bad.any():
        return
    index = int(np.argmax(bad))
    lon, lat = float(x[index]), float(y[index])
    if -90 <= lon <= 90 and -180 <= lat <= 180:
        hint = (
            "it looks like latitude/longitude order: WKT, GeoJSON and PostGIS want "
            f"longitude first, i.e. ({lat:.15g} {lon:.15g})."
        )
    else:
        hint = (
            "these do not look like degrees: if the data is projected, pass its own "
            f"SRID with transform=True to reproject it to EPSG:{srid}."
        )
    raise InvalidGeometry(
        f"{prefix(column)}coordinate #{index + 1} {format_coordinate(coords[index])} is out of "
        f"range for EPSG:{srid} (longitude -180..180, latitude -90..90); {hint}",
        column=column,
    )


def resolve_srid(
    shape: BaseGeometry,
    input_srid: int | None,
    target_srid: int | None,
    *,
    transform: bool,
    source: str,
    column: str | None,
) -> tuple[BaseGeometry, int]:
    """Reconcile the input's SRID with the target: adopt, reproject, or raise SridMismatch."""
    p = prefix(column)
    if input_srid is None:
        if target_srid is None:
            raise SridMismatch(
                f"{p}the SRID of this {source} is unknown and no target SRID was given. Pass "
                "srid=<the SRID of the data>, or send EWKT (SRID=4326;POINT(...)), EWKB or "
                "GeoJSON (always EPSG:4326).",
            )
        return shape, target_srid
    if target_srid is None or input_srid == target_srid:
        return shape, input_srid
    if not transform:
        raise SridMismatch(
            f"{p}the geometry has SRID {input_srid} but the target requires SRID "
            f"{target_srid}. Reproject it: ST_Transform(geom, {target_srid}) in SQL, "
            f"parse_geometry(..., transform=True) in Python, or send it in EPSG:{target_srid}.",
            expected=target_srid,
            actual=input_srid,
        )
    try:
        moved = reproject(shape, input_srid, target_srid)
    except ReprojectionError as error:
        raise SridMismatch(
            f"{p}the geometry has SRID {input_srid} but the target requires SRID "
            f"{target_srid}, and it cannot be reprojected here ({error}); use "
            f"ST_Transform(geom, {target_srid}) in SQL or send it in EPSG:{target_srid}.",
            expected=target_srid,
            actual=input_srid,
        ) from None
    coords = shapely.get_coordinates(moved, include_z=bool(moved.has_z))
    if not np.isfinite(coords).all():
        raise InvalidGeometry(
            f"{p}reprojecting from EPSG:{input_srid} to EPSG:{target_srid} failed for some "
            f"coordinates (outside the area where EPSG:{target_srid} is defined?).",
            column=column,
        )
    return moved, target_srid


def _type_error(shape: BaseGeometry, target: str, column: str | None) -> InvalidGeometry:
    actual = geometry_type_name(shape)
    wanted = OGC_NAMES[target]
    if MULTI_OF.get(actual) == target:
        todo = f"pass promote_to_multi=True to wrap it (like ST_Multi), or send a {wanted}."
    elif MULTI_OF.get(target) == actual and len(shape.geoms) == 1:
        todo = f"send its single part as a {wanted}, or make the column {actual}."
    else:
        todo = f"send a {wanted}, or store it in a {actual} or GEOMETRY column."
    return InvalidGeometry(
        f"{prefix(column)}expected a {target} but got a {actual}; {todo}", column=column
    )


def _fits(actual: str, target: str) -> bool:
    return target in {"GEOMETRY", actual}


def _wrap(shape: BaseGeometry, target: str) -> BaseGeometry:
    return _MULTI_CLASSES[target]([shape])


def fit_type(
    shape: BaseGeometry, target: str, *, promote: bool, column: str | None
) -> BaseGeometry:
    """``shape`` if its type fits ``target``, wrapped into it when promoting, else raise."""
    actual = geometry_type_name(shape)
    if _fits(actual, target):
        return shape
    if promote and MULTI_OF.get(actual) == target:
        return _wrap(shape, target)
    raise _type_error(shape, target, column)


def describe_reason(reason: str) -> str:
    """GEOS's ``Self-intersection[0.5 0.5]`` as ``Self-intersection at (0.5 0.5)``."""
    match = _REASON.fullmatch(reason)
    return f"{match['text']} at ({match['where']})" if match else reason


def ensure_valid_and_typed(
    shape: BaseGeometry,
    target: str,
    *,
    make_valid: bool,
    promote: bool,
    column: str | None,
) -> tuple[BaseGeometry, bool]:
    """Check type and OGC validity; repair with ``make_valid``. Returns (shape, repaired).

    Without ``make_valid`` the type is checked first, then validity. With it, an invalid
    geometry is repaired first and the repaired type must fit the target (so a bow-tie
    Polygon repaired into a MultiPolygon fits a MULTIPOLYGON target); a repair that changes
    the type away from the target is an error, never a silent write. A Multi input that the
    repair collapsed to a single part is wrapped back into its Multi type.
    """
    if not make_valid:
        shape = fit_type(shape, target, promote=promote, column=column)
        if not shapely.is_valid(shape):
            raise _invalid_error(shape, column)
        return shape, False
    if shapely.is_valid(shape):
        return fit_type(shape, target, promote=promote, column=column), False
    original = geometry_type_name(shape)
    original_fits = _fits(original, target) or (promote and MULTI_OF.get(original) == target)
    reason = str(shapely.is_valid_reason(shape))
    fixed = shapely.make_valid(shape)
    fixed_type = geometry_type_name(fixed)
    p = prefix(column)
    if fixed.is_empty:
        raise InvalidGeometry(
            f"{p}invalid {shape.geom_type}: {describe_reason(reason)}; make_valid left an empty "
            "geometry, so there is nothing to store. Fix the source.",
            reason=reason,
            column=column,
        )
    if _fits(fixed_type, target):
        return fixed, True
    if MULTI_OF.get(fixed_type) == target and (promote or original == target):
        return _wrap(fixed, target), True
    if not original_fits:
        raise _type_error(shape, target, column)
    parts = ""
    if fixed_type == "GEOMETRYCOLLECTION":
        kinds = sorted({part.geom_type for part in fixed.geoms})
        parts = f" of {', '.join(kinds)}"
    raise InvalidGeometry(
        f"{p}invalid {shape.geom_type}: {describe_reason(reason)}; make_valid (ST_MakeValid) "
        f"turns it into a {fixed.geom_type}{parts}, which a {target} target does not accept. "
        f"Fix the source, or store it in a GEOMETRY or {fixed_type} column.",
        reason=reason,
        column=column,
    )


def _invalid_error(shape: BaseGeometry, column: str | None) -> InvalidGeometry:
    reason = str(shapely.is_valid_reason(shape))
    return InvalidGeometry(
        f"{prefix(column)}invalid {shape.geom_type}: {describe_reason(reason)}. Repair it with "
        "make_valid=True (ST_MakeValid) or fix the source.",
        reason=reason,
        column=column,
    )
