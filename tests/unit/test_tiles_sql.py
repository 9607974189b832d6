"""The SQL of ``tile_select``, compiled for PostgreSQL without a database: the index-aware
filter on the untransformed column, ST_Transform only inside ST_AsMVTGeom, the cap."""

import re

import pytest
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.errors import ConfigError
from pgspatial.geometry import ParsedGeometry
from pgspatial.sampledata.models import Parcel
from pgspatial.serialize.tiles import tile_select
from pgspatial.types import SpatialGeometry

TILE = (14, 4823, 6160)  # lower Manhattan


class Base(DeclarativeBase):
    pass


class Parcel3857(Base):
    __tablename__ = "parcels_3857"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    land_use: Mapped[str] = mapped_column(String(32))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=3857)


class ParcelGeography(Base):
    __tablename__ = "parcels_geography"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326, geography=True)


_TILE_CALL = re.compile(
    r"ST_TileEnvelope\(%\((\w+)\)s(?:::INTEGER)?, %\((\w+)\)s(?:::INTEGER)?, "
    r"%\((\w+)\)s(?:::INTEGER)?\)"
)


def compiled(stmt):
    """The SQL on one line, with the bound z/x/y of ST_TileEnvelope written in (they are
    bound so that every tile shares one statement), and the parameters."""
    result = stmt.compile(dialect=postgresql.dialect())
    sql, params = " ".join(result.string.split()), result.params
    call = _TILE_CALL.search(sql)
    if call:
        z, x, y = (params[name] for name in call.groups())
        sql = sql.replace(call.group(0), f"ST_TileEnvelope({z}, {x}, {y})")
    return sql, params


def test_every_tile_of_a_source_shares_one_statement():
    # the tile is bound, not inlined: one compiled form (SQLAlchemy's cache) and one SQL
    # text (psycopg prepares it) for all tiles
    first = tile_select(Parcel, *TILE).compile(dialect=postgresql.dialect())
    other = tile_select(Parcel, 15, 9650, 12320).compile(dialect=postgresql.dialect())
    assert first.string == other.string
    assert _TILE_CALL.search(first.string)
    assert (
        tile_select(Parcel, *TILE)._generate_cache_key()
        == tile_select(Parcel, 15, 9650, 12320)._generate_cache_key()
    )
    assert {first.params[n] for n in _TILE_CALL.search(first.string).groups()} == set(TILE)


def envelope_param(params):
    (envelope,) = [v for v in params.values() if isinstance(v, ParsedGeometry)]
    return envelope


def corners(params):
    return [v for v in params.values() if isinstance(v, float)]


def test_filter_is_on_the_untransformed_column_against_bound_corners():
    sql, params = compiled(tile_select(Parcel, *TILE))
    # in EPSG:4326 the tile is an exact lon/lat rectangle: four numbers, no polygon
    assert "WHERE pgspatial_features.geom && ST_MakeEnvelope(" in sql
    west, south, east, north = corners(params)
    assert -74.1 < west < east < -73.9 and 40.6 < south < north < 40.8


def test_a_projected_column_gets_a_densified_envelope():
    sql, params = compiled(tile_select(Parcel2263, *TILE))
    assert "WHERE pgspatial_features.geom && ST_GeomFromEWKT(" in sql
    envelope = envelope_param(params)
    assert envelope.srid == 2263  # the envelope comes to the column, not the other way
    assert len(envelope.shape.exterior.coords) > 5  # reprojected edges are curved


def test_transform_only_inside_st_asmvtgeom():
    sql, _ = compiled(tile_select(Parcel, *TILE))
    assert sql.count("ST_Transform(") == 1
    assert (
        "ST_AsMVTGeom(ST_Transform(candidates.geom, 3857), "
        "ST_TileEnvelope(14, 4823, 6160), 4096, 64, true)"
    ) in sql
    where = sql.split(" WHERE ", 1)[1]
    assert "ST_Transform" not in where


def test_no_transform_for_a_3857_column():
    sql, params = compiled(tile_select(Parcel3857, *TILE))
    assert "ST_Transform" not in sql
    assert "ST_AsMVTGeom(candidates.geom, ST_TileEnvelope(14, 4823, 6160)" in sql
    assert "WHERE pgspatial_features.geom && ST_MakeEnvelope(" in sql
    west, south, east, north = corners(params)  # same CRS: the plain square
    side = 2 * 20037508.342789244 / 2**14 * (1 + 2 * 64 / 4096)  # the 64-pixel buffer
    assert east - west == pytest.approx(side) and north - south == pytest.approx(side)


def test_geography_is_cast_to_geometry_inside_st_asmvtgeom_only():
    sql, _ = compiled(tile_select(ParcelGeography, *TILE))
    assert "ST_AsMVTGeom(ST_Transform(geometry(candidates.geom), 3857)" in sql
    assert "WHERE pgspatial_features.geom && " in sql


def test_feature_cap_is_a_limit_and_a_count():
    sql, _ = compiled(tile_select(Parcel, *TILE, max_features=1000))
    assert "LIMIT 1001" in sql
    assert "CASE WHEN (count(*) <= 1000) THEN ST_AsMVT(mvtgeom," in sql
    assert "count(*) AS features" in sql
    uncapped, _ = compiled(tile_select(Parcel, *TILE, max_features=None))
    assert "LIMIT ALL OFFSET 0" in uncapped  # no cap, but still a subquery of its own
    assert "CASE" not in uncapped


