"""The parcels API: the queries a spatial backend serves, on the example models.

Reads send GeoJSON built by PostgreSQL (:mod:`pgspatial.service.streaming`); every
spatial filter is one of pgspatial's index-aware predicates; writes validate the geometry
in Python (``GeoJSONGeometry("POLYGON")``: a bow-tie is a 422 with the reason before any
SQL) and run through :func:`pgspatial.run_serializable_async`, retried on conflicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Double, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pgspatial import geodesic_distance, in_bbox, nearest, run_serializable_async, within_distance
from pgspatial.geometry import GeoJSONGeometry, ParsedGeometry
from pgspatial.sampledata.models import Parcel, ZoningDistrict
from pgspatial.service.errors import WRITE_RESPONSES, NotFound
from pgspatial.service.params import parse_bbox
from pgspatial.service.schemas import PARCEL, PARCEL_COLLECTION, ok
from pgspatial.service.state import ServiceState, get_state
from pgspatial.service.streaming import (
    GEOJSON,
    NDJSON,
    fetch_features,
    page_response,
    stream_response,
)

__all__ = ["router"]

router = APIRouter(tags=["parcels"])
State = Annotated[ServiceState, Depends(get_state)]
Lat = Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees (EPSG:4326).")]
Lon = Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees (EPSG:4326).")]
ParcelKey = Annotated[int, Path(ge=1, le=2**63 - 1, description="The parcel's id.")]

_FIELDS = (Parcel.parcel_id, Parcel.zoning_id, Parcel.land_use, Parcel.year_built)
_GEOJSON_DOC = ok(GEOJSON, PARCEL_COLLECTION, "A GeoJSON FeatureCollection of parcels.")


def _parcels() -> Any:
    """The columns every parcel feature carries (assessed value as a JSON number)."""
    value = cast(Parcel.assessed_value, Double).label("assessed_value")
    return select(Parcel.id, *_FIELDS, value, Parcel.geom)


class ParcelIn(BaseModel):
    """A parcel to create or replace. ``geom`` is a GeoJSON Polygon in EPSG:4326."""

    model_config = ConfigDict(extra="forbid")

    parcel_id: str = Field(min_length=1, max_length=50, examples=["NYC-000001"])
    land_use: str = Field(min_length=1, max_length=32, examples=["residential"])
    year_built: int | None = Field(default=None, ge=1600, le=2100)
    assessed_value: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    zoning_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    geom: Annotated[ParsedGeometry, GeoJSONGeometry("POLYGON")]

    @field_validator("geom", mode="before")
    @classmethod
    def _type_is_a_string(cls, value: Any) -> Any:
        # GeoJSONGeometry looks ``type`` up in a set: an unhashable one ({} or []) raised
        # TypeError there, a 500; refuse it here as a 422 instead.
        if isinstance(value, Mapping) and not isinstance(value.get("type"), str):
            raise ValueError("geom.type must be a string such as 'Polygon'")
        return value


class Written(BaseModel):
    """What a write returns: the parcel's id and where to read it."""

    id: int
    href: str


