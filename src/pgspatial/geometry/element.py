"""``ParsedGeometry``: the validated geometry that pgspatial binds into queries and writes.

It *is* a GeoAlchemy2 ``WKBElement`` holding EWKB (the SRID travels inside the bytes, so
GeoAlchemy2 binds it as ``ST_GeomFromEWKT('<hex ewkb>')`` and PostGIS can never see a
different SRID than the one that was checked), and it keeps the Shapely geometry it was
built from, so nothing downstream has to parse the bytes again.
"""

from __future__ import annotations

from typing import Any

import shapely
from geoalchemy2.elements import WKBElement
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from pgspatial.geometry._text import echo
from pgspatial.geometry.validate import geometry_type_name

__all__ = ["ParsedGeometry", "geometry_type_name"]


class ParsedGeometry(WKBElement):
    """A validated geometry with a known SRID; usable anywhere GeoAlchemy2 takes a WKBElement.

    Build one with :func:`pgspatial.geometry.parse_geometry`; ``shape`` is the (possibly
    repaired) Shapely geometry, ``geometry_type`` its upper-case OGC name, ``repaired``
    whether ``make_valid`` changed it.
    """

    __slots__ = ("_validated", "geometry_type", "repaired", "shape")

    shape: BaseGeometry
    geometry_type: str
    repaired: bool
    _validated: bool

    def __init__(
        self,
        data: bytes | memoryview | str,
        srid: int = -1,
        extended: bool | None = True,
        *,
        shape: BaseGeometry | None = None,
        repaired: bool = False,
    ) -> None:
        super().__init__(data, srid=srid, extended=extended)
        if shape is None:
            # Built by hand (or unpickled): derive the shape once; parse_geometry will
            # still re-check it in full because it was not validated here.
            shape = shapely.from_wkb(data if isinstance(data, str) else bytes(data))
        if shapely.get_srid(shape) != self.srid and self.srid > 0:
            shape = shapely.set_srid(shape, self.srid)
        self.shape = shape
        self.geometry_type = geometry_type_name(shape)
        self.repaired = repaired
        self._validated = False

    @classmethod
    def _from_checked_shape(
        cls, shape: BaseGeometry, srid: int, *, repaired: bool
    ) -> ParsedGeometry:
        """Wrap a shape that passed every check; only :func:`parse_geometry` calls this."""
        shape = shapely.set_srid(shape, srid)
        ewkb = shapely.to_wkb(shape, hex=False, include_srid=True)
        parsed = cls(ewkb, srid=srid, extended=True, shape=shape, repaired=repaired)
        parsed._validated = True
        return parsed

    @property
    def __geo_interface__(self) -> dict[str, Any]:
        """The GeoJSON-like mapping of the geometry (Python's geo interface)."""
        return dict(mapping(self.shape))

    def __repr__(self) -> str:
        wkt = echo(shapely.to_wkt(self.shape, rounding_precision=-1), limit=60)
        flag = " repaired" if self.repaired else ""
        return f"<ParsedGeometry SRID={self.srid}{flag} {wkt}>"

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["repaired"] = self.repaired
        state["validated"] = self._validated
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        shape = shapely.from_wkb(bytes(self.data))
        self.shape = shape
        self.geometry_type = geometry_type_name(shape)
        self.repaired = bool(state.get("repaired", False))
        self._validated = bool(state.get("validated", False))
