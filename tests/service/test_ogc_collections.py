"""OGC collections beyond one integer key: composite keys, keyless views and tables, spatial
and temporal extents, and ``datetime`` filters, on a real database."""

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from pgspatial.testing import FreshDatabase

PLOTS = 257  # composite key (block, lot); not a multiple of the page size
EVENTS = 40


@pytest.fixture(scope="module", autouse=True)
def extra_relations(service_db: FreshDatabase) -> None:
    """A composite-key table, a keyless view and table, and a table with timestamps."""
    with service_db.engine.begin() as c:
        c.exec_driver_sql(
            f"""
                CREATE TABLE plots (block integer, lot text, area double precision,
                                    geom geometry(Point, 4326), PRIMARY KEY (block, lot));
                INSERT INTO plots
                SELECT i / 3, chr(97 + i %% 3) || CASE WHEN i %% 5 = 0 THEN '"/,' ELSE '' END,
                       i * 1.5, ST_SetSRID(ST_MakePoint(-74 + i * 0.0001, 40.7), 4326)
                FROM generate_series(0, {PLOTS - 1}) AS i;
                CREATE VIEW parcel_outlines AS SELECT parcel_id, land_use, geom FROM parcels;
                CREATE TABLE keyless AS SELECT land_use, geom FROM parcels LIMIT 300;
                INSERT INTO keyless SELECT land_use, geom FROM keyless LIMIT 20;  -- duplicates
                CREATE TABLE events (id serial PRIMARY KEY, at timestamptz NOT NULL,
                                     day date NOT NULL, geom geometry(Point, 2263));
                INSERT INTO events (at, day, geom)
                SELECT timestamptz '2024-01-01 00:00:00+00' + (i || ' hours')::interval,
                       date '2024-01-01' + (i / 24),
                       ST_SetSRID(ST_MakePoint(980000 + i * 10, 200000), 2263)
                FROM generate_series(0, {EVENTS - 1}) AS i;
                ANALYZE plots; ANALYZE events; ANALYZE parcels;
                """
        )


async def _all_pages(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    next_url: str | None = url
    for _ in range(100):
        if next_url is None:
            return features
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["numberReturned"] == len(page["features"])
        features.extend(page["features"])
        next_url = next((lk["href"] for lk in page["links"] if lk["rel"] == "next"), None)
    raise AssertionError("more than 100 pages: the next links loop")


@pytest.mark.asyncio
async def test_composite_key_pages_cover_the_table_and_address_features(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    features = await _all_pages(client, "/collections/plots/items?limit=50")
    keys = [(f["properties"]["block"], f["properties"]["lot"]) for f in features]
    with service_db.engine.connect() as c:
        expected = [tuple(r) for r in c.execute(text("SELECT block, lot FROM plots ORDER BY 1, 2"))]
    assert keys == expected and len(set(keys)) == PLOTS
    # The id is the key as a JSON array; it addresses the feature (quotes, slash, comma too).
    tricky = next(f for f in features if '"' in f["properties"]["lot"])
    response = await client.get(f"/collections/plots/items/{quote(tricky['id'], safe='')}")
    assert response.status_code == 200
    assert response.json()["properties"] == tricky["properties"]
    for bad in ("[1]", "not json", '[1, {"a": 1}]', '[99999999999, "a"]'):
        status = (await client.get(f"/collections/plots/items/{quote(bad, safe='')}")).status_code
        assert status == 400, bad
    assert (await client.get("/collections/plots/items?cursor=%5B1%5D")).status_code == 400


@pytest.mark.asyncio
@pytest.mark.parametrize(("collection", "rows"), [("parcel_outlines", 2_000), ("keyless", 320)])
async def test_keyless_relations_page_through_every_row(
    client: httpx.AsyncClient, collection: str, rows: int
) -> None:
    features = await _all_pages(client, f"/collections/{collection}/items?limit=300")
    assert len(features) == rows
    if collection == "parcel_outlines":  # parcel_id is unique: no row twice, none lost
        assert len({f["properties"]["parcel_id"] for f in features}) == rows
    assert all("id" not in f for f in features)
    assert (await client.get(f"/collections/{collection}/items/1")).status_code == 404
    bad = await client.get(f"/collections/{collection}/items?cursor=-5")
    assert bad.status_code == 400


@pytest.mark.asyncio
async def test_extents_in_collection_documents(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    with service_db.engine.connect() as c:
        exact = c.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 2263), 4326) e FROM events) s"
            )
        ).one()
        parcels = c.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                 "(SELECT ST_Extent(geom) e FROM parcels) s")
        ).one()  # fmt: skip
    events = (await client.get("/collections/events")).json()
    west, south, east, north = events["extent"]["spatial"]["bbox"][0]
    # statistics round outwards to float4: contains the exact box, within ~1 m
    assert west <= exact[0] + 1e-5 and south <= exact[1] + 1e-5
    assert east >= exact[2] - 1e-5 and north >= exact[3] - 1e-5
    assert abs(west - exact[0]) < 1e-3 and abs(north - exact[3]) < 1e-3
    assert events["extent"]["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-01-02T15:00:00Z"]
    ]
    listed = {c["id"]: c for c in (await client.get("/collections")).json()["collections"]}
    box = listed["parcels"]["extent"]["spatial"]["bbox"][0]
    assert all(abs(a - b) < 1e-3 for a, b in zip(box, parcels, strict=True))
    assert "temporal" not in listed["parcels"]["extent"]
    assert "extent" not in listed["parcel_outlines"]  # a view: no statistics to ask


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02", 16),  # a date: the whole day (hours 24..39)
        ("2024-01-01T05:00:00Z", 1),  # an instant
        ("2024-01-01T05:00:00+01:00", 1),  # 04:00 UTC
        ("2024-01-01T10:00:00Z/2024-01-01T12:00:00Z", 3),  # closed interval
        ("../2024-01-01T02:00:00Z", 3),
        ("2024-01-02T10:00:00Z/..", 6),
        ("2024-01-01/2024-01-01", 24),
        ("../..", EVENTS),
        ("/", EVENTS),
    ],
)
async def test_datetime_filters(client: httpx.AsyncClient, value: str, expected: int) -> None:
    response = await client.get(
        "/collections/events/items", params={"datetime": value, "limit": 100}
    )
    assert response.status_code == 200, response.text
    assert response.json()["numberReturned"] == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01", "2024-01-02/2024-01-01", "a/b/c", "2024-01-01\x00"]
)
async def test_malformed_datetime_is_a_400(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/collections/events/items", params={"datetime": value})
    assert response.status_code == 400
    assert "datetime" in response.json()["detail"]


@pytest.mark.asyncio
async def test_datetime_is_ignored_without_a_temporal_column(client: httpx.AsyncClient) -> None:
    plain = (await client.get("/collections/plots/items?limit=500")).json()
    timed = (
        await client.get(
            "/collections/plots/items", params={"limit": 500, "datetime": "2024-01-01"}
        )
    ).json()
    assert timed["numberReturned"] == plain["numberReturned"] == PLOTS
