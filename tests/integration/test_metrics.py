"""GeodesicMetrics: SQL and Python sides agree with each other and with pyproj Geod."""

import math

import pytest
from geoalchemy2 import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import LineString, Polygon
from sqlalchemy import Integer, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.metrics import GeodesicMetrics

GEOD = Geod(ellps="WGS84")
REL = 1e-4  # 0.01 %


class Base(DeclarativeBase):
    pass


class Area(GeodesicMetrics, Base):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326)


class Track(GeodesicMetrics, Base):
    __tablename__ = "tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("LINESTRING", srid=4326)


class Footprint(GeodesicMetrics, Base):
    """Same quantities from a projected column (NYC Long Island, US survey feet)."""

    __tablename__ = "footprints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=2263)


@pytest.fixture(scope="module")
def engine(pgspatial_engine):
    with pgspatial_engine.begin() as conn:
        Base.metadata.drop_all(conn)
        Base.metadata.create_all(conn)
    yield pgspatial_engine
    with pgspatial_engine.begin() as conn:
        Base.metadata.drop_all(conn)


def _star(lon, lat, radius_deg, spikes):
    points = []
    for i in range(2 * spikes):
        r = radius_deg if i % 2 == 0 else radius_deg * 0.45
        angle = math.pi * i / spikes
        points.append(
            (
                lon + r * math.cos(angle) / max(math.cos(math.radians(lat)), 0.2),
                lat + r * math.sin(angle),
            )
        )
    return Polygon(points)


polygons = st.builds(
    _star,
    lon=st.floats(-179, 179),
    lat=st.floats(-80, 80),
    radius_deg=st.floats(0.001, 0.5),
    spikes=st.integers(3, 9),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shape=polygons)
def test_polygon_area_and_perimeter(engine, shape):
    expected_area, expected_perimeter = GEOD.geometry_area_perimeter(shape)
    with Session(engine) as session:
        area = Area(geom=from_shape(shape, srid=4326))
        session.add(area)
        session.flush()
        sql_area, sql_perimeter, sql_length = session.execute(
            select(Area.area_m2, Area.perimeter_m, Area.length_m).where(Area.id == area.id)
        ).one()
        session.rollback()
    assert area.area_m2 == pytest.approx(abs(expected_area), rel=REL)
    assert area.perimeter_m == pytest.approx(expected_perimeter, rel=REL)
    assert sql_area == pytest.approx(area.area_m2, rel=REL)
    assert sql_perimeter == pytest.approx(area.perimeter_m, rel=REL)
    assert sql_length == 0 and area.length_m == 0


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    coords=st.lists(
        st.tuples(st.floats(-179, 179), st.floats(-80, 80)), min_size=2, max_size=6, unique=True
    )
)
def test_line_length(engine, coords):
    line = LineString(coords)
    expected = GEOD.geometry_length(line)
    with Session(engine) as session:
        track = Track(geom=from_shape(line, srid=4326))
        session.add(track)
        session.flush()
        sql_length = session.scalar(select(Track.length_m).where(Track.id == track.id))
        session.rollback()
    assert track.length_m == pytest.approx(expected, rel=REL)
    assert sql_length == pytest.approx(track.length_m, rel=REL)


def test_web_mercator_would_have_been_wrong(engine):
    """Errata 3: a 1 km east-west line at 40.75N measures ~1318 m in EPSG:3857."""
    lon2, _, _ = GEOD.fwd(-73.98, 40.75, 90, 1000)
    line = LineString([(-73.98, 40.75), (lon2, 40.75)])
    with Session(engine) as session:
        track = Track(geom=from_shape(line, srid=4326))
        session.add(track)
        session.flush()
        geodesic, mercator = session.execute(
            select(Track.length_m, text("ST_Length(ST_Transform(tracks.geom, 3857))")).where(
                Track.id == track.id
            )
        ).one()
        session.rollback()
    assert geodesic == pytest.approx(1000, rel=1e-6)
    assert mercator == pytest.approx(1318, rel=1e-3)


def test_projected_columns_are_measured_on_the_ground(engine):
    block = Polygon(
        [(985000, 200000), (985500, 200000), (985500, 200300), (985000, 200300)]
    )  # feet
    with Session(engine) as session:
        footprint = Footprint(geom=from_shape(block, srid=2263))
        session.add(footprint)
        session.flush()
        sql_area = session.scalar(select(Footprint.area_m2).where(Footprint.id == footprint.id))
        session.rollback()
    square_feet_to_m2 = 0.3048006096**2
    assert footprint.area_m2 == pytest.approx(
        500 * 300 * square_feet_to_m2, rel=2e-3
    )  # projection scale error
    assert sql_area == pytest.approx(footprint.area_m2, rel=REL)


def test_usable_in_where_and_order_by_and_planar_properties(engine):
    small = _star(-74.0, 40.7, 0.001, 5)
    large = _star(-73.9, 40.8, 0.01, 5)
    with Session(engine) as session:
        session.add_all(
            [Area(geom=from_shape(small, srid=4326)), Area(geom=from_shape(large, srid=4326))]
        )
        session.flush()
        ordered = session.scalars(
            select(Area).where(Area.area_m2 > 1000).order_by(Area.area_m2.desc())
        ).all()
        centroid, bbox, xmin = session.execute(
            select(Area.centroid, Area.bbox, Area.bbox[0]).where(Area.id == ordered[0].id)
        ).one()
        first = ordered[0]
        first_shape, python_centroid, python_bbox = to_shape(first.geom), first.centroid, first.bbox
        session.rollback()
    assert first_shape.equals(large)
    assert to_shape(centroid).equals_exact(to_shape(python_centroid), 1e-9)
    assert bbox == pytest.approx(python_bbox, abs=1e-9)
    assert bbox == pytest.approx(list(large.bounds), abs=1e-9)
    assert xmin == pytest.approx(large.bounds[0], abs=1e-9), "bbox[0] is xmin on both sides"
