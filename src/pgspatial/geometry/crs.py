"""Cached CRS knowledge from pyproj: which SRIDs are lon/lat degrees, and reprojection.

pyproj is imported lazily (only when an SRID other than the well-known 4326/3857 must be
looked up, or a geometry must be reprojected) and every lookup is cached, so validating
the ten-thousandth geometry costs a dictionary hit, not a PROJ database query.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from pyproj import CRS, Transformer

__all__ = [
    "GEOJSON_SRID",
    "ReprojectionError",
    "crs_for_srid",
    "is_lonlat_degrees",
    "reproject",
    "srid_from_crs_name",
    "transformer",
]

GEOJSON_SRID = 4326
"""RFC 7946: GeoJSON coordinates are WGS 84 longitude/latitude."""

_CRS84 = re.compile(
    r"(?:urn:ogc:def:crs:OGC:(?:1\.3)?:CRS84|OGC:CRS84|CRS:?84"
    r"|https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84)",
    re.IGNORECASE,
)
_EPSG = re.compile(
    r"(?:EPSG:{1,2}|urn:ogc:def:crs:EPSG:[\d.]*:|https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/)"
    r"(\d+)",
    re.IGNORECASE,
)

# Answers that need no PROJ database: the two SRIDs almost every request uses.
_KNOWN_LONLAT = {4326: True, 3857: False}


class ReprojectionError(Exception):
    """pyproj cannot build a transformation between two SRIDs (caught by the validators)."""


@functools.cache
def crs_for_srid(srid: int) -> CRS | None:
    """The pyproj CRS of a PostGIS SRID (EPSG, then ESRI authority), or None if unknown."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    for authority in ("EPSG", "ESRI"):
        try:
            return CRS.from_authority(authority, str(srid))
        except CRSError:
            continue
    return None


@functools.cache
def is_lonlat_degrees(srid: int) -> bool:
    """True when ``srid`` is geographic with degree axes, so lon/lat ranges apply."""
    known = _KNOWN_LONLAT.get(srid)
    if known is not None:
        return known
    crs = crs_for_srid(srid)
    if crs is None or not crs.is_geographic:
        return False
    return all(
        axis.unit_name in {"degree", "degree minute second hemisphere"}
        for axis in crs.axis_info[:2]
    )


@functools.cache
def transformer(source_srid: int, target_srid: int) -> Transformer:
    """A cached, thread-safe pyproj Transformer from one SRID to another, x=lon/easting."""
    from pyproj import Transformer
    from pyproj.exceptions import ProjError

    source, target = crs_for_srid(source_srid), crs_for_srid(target_srid)
    unknown = [str(s) for s, c in ((source_srid, source), (target_srid, target)) if c is None]
    if unknown:
        raise ReprojectionError(f"pyproj does not know SRID {' or '.join(unknown)}")
    try:
        return Transformer.from_crs(source, target, always_xy=True)
    except ProjError as error:  # pragma: no cover - PROJ builds a transformation for any pair
        raise ReprojectionError(str(error)) from error


def reproject(shape: BaseGeometry, source_srid: int, target_srid: int) -> BaseGeometry:
    """``shape`` reprojected from ``source_srid`` to ``target_srid`` (Z kept when present)."""
    if getattr(shape, "has_m", False):
        raise ReprojectionError("geometries with M values cannot be reprojected in Python")
    forward = transformer(source_srid, target_srid)
    has_z = bool(shapely.has_z(shape))

    def apply(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(forward.transform(*coords.T))

    return shapely.transform(shape, apply, include_z=has_z)


def srid_from_crs_name(name: str) -> int | None:
    """The SRID of a GeoJSON-2008 named CRS (``EPSG:3857``, ``urn:ogc:def:crs:...``)."""
    name = name.strip()
    if _CRS84.fullmatch(name):
        return GEOJSON_SRID
    match = _EPSG.fullmatch(name)
    return int(match.group(1)) if match else None
