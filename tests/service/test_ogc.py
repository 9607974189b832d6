"""OGC API - Features against a real database: discovery, paging, filters, errors, gzip."""

import gzip

import httpx
import pytest
from sqlalchemy import text

from pgspatial.testing import FreshDatabase


@pytest.mark.asyncio
async def test_landing_conformance_collections(client: httpx.AsyncClient) -> None:
    landing = (await client.get("/")).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = (await client.get("/conformance")).json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in conformance)
    ids = {c["id"] for c in (await client.get("/collections")).json()["collections"]}
    assert {"parcels", "zoning_districts"} <= ids
    one = await client.get("/collections/parcels")
    assert one.status_code == 200 and one.json()["id"] == "parcels"
    missing = await client.get("/collections/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.get("/collections/nope/items")).status_code == 404


@pytest.mark.asyncio
async def test_keyset_pages_cover_the_table(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    with service_db.engine.connect() as c:
        expected = c.execute(text("SELECT id FROM parcels ORDER BY id")).scalars().all()
    seen: list[int] = []
    url: str | None = "/collections/parcels/items?limit=700"
    pages = 0
    while url:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/geo+json"
        page = response.json()
        assert "numberMatched" not in page
        assert page["numberReturned"] == len(page["features"])
        seen.extend(f["id"] for f in page["features"])
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        pages += 1
        assert pages < 10
    assert seen == list(expected)
    assert len(set(seen)) == len(seen)


@pytest.mark.asyncio
async def test_limit_default_and_clamp(client: httpx.AsyncClient) -> None:
    default = (await client.get("/collections/parcels/items")).json()
    assert default["numberReturned"] == 10
    clamped = (await client.get("/collections/parcels/items?limit=1000000")).json()
    assert clamped["numberReturned"] == 2_000
    assert (await client.get("/collections/parcels/items?limit=0")).status_code == 400


@pytest.mark.asyncio
async def test_filters_properties_bbox(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    with service_db.engine.connect() as c:
        residential = c.execute(
            text("SELECT count(*) FROM parcels WHERE land_use = 'residential'")
        ).scalar()
    page = (await client.get("/collections/parcels/items?land_use=residential&limit=10000")).json()
    assert page["numberReturned"] == residential
    assert {f["properties"]["land_use"] for f in page["features"]} == {"residential"}
    chosen = (await client.get("/collections/parcels/items?properties=land_use,year_built")).json()
    assert set(chosen["features"][0]["properties"]) == {"land_use", "year_built"}
    boxed = await client.get(
        "/collections/parcels/items?bbox=-74.02,40.70,-74.01,40.705&limit=10000"
    )
    assert 0 < boxed.json()["numberReturned"] < 2_000
    for bad in ["nope=1", "properties=nope", "year_built=abc", "bbox=1,2", "cursor=abc"]:
        response = await client.get(f"/collections/parcels/items?{bad}")
        assert response.status_code == 400, bad
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.asyncio
async def test_injection_in_filters_has_no_effect(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    payload = "residential' OR '1'='1"
    page = await client.get("/collections/parcels/items", params={"land_use": payload})
    assert page.status_code == 200 and page.json()["numberReturned"] == 0
    drop = await client.get(
        "/collections/parcels/items", params={"land_use": "x'; DROP TABLE parcels; --"}
    )
    assert drop.status_code == 200
    with service_db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM parcels")).scalar() == 2_000


@pytest.mark.asyncio
async def test_item_and_collection_tiles(client: httpx.AsyncClient) -> None:
    item = await client.get("/collections/parcels/items/1")
    assert item.status_code == 200 and item.json()["id"] == 1
    assert (await client.get("/collections/parcels/items/99999999")).status_code == 404
    assert (await client.get("/collections/parcels/items/abc")).status_code == 400
    tile = await client.get("/collections/parcels/tiles/14/4823/6160.mvt")
    assert tile.status_code in {200, 204}
    assert (await client.get("/collections/parcels/tiles/0/0/0.mvt")).status_code in {200, 204}


@pytest.mark.asyncio
async def test_gzip_when_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/collections/parcels/items?limit=500", headers={"accept-encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["numberReturned"] == 500  # httpx decodes it
    raw = await client.get(
        "/collections/parcels/items?limit=500", headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


@pytest.mark.asyncio
async def test_database_errors_do_not_leak(
    client: httpx.AsyncClient, service_db: FreshDatabase
) -> None:
    with service_db.engine.begin() as c:
        c.execute(text("CREATE TABLE leak_probe (id int PRIMARY KEY, geom geometry(Point, 4326))"))
    try:
        refreshed = await client.post("/collections/refresh")
        assert "leak_probe" in refreshed.json()["collections"]
    finally:
        with service_db.engine.begin() as c:
            c.execute(text("DROP TABLE leak_probe"))
    response = await client.get("/collections/leak_probe/items")
    assert response.status_code == 500
    body = response.text
    assert "leak_probe" not in body and "SELECT" not in body and "relation" not in body
    assert response.json()["detail"].startswith("The server failed")


@pytest.mark.asyncio
async def test_unreachable_database_is_a_503(client: httpx.AsyncClient) -> None:
    from pgspatial.service.state import ServiceState

    app = client._transport.app  # type: ignore[attr-defined]
    state: ServiceState = app.state.pgspatial
    from pgspatial import create_async_engine, session_factory

    dead = create_async_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    original = state.sessions, state.engine
    state.sessions, state.engine = session_factory(dead), dead
    try:
        for path in ["/parcels/1", "/health", "/collections/parcels/items"]:
            response = await client.get(path)
            assert response.status_code == 503, path
            assert "127.0.0.1:1" not in response.text
    finally:
        state.sessions, state.engine = original
        await dead.dispose()


@pytest.mark.asyncio
async def test_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in [
        "/collections/{collection_id}/items",
        "/parcels",
        "/tiles/{z}/{x}/{y}.mvt",
        "/health",
    ]:
        assert path in spec["paths"]
