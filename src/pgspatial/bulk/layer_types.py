"""A layer's geometry: its SRID and how it is reprojected, and the column type it needs.

GDAL's declared geometry type is a hint, not a promise: a Shapefile says "Polygon" and
holds MultiPolygons, a GeoJSON layer that mixes them says "Unknown". So the column type of
a new table comes from the declared type *and* the first batch, and every batch is checked
again: a layer that turns out to mix single and Multi parts stops the load (nothing is
committed) with the row and the flag that loads it, ``--promote-to-multi``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from pgspatial.bulk.ogr import LayerInfo
from pgspatial.bulk.target import SpatialSpec
from pgspatial.errors import ConfigError, SchemaError
from pgspatial.geometry.validate import MULTI_OF, OGC_NAMES

__all__ = ["LayerGeometry", "batch_type_problem", "choose_column_type"]

_TYPE_NAMES = ("POINT", "LINESTRING", "LINESTRING", "POLYGON", "MULTIPOINT",
               "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION")  # fmt: skip
_SINGLE_OF = {multi: single for single, multi in MULTI_OF.items()}
_FLAG = "--promote-to-multi"


def _family(name: str) -> str:
    return _SINGLE_OF.get(name, name)


def _types_in(shapes: npt.NDArray[np.object_] | None) -> set[str]:
    if shapes is None or not len(shapes):
        return set()
    ids = np.asarray(shapely.get_type_id(shapes))
    return {_TYPE_NAMES[i] for i in np.unique(ids[ids >= 0]).tolist()}


def _declared(info: LayerInfo) -> tuple[str, bool]:
    """GDAL's declared type as (``POLYGON``/``UNKNOWN``/..., has Z)."""
    words = info.geometry_type.upper().replace("3D ", "").split()
    base = words[0] if words else "UNKNOWN"
    has_z = any(w in {"Z", "ZM", "25D"} for w in words[1:])
    return base, has_z


def choose_column_type(
    info: LayerInfo, shapes: npt.NDArray[np.object_] | None, *, promote: bool
) -> str:
    """The geometry type (``MULTIPOLYGONZ``, ...) of a new table for the layer."""
    base, has_z = _declared(info)
    seen = _types_in(shapes)
    if shapes is not None and len(shapes):
        has_z = has_z or bool(np.asarray(shapely.has_z(shapes[shapes != None])).any())  # noqa: E711
    typed = base in OGC_NAMES and base != "GEOMETRY"
    names = seen | ({base} if typed else set())
    families = {_family(t) for t in names}
    if families == {"GEOMETRYCOLLECTION"}:
        return "GEOMETRYCOLLECTION" + ("Z" if has_z else "")
    if not families:
        raise ConfigError(
            f"layer {info.layer!r} is empty and GDAL does not say its geometry type "
            f"({info.geometry_type}), so there is no table to create; create it yourself, "
            "or load a non-empty layer."
        )
    if len(families) > 1 or "GEOMETRYCOLLECTION" in families:
        kinds = ", ".join(OGC_NAMES[f] for f in sorted(families))
        raise ConfigError(
            f"layer {info.layer!r} mixes {kinds} geometries, which one typed column cannot "
            "hold. Split it (ogr2ogr -where \"OGR_GEOMETRY='POLYGON'\" ...), or create a "
            "table with a GEOMETRY column yourself and load into it."
        )
    single = families.pop()
    if promote and single in MULTI_OF:
        chosen = MULTI_OF[single]
    elif len(names) > 1:
        raise ConfigError(
            f"layer {info.layer!r} mixes {' and '.join(OGC_NAMES[n] for n in sorted(names))} "
            f"geometries; pass {_FLAG} to load them all as {OGC_NAMES[MULTI_OF[single]]}."
        )
    else:
        chosen = names.pop()
    return chosen + ("Z" if has_z else "")


