"""Explicit settings, read from the environment when asked (never at import time).

Variables use the ``PGSPATIAL_`` prefix, except ``DATABASE_URL`` and ``PG_BINDIR`` which
keep the names other tools already use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Configuration for pgspatial; build one with ``Settings()`` and pass it around."""

    model_config = SettingsConfigDict(
        env_prefix="PGSPATIAL_", extra="ignore", frozen=True, enable_decoding=False
    )

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

    # -- engines (pgspatial.create_engine) ------------------------------------------------
    pool_size: int = Field(default=10, ge=1, description="Connections kept in each pool.")
    max_overflow: int = Field(default=20, ge=0, description="Extra connections under load.")
    pool_recycle_s: int = Field(default=1800, description="Recycle connections older than this.")
    pool_pre_ping: bool = Field(default=True, description="Test connections on checkout.")
    statement_timeout_ms: int = Field(default=30_000, ge=0, description="0 disables it.")
    lock_timeout_ms: int = Field(default=10_000, ge=0, description="0 disables it.")
    idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0, description="0 disables.")
    analytics_statement_timeout_ms: int = Field(
        default=600_000, ge=0, description="statement_timeout of create_analytics_engine()."
    )
    random_page_cost: float | None = Field(default=1.1, description="SSD: random ~ sequential.")
    effective_cache_size: str | None = Field(default="8GB", description="OS cache estimate.")
    work_mem: str | None = Field(default="64MB", description="Per sort/hash node.")
    application_name: str = Field(default="pgspatial", description="Shown in pg_stat_activity.")
    pgbouncer: bool = Field(
        default=False, description="Connections go through PgBouncer in transaction mode."
    )
    replica_urls: tuple[str, ...] = Field(
        default=(), description="Read replicas for session_factory routing (comma-separated)."
    )

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
