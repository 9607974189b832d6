"""Vector tiles made by PostGIS, decoded and checked against what the tile should hold:
the same features from 4326, 3857, 2263 and geography tables, empty tiles, the feature
cap, bad tiles, the async twin, and the GiST index in the plan."""

import json
import math
import time

import mapbox_vector_tile
import pytest
import shapely
from geoalchemy2 import WKBElement
from shapely.geometry import shape
from sqlalchemy import BigInteger, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.errors import ConfigError, TileTooLarge
from pgspatial.predicates import in_tile, tile_envelope
from pgspatial.predicates.windows import tile_bounds
from pgspatial.sampledata.models import Parcel
from pgspatial.serialize.copyout import compile_for_copy
from pgspatial.serialize.tiles import _plan, tile_select, vector_tile, vector_tile_async


class Base(DeclarativeBase):
    pass


class Parcel3857(Base):
    __tablename__ = "parcels_3857"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    land_use: Mapped[str] = mapped_column(String(32))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=3857)


class Parcel2263(Base):
    __tablename__ = "parcels_2263"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    land_use: Mapped[str] = mapped_column(String(32))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=2263)


class ParcelGeography(Base):
    __tablename__ = "parcels_geography"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    land_use: Mapped[str] = mapped_column(String(32))
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326, geography=True)


COPIES = {
    Parcel3857: "ST_Transform(geom, 3857)",
    Parcel2263: "ST_Transform(geom, 2263)",
    ParcelGeography: "geom::geography",
}
MODELS = (Parcel, Parcel3857, Parcel2263, ParcelGeography)
BUFFER, EXTENT = 64, 4096
PLAN_OPTIONS = {
    "layer": None, "properties": None, "id_column": "id", "geometry_column": None,
    "extent": EXTENT, "buffer": BUFFER, "max_features": 50_000, "reuse": True,
}  # fmt: skip


def tile_at(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


# The 5,000 generated parcels span about lon -74.020..-73.997, lat 40.700..40.718.
CENTRE = (-74.008, 40.709)
TILES = [tile_at(*CENTRE, z) for z in (14, 16, 18)] + [tile_at(-74.019, 40.7015, 16)]
OCEAN = tile_at(-73.5, 40.3, 14)  # off the Long Island / New Jersey shore


@pytest.fixture(scope="module")
def tiles_db(pgspatial_database_url):
    """A fresh database with 5,000 parcels and copies in 3857, 2263 and geography, each
    with its GiST index (from spatial_column), analyzed."""
    from pgspatial.engine import create_engine
    from pgspatial.sampledata import load_sample_data
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=5_000, seed=7)
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            for model, geom in COPIES.items():
                conn.execute(
                    text(
                        f"INSERT INTO {model.__tablename__} (id, land_use, geom) "
                        f"SELECT id, land_use, {geom} FROM parcels"
                    )
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for model in COPIES:
                conn.exec_driver_sql(f"VACUUM ANALYZE {model.__tablename__}")
        yield database
        engine.dispose()


@pytest.fixture
def session(tiles_db):
    with Session(tiles_db.engine) as session:
        yield session


def decode(tile):
    return mapbox_vector_tile.decode(tile)


def tile_ids(tile, layer):
    features = decode(tile)[layer]["features"]
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids))
    return set(ids)


def ids_touching(session, model, tile, margin):
    """Ids whose geometry intersects the tile (widened by ``margin`` tiles), selected the
    index-aware way: ``in_tile`` and ``ST_Intersects`` with the same envelope."""
    srid = 4326 if model is ParcelGeography else model.geom.type.srid
    window = tile_envelope(*tile, srid=srid, margin=margin)
    geom = func.geometry(model.geom) if model is ParcelGeography else model.geom
    stmt = select(model.id).where(
        in_tile(model.geom, *tile, margin=margin), func.ST_Intersects(geom, window)
    )
    return set(session.scalars(stmt))


