"""OGC API - Features Part 1 (core, GeoJSON, OpenAPI 3.0) over the catalog's collections.

Items are a keyset page on the collection's single-column primary key (``cursor=`` the last
id of the previous page, ``WHERE key > cursor ORDER BY key LIMIT n``): every page costs an
index range scan however deep, and there is no COUNT(*) and no ``numberMatched`` (GDAL
would take an estimate for the layer's true count). ``numberReturned`` and the ``next``
link are written after the features, once they are counted.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from pgspatial import in_bbox
from pgspatial.errors import ConfigError
from pgspatial.service import schemas
from pgspatial.service.collections import Collection
from pgspatial.service.errors import NotFound
from pgspatial.service.filters import datetime_condition, equals
from pgspatial.service.paging import KEY_LABEL, composite_key_condition, page, paging_key
from pgspatial.service.params import parse_bbox
from pgspatial.service.schemas import ok
from pgspatial.service.state import ServiceState, get_state, require_collection
from pgspatial.service.streaming import GEOJSON, FeatureLines, fetch_features, page_response

__all__ = ["CONFORMANCE", "router"]

router = APIRouter(tags=["OGC API - Features"])
State = Annotated[ServiceState, Depends(get_state)]

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
_RESERVED = {"bbox", "limit", "cursor", "properties", "datetime", "f"}
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_JSON = "application/json"


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/",
    summary="Landing page",
    response_class=Response,
    responses=ok(_JSON, schemas.LANDING, "Links to the rest of the API."),
)
async def landing(request: Request) -> Response:
    """Links to the API definition, the conformance classes, the collections and the map."""
    base = _base(request)
    return _json(
        {
            "title": "pgspatial",
            "description": "Spatial tables and views of this database, as OGC API - Features.",
            "links": [
                _link(f"{base}/", "self", "application/json", "This document"),
                _link(
                    f"{base}/openapi.json",
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.0",
                    "The API definition",
                ),
                _link(f"{base}/docs", "service-doc", "text/html", "The API documentation"),
                _link(
                    f"{base}/conformance", "conformance", "application/json", "Conformance classes"
                ),
                _link(f"{base}/collections", "data", "application/json", "The collections"),
                _link(f"{base}/map", "related", "text/html", "A map of parcels and zoning"),
            ],
        }
    )


@router.get(
    "/conformance",
    summary="Conformance classes",
    response_class=Response,
    responses=ok(_JSON, schemas.CONFORMANCE, "The conformance classes."),
)
async def conformance() -> Response:
    """The OGC conformance classes this service implements."""
    return _json({"conformsTo": CONFORMANCE})


def _describe(base: str, collection: Collection, extent: dict[str, Any]) -> dict[str, Any]:
    href = f"{base}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "itemType": "feature",
        "crs": [_CRS84],
        **({"extent": extent} if extent else {}),
        "links": [
            _link(href, "self", "application/json", "This collection"),
            _link(f"{href}/items", "items", GEOJSON, "Its features"),
            _link(f"{href}/schema", "describedby", "application/schema+json", "Property types"),
            _link(
                f"{href}/tiles/{{z}}/{{x}}/{{y}}.mvt",
                "tiles",
                "application/vnd.mapbox-vector-tile",
                "Vector tiles (template)",
            ),
        ],
    }


@router.get(
    "/collections",
    summary="The collections",
    response_class=Response,
    responses=ok(_JSON, schemas.COLLECTIONS, "Every collection, with its extent."),
)
async def collections(request: Request, state: State) -> Response:
    """Every spatial table and view the database role may read."""
    base = _base(request)
    registry = state.collections
    described = [_describe(base, c, await registry.extent(c)) for c in registry.all()]
    return _json(
        {
            "links": [_link(f"{base}/collections", "self", "application/json")],
            "collections": described,
        }
    )


@router.post("/collections/refresh", summary="Reload the collections from the catalog")
async def refresh(state: State) -> Response:
    """Re-read the catalog (new or dropped tables) and return the collection ids."""
    found = await state.collections.refresh()
    return _json({"collections": sorted(found)})


def _json_type(collection: Collection, name: str) -> dict[str, str]:
    python_type = collection.table.c[name].type
    try:
        kind = python_type.python_type
    except NotImplementedError:
        return {"type": "string"}
    names = {int: "integer", float: "number", bool: "boolean"}
    if kind.__name__ == "Decimal":
        return {"type": "number"}
    if kind.__name__ == "datetime":
        return {"type": "string", "format": "date-time"}
    if kind.__name__ == "date":
        return {"type": "string", "format": "date"}
    return {"type": names.get(kind, "string")}


@router.get("/collections/{collection_id}/schema", summary="Property types (JSON Schema)")
async def schema(state: State, collection_id: str) -> Response:
    """The features' property types, so clients such as GDAL need not guess them from data
    (a text column of ``1-00001-0001`` would otherwise be read as a date)."""
    found = await require_collection(state, collection_id)
    body = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "properties": {name: _json_type(found, name) for name in found.property_names},
    }
    return Response(orjson.dumps(body), media_type="application/schema+json")


@router.get(
    "/collections/{collection_id}",
    summary="One collection",
    response_class=Response,
    responses=ok(_JSON, schemas.COLLECTION, "The collection's description and extent."),
)
async def collection(request: Request, state: State, collection_id: str) -> Response:
    """The collection's description, extent and links."""
    found = await require_collection(state, collection_id)
    return _json(_describe(_base(request), found, await state.collections.extent(found)))


