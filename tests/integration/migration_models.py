"""Models for the Alembic tests: a custom naming convention, CHECKs and a geodesic index."""

from geoalchemy2 import WKBElement
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.columns import spatial_column


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
        }
    )


class District(Base):
    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    geom: Mapped[WKBElement] = spatial_column("MULTIPOLYGON", srid=4326)


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326, geodesic_index=True)


class Route(Base):
    __tablename__ = "routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[WKBElement] = spatial_column("LINESTRING", srid=4326, geography=True)
    local: Mapped[WKBElement | None] = spatial_column("LINESTRING", srid=2263, nullable=True)
