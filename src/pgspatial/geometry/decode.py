"""Input decoding: turn any supported geometry representation into Shapely plus its SRID.

This module only answers "what geometry is this, and which SRID does the input itself
declare?" (None when the format has no SRID: plain WKT/WKB, SRID-less Shapely). The
rules about that SRID, the type and validity live in :mod:`pgspatial.geometry.validate`.

Accepted: GeoJSON (dict or str; a geometry or a Feature; a legacy ``crs`` member is
honoured, otherwise EPSG:4326 per RFC 7946), WKT, EWKT, WKB/EWKB (bytes, bytearray,
memoryview, or hex in a str), Shapely geometries, GeoAlchemy2 ``WKBElement`` and
``WKTElement`` (including :class:`ParsedGeometry`), and objects with ``__geo_interface__``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import orjson
import shapely
from geoalchemy2.elements import WKBElement, WKTElement
from shapely.errors import ShapelyError
from shapely.geometry import shape as shape_from_mapping
from shapely.geometry.base import BaseGeometry

from pgspatial.errors import InvalidGeometry, SridMismatch
from pgspatial.geometry._text import echo, prefix
from pgspatial.geometry.crs import GEOJSON_SRID, srid_from_crs_name
from pgspatial.geometry.element import ParsedGeometry

__all__ = [
    "ACCEPTED_KINDS",
    "GEOJSON_GEOMETRY_TYPES",
    "Decoded",
    "decode_geometry",
]


GEOJSON_GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    }
)

ACCEPTED_KINDS = (
    "GeoJSON (dict or str, a geometry or a Feature)",
    "WKT",
    "EWKT",
    "WKB/EWKB (bytes, bytearray, memoryview, or hex str)",
    "Shapely geometries",
    "GeoAlchemy2 WKBElement/WKTElement",
    "ParsedGeometry",
)

_EWKT_HEAD = re.compile(r"\s*SRID\s*=\s*(-?\d+)\s*;", re.IGNORECASE)
_HEX = re.compile(r"[0-9A-Fa-f]+")
_HEX_BYTES = re.compile(rb"[0-9A-Fa-f]+")
_PARSE_ERRORS = (ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError)


class Decoded(NamedTuple):
    """A decoded input: the Shapely geometry, the SRID it declares (or None), its format."""

    shape: BaseGeometry
    srid: int | None
    source: str


def decode_geometry(value: object, *, column: str | None = None) -> Decoded:
    """Decode ``value`` into a Shapely geometry and the SRID it declares itself.

    Raises :class:`InvalidGeometry` for unsupported kinds and unparseable data, and
    :class:`SridMismatch` when an element's ``srid`` contradicts its own EWKB/EWKT.
    """
    for kinds, decoder in _DECODERS:
        if isinstance(value, kinds):
            return decoder(value, column)
    geo_interface = getattr(value, "__geo_interface__", None)
    if isinstance(geo_interface, Mapping):
        return _decode_geojson(geo_interface, column)
    raise InvalidGeometry(
        f"{prefix(column)}cannot make a geometry from a {type(value).__name__} "
        f"({echo(value)}); accepted: {', '.join(ACCEPTED_KINDS)}.",
        column=column,
    )


def _known(srid: Any) -> int | None:
    """An SRID as declared by an input: positive, or None for "unknown" (0, -1)."""
    srid = int(srid)
    return srid if srid > 0 else None


def _as_ogc(shape: BaseGeometry) -> BaseGeometry:
    """A LinearRing becomes the LineString that WKB and PostGIS know; others pass through."""
    if shape.geom_type == "LinearRing":
        return shapely.from_wkb(shapely.to_wkb(shape, include_srid=True))
    return shape


def _unparseable(fmt: str, error: Exception, value: object, column: str | None) -> InvalidGeometry:
    complaint = str(error) or type(error).__name__
    return InvalidGeometry(
        f"{prefix(column)}could not parse the value as {fmt}: {complaint} (value: {echo(value)}).",
        column=column,
    )


def _from_wkt(text: str, fmt: str, original: object, column: str | None) -> BaseGeometry:
    try:
        with np.errstate(invalid="ignore"):  # NaN coordinates are reported by the validators
            return shapely.from_wkt(text)
    except _PARSE_ERRORS as error:
        raise _unparseable(fmt, error, original, column) from None


def _from_wkb(data: bytes | str, fmt: str, column: str | None) -> BaseGeometry:
    try:
        with np.errstate(invalid="ignore"):
            return shapely.from_wkb(data)
    except _PARSE_ERRORS as error:
        raise _unparseable(fmt, error, data, column) from None


def _decode_text(text: str, column: str | None) -> Decoded:
    stripped = text.strip()
    if not stripped:
        raise InvalidGeometry(
            f"{prefix(column)}got an empty string, not a geometry.", column=column
        )
    if stripped[0] in "{[":
        try:
            loaded = orjson.loads(stripped)
        except orjson.JSONDecodeError as error:
            raise _unparseable("GeoJSON", error, text, column) from None
        if not isinstance(loaded, dict):
            raise InvalidGeometry(
                f'{prefix(column)}GeoJSON must be an object with a "type" member, '
                f"got {echo(text)}.",
                column=column,
            )
        return _decode_geojson(loaded, column)
    head = _EWKT_HEAD.match(stripped)
    if head:
        body = stripped[head.end() :]
        return Decoded(_from_wkt(body, "EWKT", text, column), _known(head.group(1)), "EWKT")
    if _HEX.fullmatch(stripped):
        shape = _from_wkb(stripped, "hex WKB/EWKB", column)
        return Decoded(shape, _known(shapely.get_srid(shape)), "hex WKB/EWKB")
    return Decoded(_from_wkt(stripped, "WKT", text, column), None, "WKT")


def _decode_binary(data: bytes, column: str | None) -> Decoded:
    if data[:1] in (b"\x00", b"\x01"):
        shape = _from_wkb(data, "WKB/EWKB", column)
        return Decoded(shape, _known(shapely.get_srid(shape)), "WKB/EWKB")
    if _HEX_BYTES.fullmatch(data):
        shape = _from_wkb(data.decode("ascii"), "hex WKB/EWKB", column)
        return Decoded(shape, _known(shapely.get_srid(shape)), "hex WKB/EWKB")
    raise InvalidGeometry(
        f"{prefix(column)}could not parse the value as WKB/EWKB: it must start with a "
        f"byte-order byte 0x00 or 0x01 (value: {echo(data)}).",
        column=column,
    )


def _reconcile(declared: int, embedded: int | None, kind: str, column: str | None) -> int | None:
    """An element's ``srid`` attribute against the SRID inside its own EWKB/EWKT."""
    attribute = _known(declared)
    if attribute and embedded and attribute != embedded:
        raise SridMismatch(
            f"{prefix(column)}the {kind} says srid={attribute} but its own data carries "
            f"SRID={embedded}; PostGIS would use {embedded}. Make them agree.",
            expected=attribute,
            actual=embedded,
        )
    return attribute or embedded


