"""``create_engine`` and ``create_async_engine``: SQLAlchemy's, with production defaults.

Strict supersets of SQLAlchemy's functions: the URL is positional, every SQLAlchemy keyword
passes through and wins over pgspatial's defaults, and a plain ``Engine``/``AsyncEngine``
comes back. They never start a server. What they add:

- pool defaults (size, overflow, pre-ping, recycle) and per-connection timeouts and planner
  settings from :class:`~pgspatial.settings.Settings`;
- PgBouncer mode (``pgbouncer=True``): no prepared statements, settings per transaction;
- pool guards (:mod:`pgspatial.engine.pool`): a connection whose session is not idle (left
  in a transaction or mid-COPY, e.g. by a request whose client disconnected) is never
  pooled or handed out; the pool replaces it instead of failing the next request;
- errors translated to the PgSpatialError tree (``QueryTimeout``, ``InvalidGeometry``, ...).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL

from pgspatial.dberrors import install_error_translation
from pgspatial.engine.options import SessionSettings, connect_args
from pgspatial.engine.pool import install_pool_guards
from pgspatial.errors import ConfigError
from pgspatial.loaded import is_instance
from pgspatial.settings import Settings
from pgspatial.urls import sqlalchemy_url

if TYPE_CHECKING:  # sqlalchemy.ext.asyncio (and the ORM it imports) only for async engines
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["create_analytics_engine", "create_async_engine", "create_engine", "session_settings_of"]

# What pgspatial configured on each engine it made (engines have no info dict of their own).
_CONFIGURED: weakref.WeakKeyDictionary[Engine, SessionSettings] = weakref.WeakKeyDictionary()


def _resolve_url(url: str | URL | None, settings: Settings, *, async_: bool) -> URL:
    raw = url if url is not None else settings.database_url
    if raw is None:
        raise ConfigError(
            "No database URL: pass one to create_engine() or set DATABASE_URL. For the "
            "embedded cluster use pgspatial.local.resolve_database_url(Settings())."
        )
    resolved = sqlalchemy_url(raw)
    if async_ and resolved.drivername == "postgresql+psycopg":
        resolved = resolved.set(drivername="postgresql+psycopg_async")
    return resolved


def _engine_kwargs(
    settings: Settings, session: SessionSettings, pgbouncer: bool, user_kw: dict[str, Any]
) -> dict[str, Any]:
    """The keywords for SQLAlchemy: pgspatial's defaults, then the caller's on top."""
    driver_args = connect_args(settings, session, pgbouncer=pgbouncer)
    driver_args.update(user_kw.pop("connect_args", {}))
    kwargs: dict[str, Any] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_pre_ping": settings.pool_pre_ping,
        "pool_recycle": settings.pool_recycle_s,
        "connect_args": driver_args,
    }
    if user_kw.get("poolclass") is not None:
        kwargs.pop("pool_size")
        kwargs.pop("max_overflow")
    kwargs.update(user_kw)
    return kwargs


def _apply_per_transaction(engine: Engine, session: SessionSettings) -> None:
    statement = session.set_local_sql()

    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(statement)

    event.listen(engine, "begin", on_begin)


def _finish(engine: Engine, session: SessionSettings, pgbouncer: bool) -> Engine:
    _CONFIGURED[engine] = session
    # Sync and async alike: for an AsyncEngine this is its sync_engine, whose pool events
    # see SQLAlchemy's adapter around the psycopg AsyncConnection.
    install_pool_guards(engine)
    if pgbouncer:
        _apply_per_transaction(engine, session)
    timeout = session.get("statement_timeout")
    return install_error_translation(engine, statement_timeout_ms=int(timeout) if timeout else None)


def session_settings_of(engine: Engine | AsyncEngine) -> SessionSettings | None:
    """The settings pgspatial applies on ``engine``'s connections (None if not ours)."""
    if is_instance(engine, "sqlalchemy.ext.asyncio", "AsyncEngine"):
        sync = cast("AsyncEngine", engine).sync_engine
    else:
        sync = cast("Engine", engine)
    return _CONFIGURED.get(sync)


def create_engine(
    url: str | URL | None = None,
    *,
    settings: Settings | None = None,
    pgbouncer: bool | None = None,
    statement_timeout_ms: int | None = None,
    **kw: Any,
) -> Engine:
    """A SQLAlchemy ``Engine`` with pgspatial's production defaults.

    ``url`` defaults to ``settings.database_url`` (DATABASE_URL). ``pgbouncer`` and
    ``statement_timeout_ms`` override the settings; other keywords go to SQLAlchemy.
    """
    settings = settings or Settings()
    bouncer = settings.pgbouncer if pgbouncer is None else pgbouncer
    session = SessionSettings.from_settings(settings, statement_timeout_ms=statement_timeout_ms)
    engine = sqlalchemy.create_engine(
        _resolve_url(url, settings, async_=False), **_engine_kwargs(settings, session, bouncer, kw)
    )
    return _finish(engine, session, bouncer)


def create_async_engine(
    url: str | URL | None = None,
    *,
    settings: Settings | None = None,
    pgbouncer: bool | None = None,
    statement_timeout_ms: int | None = None,
    **kw: Any,
) -> AsyncEngine:
    """The asyncio twin of :func:`create_engine` (psycopg's async driver)."""
    settings = settings or Settings()
    bouncer = settings.pgbouncer if pgbouncer is None else pgbouncer
    session = SessionSettings.from_settings(settings, statement_timeout_ms=statement_timeout_ms)
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine

    engine = sa_create_async_engine(
        _resolve_url(url, settings, async_=True), **_engine_kwargs(settings, session, bouncer, kw)
    )
    _finish(engine.sync_engine, session, bouncer)
    return engine


def create_analytics_engine(
    url: str | URL | None = None, *, settings: Settings | None = None, **kw: Any
) -> Engine:
    """An engine for heavy jobs (ST_ClusterDBSCAN, big spatial joins): a long timeout and a
    small pool, kept apart from the transactional pool so it cannot starve it.
    """
    settings = settings or Settings()
    kw.setdefault("pool_size", 2)
    kw.setdefault("max_overflow", 2)
    return create_engine(
        url, settings=settings, statement_timeout_ms=settings.analytics_statement_timeout_ms, **kw
    )
