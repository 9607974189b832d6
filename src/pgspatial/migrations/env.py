"""``run_migrations``: the whole body of a spatial project's Alembic ``env.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, pool

from pgspatial.migrations.autogen import include_object, render_item

__all__ = ["run_migrations"]


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