@pytest.mark.parametrize("tile", TILES, ids=lambda t: "/".join(map(str, t)))
def test_tile_holds_the_features_of_the_tile(session, tile):
    data = vector_tile(session, Parcel, *tile, id_column="id")
    layer = decode(data)["parcels"]
    assert layer["extent"] == EXTENT
    ids = {f["id"] for f in layer["features"]}
    inside = ids_touching(session, Parcel, tile, 0.0)
    near = ids_touching(session, Parcel, tile, 2 * BUFFER / EXTENT)
    assert inside, "the tile must cover some parcels"
    assert inside <= ids, f"missing features in the tile: {sorted(inside - ids)[:10]}"
    assert ids <= near, f"features far outside the tile: {sorted(ids - near)[:10]}"
    # Features in the buffer are kept (this is what the buffer is for).
    assert ids_touching(session, Parcel, tile, 0.5 * BUFFER / EXTENT) <= ids


def test_features_in_the_buffer_are_kept_and_clipped_to_it(session):
    tile, buffer = TILES[1], 1024  # a quarter of a tile on each side
    ids = tile_ids(vector_tile(session, Parcel, *tile, id_column="id", buffer=buffer), "parcels")
    inside = ids_touching(session, Parcel, tile, 0.0)
    in_buffer = ids_touching(session, Parcel, tile, 0.9 * buffer / EXTENT)
    assert in_buffer - inside, "the tile chosen has parcels in its buffer"
    assert inside < in_buffer <= ids <= ids_touching(session, Parcel, tile, 1.1 * buffer / EXTENT)
    features = decode(vector_tile(session, Parcel, *tile, buffer=buffer))["parcels"]["features"]
    xmin, ymin, xmax, ymax = shapely.MultiPolygon(
        [
            p
            for f in features
            for p in getattr(shape(f["geometry"]), "geoms", [shape(f["geometry"])])
        ]
    ).bounds
    assert -buffer <= xmin < 0 < EXTENT < xmax <= EXTENT + buffer  # clipped to the buffer
    assert -buffer <= ymin and ymax <= EXTENT + buffer


def test_properties_are_the_other_columns_with_their_values(session):
    tile = TILES[1]
    features = decode(vector_tile(session, Parcel, *tile, id_column="id"))["parcels"]["features"]
    rows = {
        p.id: p
        for p in session.scalars(select(Parcel).where(Parcel.id.in_([f["id"] for f in features])))
    }
    assert len(rows) == len(features)
    for feature in features:
        row = rows[feature["id"]]
        expected = {
            "parcel_id": row.parcel_id,
            "zoning_id": row.zoning_id,
            "land_use": row.land_use,
            "year_built": row.year_built,
            "assessed_value": float(row.assessed_value),  # numeric is sent as a double
        }
        # MVT has no null: PostGIS leaves NULL properties out.
        assert feature["properties"] == {k: v for k, v in expected.items() if v is not None}
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_chosen_properties_layer_name_and_no_ids(session):
    tile = TILES[1]
    layers = decode(vector_tile(session, Parcel, *tile, properties=["land_use"], layer="lots"))
    assert list(layers) == ["lots"]
    features = layers["lots"]["features"]
    assert features
    assert all(set(f["properties"]) == {"land_use"} for f in features)
    assert all(f["id"] == 0 for f in features)  # no id_column: no ids (decoded as 0)


def test_a_select_source_filters_and_names_its_layer_features(session):
    tile = TILES[0]
    stmt = select(Parcel.id, Parcel.land_use, Parcel.geom).where(Parcel.land_use == "commercial")
    layer = decode(vector_tile(session, stmt, *tile, id_column="id"))["features"]
    assert layer["features"]
    assert {f["properties"]["land_use"] for f in layer["features"]} == {"commercial"}


@pytest.mark.parametrize("tile", TILES[:2], ids=lambda t: "/".join(map(str, t)))
def test_the_same_tile_from_every_srid_has_the_same_features(session, tile):
    sets = {
        model.__name__: tile_ids(
            vector_tile(session, model, *tile, id_column="id"), model.__tablename__
        )
        for model in MODELS
    }
    reference = sets.pop("Parcel")
    assert reference
    for name, ids in sets.items():
        assert ids == reference, f"{name}: {sorted(ids ^ reference)[:10]}"


