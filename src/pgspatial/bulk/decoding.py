"""Turning a batch of geometry inputs into Shapely arrays, as far as arrays can go.

Shapely geometries pass through; WKB/EWKB (bytes), WKT/EWKT text and GeoAlchemy2
WKBElements are decoded with one array call per kind. What is left (GeoJSON, hex text,
anything unusual) stays undecoded and is handed to
:func:`pgspatial.geometry.parse_geometry` one row at a time by the checks, so the rules and
messages for those inputs are its own. Unparseable WKB/WKT also stays undecoded: its
message, too, comes from ``parse_geometry``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from pgspatial.loaded import is_instance

__all__ = ["Decoded", "Mask", "Objects", "decode_values", "decode_wkb", "is_none"]

Objects = npt.NDArray[np.object_]
Mask = npt.NDArray[np.bool_]

_SHAPELY_KINDS = {
    shapely.Point, shapely.LineString, shapely.Polygon, shapely.MultiPoint,
    shapely.MultiLineString, shapely.MultiPolygon, shapely.GeometryCollection,
}  # fmt: skip
# The same EWKT head parse_geometry recognises; anything else textual goes to it per row.
_EWKT_HEAD = re.compile(r"\s*SRID\s*=\s*(-?\d+)\s*;", re.IGNORECASE)


@dataclass(frozen=True)
class Decoded:
    """One batch of one spatial column, decoded as far as arrays allow.

    ``shapes``: the geometry per row, None where not decoded here (NULLs, GeoJSON, ...);
    ``originals``: the input values, for ``parse_geometry`` and for reject reports;
    ``nulls``: NULL inputs; ``raw``: the input WKB/EWKB bytes per row (None where the
    input was something else), so a row that passes unchanged is sent as it came (its SRID
    added to the header when it had none) instead of being encoded again.
    """

    shapes: Objects
    originals: Sequence[object]
    nulls: Mask
    raw: Objects | None = None


def decode_wkb(values: Sequence[object] | Objects) -> Objects:
    """WKB/EWKB values (bytes or hex) as Shapely geometries; None where undecodable/NULL."""
    array = values if isinstance(values, np.ndarray) else np.fromiter(values, object, len(values))
    with np.errstate(invalid="ignore"):  # NaN coordinates are reported by the checks
        return np.asarray(shapely.from_wkb(array, on_invalid="ignore"), dtype=object)


def is_none(array: Objects) -> Mask:
    """Elementwise ``is None`` of an object array."""
    return np.asarray(array == None, dtype=bool)  # noqa: E711 - elementwise on objects


def decode_values(values: Sequence[object]) -> Decoded:
    """Decode what can be decoded in bulk.

    Shapely geometries pass through; WKB/EWKB bytes, WKT/EWKT text and WKBElements are
    decoded as arrays. Everything else (GeoJSON, hex text, other objects) is left None and
    goes to ``parse_geometry`` per row.
    """
    n = len(values)
    array = np.fromiter(values, object, n)
    kinds = set(map(type, values))
    if kinds <= {bytes, type(None)}:  # the common bulk case: all WKB/EWKB, maybe NULLs
        return Decoded(decode_wkb(array), values, is_none(array), array)
    shapes = np.full(n, None, dtype=object)
    is_geom = np.asarray(shapely.is_geometry(array), dtype=bool)
    shapes[is_geom] = array[is_geom]
    if kinds <= _SHAPELY_KINDS | {type(None)}:
        return Decoded(shapes, values, is_none(array))
    return Decoded(shapes, values, _decode_mixed(array, is_geom, shapes))


def _decode_mixed(array: Objects, is_geom: Mask, shapes: Objects) -> Mask:
    """Decode a batch of mixed kinds into ``shapes``; returns the NULL mask."""
    nulls = np.zeros(len(array), dtype=bool)
    wkb_rows: list[int] = []
    wkb_data: list[object] = []
    wkb_srid: list[int] = []
    wkt_rows: list[int] = []
    wkt_text: list[str] = []
    wkt_srid: list[int] = []
    for i in np.flatnonzero(~is_geom).tolist():
        value = array[i]
        kind = type(value)
        if value is None:
            nulls[i] = True
        elif kind is bytes:
            if value[:1] in (b"\x00", b"\x01"):
                wkb_rows.append(i)
                wkb_data.append(value)
                wkb_srid.append(0)
        elif kind is str:
            head = _EWKT_HEAD.match(value)
            body = value[head.end() :] if head else value.strip()
            if body[:1].isalpha() and "(" in body:
                wkt_rows.append(i)
                wkt_text.append(body)
                wkt_srid.append(max(int(head.group(1)), 0) if head else 0)
        elif is_instance(value, "pgspatial.geometry.element", "ParsedGeometry"):
            shapes[i] = value.shape
        elif is_instance(value, "geoalchemy2.elements", "WKBElement") and isinstance(
            value.data, bytes | memoryview
        ):
            wkb_rows.append(i)
            wkb_data.append(bytes(value.data))
            wkb_srid.append(max(int(value.srid), 0))
    if wkb_rows:
        decoded = decode_wkb(np.fromiter(wkb_data, object, len(wkb_data)))
        declared = np.asarray(wkb_srid)
        embedded = np.asarray(shapely.get_srid(decoded))
        # An element whose srid contradicts its own EWKB is parse_geometry's to explain.
        clash = (declared > 0) & (embedded > 0) & (declared != embedded)
        decoded[clash] = None
        adopt = (declared > 0) & (embedded <= 0) & ~clash
        decoded[adopt] = shapely.set_srid(decoded[adopt], declared[adopt])
        shapes[wkb_rows] = decoded
    if wkt_rows:
        with np.errstate(invalid="ignore"):
            parsed = np.asarray(
                shapely.from_wkt(np.asarray(wkt_text, dtype=object), on_invalid="ignore"),
                dtype=object,
            )
        shapes[wkt_rows] = shapely.set_srid(parsed, np.asarray(wkt_srid))
    return nulls