def batch_type_problem(
    shapes: npt.NDArray[np.object_],
    start: int,
    column_type: str,
    *,
    created: bool,
    promote: bool,
    layer: str,
) -> str | None:
    """Why a batch cannot go on (a layer mixing single and Multi parts), or None."""
    if promote:
        return None
    ids = np.asarray(shapely.get_type_id(shapes))
    names = np.asarray(_TYPE_NAMES, dtype=object)[np.clip(ids, 0, 7)]
    names[ids < 0] = None
    if column_type in _SINGLE_OF:  # a Multi column: single parts need promoting
        odd = np.flatnonzero(names == _SINGLE_OF[column_type])
        if len(odd):
            return (
                f"layer {layer!r} has {OGC_NAMES[_SINGLE_OF[column_type]]} geometries (first: "
                f"row {start + int(odd[0])}) for a {OGC_NAMES[column_type]} column; pass "
                f"{_FLAG} to load them as {OGC_NAMES[column_type]}."
            )
    elif created and column_type in MULTI_OF:
        odd = np.flatnonzero(names == MULTI_OF[column_type])
        if len(odd):
            return (
                f"layer {layer!r} mixes {OGC_NAMES[column_type]} and "
                f"{OGC_NAMES[MULTI_OF[column_type]]} geometries (row {start + int(odd[0])} is "
                f"the first {OGC_NAMES[MULTI_OF[column_type]]}); pass {_FLAG} to load them "
                f"all as {OGC_NAMES[MULTI_OF[column_type]]}."
            )
    return None


@dataclass(frozen=True)
class LayerGeometry:
    """The layer's SRIDs: ``source_srid`` (EPSG, or None), ``target_srid``; ``transform``
    when the checks reproject by SRID, ``reproject`` when the layer's CRS has no EPSG code
    and is reprojected here first."""

    source_srid: int | None
    target_srid: int
    transform: bool
    reproject: Callable[[npt.NDArray[np.object_]], npt.NDArray[np.object_]] | None
    declared_type: str
    declared_z: bool

    @classmethod
    def from_info(cls, info: LayerInfo, srid: int | None) -> LayerGeometry:
        """Resolve the SRIDs of a load of ``info`` to ``srid`` (None: the layer's own)."""
        if srid is not None and (isinstance(srid, bool) or srid <= 0):
            raise ConfigError(f"--srid must be a positive EPSG code, got {srid!r}.")
        base, has_z = _declared(info)
        if info.srid is not None:
            target = srid or info.srid
            return cls(info.srid, target, target != info.srid, None, base, has_z)
        if srid is None:
            what = f"a CRS with no EPSG code ({_crs_name(info.crs)})" if info.crs else "no CRS"
            raise ConfigError(
                f"layer {info.layer!r} of {info.path} has {what}; pass --srid N to say which "
                "EPSG SRID to store it in"
                + (
                    " (it is reprojected from its CRS)."
                    if info.crs
                    else " (its coordinates are in it)."
                )
            )
        reproject = _crs_reprojector(info.crs, srid) if info.crs else None
        return cls(None, srid, False, reproject, base, has_z)

    def fit_problem(self, name: str, spec: SpatialSpec, shapes: Any) -> str | None:
        """Why an existing column cannot take this layer (type family, Z), or None."""
        column = spec.geometry_type
        if column == "GEOMETRY":
            return None
        declared = self.declared_type if self.declared_type in OGC_NAMES else None
        seen = (_types_in(shapes) | {declared} if declared else _types_in(shapes)) - {"GEOMETRY"}
        foreign = {t for t in seen if _family(t) != _family(column)}
        if column in MULTI_OF and declared == MULTI_OF[column]:
            foreign.add(declared)  # a single-part column cannot hold a Multi layer
        if foreign:
            return (
                f"{name} is {column} but the layer holds "
                f"{', '.join(OGC_NAMES[t] for t in sorted(foreign))} geometries; load into "
                "a new table (another --table) or a column of that type."
            )
        if spec.dims is not None and self.declared_z and not spec.has_z:
            return (
                f"{name} is 2-D but the layer has Z coordinates; load into a new table, or "
                f"make the column {column}Z."
            )
        return None


def _crs_name(crs: str | None) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return str(CRS.from_user_input(crs).name)
    except CRSError:
        return (crs or "")[:60]


def _crs_reprojector(
    crs: str, srid: int
) -> Callable[[npt.NDArray[np.object_]], npt.NDArray[np.object_]]:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError, ProjError

    try:
        forward = Transformer.from_crs(
            CRS.from_user_input(crs), CRS.from_epsg(srid), always_xy=True
        )
    except (CRSError, ProjError) as error:
        raise SchemaError(
            f"cannot reproject from the layer's CRS to EPSG:{srid}: {error}"
        ) from None

    def apply(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(forward.transform(*coords.T))

    def reproject(shapes: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        return np.asarray(shapely.transform(shapes, apply, include_z=None), dtype=object)

    return reproject
