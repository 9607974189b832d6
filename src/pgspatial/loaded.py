"""Type checks against optional libraries that never import them.

A value cannot be an instance of a class whose module was never imported, so asking
whether it is costs nothing when the library is absent from the process: the bulk
loader's core accepts SQLAlchemy connections and sessions as well as psycopg ones, yet
``pgspatial load`` runs without importing SQLAlchemy at all.
"""

from __future__ import annotations

import sys

__all__ = ["is_instance"]


def is_instance(value: object, module: str, name: str) -> bool:
    """``isinstance(value, module.name)``, False (without importing) when ``module`` is not
    loaded yet."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(value, cls)
