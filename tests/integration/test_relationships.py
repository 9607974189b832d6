"""spatial_relationship loads without N+1: joinedload is one statement, selectinload two."""

import pytest
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, selectinload

from pgspatial.columns import spatial_column
from pgspatial.engine import create_engine
from pgspatial.relationships import spatial_relationship
from pgspatial.sampledata import load_sample_data
from pgspatial.testing import count_statements


class Base(DeclarativeBase):
    pass


class District(Base):
    __tablename__ = "zoning_districts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_code: Mapped[str] = mapped_column(String(16))
    geom: Mapped[WKBElement] = spatial_column("MULTIPOLYGON", srid=4326)
    parcels: Mapped[list["Lot"]] = spatial_relationship(
        "Lot", "District.geom", remote_geometry="Lot.geom", predicate="contains"
    )


class Lot(Base):
    __tablename__ = "parcels"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    zoning_id: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326)
    district: Mapped[District | None] = spatial_relationship(
        "District", "Lot.geom", predicate="point_on_surface_within", uselist=False
    )


@pytest.fixture(scope="module")
def engine(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=1_000, seed=8)
        yield engine
        engine.dispose()


def test_joinedload_is_one_statement_and_matches_the_generator(engine):
    with Session(engine) as session, count_statements(session) as counter:
        lots = session.scalars(select(Lot).options(joinedload(Lot.district)).order_by(Lot.id)).all()
        pairs = [(lot.zoning_id, lot.district.id if lot.district else None) for lot in lots]
    assert counter.count == 1
    assert len(pairs) == 1_000
    assert all(zoning_id == district_id for zoning_id, district_id in pairs)


def test_selectinload_is_two_statements(engine):
    with Session(engine) as session, count_statements(session) as counter:
        districts = session.scalars(select(District).options(selectinload(District.parcels))).all()
        total = sum(len(d.parcels) for d in districts)
    assert counter.count == 2
    assert total == 1_000


def test_lazy_loading_is_refused(engine):
    with Session(engine) as session:
        lot = session.scalars(select(Lot).limit(1)).one()
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = lot.district


def test_unknown_predicate():
    with pytest.raises(ValueError, match="Unknown predicate"):
        spatial_relationship("X", "Y.geom", predicate="touches")  # type: ignore[arg-type]
