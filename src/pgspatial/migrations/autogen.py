"""Autogenerate hooks: render pgspatial types importably, skip PostGIS's own objects."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate.api import AutogenContext

from pgspatial.types import SpatialGeography, SpatialGeometry

__all__ = ["POSTGIS_SCHEMAS", "POSTGIS_TABLES", "include_object", "render_item"]

POSTGIS_TABLES = frozenset({"spatial_ref_sys", "layer", "topology"})
POSTGIS_SCHEMAS = frozenset({"tiger", "tiger_data", "topology"})


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render spatial column types as ``pgspatial.types.SpatialGeometry(...)`` with an import."""
    if type_ == "type" and isinstance(obj, SpatialGeometry | SpatialGeography):
        autogen_context.imports.add("import pgspatial.types")
        return (
            f"pgspatial.types.{type(obj).__name__}(geometry_type={obj.geometry_type!r}, "
            f"srid={obj.srid}, spatial_index=False)"
        )
    return False


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave PostGIS's tables and schemas (spatial_ref_sys, tiger, topology) out of diffs."""
    if type_ == "table" and reflected and compare_to is None:
        schema = getattr(obj, "schema", None)
        if name in POSTGIS_TABLES or schema in POSTGIS_SCHEMAS:
            return False
    return True
