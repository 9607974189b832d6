"""Example models: ``Parcel`` and ``ZoningDistrict``, mapped the pgspatial way.

They map the tables :func:`pgspatial.sampledata.load_sample_data` creates, and they are
what the reference service and the docs use. Copy them as a template for your own.
"""

from __future__ import annotations

from decimal import Decimal

from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pgspatial.columns import spatial_column
from pgspatial.metrics import GeodesicMetrics

__all__ = ["Base", "Parcel", "ZoningDistrict"]


class Base(DeclarativeBase):
    """Declarative base of the example models."""


class ZoningDistrict(GeodesicMetrics, Base):
    """A zoning district: a MultiPolygon with a zone code such as R6A or C4-2."""

    __tablename__ = "zoning_districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    zone_code: Mapped[str] = mapped_column(String(16))
    geom: Mapped[WKBElement] = spatial_column("MULTIPOLYGON", srid=4326)

    parcels: Mapped[list[Parcel]] = relationship(back_populates="zoning", lazy="raise")


class Parcel(GeodesicMetrics, Base):
    """A tax lot: a Polygon in EPSG:4326 with its land use and zoning district."""

    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    parcel_id: Mapped[str] = mapped_column(String(50), unique=True)
    zoning_id: Mapped[int | None] = mapped_column(ForeignKey("zoning_districts.id"), index=True)
    land_use: Mapped[str] = mapped_column(String(32))
    year_built: Mapped[int | None] = mapped_column(Integer)
    assessed_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326)

    # lazy="raise": a to-one spatial relationship loaded lazily is an N+1 in disguise.
    zoning: Mapped[ZoningDistrict | None] = relationship(back_populates="parcels", lazy="raise")
