"""The ``pgspatial`` command: a thin adapter over the Python API."""

from __future__ import annotations

from pgspatial.cli.app import app, main

__all__ = ["app", "main"]
