"""Engines and sessions configured for spatial workloads (see each module's docstring)."""

from __future__ import annotations

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
