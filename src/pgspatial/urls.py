"""Conversions between the URL spellings that SQLAlchemy, psycopg and psql accept.

SQLAlchemy is imported by the functions that return its ``URL``; :func:`libpq_conninfo`
needs nothing, so a command that connects with psycopg alone (``pgspatial load``) does not
pay for SQLAlchemy's import.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["libpq_conninfo", "libpq_url", "sqlalchemy_url"]

_POSTGRES_SCHEMES = ("postgres", "postgresql")
_DRIVER_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)


def sqlalchemy_url(url: str | URL) -> URL:
    """The URL with the psycopg 3 driver: ``postgres://`` and ``postgresql://`` both map."""
    from sqlalchemy.engine import URL, make_url

    parsed = url if isinstance(url, URL) else make_url(_normalise_scheme(str(url)))
    if parsed.get_backend_name() == "postgresql" and parsed.drivername in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def libpq_url(url: str | URL) -> str:
    """The URL as psql and psycopg.connect() take it (no ``+driver`` part)."""
    parsed = sqlalchemy_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def libpq_conninfo(url: str) -> str:
    """A PostgreSQL URL in any of those spellings as libpq takes it, without SQLAlchemy:
    only the scheme changes (``postgresql+psycopg://`` -> ``postgresql://``); the rest is
    passed to libpq as written."""
    return _DRIVER_SCHEME.sub("postgresql://", url.strip(), count=1)


def _normalise_scheme(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url