@router.get("/parcels", responses=_GEOJSON_DOC, response_class=Response)
async def parcels_in_bbox(
    state: State,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat (EPSG:4326).")],
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """Parcels whose bounding box meets ``bbox`` (GiST ``&&``), streamed as GeoJSON."""
    box = parse_bbox(bbox, max_area_deg2=state.settings.max_bbox_area_deg2)
    stmt = _parcels().where(in_bbox(Parcel.geom, box)).order_by(Parcel.id).limit(limit)
    return await stream_response(state.sessions, stmt, id_column="id")


@router.get("/parcels/nearby", responses=_GEOJSON_DOC, response_class=Response)
async def parcels_nearby(
    state: State,
    lat: Lat,
    lon: Lon,
    radius_m: Annotated[float, Query(gt=0, le=5_000, description="Radius, metres (≤ 5 km).")],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> Response:
    """Parcels within ``radius_m`` spheroid metres of the point, nearest first."""
    point = (lon, lat)
    distance = geodesic_distance(Parcel.geom, point).label("distance_m")
    stmt = _parcels().add_columns(distance).where(within_distance(Parcel.geom, point, radius_m))
    return await page_response(
        state.sessions, stmt.order_by(distance, Parcel.id).limit(limit), id_column="id"
    )


@router.get("/parcels/nearest", responses=_GEOJSON_DOC, response_class=Response)
async def parcels_nearest(
    state: State, lat: Lat, lon: Lon, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> Response:
    """The ``k`` parcels nearest to the point by spheroid distance, nearest first."""
    point = (lon, lat)
    stmt = nearest(_parcels(), Parcel.geom, point, k=k)
    return await page_response(state.sessions, stmt, id_column="id")


@router.get(
    "/parcels/export.{fmt}",
    responses={
        200: {
            "content": {GEOJSON: {"schema": PARCEL_COLLECTION}, NDJSON: {}},
            "description": "A FeatureCollection (geojson) or one Feature a line (ndjson).",
        }
    },
    response_class=Response,
)
async def export_parcels(
    state: State,
    fmt: Literal["geojson", "ndjson"],
    bbox: Annotated[str | None, Query(description="Optional minLon,minLat,maxLon,maxLat.")] = None,
) -> Response:
    """Every parcel (or those in ``bbox``), streamed; not cut off by statement_timeout."""
    stmt = _parcels().order_by(Parcel.id)
    if bbox is not None:
        stmt = stmt.where(in_bbox(Parcel.geom, parse_bbox(bbox)))
    response = await stream_response(
        state.sessions, stmt, id_column="id", collection=fmt == "geojson"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="parcels.{fmt}"'
    return response


@router.get("/parcels/{parcel_key}", responses=ok(GEOJSON, PARCEL, "A GeoJSON Feature."))
async def get_parcel(state: State, parcel_key: ParcelKey) -> Response:
    """One parcel as a GeoJSON Feature; 404 when there is none with this id."""
    lines = await fetch_features(
        state.sessions, _parcels().where(Parcel.id == parcel_key), id_column="id"
    )
    if not lines:
        raise NotFound(f"No parcel with id {parcel_key}; list parcels with GET /parcels?bbox=...")
    return Response(lines[0], media_type=GEOJSON)


@router.get("/zoning/{district_id}/parcels", responses=_GEOJSON_DOC, response_class=Response)
async def parcels_in_district(
    state: State,
    district_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """Parcels that intersect zoning district ``district_id`` (a spatial join, GiST-served)."""
    async with state.sessions() as session:
        exists = await session.scalar(
            select(ZoningDistrict.id).where(ZoningDistrict.id == district_id)
        )
    if exists is None:
        raise NotFound(f"No zoning district with id {district_id}.")
    stmt = (
        _parcels()
        .join(ZoningDistrict, func.ST_Intersects(Parcel.geom, ZoningDistrict.geom))
        .where(ZoningDistrict.id == district_id)
        .order_by(Parcel.id)
        .limit(limit)
    )
    return await stream_response(state.sessions, stmt, id_column="id")


def _values(body: ParcelIn) -> dict[str, Any]:
    return body.model_dump(exclude={"geom"}) | {"geom": body.geom}


async def _check_zoning(session: AsyncSession, zoning_id: int | None) -> None:
    if zoning_id is not None and await session.get(ZoningDistrict, zoning_id) is None:
        raise NotFound(
            f"No zoning district with id {zoning_id}; omit zoning_id or use an existing one."
        )


@router.post("/parcels", status_code=201, response_model=Written, responses=WRITE_RESPONSES)
async def create_parcel(state: State, body: ParcelIn) -> Written:
    """Create a parcel; the id is allocated by the service. 409 when parcel_id is taken."""

    async def work(session: AsyncSession) -> int:
        await _check_zoning(session, body.zoning_id)
        new_id = int(await session.scalar(select(func.coalesce(func.max(Parcel.id), 0) + 1)) or 1)
        session.add(Parcel(id=new_id, **_values(body)))
        await session.flush()
        return new_id

    new_id = await run_serializable_async(state.sessions, work)
    return Written(id=new_id, href=f"/parcels/{new_id}")


@router.put("/parcels/{parcel_key}", response_model=Written, responses=WRITE_RESPONSES)
async def replace_parcel(state: State, parcel_key: ParcelKey, body: ParcelIn) -> Written:
    """Replace a parcel's fields and geometry (serializable, retried on conflicts)."""

    async def work(session: AsyncSession) -> None:
        parcel = await session.get(Parcel, parcel_key)
        if parcel is None:
            raise NotFound(f"No parcel with id {parcel_key}; create it with POST /parcels.")
        await _check_zoning(session, body.zoning_id)
        for name, value in _values(body).items():
            setattr(parcel, name, value)
        await session.flush()

    await run_serializable_async(state.sessions, work)
    return Written(id=parcel_key, href=f"/parcels/{parcel_key}")


@router.delete("/parcels/{parcel_key}", status_code=204, response_class=Response)
async def delete_parcel(state: State, parcel_key: ParcelKey) -> Response:
    """Delete a parcel; 404 when there is none with this id."""

    async def work(session: AsyncSession) -> None:
        parcel = await session.get(Parcel, parcel_key)
        if parcel is None:
            raise NotFound(f"No parcel with id {parcel_key}.")
        await session.delete(parcel)

    await run_serializable_async(state.sessions, work)
    return Response(status_code=204)
