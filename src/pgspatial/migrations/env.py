"""``run_migrations``: the whole body of a spatial project's Alembic ``env.py``."""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, pool

from pgspatial.errors import ConfigError
from pgspatial.migrations.autogen import include_object, render_item

__all__ = ["load_metadata", "run_migrations"]


def load_metadata(reference: str) -> MetaData:
    """The MetaData named by ``package.module:Attr`` (a MetaData or a declarative base).

    The current directory is importable, as with Alembic's ``prepend_sys_path = .``.
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"Expected MODULE:ATTR such as 'app.models:Base', got {reference!r}.")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target: object = import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"Cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}.")
        target = getattr(target, part)
    metadata = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise ConfigError(f"{reference} is neither a MetaData nor a declarative base.")
    return metadata


def _database_url(context: Any) -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    if configured:
        return str(configured)
    from pgspatial.local import resolve_database_url
    from pgspatial.settings import Settings

    return resolve_database_url(Settings())


def run_migrations(context: Any, target_metadata: MetaData | None, **configure: Any) -> None:
    """Run Alembic online or offline with spatial-aware autogenerate options.

    The URL is ``sqlalchemy.url`` from alembic.ini when set, else ``DATABASE_URL``, else
    the embedded cluster. Extra keywords go to ``context.configure``.
    """
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "include_object": include_object,
        "render_item": render_item,
        "compare_type": True,
        "transaction_per_migration": True,
        **configure,
    }
    url = _database_url(context)
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
