"""``parse_geometry``: the one validated entry point for every geometry pgspatial accepts.

Whatever the input (GeoJSON, WKT, EWKT, WKB, EWKB, hex, Shapely, GeoAlchemy2 elements),
the result is a :class:`ParsedGeometry` whose SRID is explicit and equals the target's,
whose type fits the target column, and which is non-empty, finite, in range and OGC
valid. Decoding happens once; a ``ParsedGeometry`` passed in again is only re-checked
against the new target.
"""

from __future__ import annotations

from pgspatial.geometry.decode import decode_geometry
from pgspatial.geometry.element import ParsedGeometry
from pgspatial.geometry.validate import (
    check_coordinates,
    check_lonlat_range,
    check_target_srid,
    ensure_valid_and_typed,
    fit_type,
    normalize_target_type,
    resolve_srid,
)

__all__ = ["parse_geometry"]


def parse_geometry(
    value: object,
    *,
    srid: int | None = None,
    geometry_type: str | None = None,
    make_valid: bool = False,
    transform: bool = False,
    promote_to_multi: bool = False,
    column: str | None = None,
) -> ParsedGeometry:
    """Decode and validate ``value`` for a target SRID and geometry type.

    ``srid`` is the target SRID (an input without one adopts it; a different one is
    reprojected when ``transform`` is true, else :class:`~pgspatial.errors.SridMismatch`).
    ``geometry_type`` is the target type in GeoAlchemy2 spelling (None or ``"GEOMETRY"``
    for any); ``promote_to_multi`` wraps a single part into the target's Multi type;
    ``make_valid`` repairs invalid geometries as ST_MakeValid does. ``column`` (e.g.
    ``"parcels.geom"``) is named in every error message.

    Raises :class:`~pgspatial.errors.InvalidGeometry` (unparseable, empty, non-finite,
    out of range, wrong type, invalid), :class:`~pgspatial.errors.SridMismatch`, and
    :class:`~pgspatial.errors.ConfigError` for a zero/negative ``srid`` or unknown type.
    """
    target_srid = check_target_srid(srid)
    target_type = normalize_target_type(geometry_type)
    if isinstance(value, ParsedGeometry) and value._validated:
        return _recheck(
            value,
            target_srid,
            target_type,
            transform=transform,
            promote=promote_to_multi,
            make_valid=make_valid,
            column=column,
        )
    shape, input_srid, source = decode_geometry(value, column=column)
    check_coordinates(shape, column)
    shape, final_srid = resolve_srid(
        shape, input_srid, target_srid, transform=transform, source=source, column=column
    )
    check_lonlat_range(shape, final_srid, column)
    shape, repaired = ensure_valid_and_typed(
        shape, target_type, make_valid=make_valid, promote=promote_to_multi, column=column
    )
    return ParsedGeometry._from_checked_shape(shape, final_srid, repaired=repaired)


def _recheck(
    parsed: ParsedGeometry,
    target_srid: int | None,
    target_type: str,
    *,
    transform: bool,
    promote: bool,
    make_valid: bool,
    column: str | None,
) -> ParsedGeometry:
    """A ParsedGeometry against a new target: SRID and type only, unless it must move."""
    shape, srid = resolve_srid(
        parsed.shape,
        parsed.srid,
        target_srid,
        transform=transform,
        source="geometry",
        column=column,
    )
    if shape is parsed.shape:
        fitted = fit_type(shape, target_type, promote=promote, column=column)
        if fitted is shape:
            return parsed
        return ParsedGeometry._from_checked_shape(fitted, srid, repaired=parsed.repaired)
    # Reprojected: ranges and validity may have changed, so check them again.
    check_lonlat_range(shape, srid, column)
    shape, repaired = ensure_valid_and_typed(
        shape, target_type, make_valid=make_valid, promote=promote, column=column
    )
    return ParsedGeometry._from_checked_shape(shape, srid, repaired=parsed.repaired or repaired)
