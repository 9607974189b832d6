"""The database a command works on, as one psycopg connection with pgspatial's session
settings, for the commands that need no SQLAlchemy (``pgspatial load``).

A command's start-up is part of its cost: importing SQLAlchemy, GeoAlchemy2 and the ORM
took longer than the COPY of 100k polygons (measured on the bench's GeoPackage). The
connection gets what :func:`pgspatial.create_engine` gives its connections (application
name, timeouts and planner settings as startup options), at ``DATABASE_URL`` or the
embedded cluster, which is started when it is not running.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pgspatial.engine.options import SessionSettings, connect_args
from pgspatial.errors import DatabaseUnavailable
from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings
from pgspatial.urls import libpq_conninfo

__all__ = ["connect_for_command"]


def connect_for_command(settings: Settings) -> psycopg.Connection[Any]:
    """A new psycopg connection (not in autocommit) to the command's database.

    Raises DatabaseUnavailable, naming the server (never the password), when it cannot
    connect. Not for PgBouncer mode, whose settings go per transaction: use an engine.
    """
    conninfo = libpq_conninfo(settings.database_url or resolve_database_url(settings))
    session = SessionSettings.from_settings(settings)
    try:
        return psycopg.connect(conninfo, **connect_args(settings, session, pgbouncer=False))
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"cannot connect to {_shown(conninfo)}: {str(error).strip()}. Check that the "
            "server runs and DATABASE_URL is right."
        ) from None


def _shown(conninfo: str) -> str:
    """The server and database of ``conninfo``, without its password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured database"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{parts.get('host') or 'localhost'}{port}/{parts.get('dbname') or ''}"