def _properties(collection: Collection, selection: str | None) -> list[str] | None:
    if selection is None:
        return None
    wanted = [p.strip() for p in selection.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in collection.property_names]
    if unknown:
        raise ConfigError(
            f"properties: unknown {', '.join(unknown)}; this collection has "
            f"{', '.join(collection.property_names) or 'no properties'}."
        )
    return wanted


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection",
    response_class=Response,
    responses=ok(GEOJSON, schemas.FEATURE_COLLECTION, "A page of features."),
)
async def items(  # noqa: PLR0917 - FastAPI declares parameters positionally
    request: Request,
    state: State,
    collection_id: str,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84).")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size; above the maximum it is clamped.")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="Opaque: from the previous page's next link.")
    ] = None,
    properties: Annotated[
        str | None, Query(description="Comma-separated properties to return.")
    ] = None,
    datetime: Annotated[
        str | None,
        Query(
            description="An instant or interval (RFC 3339, '..' for open) on the collection's "
            "first date/timestamp column; ignored by collections that have none."
        ),
    ] = None,
) -> Response:
    """A page of features (see :mod:`pgspatial.service.paging`); ``?column=value`` filters."""
    found = await require_collection(state, collection_id)
    settings = state.settings
    size = min(limit or settings.default_limit, settings.max_limit)
    table = found.table
    stmt = select(*table.c)
    if bbox is not None:
        stmt = stmt.where(in_bbox(table.c[found.geometry_column], parse_bbox(bbox)))
    for name, value in request.query_params.items():
        if name in _RESERVED:
            continue
        if name not in found.property_names:
            raise ConfigError(
                f"Unknown parameter {name!r}. Filter on a property of {found.id} "
                f"({', '.join(found.property_names) or 'none'}) or use bbox, limit, properties."
            )
        stmt = stmt.where(equals(found, name, value))
    if datetime is not None:
        stmt = stmt.where(datetime_condition(found, datetime))
    paged = page(found, stmt, cursor, size)
    selection = _properties(found, properties)
    self_url = str(request.url)

    def footer(lines: FeatureLines) -> bytes:
        links = [_link(self_url, "self", GEOJSON)]
        following = paged.next_cursor(lines)
        if following is not None:
            next_url = request.url.include_query_params(cursor=following, limit=size)
            links.append(_link(str(next_url), "next", GEOJSON, "Next page"))
        return (
            b',"numberReturned":' + str(lines.count).encode() + b',"links":' + orjson.dumps(links)
        )

    return await page_response(
        state.sessions, paged.statement, id_column=paged.id_column, properties=selection,
        footer=footer,
    )  # fmt: skip


@router.get(
    "/collections/{collection_id}/items/{feature_id:path}",
    summary="One feature",
    response_class=Response,
    responses=ok(GEOJSON, schemas.FEATURE, "The feature."),
)
async def item(request: Request, state: State, collection_id: str, feature_id: str) -> Response:
    """One feature by its primary key (a composite key's id is a JSON array of its values)."""
    found = await require_collection(state, collection_id)
    if not found.key_columns:
        raise NotFound(
            f"Collection {found.id} has no primary key to address features by; page "
            "through its items instead."
        )
    stmt = select(*found.table.c)
    if found.key_column is not None:
        stmt = stmt.where(equals(found, found.key_column, feature_id))
        id_column = found.key_column
    else:
        stmt = stmt.where(composite_key_condition(found, feature_id))
        stmt = stmt.add_columns(paging_key(found))
        id_column = KEY_LABEL
    lines = await fetch_features(state.sessions, stmt, id_column=id_column)
    if not lines:
        raise NotFound(f"No feature {feature_id!r} in collection {found.id}.")
    feature = orjson.loads(lines[0])
    href = f"{_base(request)}/collections/{found.id}"
    feature["links"] = [
        _link(f"{href}/items/{quote(feature_id, safe='')}", "self", GEOJSON),
        _link(href, "collection", "application/json"),
    ]
    return Response(orjson.dumps(feature), media_type=GEOJSON)
