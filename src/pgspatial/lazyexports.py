"""Package attributes imported on first use (PEP 562), so ``import pgspatial`` stays cheap.

A package lists which module defines each public name; the first access imports that
module and keeps the value in the package, so later accesses are plain attribute lookups.
The loader's core, the CLI and short scripts then import only what they use (``pgspatial
load`` never imports SQLAlchemy, GeoAlchemy2 or pydantic models it does not need).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``sources`` maps each lazy name to the
    module that defines it; any other name raises AttributeError as usual."""

    def module_getattr(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(source), name)
        setattr(sys.modules[package], name, value)
        return value

    return module_getattr
