"""Geodesic truth: within_distance and nearest return exactly what the spheroid says.

The truth is ``ST_Distance(geom::geography, point::geography, true)`` computed with index
scans disabled. Points and radii come from hypothesis, including latitudes up to ±85°
and the antimeridian; tables are geometry(4326) with and without a geodesic index,
geography, EPSG:3857 and EPSG:2263 (US survey feet).
"""

import pytest
from geoalchemy2 import WKBElement
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.engine import create_engine
from pgspatial.predicates import nearest, within_distance
from pgspatial.sampledata import load_sample_data

TOLERANCE_M = 0.001


class Base(DeclarativeBase):
    pass


class World(Base):
    __tablename__ = "world"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POINT", srid=4326)


class WorldGeodesic(Base):
    __tablename__ = "world_geodesic"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POINT", srid=4326, geodesic_index=True)


class WorldGeography(Base):
    __tablename__ = "world_geography"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POINT", srid=4326, geography=True)


class World3857(Base):
    __tablename__ = "world_3857"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POINT", srid=3857)


class Nyc2263(Base):
    __tablename__ = "nyc_2263"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=2263)


# 12,000 points: uniform on the sphere, crowded at the antimeridian and near the poles.
WORLD_SQL = """
INSERT INTO world (id, geom)
SELECT g, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM (
  SELECT g,
    CASE WHEN g % 3 = 1 THEN 180 - 2 * random() * (CASE WHEN random() < 0.5 THEN 1 ELSE -1 END) + 0
         ELSE 360 * random() - 180 END AS lon_raw,
    CASE WHEN g % 3 = 2 THEN (80 + 5 * random()) * (CASE WHEN random() < 0.5 THEN 1 ELSE -1 END)
         ELSE degrees(asin(2 * random() - 1)) * 85 / 90 END AS lat
  FROM generate_series(1, 12000) g
) s, LATERAL (SELECT CASE WHEN lon_raw > 180 THEN lon_raw - 360 ELSE lon_raw END AS lon) l
"""


@pytest.fixture(scope="module")
def world(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=5_000, seed=5)
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("SELECT setseed(0.42)"))
            conn.execute(text(WORLD_SQL))
            conn.execute(text("INSERT INTO world_geodesic SELECT id, geom FROM world"))
            conn.execute(text("INSERT INTO world_geography SELECT id, geom::geography FROM world"))
            conn.execute(
                text(
                    "INSERT INTO world_3857 SELECT id, ST_Transform(geom, 3857) FROM world WHERE abs(ST_Y(geom)) < 84"
                )
            )
            conn.execute(
                text("INSERT INTO nyc_2263 SELECT id, ST_Transform(geom, 2263) FROM parcels")
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        yield engine
        engine.dispose()


def _truth(engine, model, lon, lat):
    """{id: spheroid distance} for every row, computed without any index."""
    table = model.__tablename__
    column = (
        "geom"
        if model is WorldGeography
        else (
            "geom::geography"
            if model in (World, WorldGeodesic)
            else "ST_Transform(geom, 4326)::geography"
        )
    )
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_indexscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        rows = conn.execute(
            text(
                f"SELECT id, ST_Distance({column}, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, true) FROM {table}"
            ),
            {"lon": lon, "lat": lat},
        ).all()
    return dict(rows)


def _check_within(engine, model, lon, lat, radius):
    truth = _truth(engine, model, lon, lat)
    with engine.connect() as conn:
        got = set(
            conn.scalars(select(model.id).where(within_distance(model.geom, (lon, lat), radius)))
        )
    expected = {i for i, d in truth.items() if d <= radius}
    for row in got ^ expected:
        assert abs(truth[row] - radius) <= TOLERANCE_M, (
            f"row {row} at {truth[row]:.4f} m {'returned' if row in got else 'missed'} for r={radius}"
        )


def _check_nearest(engine, model, lon, lat, k):
    truth = _truth(engine, model, lon, lat)
    with engine.connect() as conn:
        got = list(conn.scalars(nearest(select(model.id), model.geom, (lon, lat), k=k)))
    expected = sorted(truth.values())[:k]
    assert len(got) == len(expected)
    for rank, (row, want) in enumerate(zip(got, expected, strict=True)):
        assert abs(truth[row] - want) <= TOLERANCE_M, (
            f"rank {rank}: got {truth[row]:.3f} m, truth {want:.3f} m"
        )


longitudes = st.one_of(st.floats(-180, 180), st.floats(178.5, 180), st.floats(-180, -178.5))
latitudes = st.one_of(st.floats(-85, 85), st.floats(78, 85), st.floats(-85, -78))
radii = st.floats(0, 6.5).map(lambda e: 10**e)
HYP = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize(
    "model", [World, WorldGeodesic, WorldGeography, World3857], ids=lambda m: m.__tablename__
)
@HYP
@given(lon=longitudes, lat=latitudes, radius=radii)
def test_within_distance_matches_the_spheroid(world, model, lon, lat, radius):
    _check_within(world, model, lon, lat, radius)


@pytest.mark.parametrize(
    "model", [World, WorldGeodesic, WorldGeography, World3857], ids=lambda m: m.__tablename__
)
@HYP
@given(lon=longitudes, lat=latitudes, k=st.integers(1, 12))
def test_nearest_matches_the_spheroid(world, model, lon, lat, k):
    _check_nearest(world, model, lon, lat, k)


nyc_lon = st.floats(-74.1, -73.7)
nyc_lat = st.floats(40.6, 40.9)


@HYP
@given(lon=nyc_lon, lat=nyc_lat, radius=st.floats(0, 4.5).map(lambda e: 10**e))
def test_within_distance_in_us_feet(world, lon, lat, radius):
    _check_within(world, Nyc2263, lon, lat, radius)


@HYP
@given(lon=nyc_lon, lat=nyc_lat, k=st.integers(1, 12))
def test_nearest_in_us_feet(world, lon, lat, k):
    _check_nearest(world, Nyc2263, lon, lat, k)
