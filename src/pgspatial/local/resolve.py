"""Which database a command should use: DATABASE_URL, or the embedded cluster."""

from __future__ import annotations

from pgspatial.local.cluster import LocalCluster
from pgspatial.settings import Settings
from pgspatial.urls import sqlalchemy_url

__all__ = ["resolve_database_url"]


def resolve_database_url(settings: Settings, *, start: bool = True) -> str:
    """``DATABASE_URL`` when set (never starting a server), else the embedded cluster's URL.

    With ``start=True`` the embedded cluster is started when it is not running.
    """
    if settings.database_url:
        return sqlalchemy_url(settings.database_url).render_as_string(hide_password=False)
    cluster = LocalCluster(settings)
    if start:
        status = cluster.start()
        assert status.url is not None
        return status.url
    return cluster.url()
