"""OGC API - Features Part 1 (core, GeoJSON, OpenAPI 3.0) over the catalog's collections.

Items are a keyset page on the collection's single-column primary key (``cursor=`` the last
id of the previous page, ``WHERE key > cursor ORDER BY key LIMIT n``): every page costs an
index range scan however deep, and there is no COUNT(*) and no ``numberMatched`` (GDAL
would take an estimate for the layer's true count). ``numberReturned`` and the ``next``
link are written after the features, once the stream has counted them.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import BigInteger, ColumnElement, Integer, SmallInteger, String, cast, select
from sqlalchemy.types import NullType

from pgspatial import in_bbox
from pgspatial.errors import ConfigError
from pgspatial.service.collections import Collection
from pgspatial.service.errors import NotFound
from pgspatial.service.params import parse_bbox
from pgspatial.service.state import ServiceState, get_state, require_collection
from pgspatial.service.streaming import GEOJSON, FeatureLines, fetch_features, stream_response

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
_INTEGER_BITS: dict[type[Any], int] = {SmallInteger: 16, Integer: 32, BigInteger: 64}


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/", summary="Landing page")
async def landing(request: Request) -> Response:
    """Links to the API definition, the conformance classes and the collections."""
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
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
async def conformance() -> Response:
    """The OGC conformance classes this service implements."""
    return _json({"conformsTo": CONFORMANCE})


def _describe(base: str, collection: Collection) -> dict[str, Any]:
    href = f"{base}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "itemType": "feature",
        "crs": [_CRS84],
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


@router.get("/collections", summary="The collections")
async def collections(request: Request, state: State) -> Response:
    """Every spatial table and view the database role may read."""
    base = _base(request)
    return _json(
        {
            "links": [_link(f"{base}/collections", "self", "application/json")],
            "collections": [_describe(base, c) for c in state.collections.all()],
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


@router.get("/collections/{collection_id}", summary="One collection")
async def collection(request: Request, state: State, collection_id: str) -> Response:
    """The collection's description and links."""
    return _json(_describe(_base(request), await require_collection(state, collection_id)))


def _typed(collection: Collection, name: str, value: str) -> tuple[ColumnElement[Any], Any]:
    """The column (cast to text when its type is unknown) and ``value`` parsed for it."""
    column: ColumnElement[Any] = collection.table.c[name]
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: a DataError (500) otherwise
        raise ConfigError(f"{name}: the value contains a NUL character; remove it.")
    if isinstance(column.type, NullType):
        return cast(column, String), value
    python_type = column.type.python_type
    if python_type is str:
        return column, value
    if python_type is bool:
        if value.lower() not in {"true", "false", "1", "0", "t", "f"}:
            raise ConfigError(f"{name}={value!r} is not a boolean; send true or false.")
        return column, value.lower() in {"true", "1", "t"}
    parse = getattr(python_type, "fromisoformat", python_type)  # dates and timestamps
    try:
        parsed = parse(value)
    except (ValueError, ArithmeticError, TypeError):
        raise ConfigError(
            f"{name}={value[:100]!r} is not a valid {python_type.__name__}; fix the value."
        ) from None
    bits = _INTEGER_BITS.get(type(column.type))
    if bits is not None and not -(2 ** (bits - 1)) <= parsed < 2 ** (bits - 1):
        # out of the column's range: PostgreSQL would raise NumericValueOutOfRange (a 500)
        raise ConfigError(f"{name}={value[:100]!r} is out of range for this {bits}-bit column.")
    return column, parsed


def _filter(collection: Collection, name: str, value: str) -> ColumnElement[bool]:
    column, bound = _typed(collection, name, value)
    condition: ColumnElement[bool] = column == bound
    return condition


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
    responses={200: {"content": {GEOJSON: {}}, "description": "A page of features."}},
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
        str | None, Query(description="Accepted; collections have no temporal extent yet.")
    ] = None,
) -> Response:
    """A page of features, keyset-paginated on the primary key; ``?column=value`` filters."""
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
        stmt = stmt.where(_filter(found, name, value))
    key = found.key_column
    if key is not None:
        if cursor is not None:
            column, after = _typed(found, key, cursor)
            stmt = stmt.where(column > after)
        stmt = stmt.order_by(table.c[key])
    stmt = stmt.limit(size)
    selection = _properties(found, properties)
    self_url = str(request.url)

    def footer(lines: FeatureLines) -> bytes:
        links = [_link(self_url, "self", GEOJSON)]
        if key is not None and lines.count == size:
            next_url = request.url.include_query_params(cursor=lines.last_id(), limit=size)
            links.append(_link(str(next_url), "next", GEOJSON, "Next page"))
        return (
            b',"numberReturned":' + str(lines.count).encode() + b',"links":' + orjson.dumps(links)
        )

    return await stream_response(
        state.sessions, stmt, id_column=key, properties=selection, footer=footer
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
)
async def item(request: Request, state: State, collection_id: str, feature_id: str) -> Response:
    """One feature by its primary key."""
    found = await require_collection(state, collection_id)
    if found.key_column is None:
        raise NotFound(
            f"Collection {found.id} has no single-column primary key to address features by."
        )
    stmt = select(*found.table.c).where(_filter(found, found.key_column, feature_id))
    lines = await fetch_features(state.sessions, stmt, id_column=found.key_column)
    if not lines:
        raise NotFound(f"No feature {feature_id!r} in collection {found.id}.")
    feature = orjson.loads(lines[0])
    href = f"{_base(request)}/collections/{found.id}"
    feature["links"] = [
        _link(f"{href}/items/{feature_id}", "self", GEOJSON),
        _link(href, "collection", "application/json"),
    ]
    return Response(orjson.dumps(feature), media_type=GEOJSON)
