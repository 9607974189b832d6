"""The sample-data generator against a real PostGIS database: counts, determinism, topology."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from pgspatial.errors import ConfigError
from pgspatial.sampledata import (
    PARCELS_TABLE,
    ZONING_TABLE,
    SampleCounts,
    create_sample_schema,
    load_sample_data,
)

FINGERPRINT = """
SELECT md5(string_agg(ST_AsEWKB(geom)::text || parcel_id || land_use || zoning_id::text
                      || coalesce(year_built::text, '') || assessed_value::text, ',' ORDER BY id))
       || md5((SELECT string_agg(ST_AsEWKB(geom)::text || zone_code, ',' ORDER BY id)
               FROM zoning_districts))
FROM parcels
"""


def scalar(engine, sql):
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def fingerprint(engine):
    return scalar(engine, FINGERPRINT)


def test_loads_exactly_the_requested_number_of_parcels(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    counts = load_sample_data(engine, parcels=2_345, seed=3)
    assert counts.parcels == 2_345
    assert scalar(engine, "SELECT count(*) FROM parcels") == 2_345
    assert scalar(engine, "SELECT min(id)::text || '-' || max(id) FROM parcels") == "1-2345"
    assert counts == SampleCounts(
        parcels=2_345, zoning_districts=scalar(engine, "SELECT count(*) FROM zoning_districts")
    )
    assert 2 <= counts.zoning_districts < 100
    assert (PARCELS_TABLE, ZONING_TABLE) == ("parcels", "zoning_districts")


def test_same_seed_gives_identical_data_and_other_seeds_differ(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=3_000, seed=42)
    first = fingerprint(engine)
    load_sample_data(engine, parcels=3_000, seed=42)
    assert fingerprint(engine) == first
    load_sample_data(engine, parcels=3_000, seed=43)
    assert fingerprint(engine) != first
    load_sample_data(engine, parcels=3_000)  # 42 is the default
    assert fingerprint(engine) == first


def test_reload_replaces_rather_than_appends(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=5_000)
    counts = load_sample_data(engine, parcels=1_000)
    assert counts.parcels == 1_000
    assert scalar(engine, "SELECT count(*) FROM parcels") == 1_000
    assert scalar(engine, "SELECT count(*) FROM zoning_districts") == counts.zoning_districts


def test_geometries_are_valid_ccw_polygons_in_wgs84_around_lower_manhattan(
    pgspatial_fresh_database,
):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=3_000)
    bad = scalar(
        engine,
        """SELECT count(*) FROM parcels WHERE NOT ST_IsValid(geom) OR ST_SRID(geom) <> 4326
           OR GeometryType(geom) <> 'POLYGON' OR NOT ST_IsPolygonCCW(geom)""",
    )
    assert bad == 0
    bad = scalar(
        engine,
        """SELECT count(*) FROM zoning_districts WHERE NOT ST_IsValid(geom)
           OR ST_SRID(geom) <> 4326 OR GeometryType(geom) <> 'MULTIPOLYGON'""",
    )
    assert bad == 0
    with engine.connect() as connection:
        xmin, ymin, xmax, ymax, npoints = connection.execute(
            text("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n
                    FROM (SELECT ST_Extent(geom) AS e, max(ST_NPoints(geom)) AS n
                          FROM parcels) AS s""")
        ).one()
    assert -74.03 < xmin < xmax < -73.9 and 40.69 < ymin < ymax < 40.8
    assert 0.5 < (xmax - xmin) * 84_395 / ((ymax - ymin) * 110_574) < 2  # roughly square
    assert npoints > 5  # some lots have more than four corners


def test_lots_are_realistic_sizes(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=2_000)
    with engine.connect() as connection:
        smallest, median, largest = connection.execute(
            text("""SELECT min(a), percentile_cont(0.5) WITHIN GROUP (ORDER BY a), max(a)
                    FROM (SELECT ST_Area(geom::geography) AS a FROM parcels) AS s""")
        ).one()
    assert 100 < smallest < median < largest < 2_000  # square metres
    assert 300 < median < 800


def test_parcels_neither_overlap_nor_leave_gaps_inside_a_block(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=4_000, seed=7)
    overlaps = scalar(
        engine,
        """SELECT count(*) FROM parcels AS a JOIN parcels AS b
           ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')""",
    )
    assert overlaps == 0
    touching = scalar(
        engine,
        """SELECT count(*) FROM parcels AS a JOIN parcels AS b
           ON a.id < b.id AND ST_Touches(a.geom, b.geom)""",
    )
    assert touching > 4_000  # neighbours share boundaries
    # The lots of each complete block tile its rectangle exactly (the last block is trimmed).
    worst = scalar(
        engine,
        """SELECT max(abs(area - ST_Area(box::geometry)) / ST_Area(box::geometry))
           FROM (SELECT sum(ST_Area(geom)) AS area, ST_Extent(geom) AS box, max(id) AS last
                 FROM parcels GROUP BY split_part(parcel_id, '-', 2)) AS blocks
           WHERE last < (SELECT max(id) FROM parcels)""",
    )
    assert worst < 1e-9


