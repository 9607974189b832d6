"""JSON Schemas of the service's GeoJSON and OGC documents, for the OpenAPI description.

The bodies are built by PostgreSQL and streamed, so FastAPI never sees a response model;
these schemas are what the OpenAPI promises instead, and what the schemathesis test holds
every 200 response to. They are strict where the service is (a parcel has exactly its five
properties) and open where the data is someone else's (a collection's properties).
"""

from __future__ import annotations

from typing import Any

from pgspatial.geometry.decode import GEOJSON_GEOMETRY_TYPES

__all__ = [
    "COLLECTION",
    "COLLECTIONS",
    "CONFORMANCE",
    "FEATURE",
    "FEATURE_COLLECTION",
    "LANDING",
    "PARCEL",
    "PARCEL_COLLECTION",
    "ok",
]

Schema = dict[str, Any]


GEOMETRY: Schema = {
    "title": "GeoJSON geometry",
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": sorted(GEOJSON_GEOMETRY_TYPES)},
        "coordinates": {"type": "array"},
        "geometries": {"type": "array", "items": {"type": "object"}},
    },
}

LINK: Schema = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
    },
}
_LINKS: Schema = {"type": "array", "items": LINK}


def _feature(properties: Schema, *, id_required: bool) -> Schema:
    schema: Schema = {
        "title": "GeoJSON Feature",
        "type": "object",
        "required": ["type", "geometry", "properties", *(["id"] if id_required else [])],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": ["string", "integer"]},
            "geometry": {"anyOf": [{"type": "null"}, GEOMETRY]},
            "properties": properties,
            "links": _LINKS,
        },
    }
    return schema


def _collection_of(feature: Schema) -> Schema:
    return {
        "title": "GeoJSON FeatureCollection",
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": feature},
            "numberReturned": {"type": "integer", "minimum": 0},
            "links": _LINKS,
        },
    }


FEATURE = _feature({"type": ["object", "null"]}, id_required=False)
"""Any collection's feature: its properties are the table's columns."""

FEATURE_COLLECTION = _collection_of(FEATURE)

PARCEL = _feature(
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["parcel_id", "zoning_id", "land_use", "year_built", "assessed_value"],
        "properties": {
            "parcel_id": {"type": "string"},
            "zoning_id": {"type": ["integer", "null"]},
            "land_use": {"type": "string"},
            "year_built": {"type": ["integer", "null"]},
            "assessed_value": {"type": "number"},
            "distance_m": {"type": "number"},
        },
    },
    id_required=True,
)
"""A parcel of the domain endpoints: the id plus exactly these properties (``distance_m``
only from ``/parcels/nearby``)."""

PARCEL_COLLECTION = _collection_of(PARCEL)

LANDING: Schema = {
    "type": "object",
    "required": ["links"],
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "links": _LINKS,
    },
}

CONFORMANCE: Schema = {
    "type": "object",
    "required": ["conformsTo"],
    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
}

_BBOX: Schema = {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}
_INSTANT: Schema = {"type": ["string", "null"]}

COLLECTION: Schema = {
    "type": "object",
    "required": ["id", "links"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "itemType": {"type": "string"},
        "crs": {"type": "array", "items": {"type": "string"}},
        "links": _LINKS,
        "extent": {
            "type": "object",
            "properties": {
                "spatial": {
                    "type": "object",
                    "required": ["bbox"],
                    "properties": {
                        "bbox": {"type": "array", "minItems": 1, "items": _BBOX},
                        "crs": {"type": "string"},
                    },
                },
                "temporal": {
                    "type": "object",
                    "required": ["interval"],
                    "properties": {
                        "interval": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "array",
                                "minItems": 2,
                                "maxItems": 2,
                                "items": _INSTANT,
                            },
                        },
                        "trs": {"type": "string"},
                    },
                },
            },
        },
    },
}

COLLECTIONS: Schema = {
    "type": "object",
    "required": ["links", "collections"],
    "properties": {"links": _LINKS, "collections": {"type": "array", "items": COLLECTION}},
}


def ok(media_type: str, schema: Schema, description: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI ``responses`` entry: 200 with ``schema`` under ``media_type``."""
    return {200: {"description": description, "content": {media_type: {"schema": schema}}}}
