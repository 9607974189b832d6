"""The reference service: a spatial API on pgspatial, and OGC API - Features for GIS clients.

Install it with the ``service`` extra (``pip install 'pgspatial[service]'``). Build the app
with :func:`create_app`; nothing here creates an engine or reads settings at import time::

    from pgspatial.service import ServiceSettings, create_app
    app = create_app(ServiceSettings())          # DATABASE_URL, or the embedded cluster

Modules: ``settings`` (limits), ``state`` (engines and the collection registry, made by the
lifespan), ``errors`` (exception -> problem+json), ``streaming`` (DB-built features to the
client), one router per concern: ``domain`` (parcels), ``ogc`` (OGC API Features),
``tiles``, ``health``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.service.app import create_app
    from pgspatial.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]

__getattr__ = lazy_exports(
    __name__,
    {"create_app": "pgspatial.service.app", "ServiceSettings": "pgspatial.service.settings"},
)
