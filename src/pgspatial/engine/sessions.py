"""``session_factory``: sessionmakers with spatial-friendly defaults, sync or async.

``expire_on_commit=False`` by default (errata 12: with the default, reading 100 objects
after a commit issues 100 SELECTs, each re-fetching its geometry). With replicas, the
sessions are :class:`~pgspatial.engine.routing.RoutingSession`; the async factory wraps
the same class (``sync_session_class``), so sync and async route identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from pgspatial.engine.routing import ReplicaSet, RoutingSession

__all__ = ["session_factory"]


def _sync(engine: Engine | AsyncEngine) -> Engine:
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


@overload
def session_factory(
    engine: Engine,
    *,
    replicas: Sequence[Engine] = ...,
    analytics: Engine | None = ...,
    **kw: Any,
) -> sessionmaker[Session]: ...


@overload
def session_factory(
    engine: AsyncEngine,
    *,
    replicas: Sequence[AsyncEngine] = ...,
    analytics: AsyncEngine | None = ...,
    **kw: Any,
) -> async_sessionmaker[AsyncSession]: ...


def session_factory(
    engine: Engine | AsyncEngine,
    *,
    replicas: Sequence[Engine] | Sequence[AsyncEngine] = (),
    analytics: Engine | AsyncEngine | None = None,
    **kw: Any,
) -> sessionmaker[Session] | async_sessionmaker[AsyncSession]:
    """A ``sessionmaker`` (or ``async_sessionmaker`` for an AsyncEngine) bound to ``engine``.

    ``expire_on_commit`` defaults to False. With ``replicas`` or ``analytics`` the sessions
    route reads (see :class:`RoutingSession`). Other keywords go to the sessionmaker.
    """
    kw.setdefault("expire_on_commit", False)
    routed = bool(replicas) or analytics is not None
    routing: dict[str, Any] = {}
    if routed:
        routing = {
            "primary": _sync(engine),
            "replicas": ReplicaSet([_sync(r) for r in replicas]),
            "analytics": None if analytics is None else _sync(analytics),
        }
    if isinstance(engine, AsyncEngine):
        if routed:
            return async_sessionmaker(sync_session_class=RoutingSession, **routing, **kw)
        return async_sessionmaker(engine, **kw)
    if routed:
        return sessionmaker(class_=RoutingSession, **routing, **kw)
    return sessionmaker(engine, **kw)