def test_every_parcel_lies_in_exactly_its_own_zoning_district(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=5_000)
    with engine.connect() as connection:
        rows = connection.execute(
            text("""SELECT p.id, p.zoning_id, array_agg(z.id ORDER BY z.id)
                    FROM parcels AS p JOIN zoning_districts AS z ON ST_CoveredBy(p.geom, z.geom)
                    GROUP BY p.id, p.zoning_id""")
        ).all()
    assert len(rows) == 5_000
    assert all(covering == [zoning_id] for _, zoning_id, covering in rows)
    multipart = scalar(
        engine, "SELECT count(*) FROM zoning_districts WHERE ST_NumGeometries(geom) > 1"
    )
    assert multipart >= 1
    unused = scalar(
        engine,
        """SELECT count(*) FROM zoning_districts AS z
           WHERE NOT EXISTS (SELECT FROM parcels AS p WHERE p.zoning_id = z.id)""",
    )
    assert unused == 0


def test_attributes_are_plausible_and_follow_the_zoning(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=20_000)
    with engine.connect() as connection:
        shares = dict(
            connection.execute(
                text("""SELECT left(z.zone_code, 1) || ':' || p.land_use,
                               count(*)::float / sum(count(*)) OVER (PARTITION BY left(z.zone_code, 1))
                        FROM parcels AS p JOIN zoning_districts AS z ON z.id = p.zoning_id
                        GROUP BY left(z.zone_code, 1), p.land_use""")
            ).all()
        )
        codes = (
            connection.execute(text("SELECT DISTINCT zone_code FROM zoning_districts"))
            .scalars()
            .all()
        )
        null_years, oldest, newest, cheapest = connection.execute(
            text("""SELECT avg((year_built IS NULL)::int), min(year_built), max(year_built),
                           min(assessed_value) FROM parcels""")
        ).one()
    assert shares["R:residential"] > 0.7
    assert shares["C:commercial"] + shares["C:mixed_use"] > 0.6
    assert shares.get("M:industrial", 1.0) > 0.5
    assert all(code[0] in "RCM" and len(code) <= 16 for code in codes)
    assert sum(code.startswith("R") for code in codes) > len(codes) / 3
    assert 0.03 < null_years < 0.07
    assert 1850 <= oldest < newest <= 2024
    assert cheapest > 0


@pytest.mark.parametrize("parcels", [0, 999, 1_000_001, 5_000_000])
def test_out_of_range_parcel_counts_are_rejected_before_touching_the_database(parcels):
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/never")  # never connected
    with pytest.raises(ConfigError, match=r"between 1,000 and 1,000,000 inclusive"):
        load_sample_data(engine, parcels=parcels)


def test_a_failed_load_leaves_the_previous_data_untouched(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=2_000)
    before = fingerprint(engine)
    # A million parcels cannot be generated in one second: the load fails after the DROP.
    impatient = create_engine(
        pgspatial_fresh_database.url, connect_args={"options": "-c statement_timeout=1000"}
    )
    try:
        with pytest.raises(DBAPIError, match="statement timeout"):
            load_sample_data(impatient, parcels=1_000_000)
    finally:
        impatient.dispose()
    assert scalar(engine, "SELECT count(*) FROM parcels") == 2_000
    assert fingerprint(engine) == before


def test_create_sample_schema_makes_the_empty_contract_tables(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    load_sample_data(engine, parcels=1_000)
    with engine.begin() as connection:
        create_sample_schema(connection)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
        indexes = (
            connection.execute(
                text("""SELECT indexname FROM pg_indexes
                    WHERE tablename IN ('parcels', 'zoning_districts') ORDER BY 1""")
            )
            .scalars()
            .all()
        )
        constraints = (
            connection.execute(
                text("""SELECT conname FROM pg_constraint
                    WHERE conrelid IN ('parcels'::regclass, 'zoning_districts'::regclass)
                    ORDER BY 1""")
            )
            .scalars()
            .all()
        )
        geometry_columns = (
            connection.execute(
                text("""SELECT f_table_name || ':' || type || ':' || srid FROM geometry_columns
                    WHERE f_table_name IN ('parcels', 'zoning_districts') ORDER BY 1""")
            )
            .scalars()
            .all()
        )
    assert indexes == [
        "ix_parcels_geom",
        "ix_parcels_zoning_id",
        "ix_zoning_districts_geom",
        "parcels_parcel_id_key",
        "parcels_pkey",
        "zoning_districts_pkey",
    ]
    assert constraints == [
        "ck_parcels_geom_valid",
        "ck_zoning_districts_geom_valid",
        "parcels_parcel_id_key",
        "parcels_pkey",
        "parcels_zoning_id_fkey",
        "zoning_districts_pkey",
    ]
    assert geometry_columns == ["parcels:POLYGON:4326", "zoning_districts:MULTIPOLYGON:4326"]


def test_the_example_models_match_the_generated_tables(pgspatial_fresh_database):
    from sqlalchemy.orm import Session, joinedload

    from pgspatial.sampledata.models import Base, Parcel
    from pgspatial.verify import verify_schema

    load_sample_data(pgspatial_fresh_database.engine, parcels=1_000, seed=3)
    assert verify_schema(pgspatial_fresh_database.engine, Base.metadata) == []
    with Session(pgspatial_fresh_database.engine) as session:
        parcel = session.scalars(select(Parcel).options(joinedload(Parcel.zoning)).limit(1)).one()
        assert parcel.zoning is not None
        assert parcel.area_m2 > 0
        assert session.scalar(
            select(Parcel.area_m2).where(Parcel.id == parcel.id)
        ) == pytest.approx(parcel.area_m2, rel=1e-4)
