"""The parcels API against a real database: reads, spatial joins, writes, errors, tiles."""

import json
import math

import httpx
import mapbox_vector_tile
import pytest
from sqlalchemy import text

from pgspatial.testing import FreshDatabase

BBOX = "-74.02,40.70,-73.99,40.72"
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-74.0, 40.7], [-73.9999, 40.7], [-73.9999, 40.7001], [-74.0, 40.7001], [-74.0, 40.7]]
    ],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[-74.0, 40.7], [-73.9999, 40.7001], [-73.9999, 40.7], [-74.0, 40.7001], [-74.0, 40.7]]
    ],
}


def _ids(response: httpx.Response) -> list[int]:
    return [f["id"] for f in response.json()["features"]]


@pytest.mark.asyncio
async def test_bbox_matches_the_database(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    response = await client.get("/parcels", params={"bbox": BBOX})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    with service_db.engine.connect() as c:
        expected = (
            c.execute(
                text(
                    "SELECT id FROM parcels WHERE geom && ST_MakeEnvelope(-74.02,40.70,-73.99,40.72,4326) ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
    assert expected and _ids(response) == list(expected)
    feature = response.json()["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert {"parcel_id", "land_use", "assessed_value"} <= feature["properties"].keys()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "-73,40,-74,41", "-200,40,-73,41", "nan,1,2,3", "-80,30,-70,45"]
)
async def test_bad_bbox_is_a_400_problem(client: httpx.AsyncClient, bbox: str) -> None:
    response = await client.get("/parcels", params={"bbox": bbox})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "bbox" in response.json()["detail"]


@pytest.mark.asyncio
async def test_nearby_and_nearest(client: httpx.AsyncClient) -> None:
    nearby = await client.get(
        "/parcels/nearby", params={"lat": 40.7004, "lon": -74.0196, "radius_m": 150}
    )
    assert nearby.status_code == 200
    distances = [f["properties"]["distance_m"] for f in nearby.json()["features"]]
    assert distances and distances == sorted(distances) and max(distances) <= 150
    nearest = await client.get("/parcels/nearest", params={"lat": 40.7004, "lon": -74.0196, "k": 5})
    assert nearest.status_code == 200
    assert len(_ids(nearest)) == 5
    assert _ids(nearest)[0] == _ids(nearby)[0]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [
        {"lat": 91, "lon": 0, "radius_m": 10},
        {"lat": 40, "lon": -181, "radius_m": 10},
        {"lat": 40, "lon": -74, "radius_m": -1},
        {"lat": 40, "lon": -74, "radius_m": 10_000_000},
        {"lat": "x", "lon": -74, "radius_m": 10},
    ],
)
async def test_nearby_rejects_out_of_range(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    response = await client.get("/parcels/nearby", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.asyncio
async def test_nearest_k_is_capped(client: httpx.AsyncClient) -> None:
    response = await client.get("/parcels/nearest", params={"lat": 40.71, "lon": -74.0, "k": 101})
    assert response.status_code == 400


@pytest.mark.asyncio
async def test_parcel_by_id_and_404(client: httpx.AsyncClient) -> None:
    found = await client.get("/parcels/1")
    assert found.status_code == 200 and found.json()["id"] == 1
    missing = await client.get("/parcels/99999999")
    assert missing.status_code == 404
    assert "No parcel with id 99999999" in missing.json()["detail"]


@pytest.mark.asyncio
async def test_parcels_in_zoning_district(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    response = await client.get("/zoning/1/parcels")
    assert response.status_code == 200
    with service_db.engine.connect() as c:
        expected = (
            c.execute(
                text(
                    "SELECT p.id FROM parcels p JOIN zoning_districts z ON ST_Intersects(p.geom, z.geom) "
                    "WHERE z.id = 1 ORDER BY p.id"
                )
            )
            .scalars()
            .all()
        )
    assert expected and _ids(response) == list(expected)
    assert (await client.get("/zoning/999999/parcels")).status_code == 404


@pytest.mark.asyncio
async def test_create_update_delete(client: httpx.AsyncClient, service_db: FreshDatabase) -> None:
    body = {"parcel_id": "TEST-1", "land_use": "park", "assessed_value": "12.50", "geom": SQUARE}
    created = await client.post("/parcels", json=body)
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    try:
        duplicate = await client.post("/parcels", json=body)
        assert duplicate.status_code == 409
        updated = await client.put(f"/parcels/{new_id}", json=body | {"land_use": "vacant"})
        assert updated.status_code == 200
        read = (await client.get(f"/parcels/{new_id}")).json()
        assert read["properties"]["land_use"] == "vacant"
        assert (await client.put("/parcels/99999999", json=body)).status_code == 404
    finally:
        assert (await client.delete(f"/parcels/{new_id}")).status_code == 204
    assert (await client.delete(f"/parcels/{new_id}")).status_code == 404
    with service_db.engine.connect() as c:
        assert (
            c.execute(text("SELECT count(*) FROM parcels WHERE parcel_id = 'TEST-1'")).scalar() == 0
        )


@pytest.mark.asyncio
async def test_invalid_polygon_is_a_422_with_the_reason(client: httpx.AsyncClient) -> None:
    body = {"parcel_id": "BAD-1", "land_use": "park", "assessed_value": "1", "geom": BOWTIE}
    response = await client.post("/parcels", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "Self-intersection" in response.text or "self-intersection" in response.text.lower()
    point = body | {"geom": {"type": "Point", "coordinates": [-74, 40.7]}}
    assert (await client.post("/parcels", json=point)).status_code == 422


@pytest.mark.asyncio
async def test_oversized_body_is_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/parcels",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.asyncio
async def test_exports(client: httpx.AsyncClient, service_db: FreshDatabase) -> None:
    with service_db.engine.connect() as c:
        total = c.execute(text("SELECT count(*) FROM parcels")).scalar()
    ndjson = await client.get("/parcels/export.ndjson")
    assert ndjson.status_code == 200
    lines = ndjson.content.splitlines()
    assert len(lines) == total and json.loads(lines[0])["type"] == "Feature"
    geojson = await client.get("/parcels/export.geojson")
    assert len(geojson.json()["features"]) == total
    assert (await client.get("/parcels/export.csv")).status_code == 400


@pytest.mark.asyncio
async def test_tiles(client: httpx.AsyncClient) -> None:
    z, lon, lat = 14, -74.0196, 40.7004
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = await client.get(f"/tiles/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(tile.content)
    assert {"parcels", "zoning"} <= layers.keys()
    assert (await client.get("/tiles/14/0/0.mvt")).status_code == 204
    assert (await client.get("/tiles/3/8/0.mvt")).status_code == 400
    assert (await client.get("/tiles/30/0/0.mvt")).status_code == 400


@pytest.mark.asyncio
async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "reachable"
