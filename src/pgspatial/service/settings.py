"""Settings of the reference service: the database (pgspatial's Settings) and the limits.

``ServiceSettings()`` reads ``PGSPATIAL_SERVICE_*`` variables; the database side is the
usual :class:`pgspatial.Settings` (``DATABASE_URL``, ``PGSPATIAL_*``). Never a singleton:
:func:`pgspatial.service.create_app` takes one explicitly.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pgspatial.settings import Settings

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """What the service connects to and how much one request may ask for."""

    model_config = SettingsConfigDict(env_prefix="PGSPATIAL_SERVICE_", extra="ignore", frozen=True)

    database: Settings = Field(default_factory=Settings, description="pgspatial's settings.")
    database_url: str | None = Field(
        default=None,
        description="Use this database; default: DATABASE_URL, else the embedded cluster.",
    )
    default_limit: int = Field(default=10, ge=1, description="Features per page by default.")
    max_limit: int = Field(default=10_000, ge=1, description="Most features in one page.")
    max_bbox_area_deg2: float = Field(
        default=1.0, gt=0, description="Largest bbox (square degrees) /parcels accepts."
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Largest request body.")
    tile_max_features: int = Field(
        default=50_000, ge=1, description="Candidate features above which a tile is refused."
    )
    catalog_schemas: tuple[str, ...] | None = Field(
        default=None, description="Publish only these schemas (default: every schema)."
    )
    gzip_minimum_bytes: int = Field(default=1024, ge=0, description="Compress above this.")
