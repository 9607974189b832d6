"""The app factory: ``create_app(settings)`` builds a FastAPI app and nothing else.

No engine exists until the lifespan starts: it resolves the database URL (``DATABASE_URL``
or the embedded cluster, started if needed), creates the async engine (and one per
replica), loads the collections from the catalog, and disposes every pool at shutdown. Two
apps in one process share nothing. Responses are gzip-compressed when the client accepts it
(streamed bodies included); request bodies above ``max_body_bytes`` are refused with 413.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from pgspatial import __version__, create_async_engine, session_factory
from pgspatial.service import domain, health, mappage, ogc, tiles
from pgspatial.service.collections import CollectionRegistry
from pgspatial.service.errors import PROBLEM_RESPONSES, install_error_handlers
from pgspatial.service.limits import BodySizeLimit
from pgspatial.service.settings import ServiceSettings
from pgspatial.service.state import ServiceState

__all__ = ["create_app", "resolve_url"]


def resolve_url(settings: ServiceSettings) -> str:
    """The database URL: the service's own, else DATABASE_URL, else the embedded cluster."""
    if settings.database_url:
        return settings.database_url
    from pgspatial.local import resolve_database_url

    return resolve_database_url(settings.database)


async def start_state(settings: ServiceSettings) -> ServiceState:
    """Engines, sessions and collections for one app (the lifespan's startup)."""
    url = resolve_url(settings)
    db = settings.database
    engine = create_async_engine(url, settings=db)
    replicas = [create_async_engine(r, settings=db) for r in db.replica_urls]
    try:
        registry = CollectionRegistry(engine, schemas=settings.catalog_schemas)
        await registry.refresh()
    except BaseException:
        await engine.dispose()
        raise
    return ServiceState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        collections=registry,
        replicas=replicas,
    )


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """A FastAPI app serving the parcels API, OGC API Features, tiles, health and the map."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await start_state(settings)
        app.state.pgspatial = state
        try:
            yield
        finally:
            await state.dispose()

    app = FastAPI(
        title="pgspatial reference service",
        version=__version__,
        description=(
            "Parcels and zoning on PostGIS through pgspatial, and OGC API - Features "
            "(Part 1 core) for every spatial table and view the database role may read."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_minimum_bytes)
    for router in (ogc.router, domain.router, tiles.router, health.router):
        app.include_router(router, responses=PROBLEM_RESPONSES)
    app.include_router(mappage.router)
    mappage.mount_static(app)
    return app
