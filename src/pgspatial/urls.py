"""Conversions between the URL spellings that SQLAlchemy, psycopg and psql accept."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

__all__ = ["libpq_url", "sqlalchemy_url"]

_POSTGRES_SCHEMES = ("postgres", "postgresql")


def sqlalchemy_url(url: str | URL) -> URL:
    """The URL with the psycopg 3 driver: ``postgres://`` and ``postgresql://`` both map."""
    parsed = url if isinstance(url, URL) else make_url(_normalise_scheme(str(url)))
    if parsed.get_backend_name() == "postgresql" and parsed.drivername in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def libpq_url(url: str | URL) -> str:
    """The URL as psql and psycopg.connect() take it (no ``+driver`` part)."""
    parsed = sqlalchemy_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _normalise_scheme(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url
