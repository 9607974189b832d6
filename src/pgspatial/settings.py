"""Explicit settings, read from the environment when asked (never at import time).

Variables use the ``PGSPATIAL_`` prefix, except ``DATABASE_URL`` and ``PG_BINDIR`` which
keep the names other tools already use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Configuration for pgspatial; build one with ``Settings()`` and pass it around."""

    model_config = SettingsConfigDict(env_prefix="PGSPATIAL_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "PGSPATIAL_DATABASE_URL"),
        description="Use this server instead of the embedded cluster.",
    )
    home: Path | None = Field(
        default=None,
        description="Where the embedded cluster keeps its state (default: <project>/.pgspatial).",
    )
    pg_bindir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PG_BINDIR", "PGSPATIAL_PG_BINDIR"),
        description="Directory holding initdb, pg_ctl and postgres; searched alone when set.",
    )
    server_user: str = Field(
        default="postgres",
        description="Unprivileged OS user that runs the embedded server when invoked as root.",
    )
    database_name: str = Field(default="pgspatial", description="Database the cluster creates.")