def test_empty_tile_is_empty_bytes(session):
    for model in MODELS:
        started = time.perf_counter()
        assert vector_tile(session, model, *OCEAN, id_column="id") == b""
        assert time.perf_counter() - started < 1.0


def test_too_many_features_raise_tile_too_large_with_advice(session):
    tile = TILES[0]
    candidates = session.scalar(
        select(func.count()).where(in_tile(Parcel.geom, *tile, margin=BUFFER / EXTENT))
    )
    assert candidates > 100
    # At the cap exactly: the whole tile.
    assert (
        len(
            tile_ids(
                vector_tile(session, Parcel, *tile, id_column="id", max_features=candidates),
                "parcels",
            )
        )
        > 100
    )
    with pytest.raises(TileTooLarge) as caught:
        vector_tile(session, Parcel, *tile, max_features=candidates - 1)
    message = str(caught.value)
    z, x, y = tile
    assert f"Tile {z}/{x}/{y} of layer 'parcels'" in message
    assert f"more than {candidates - 1:,} features" in message
    assert "higher minimum zoom" in message
    assert "raise max_features" in message
    assert caught.value.tile == tile
    assert caught.value.max_features == candidates - 1


@pytest.mark.parametrize(
    "tile", [(0, 0, 0), (1, 0, 0), (5, 9, 12)], ids=lambda t: "/".join(map(str, t))
)
def test_world_sized_windows_work_in_every_srid(session, tile):
    """A low-zoom window holds all 5,000 parcels (under the default cap) in every SRID; in
    EPSG:2263 a world square is no polygon, so the filter falls back to the transformed
    column. Each parcel is smaller than a tile unit there, so ST_AsMVTGeom drops them all."""
    for model in MODELS:
        data, count = session.execute(tile_select(model, *tile, id_column="id")).one()
        assert count == 5_000, model.__name__
        assert data == b""
        assert vector_tile(session, model, *tile) == b""


def test_zoom_10_tile_holds_every_parcel_in_every_srid(session):
    tile = tile_at(*CENTRE, 10)
    sets = [
        tile_ids(vector_tile(session, model, *tile, id_column="id"), model.__tablename__)
        for model in MODELS
    ]
    assert len(sets[0]) == 5_000
    assert all(ids == sets[0] for ids in sets[1:])


@pytest.mark.parametrize("tile", [(3, 0, 3), (3, 7, 3), (14, 0, 6000), (14, 16383, 6000)])
def test_tiles_at_the_antimeridian_work(session, tile):
    """The buffer of x = 0 and x = 2**z - 1 crosses +-180 degrees; the window is clipped
    to the world instead of wrapping into an invalid polygon."""
    for model in MODELS:
        data, count = session.execute(tile_select(model, *tile, id_column="id")).one()
        assert (data, count) == (b"", 0)


@pytest.mark.parametrize(
    ("tile", "message"),
    [((14, 2**14, 0), "x and y run from 0 to 16383"), ((40, 0, 0), "zoom must be 0..31")],
)
def test_tiles_out_of_range_are_config_errors(session, tile, message):
    with pytest.raises(ConfigError, match=message):
        vector_tile(session, Parcel, *tile)


