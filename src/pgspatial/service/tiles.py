"""Mapbox Vector Tiles made by PostGIS: the demo map's tiles and one set per collection.

``/tiles/{z}/{x}/{y}.mvt`` holds two layers, ``zoning`` and ``parcels`` (MVT layers are a
repeated protobuf field, so two ``ST_AsMVT`` results concatenate into one valid tile).
``/collections/{id}/tiles/{z}/{x}/{y}.mvt`` has one layer named after the collection. An
empty tile is a 204; a tile over ``tile_max_features`` candidates is a 400 that says to zoom
in (refusing beats a truncated map that looks complete).

Each tile is read in autocommit (:func:`~pgspatial.service.streaming.read_in_autocommit`).
Maps cancel tile requests as they pan; a cancelled handler still closes its session to the
end (:func:`pgspatial.engine.pool.finish`) before it unwinds, so the connection is back in
the pool, idle, not left to a task nobody awaits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from pgspatial import vector_tile_async
from pgspatial.errors import ConfigError
from pgspatial.sampledata.models import Parcel, ZoningDistrict
from pgspatial.service.state import ServiceState, get_state, require_collection
from pgspatial.service.streaming import read_in_autocommit

__all__ = ["MVT", "router"]

router = APIRouter(tags=["tiles"])
State = Annotated[ServiceState, Depends(get_state)]
MVT = "application/vnd.mapbox-vector-tile"
Z = Annotated[int, Path(ge=0, le=24, description="Zoom level.")]
X = Annotated[int, Path(ge=0, description="Tile column.")]
Y = Annotated[int, Path(ge=0, description="Tile row (XYZ, from the top).")]
_TILE_DOC: dict[int | str, dict[str, object]] = {
    200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile."},
    204: {"description": "No feature in this tile."},
}


def _check(z: int, x: int, y: int) -> None:
    if x >= 2**z or y >= 2**z:
        raise ConfigError(f"Tile {z}/{x}/{y} does not exist: x and y must be below 2^z = {2**z}.")


def _tile(data: bytes) -> Response:
    if not data:
        return Response(status_code=204, media_type=MVT)
    return Response(data, media_type=MVT, headers={"Cache-Control": "public, max-age=60"})


@router.get("/tiles/{z}/{x}/{y}.mvt", responses=_TILE_DOC, response_class=Response)
async def demo_tile(state: State, z: Z, x: X, y: Y) -> Response:
    """Layers ``zoning`` (zone_code) and ``parcels`` (land_use, year_built), ids included."""
    _check(z, x, y)
    cap = state.settings.tile_max_features

    async def both_layers(session: AsyncSession) -> bytes:
        zoning = await vector_tile_async(
            session, ZoningDistrict, z, x, y, layer="zoning", id_column="id",
            properties=["zone_code"], max_features=cap,
        )  # fmt: skip
        parcels = await vector_tile_async(
            session, Parcel, z, x, y, layer="parcels", id_column="id",
            properties=["parcel_id", "land_use", "year_built"], max_features=cap,
        )  # fmt: skip
        return zoning + parcels

    return _tile(await read_in_autocommit(state.sessions, both_layers))


@router.get(
    "/collections/{collection_id}/tiles/{z}/{x}/{y}.mvt",
    responses=_TILE_DOC,
    response_class=Response,
)
async def collection_tile(state: State, collection_id: str, z: Z, x: X, y: Y) -> Response:
    """One layer named after the collection; feature ids when its key is an integer."""
    _check(z, x, y)
    found = await require_collection(state, collection_id)

    async def one_layer(session: AsyncSession) -> bytes:
        return await vector_tile_async(
            session,
            found.table,
            z, x, y,
            layer=found.id,
            id_column=found.key_column if found.integer_key else None,
            geometry_column=found.geometry_column,
            max_features=state.settings.tile_max_features,
        )  # fmt: skip

    return _tile(await read_in_autocommit(state.sessions, one_layer))
