"""Fixtures for the service tests: one fresh database with 2,000 demo parcels per module,
and an httpx client on ``create_app(settings)`` running under its lifespan."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from pgspatial.service import ServiceSettings, create_app
from pgspatial.testing import FreshDatabase
from tests.service.serving import demo_database

PARCELS = 2_000


@pytest.fixture(scope="module")
def service_db(pgspatial_database_url: str) -> Iterator[FreshDatabase]:
    """A fresh PostGIS database holding the demo parcels and zoning (dropped after)."""
    with demo_database(pgspatial_database_url, parcels=PARCELS) as database:
        yield database


@pytest.fixture
def settings(service_db: FreshDatabase) -> ServiceSettings:
    return ServiceSettings(database_url=service_db.url)


@pytest_asyncio.fixture
async def client(settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c