async def test_async_returns_identical_bytes(tiles_db, session):
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.pool import NullPool

    from pgspatial.engine import create_async_engine

    engine = create_async_engine(tiles_db.url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as async_session:
            for tile in TILES[:2]:
                expected = vector_tile(session, Parcel, *tile, id_column="id")
                got = await vector_tile_async(async_session, Parcel, *tile, id_column="id")
                assert got == expected
            assert await vector_tile_async(async_session, Parcel, *OCEAN) == b""
            with pytest.raises(TileTooLarge):
                await vector_tile_async(async_session, Parcel, *TILES[0], max_features=5)
        async with engine.connect() as connection:
            got = await vector_tile_async(connection, Parcel3857, *TILES[1], id_column="id")
            assert got == vector_tile(session, Parcel3857, *TILES[1], id_column="id")
    finally:
        await engine.dispose()


def plan_of(engine, stmt, *, seqscan=True):
    """Index names and seq-scanned relations of EXPLAIN (FORMAT JSON), real parameters."""
    sql, params = compile_for_copy(stmt, engine.dialect)
    with engine.begin() as conn:
        if not seqscan:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    names, seq = set(), []

    def walk(node):
        if "Index Name" in node:
            names.add(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            seq.append(node.get("Relation Name"))
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return names, seq


@pytest.mark.parametrize("z", [17, 18])
def test_tile_statement_uses_the_gist_index(tiles_db, z):
    """Left to itself the planner picks each table's GiST index once a tile holds a small
    share of the table (here about 1 %)."""
    tile = tile_at(*CENTRE, z)
    for model in MODELS:
        index = f"ix_{model.__tablename__}_geom"
        names, seq = plan_of(tiles_db.engine, tile_select(model, *tile, id_column="id"))
        assert index in names, f"{model.__name__}: plan used {names or 'no index'}"
        assert not seq, f"{model.__name__}: sequential scans on {seq}"


@pytest.mark.parametrize("z", [14, 15, 16])
def test_tile_filter_is_indexable_at_zoom_14_to_16(tiles_db, z):
    """On 5,000 parcels a z14..z16 tile covers 7-60 % of the table, where a seq scan is the
    planner's right choice; with seq scans priced out, the filter must still be answered
    by the GiST index (a transformed column could not be)."""
    tile = tile_at(*CENTRE, z)
    for model in MODELS:
        index = f"ix_{model.__tablename__}_geom"
        names, seq = plan_of(
            tiles_db.engine, tile_select(model, *tile, id_column="id"), seqscan=False
        )
        assert index in names, f"{model.__name__}: plan used {names or 'no index'}"
        assert not seq
    # Control: the brief's anti-pattern (transform the column) cannot use the index.
    bad = select(Parcel.id).where(
        func.ST_Transform(Parcel.geom, 3857).op("&&")(func.ST_TileEnvelope(*tile))
    )
    names, _ = plan_of(tiles_db.engine, bad, seqscan=False)
    assert "ix_parcels_geom" not in names


@pytest.mark.parametrize(
    ("tile", "margin"),
    [((14, 4823, 6160), 0.0), ((14, 4823, 6160), 64 / 4096), ((3, 2, 2), 0.25), ((0, 0, 0), 0.0)],
)
def test_tile_bounds_in_4326_match_postgis(pgspatial_connection, tile, margin):
    """The analytic lon/lat rectangle of a tile equals PostGIS's transformed envelope."""
    z, x, y = tile
    expected = pgspatial_connection.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
            "ST_TileEnvelope(:z, :x, :y, margin => :m), 4326) AS e) AS s"
        ),
        {"z": z, "x": x, "y": y, "m": margin},
    ).one()
    assert tile_bounds(z, x, y, srid=4326, margin=margin) == pytest.approx(expected, abs=1e-9)


def test_a_layers_statement_is_built_once_and_bound_per_tile(session):
    # vector_tile executes the statement built for a layer's first tile with each later
    # tile's values; every tile must hold what a statement built for it holds, also after
    # a low zoom that needs the other filter shape (the fallback) in a state-plane CRS
    tiles = [*TILES, (0, 0, 0), (1, 0, 0), *reversed(TILES)]
    for model in MODELS:
        for tile in tiles:
            fresh = session.execute(tile_select(model, *tile, id_column="id")).one()
            assert vector_tile(session, model, *tile, id_column="id") == bytes(fresh.tile), (
                model.__name__,
                tile,
            )
        first = _plan(model, *TILES[0], **PLAN_OPTIONS)
        later = _plan(model, *TILES[1], **PLAN_OPTIONS)
        assert later.statement is first.statement
        assert later.values["pgspatial_tile_x"] == TILES[1][1]
