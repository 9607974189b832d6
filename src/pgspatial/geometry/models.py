"""Pydantic v2 field types for GeoJSON geometries in request bodies (FastAPI and others).

``geom: GeoJSONGeometryInput("POLYGON")`` makes a model field that accepts a GeoJSON
geometry object, runs it through :func:`parse_geometry` (so a bow-tie or a Point is a
``ValidationError`` carrying pgspatial's message), holds a :class:`ParsedGeometry` that
can be written as is, serializes back to an RFC 7946 GeoJSON geometry, and documents
itself in the JSON schema / OpenAPI with geojson-pydantic's geometry schemas.

For mypy, spell the field as ``Annotated[ParsedGeometry, GeoJSONGeometry("POLYGON")]``;
``GeoJSONGeometryInput(...)`` builds exactly that at runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import shapely
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema
from shapely.geometry.base import BaseGeometry

from pgspatial.errors import InvalidGeometry, SridMismatch
from pgspatial.geometry.crs import GEOJSON_SRID, reproject
from pgspatial.geometry.decode import GEOJSON_GEOMETRY_TYPES
from pgspatial.geometry.element import ParsedGeometry
from pgspatial.geometry.parse import parse_geometry
from pgspatial.geometry.validate import (
    MULTI_OF,
    OGC_NAMES,
    check_target_srid,
    normalize_target_type,
)

__all__ = ["GeoJSONGeometry", "GeoJSONGeometryInput", "to_geojson_mapping"]


def to_geojson_mapping(parsed: ParsedGeometry) -> dict[str, Any]:
    """An RFC 7946 GeoJSON geometry dict (plain lists) for ``parsed``, in EPSG:4326."""
    shape = parsed.shape
    if parsed.srid != GEOJSON_SRID:
        shape = reproject(shape, parsed.srid, GEOJSON_SRID)
    loaded: dict[str, Any] = orjson.loads(shapely.to_geojson(shape))
    return loaded


def _serialize(value: Any) -> Any:
    return to_geojson_mapping(value) if isinstance(value, ParsedGeometry) else value


@dataclass(frozen=True)
class GeoJSONGeometry:
    """``Annotated`` metadata: validate a GeoJSON geometry field through parse_geometry."""

    geometry_type: str = "GEOMETRY"
    srid: int = GEOJSON_SRID
    make_valid: bool = False
    transform: bool = False
    promote_to_multi: bool = False
    column: str | None = None

    def __post_init__(self) -> None:
        # Fail at class definition (ConfigError), not on the first request.
        object.__setattr__(self, "geometry_type", normalize_target_type(self.geometry_type))
        check_target_srid(self.srid)

    def validate(self, value: Any) -> ParsedGeometry:
        """Validate one field value; pgspatial errors become pydantic custom errors."""
        if isinstance(value, Mapping):
            kind = value.get("type")
            if not isinstance(kind, str) or kind not in GEOJSON_GEOMETRY_TYPES:
                raise PydanticCustomError(
                    "geojson_geometry",
                    "expected a GeoJSON geometry object whose type is one of {types}, got {kind}",
                    {"types": ", ".join(sorted(GEOJSON_GEOMETRY_TYPES)), "kind": repr(kind)},
                )
        elif not isinstance(value, ParsedGeometry | BaseGeometry):
            raise PydanticCustomError(
                "geojson_geometry",
                "expected a GeoJSON geometry object, got {kind}",
                {"kind": type(value).__name__},
            )
        try:
            return parse_geometry(
                value,
                srid=self.srid,
                geometry_type=self.geometry_type,
                make_valid=self.make_valid,
                transform=self.transform,
                promote_to_multi=self.promote_to_multi,
                column=self.column,
            )
        except SridMismatch as error:
            raise PydanticCustomError(
                "srid_mismatch",
                "{message}",
                {"message": str(error), "expected": error.expected, "actual": error.actual},
            ) from None
        except InvalidGeometry as error:
            raise PydanticCustomError(
                "invalid_geometry", "{message}", {"message": str(error), "reason": error.reason}
            ) from None

    def schema_type(self) -> Any:
        """The geojson-pydantic type whose schema documents the accepted input."""
        import geojson_pydantic
        from geojson_pydantic.geometries import Geometry

        if self.geometry_type == "GEOMETRY":
            return Geometry
        model = getattr(geojson_pydantic, OGC_NAMES[self.geometry_type])
        singles = [s for s, multi in MULTI_OF.items() if multi == self.geometry_type]
        if self.promote_to_multi and singles:
            return getattr(geojson_pydantic, OGC_NAMES[singles[0]]) | model
        return model

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """A plain validator through parse_geometry, documented as a GeoJSON geometry."""
        geojson_schema = handler.generate_schema(self.schema_type())
        return core_schema.no_info_plain_validator_function(
            self.validate,
            json_schema_input_schema=geojson_schema,
            serialization=core_schema.plain_serializer_function_ser_schema(_serialize),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The GeoJSON geometry schema, for requests (validation) and responses alike."""
        geojson_schema = schema.get("json_schema_input_schema")
        return handler(geojson_schema if geojson_schema is not None else schema)


def GeoJSONGeometryInput(  # noqa: N802 - used like a type: `geom: GeoJSONGeometryInput("POLYGON")`
    geometry_type: str = "GEOMETRY",
    srid: int = GEOJSON_SRID,
    make_valid: bool = False,
    *,
    transform: bool = False,
    promote_to_multi: bool = False,
    column: str | None = None,
) -> Any:
    """``Annotated[ParsedGeometry, GeoJSONGeometry(...)]``: a GeoJSON geometry model field."""
    marker = GeoJSONGeometry(
        geometry_type=geometry_type,
        srid=srid,
        make_valid=make_valid,
        transform=transform,
        promote_to_multi=promote_to_multi,
        column=column,
    )
    return Annotated[ParsedGeometry, marker]
