"""spatial_column against a real PostGIS: exactly the indexes and constraints it promises."""

import pytest
from geoalchemy2 import WKBElement
from sqlalchemy import Integer, MetaData, String, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.dberrors import install_error_translation
from pgspatial.errors import ConfigError, InvalidGeometry, SridMismatch

BOWTIE = "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"
SQUARE = "POLYGON((-74 40.7, -73.99 40.7, -73.99 40.71, -74 40.71, -74 40.7))"


class Base(DeclarativeBase):
    pass


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20), default="x")
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326, geodesic_index=True)


class Road(Base):
    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column(
        "LINESTRING", srid=2263, index_name="roads_geom_gist", index_where="id > 0"
    )
    route: Mapped[WKBElement | None] = spatial_column(
        "LINESTRING", srid=4326, geography=True, nullable=True
    )


class ConventionBase(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "%(table_name)s_%(column_0_name)s_idx",
            "ck": "%(table_name)s_%(constraint_name)s_ck",
        }
    )


class Site(ConventionBase):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POINT", srid=4326)


@pytest.fixture
def db(pgspatial_fresh_database):
    engine = install_error_translation(pgspatial_fresh_database.engine)
    Base.metadata.create_all(engine)
    ConventionBase.metadata.create_all(engine)
    return engine


def _indexes(engine, table):
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t ORDER BY 1"),
                {"t": table},
            ).all()
        )


def _checks(engine, table):
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = CAST(:t AS regclass) AND contype = 'c' ORDER BY 1"
                ),
                {"t": table},
            ).all()
        )


def test_exactly_one_gist_index_plus_the_geodesic_one(db):
    indexes = _indexes(db, "lots")
    gist = {name: d for name, d in indexes.items() if "USING gist" in d}
    assert set(gist) == {"ix_lots_geom", "ix_lots_geom_geography"}
    assert gist["ix_lots_geom"].endswith("USING gist (geom)")
    assert gist["ix_lots_geom_geography"].endswith("USING gist (((geom)::geography))")


def test_custom_index_name_partial_index_and_geography(db):
    indexes = _indexes(db, "roads")
    assert indexes["roads_geom_gist"].endswith("USING gist (geom) WHERE (id > 0)")
    assert indexes["ix_roads_route"].endswith("USING gist (route)")
    assert len([d for d in indexes.values() if "gist" in d]) == 2


def test_naming_convention_is_honoured(db):
    assert "sites_geom_idx" in _indexes(db, "sites")
    assert set(_checks(db, "sites")) == {"sites_geom_valid_ck"}


def test_checks_and_not_null(db):
    assert _checks(db, "lots") == {"ck_lots_geom_valid": "CHECK (st_isvalid(geom))"}
    assert _checks(db, "roads") == {
        "ck_roads_geom_valid": "CHECK (st_isvalid(geom))",
        "ck_roads_route_valid": "CHECK (st_isvalid((route)::geometry))",
    }
    with db.connect() as conn:
        nullable = dict(
            conn.execute(
                text(
                    "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'roads'"
                )
            ).all()
        )
    assert nullable == {"id": "NO", "geom": "NO", "route": "YES"}


def test_geometry_columns_show_type_and_srid(db):
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
                "WHERE f_table_name IN ('lots', 'roads', 'sites') ORDER BY 1"
            )
        ).all()
        geography = conn.execute(
            text("SELECT type, srid FROM geography_columns WHERE f_table_name = 'roads'")
        ).one()
    assert [tuple(r) for r in rows] == [
        ("lots", "geom", "POLYGON", 4326),
        ("roads", "geom", "LINESTRING", 2263),
        ("sites", "geom", "POINT", 4326),
    ]
    assert tuple(geography) == ("LineString", 4326)


def test_the_geodesic_predicate_uses_the_geodesic_index(db):
    from sqlalchemy import func
    from sqlalchemy.dialects import postgresql

    from pgspatial.columns import geography_of

    with db.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        stmt = select(Lot.id).where(
            func.ST_DWithin(
                geography_of(Lot.geom),
                geography_of(func.ST_SetSRID(func.ST_MakePoint(-74, 40.7), 4326)),
                500,
            )
        )
        compiled = stmt.compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_lots_geom_geography" in plan


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        (BOWTIE, InvalidGeometry, "Self-intersection"),
        ("POINT(-74 40.7)", InvalidGeometry, "POINT"),
        ("SRID=3857;" + SQUARE, SridMismatch, "3857"),
    ],
)
def test_bad_writes_are_refused_through_the_orm(db, value, error, fragment):
    with Session(db) as session:
        session.add(Lot(geom=value))
        with pytest.raises(error, match=fragment) as caught:
            session.flush()
        assert "lots.geom" in str(caught.value)
        session.rollback()
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lots")).scalar() == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (BOWTIE, InvalidGeometry),
        ("POINT(-74 40.7)", InvalidGeometry),
        ("SRID=3857;" + SQUARE, SridMismatch),
    ],
)
def test_bad_writes_are_refused_through_core(db, value, error):
    with pytest.raises(error, match=r"lots\.geom"), db.begin() as conn:
        conn.execute(insert(Lot.__table__).values(geom=value))
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lots")).scalar() == 0


def test_the_database_constraint_is_the_last_line_of_defence(db):
    with pytest.raises(InvalidGeometry, match="ck_lots_geom_valid"), db.begin() as conn:
        conn.execute(
            text(f"INSERT INTO lots (name, geom) VALUES ('raw', ST_GeomFromText('{BOWTIE}', 4326))")
        )
    with pytest.raises(SridMismatch, match="SRID 3857"), db.begin() as conn:
        conn.execute(
            text(f"INSERT INTO lots (name, geom) VALUES ('raw', ST_GeomFromText('{SQUARE}', 3857))")
        )


def test_a_plain_engine_still_refuses_via_the_constraint(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    Base.metadata.create_all(engine)
    with pytest.raises(IntegrityError, match="ck_lots_geom_valid"), engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO lots (name, geom) VALUES ('raw', ST_GeomFromText('{BOWTIE}', 4326))")
        )


def test_good_writes_round_trip(db):
    with Session(db) as session:
        session.add(Lot(geom=SQUARE))
        session.commit()
        stored = session.scalars(select(Lot.geom)).one()
    assert stored.srid == 4326


def test_srid_is_required():
    with pytest.raises(ConfigError, match="explicit SRID"):
        spatial_column("POLYGON", srid=0)
    with pytest.raises(ConfigError, match="is not supported"):
        spatial_column("POLYGONE", srid=4326)
    with pytest.raises(ConfigError, match="geodesic_index"):
        spatial_column("POLYGON", srid=3857, geodesic_index=True)
    assert spatial_column("POLYGON", srid=0, allow_unknown_srid=True) is not None
