"""Index-aware predicates on 200,000 generated parcels: every one uses an index, with no
seqscan tricks, and the geodesic ones return exactly what the spheroid says."""

import pytest
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.predicates import (
    contains,
    covered_by,
    in_bbox,
    in_tile,
    intersects,
    nearest,
    tile_envelope,
    within_distance,
)
from pgspatial.sampledata.models import Parcel
from pgspatial.testing import assert_index_scan


class Base(DeclarativeBase):
    pass


class ParcelGeodesic(Base):
    __tablename__ = "parcels_geodesic"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column(
        "POLYGON", srid=4326, geodesic_index=True, index_name="ix_parcels_geodesic_geom"
    )


class Parcel3857(Base):
    __tablename__ = "parcels_3857"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=3857)


class Parcel2263(Base):
    __tablename__ = "parcels_2263"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=2263)


CENTRE = (-73.9, 40.8)  # inside the generated grid (it starts at -74.02, 40.70)


def _assert_index(engine, stmt, index):
    """The named index is used and nothing is read sequentially (seqscan left enabled)."""
    with engine.connect() as conn:
        plan = assert_index_scan(conn, stmt, index)
    assert not plan.seq_scans(), plan.to_text()


@pytest.mark.parametrize("meters", [50, 500, 2_000])
def test_within_distance_uses_the_geometry_index(big_parcels, meters):
    _assert_index(
        big_parcels,
        select(Parcel.id).where(within_distance(Parcel.geom, CENTRE, meters)),
        "ix_parcels_geom",
    )


def test_within_distance_uses_the_geodesic_index_by_name(big_parcels):
    stmt = select(ParcelGeodesic.id).where(ParcelGeodesic.geom.within_distance(CENTRE, 500))
    _assert_index(big_parcels, stmt, "ix_parcels_geodesic_geom_geography")


@pytest.mark.parametrize(
    ("model", "index"), [(Parcel3857, "ix_parcels_3857_geom"), (Parcel2263, "ix_parcels_2263_geom")]
)
def test_within_distance_on_projected_tables(big_parcels, model, index):
    _assert_index(
        big_parcels, select(model.id).where(within_distance(model.geom, CENTRE, 500)), index
    )


@pytest.mark.parametrize(
    ("model", "index"),
    [
        (Parcel, "ix_parcels_geom"),
        (ParcelGeodesic, "ix_parcels_geodesic_geom_geography"),
        (Parcel2263, "ix_parcels_2263_geom"),
    ],
)
def test_nearest_uses_the_index(big_parcels, model, index):
    _assert_index(big_parcels, nearest(select(model.id), model.geom, CENTRE, k=10), index)


def test_bbox_and_intersects_use_the_index(big_parcels):
    bbox = (-73.91, 40.79, -73.89, 40.81)
    _assert_index(
        big_parcels, select(Parcel.id).where(in_bbox(Parcel.geom, bbox)), "ix_parcels_geom"
    )
    _assert_index(
        big_parcels,
        select(Parcel2263.id).where(in_bbox(Parcel2263.geom, bbox)),
        "ix_parcels_2263_geom",
    )
    window = "SRID=4326;POLYGON((-73.91 40.79, -73.89 40.79, -73.89 40.81, -73.91 40.79))"
    _assert_index(
        big_parcels, select(Parcel.id).where(intersects(Parcel.geom, window)), "ix_parcels_geom"
    )
    _assert_index(
        big_parcels,
        select(Parcel3857.id).where(intersects(Parcel3857.geom, window, transform=True)),
        "ix_parcels_3857_geom",
    )
    _assert_index(
        big_parcels, select(Parcel.id).where(covered_by(Parcel.geom, window)), "ix_parcels_geom"
    )
    point = "SRID=4326;POINT(-73.9 40.8)"
    _assert_index(
        big_parcels, select(Parcel.id).where(contains(Parcel.geom, point)), "ix_parcels_geom"
    )


def _tile_at(lon, lat, z):
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


@pytest.mark.parametrize("z", [14, 15, 16, 18])
def test_tile_windows_use_the_index(big_parcels, z):
    tile = _tile_at(*CENTRE, z)
    for model, index in (
        (Parcel, "ix_parcels_geom"),
        (Parcel3857, "ix_parcels_3857_geom"),
        (Parcel2263, "ix_parcels_2263_geom"),
    ):
        _assert_index(big_parcels, select(model.id).where(in_tile(model.geom, *tile)), index)


def test_tile_windows_lose_no_rows_across_crs(big_parcels):
    """The same tile selects the same parcels whatever the column's SRID (densified edges)."""
    tile = _tile_at(*CENTRE, 14)
    with big_parcels.connect() as conn:
        sets = [
            set(
                conn.scalars(select(m.id).where(m.geom.intersects(tile_envelope(*tile, srid=srid))))
            )
            for m, srid in ((Parcel, 4326), (Parcel3857, 3857), (Parcel2263, 2263))
        ]
    assert sets[0], "the tile must cover some parcels"
    assert sets[0] == sets[1] == sets[2]


def test_srid_mismatch_is_refused_without_transform(big_parcels):
    from pgspatial.errors import SridMismatch

    with pytest.raises(SridMismatch, match="3857"):
        intersects(Parcel.geom, "SRID=3857;POINT(-8235000 4980000)")