def _decode_wkb_element(element: WKBElement, column: str | None) -> Decoded:
    data = element.data
    raw = data if isinstance(data, str) else bytes(data)
    shape = _from_wkb(raw, "WKBElement (WKB/EWKB)", column)
    embedded = _known(shapely.get_srid(shape))
    return Decoded(shape, _reconcile(element.srid, embedded, "WKBElement", column), "WKBElement")


def _decode_wkt_element(element: WKTElement, column: str | None) -> Decoded:
    text = str(element.data)
    head = _EWKT_HEAD.match(text)
    body, embedded = (text[head.end() :], _known(head.group(1))) if head else (text, None)
    shape = _from_wkt(body, "WKTElement (WKT/EWKT)", text, column)
    return Decoded(shape, _reconcile(element.srid, embedded, "WKTElement", column), "WKTElement")


def _decode_parsed(parsed: ParsedGeometry, column: str | None) -> Decoded:
    return Decoded(parsed.shape, parsed.srid, "ParsedGeometry")


def _decode_shape(shape: BaseGeometry, column: str | None) -> Decoded:
    return Decoded(_as_ogc(shape), _known(shapely.get_srid(shape)), "Shapely geometry")


def _decode_buffer(data: bytes | bytearray | memoryview, column: str | None) -> Decoded:
    return _decode_binary(bytes(data), column)


def _decode_geojson(obj: Mapping[str, Any], column: str | None) -> Decoded:
    kind = obj.get("type")
    holders: list[Mapping[str, Any]] = [obj]
    if kind == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, Mapping):
            raise InvalidGeometry(
                f"{prefix(column)}the GeoJSON Feature has no geometry "
                f'("geometry": {echo(geometry)}).',
                column=column,
            )
        holders = [geometry, obj]
        obj, kind = geometry, geometry.get("type")
    if kind == "FeatureCollection":
        raise InvalidGeometry(
            f"{prefix(column)}got a GeoJSON FeatureCollection, which holds many geometries; "
            "pass one geometry (or Feature) at a time.",
            column=column,
        )
    if not isinstance(kind, str) or kind not in GEOJSON_GEOMETRY_TYPES:
        raise InvalidGeometry(
            f'{prefix(column)}GeoJSON "type" must be a geometry type '
            f"({', '.join(sorted(GEOJSON_GEOMETRY_TYPES))}) or Feature, got {echo(kind)}.",
            column=column,
        )
    member = "geometries" if kind == "GeometryCollection" else "coordinates"
    if member not in obj:
        raise InvalidGeometry(
            f'{prefix(column)}the GeoJSON {kind} has no "{member}" member.', column=column
        )
    srid = _geojson_srid(holders, column)
    try:
        shape = shape_from_mapping(obj)
    except _PARSE_ERRORS as error:
        raise _unparseable(f"GeoJSON {kind}", error, dict(obj), column) from None
    return Decoded(shape, srid, "GeoJSON")


def _geojson_srid(holders: list[Mapping[str, Any]], column: str | None) -> int:
    """EPSG:4326 (RFC 7946) unless a legacy named ``crs`` member says otherwise."""
    for holder in holders:
        crs = holder.get("crs")
        if crs is None:
            continue
        properties = crs.get("properties") if isinstance(crs, Mapping) else None
        name = properties.get("name") if isinstance(properties, Mapping) else None
        srid = srid_from_crs_name(name) if isinstance(name, str) else None
        if srid is None or crs.get("type") != "name":
            raise InvalidGeometry(
                f'{prefix(column)}unsupported GeoJSON "crs" member {echo(crs)}. RFC 7946 '
                "GeoJSON is EPSG:4326: drop the member, or name the CRS like "
                '{"type": "name", "properties": {"name": "EPSG:3857"}}.',
                column=column,
            )
        return srid
    return GEOJSON_SRID


# Checked in order: ParsedGeometry before its base class WKBElement.
_DECODERS: tuple[tuple[type | tuple[type, ...], Callable[[Any, str | None], Decoded]], ...] = (
    (ParsedGeometry, _decode_parsed),
    (BaseGeometry, _decode_shape),
    (str, _decode_text),
    ((bytes, bytearray, memoryview), _decode_buffer),
    (Mapping, _decode_geojson),
    (WKBElement, _decode_wkb_element),
    (WKTElement, _decode_wkt_element),
)
