"""What the lifespan creates and the routers use: engines, sessions, collections, settings.

One :class:`ServiceState` per app, stored on ``app.state.pgspatial`` by the lifespan and
disposed when it ends, never at module level (two apps in one process do not share pools).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pgspatial.errors import ConfigError
from pgspatial.service.collections import Collection, CollectionRegistry
from pgspatial.service.errors import NotFound
from pgspatial.service.settings import ServiceSettings

__all__ = ["ServiceState", "get_state", "require_collection"]


@dataclass
class ServiceState:
    """The live resources of one app."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    collections: CollectionRegistry
    replicas: list[AsyncEngine] = field(default_factory=list)

    async def dispose(self) -> None:
        """Close every pool (the lifespan's shutdown)."""
        for replica in self.replicas:
            await replica.dispose()
        await self.engine.dispose()


async def get_state(request: Request) -> ServiceState:
    """FastAPI dependency: the app's state (raises when used outside the lifespan).

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    thread pool, a hand-off per request.
    """
    state = getattr(request.app.state, "pgspatial", None)
    if not isinstance(state, ServiceState):
        raise ConfigError(
            "The service is not started: run the app under its lifespan (uvicorn, or "
            "httpx.ASGITransport inside `async with LifespanManager`/the app's lifespan)."
        )
    return state


async def require_collection(state: ServiceState, collection_id: str) -> Collection:
    """The collection ``collection_id``, or NotFound (a 404) saying how to list them."""
    found = await state.collections.get(collection_id)
    if found is None:
        raise NotFound(
            f"No collection {collection_id!r}. GET /collections lists them; a table created "
            "since startup appears after POST /collections/refresh."
        )
    return found
