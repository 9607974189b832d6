"""Engines and sessions configured for spatial workloads (see each module's docstring).

Names are imported on first use, so a module that needs only :mod:`.timeouts` (the bulk
loader) does not import the asyncio and ORM machinery of the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.engine.factory import (
        create_analytics_engine,
        create_async_engine,
        create_engine,
        session_settings_of,
    )
    from pgspatial.engine.options import SessionSettings
    from pgspatial.engine.retry import RetryPolicy, run_serializable, run_serializable_async
    from pgspatial.engine.routing import ReplicaSet, RoutingSession
    from pgspatial.engine.sessions import session_factory
    from pgspatial.engine.timeouts import lift_timeouts, lift_timeouts_async

_LAZY = {
    "ReplicaSet": "pgspatial.engine.routing",
    "RetryPolicy": "pgspatial.engine.retry",
    "RoutingSession": "pgspatial.engine.routing",
    "SessionSettings": "pgspatial.engine.options",
    "create_analytics_engine": "pgspatial.engine.factory",
    "create_async_engine": "pgspatial.engine.factory",
    "create_engine": "pgspatial.engine.factory",
    "lift_timeouts": "pgspatial.engine.timeouts",
    "lift_timeouts_async": "pgspatial.engine.timeouts",
    "run_serializable": "pgspatial.engine.retry",
    "run_serializable_async": "pgspatial.engine.retry",
    "session_factory": "pgspatial.engine.sessions",
    "session_settings_of": "pgspatial.engine.factory",
}

__all__ = [
    "ReplicaSet",
    "RetryPolicy",
    "RoutingSession",
    "SessionSettings",
    "create_analytics_engine",
    "create_async_engine",
    "create_engine",
    "lift_timeouts",
    "lift_timeouts_async",
    "run_serializable",
    "run_serializable_async",
    "session_factory",
    "session_settings_of",
]

__getattr__ = lazy_exports(__name__, _LAZY)
