"""The map page over HTTP, no browser: what /map and /static serve, and the 503 when MapLibre
has not been vendored. ``/map`` and ``/static`` need no database, so no lifespan runs here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from pgspatial.service import ServiceSettings, create_app, mappage


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServiceSettings(database_url="postgresql+psycopg://unused@127.0.0.1:1/x"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_map_page_refers_only_to_this_origin(client: httpx.AsyncClient) -> None:
    if not mappage.maplibre_vendored():
        pytest.skip("MapLibre GL JS is not vendored: run scripts/vendor-maplibre")
    response = await client.get("/map")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    html = response.text
    assert "static/vendor/maplibre-gl/maplibre-gl.js" in html
    assert "http://" not in html and "https://" not in html
    for asset in (
        "static/map.js",
        "static/map.css",
        "static/vendor/maplibre-gl/maplibre-gl.js",
        "static/vendor/maplibre-gl/maplibre-gl.css",
    ):
        served = await client.get(f"/{asset}")
        assert served.status_code == 200, asset
    script = (await client.get("/static/map.js")).text
    assert "https://" not in script and "http://" not in script
    assert "glyphs:" not in script and "sprite:" not in script  # no remote fonts or icons


async def test_map_page_says_how_to_vendor_maplibre_when_it_is_missing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mappage, "MAPLIBRE_DIR", tmp_path / "nothing-here")
    response = await client.get("/map")
    assert response.status_code == 503
    assert "scripts/vendor-maplibre" in response.text and "make demo" in response.text


async def test_landing_page_links_the_map(client: httpx.AsyncClient) -> None:
    links = (await client.get("/")).json()["links"]
    assert {"href": "http://test/map", "rel": "related", "type": "text/html"}.items() <= next(
        link for link in links if link["href"].endswith("/map")
    ).items()


async def test_map_is_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/map" not in paths and not any(p.startswith("/static") for p in paths)
