"""Throwaway databases for tests that run DDL, cloned from a template that has PostGIS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from pgspatial.errors import DatabaseUnavailable
from pgspatial.urls import libpq_url, sqlalchemy_url

__all__ = ["TEMPLATE_DATABASE", "FreshDatabase", "fresh_database"]

TEMPLATE_DATABASE = "pgspatial_template"
_EXTENSIONS = ("postgis", "pgstattuple", "pg_stat_statements")
_TEMPLATE_LOCK = 0x5067_7370  # advisory lock key for creating the template ("Pgsp")


@dataclass
class FreshDatabase:
    """A brand-new database with the spatial extensions; dropped when the test ends."""

    name: str
    url: str
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        """An engine on this database (created on first use, disposed before the drop)."""
        if self._engine is None:
            self._engine = create_engine(self.url, poolclass=NullPool)
        return self._engine


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"Cannot connect to {sqlalchemy_url(url)!r}: {exc}") from exc


def _ensure_template(admin: psycopg.Connection[tuple[object, ...]], server_url: str) -> None:
    admin.execute("SELECT pg_advisory_lock(%s)", (_TEMPLATE_LOCK,))
    try:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE_DATABASE,)
        ).fetchone()
        if exists:
            return
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DATABASE)))
        template_url = sqlalchemy_url(server_url).set(database=TEMPLATE_DATABASE)
        with _admin(template_url.render_as_string(hide_password=False)) as conn:
            available = {
                row[0]
                for row in conn.execute("SELECT name FROM pg_available_extensions").fetchall()
            }
            for extension in _EXTENSIONS:
                if extension in available:
                    conn.execute(
                        sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                            sql.Identifier(extension)
                        )
                    )
    finally:
        admin.execute("SELECT pg_advisory_unlock(%s)", (_TEMPLATE_LOCK,))


@contextmanager
def fresh_database(server_url: str) -> Iterator[FreshDatabase]:
    """Create a database from the PostGIS template on ``server_url``'s server; drop it after.

    The template (``pgspatial_template``) is made once per server. Needs the CREATEDB
    privilege; the drop uses ``WITH (FORCE)`` so a leaked connection cannot block it.
    """
    name = f"pgspatial_test_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as admin:
        _ensure_template(admin, server_url)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DATABASE)
            )
        )
    url = sqlalchemy_url(server_url).set(database=name).render_as_string(hide_password=False)
    database = FreshDatabase(name=name, url=url)
    try:
        yield database
    finally:
        if database._engine is not None:
            database._engine.dispose()
        with _admin(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