def test_candidates_are_raw_rows_and_the_tile_math_is_above_them():
    sql, _ = compiled(tile_select(Parcel, *TILE, id_column="id", properties=["land_use"]))
    candidates = sql.split("FROM (SELECT pgspatial_features.", 1)[1]
    assert "ST_AsMVTGeom" not in candidates and "ST_Transform" not in candidates
    assert "LIMIT 50001) AS candidates" in sql


def test_layer_id_and_properties():
    stmt = tile_select(
        Parcel, *TILE, id_column="id", properties=["land_use", "assessed_value"], layer="lots"
    )
    sql, params = compiled(stmt)
    assert "SELECT candidates.id AS id, candidates.land_use AS land_use" in sql
    assert "CAST(candidates.assessed_value AS DOUBLE PRECISION) AS assessed_value" in sql
    assert "parcel_id" not in sql.split(" FROM ", 1)[0]
    values = [v for v in params.values() if isinstance(v, str)]
    assert values == ["lots", "geom", "id"]  # ST_AsMVT(row, layer, extent, geom_name, id_name)


def test_default_layer_names():
    table = Parcel.__table__
    assert "parcels" in compiled(tile_select(table, *TILE))[1].values()
    stmt = select(Parcel.id, Parcel.geom).where(Parcel.land_use == "residential")
    assert "features" in compiled(tile_select(stmt, *TILE))[1].values()


def test_extent_and_buffer_shape_the_clip_and_the_window():
    sql, params = compiled(tile_select(Parcel3857, *TILE, extent=512, buffer=256))
    assert "ST_TileEnvelope(14, 4823, 6160), 512, 256, true)" in sql
    xmin, _, xmax, _ = corners(params)
    size = 2 * 20037508.342789244 / 2**14
    assert xmax - xmin == pytest.approx(2 * size)  # half a tile each side


def test_a_property_named_geom_does_not_clash_with_the_tile_geometry():
    table = Table(
        "odd",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("geom", Text),
        Column("shape", SpatialGeometry(geometry_type="POINT", srid=3857)),
    )
    sql, params = compiled(tile_select(table, *TILE))
    assert "AS _geom" in sql
    assert "_geom" in params.values()


@pytest.mark.parametrize(
    ("tile", "message"),
    [
        ((-1, 0, 0), "zoom must be 0..31"),
        ((32, 0, 0), "zoom must be 0..31"),
        ((3, 8, 0), "x and y run from 0 to 7"),
        ((3, 0, -1), "x and y run from 0 to 7"),
        ((0, 0, 1), "x and y run from 0 to 0"),
        ((1.5, 0, 0), "z must be an integer"),
        ((True, 0, 0), "z must be an integer"),
    ],
)
def test_tiles_out_of_range_are_config_errors(tile, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        tile_select(Parcel, *tile)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extent": 0}, "extent must be 1..65536"),
        ({"extent": 4096.0}, "extent must be an integer"),
        ({"buffer": -1}, "buffer must be 0..extent (4096)"),
        ({"extent": 256, "buffer": 512}, "buffer must be 0..extent (256)"),
        ({"max_features": 0}, "max_features must be at least 1"),
        ({"layer": ""}, "layer must be a non-empty string"),
        ({"properties": "land_use"}, "Write properties=['land_use']"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        tile_select(Parcel, *TILE, **options)


def test_unknown_columns_list_what_exists():
    with pytest.raises(ConfigError, match=r"No column 'nope'.*it has: id, parcel_id, "):
        tile_select(Parcel, *TILE, properties=["land_use", "nope"])
    with pytest.raises(ConfigError, match=r"No column 'pk'.*land_use"):
        tile_select(Parcel, *TILE, id_column="pk")
    with pytest.raises(ConfigError, match=r"No column 'shape'.*geom"):
        tile_select(Parcel, *TILE, geometry_column="shape")


def test_id_column_must_be_an_integer():
    with pytest.raises(ConfigError, match=r"'parcel_id' is VARCHAR\(50\).*integer"):
        tile_select(Parcel, *TILE, id_column="parcel_id")


def test_spatial_properties_and_bad_sources_are_refused():
    with pytest.raises(ConfigError, match="'geom' is a spatial column"):
        tile_select(Parcel, *TILE, properties=["geom"])
    with pytest.raises(ConfigError, match="mapped class, a Table or a Select"):
        tile_select("parcels", *TILE)


class Parcel2263(Base):
    __tablename__ = "parcels_2263"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=2263)


@pytest.mark.parametrize("tile", [(3, 0, 3), (3, 7, 3), (14, 0, 6000), (14, 16383, 6000)])
def test_buffer_across_the_antimeridian_is_clipped_to_the_world(tile):
    xmin, _, xmax, _ = corners(compiled(tile_select(Parcel, *tile))[1])
    assert (xmin == -180.0) if tile[1] == 0 else (xmax == 180.0)
    assert xmax - xmin < 360 / 2 ** tile[0] * 1.1


def test_a_window_the_crs_cannot_draw_falls_back_to_the_transformed_column():
    sql, params = compiled(tile_select(Parcel2263, 0, 0, 0))
    assert "WHERE ST_Transform(pgspatial_features.geom, 3857) && ST_GeomFromEWKT(" in sql
    assert envelope_param(params).srid == 3857
    sql, params = compiled(tile_select(Parcel2263, *TILE))  # a real tile: the index way
    assert "WHERE pgspatial_features.geom && ST_GeomFromEWKT(" in sql
    assert envelope_param(params).srid == 2263
