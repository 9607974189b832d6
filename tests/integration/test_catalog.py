"""Catalog against a real PostGIS: every kind of relation, column, index and constraint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from pgspatial.catalog import (
    AttributeInfo,
    Catalog,
    ConstraintInfo,
    IndexInfo,
    SpatialColumnInfo,
    SpatialTable,
)
from pgspatial.errors import ConfigError
from pgspatial.testing import FreshDatabase, count_statements

SCHEMA = """
CREATE SCHEMA other;

CREATE TABLE zones (
    id integer PRIMARY KEY,
    code text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE parcels (
    id bigint PRIMARY KEY,
    parcel_id varchar(50) NOT NULL,
    zone_id integer REFERENCES zones (id),
    status text,
    geom geometry(Polygon, 4326) NOT NULL,
    footprint geometry,
    centroid geography(Point, 4326),
    peak geometry(PointZ, 2263),
    CONSTRAINT ck_parcels_geom_valid CHECK (ST_IsValid(geom))
);
ALTER TABLE parcels
    ADD CONSTRAINT ck_parcels_footprint_valid CHECK (ST_IsValid(footprint)) NOT VALID;
CREATE INDEX ix_parcels_geom ON parcels USING gist (geom);
CREATE INDEX ix_parcels_geom_geography ON parcels USING gist ((geom::geography));
CREATE INDEX ix_parcels_geom_active ON parcels USING gist (geom) WHERE status = 'active';
CREATE INDEX ix_parcels_peak ON parcels USING brin (peak);
CREATE INDEX ix_parcels_lower_status ON parcels (lower(status), id);
INSERT INTO parcels (id, parcel_id, status, geom, centroid, peak) VALUES
    (1, 'P-1', 'active', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326),
     'SRID=4326;POINT(0.5 0.5)', 'SRID=2263;POINT Z(1 2 3)'),
    (2, 'P-2', 'active', ST_GeomFromText('POLYGON((1 0,2 0,2 1,1 1,1 0))', 4326), NULL, NULL),
    (3, 'P-3', 'retired', ST_GeomFromText('POLYGON((2 0,3 0,3 1,2 1,2 0))', 4326), NULL, NULL),
    (4, 'P-4', NULL, ST_GeomFromText('POLYGON((3 0,4 0,4 1,3 1,3 0))', 4326), NULL, NULL);
ANALYZE parcels;

CREATE TABLE "Landmarks" (
    id integer PRIMARY KEY,
    "Shape" geometry(Point, 4326)
);
CREATE INDEX ix_landmarks_shape_geography ON "Landmarks" USING gist (("Shape"::geography));

CREATE VIEW active_parcels AS
    SELECT id, parcel_id, geom, ST_Centroid(geom) AS center FROM parcels WHERE status = 'active';

CREATE MATERIALIZED VIEW zone_hulls AS SELECT id, ST_ConvexHull(geom) AS hull FROM zones;
CREATE INDEX ix_zone_hulls_hull ON zone_hulls USING gist (hull);

CREATE TABLE sightings (
    id bigint NOT NULL,
    seen_on date NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (id, seen_on)
) PARTITION BY RANGE (seen_on);
CREATE TABLE sightings_2024 PARTITION OF sightings
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX ix_sightings_geom ON sightings USING gist (geom);
INSERT INTO sightings
    SELECT g, DATE '2024-01-01' + g % 300, ST_SetSRID(ST_MakePoint(g % 90, g % 45), 4326)
    FROM generate_series(1, 2000) AS g;

CREATE TABLE other.roads (
    id serial PRIMARY KEY,
    name text,
    geom geometry(LineString, 4326)
);

CREATE TABLE secrets (id integer PRIMARY KEY, geom geometry(Point, 4326));

CREATE TABLE notes (id integer PRIMARY KEY, body text);

CREATE TABLE extension_owned (id integer, geom geometry(Point, 4326));
ALTER EXTENSION postgis ADD TABLE extension_owned;
"""

PUBLIC_RELATIONS = [
    "Landmarks",
    "active_parcels",
    "parcels",
    "secrets",
    "sightings",
    "sightings_2024",
    "zone_hulls",
    "zones",
]


def build_schema(engine: Engine) -> None:
    """The schema above, plus an index left INVALID by a failed CREATE INDEX CONCURRENTLY."""
    with engine.begin() as connection:
        connection.execute(text(SCHEMA))
    # status has duplicates ('active' twice): the build fails and leaves the index INVALID.
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection, pytest.raises(IntegrityError):
        connection.execute(
            text("CREATE UNIQUE INDEX CONCURRENTLY ix_parcels_status ON parcels (status)")
        )


@pytest.fixture
def spatial_db(pgspatial_fresh_database: FreshDatabase) -> FreshDatabase:
    build_schema(pgspatial_fresh_database.engine)
    return pgspatial_fresh_database


@pytest.fixture
def catalog(spatial_db: FreshDatabase) -> Catalog:
    return Catalog.load(spatial_db.engine)


def index(table: SpatialTable, name: str) -> IndexInfo:
    return next(i for i in table.indexes if i.name == name)


def constraint(table: SpatialTable, name: str) -> ConstraintInfo:
    return next(c for c in table.constraints if c.name == name)


def test_lists_spatial_relations_only_and_skips_system_ones(catalog: Catalog) -> None:
    names = [(t.schema, t.name) for t in catalog.tables]
    assert names == [("other", "roads"), *(("public", n) for n in PUBLIC_RELATIONS)]
    assert catalog.find("notes") is None  # no spatial column
    assert catalog.find("extension_owned") is None  # belongs to the postgis extension
    assert catalog.find("spatial_ref_sys") is None
    assert catalog.postgis_version is not None
    assert catalog.postgis_version.startswith("3.")


def test_relation_kinds_and_partitions(catalog: Catalog) -> None:
    kinds = {t.name: (t.kind, t.is_partition) for t in catalog.tables}
    assert kinds == {
        "roads": ("table", False),
        "Landmarks": ("table", False),
        "active_parcels": ("view", False),
        "parcels": ("table", False),
        "secrets": ("table", False),
        "sightings": ("partitioned_table", False),
        "sightings_2024": ("table", True),
        "zone_hulls": ("materialized_view", False),
        "zones": ("table", False),
    }


def test_spatial_columns(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    assert parcels.columns == (
        SpatialColumnInfo("geom", "geometry", "POLYGON", 4326, 2, nullable=False),
        SpatialColumnInfo("footprint", "geometry", "GEOMETRY", 0, 2, nullable=True),
        SpatialColumnInfo("centroid", "geography", "POINT", 4326, 2, nullable=True),
        SpatialColumnInfo("peak", "geometry", "POINTZ", 2263, 3, nullable=True),
    )
    peak = parcels.column("peak")
    assert (peak.base_type, peak.has_z, peak.has_m, peak.is_generic) == (
        "POINT",
        True,
        False,
        False,
    )
    assert parcels.column("footprint").is_generic
    view = catalog.table("active_parcels")
    assert view.columns == (
        SpatialColumnInfo("geom", "geometry", "POLYGON", 4326, 2, nullable=True),
        SpatialColumnInfo("center", "geometry", "GEOMETRY", 0, 2, nullable=True),
    )
    assert catalog.table("zone_hulls").columns == (
        SpatialColumnInfo("hull", "geometry", "GEOMETRY", 0, 2, nullable=True),
    )
    assert catalog.table("zones").column("geom").geometry_type == "MULTIPOLYGON"
    assert catalog.table("roads", "other").column("geom").geometry_type == "LINESTRING"


def test_column_lookup_errors_are_helpful(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    with pytest.raises(
        KeyError, match=r"status.*is a text column.*geom, footprint, centroid, peak"
    ):
        parcels.column("status")
    with pytest.raises(KeyError, match=r"'nope' does not exist in public\.parcels"):
        parcels.column("nope")


def test_attributes_in_column_order(catalog: Catalog) -> None:
    assert catalog.table("parcels").attributes == (
        AttributeInfo("id", "bigint", nullable=False),
        AttributeInfo("parcel_id", "character varying(50)", nullable=False),
        AttributeInfo("zone_id", "integer", nullable=True),
        AttributeInfo("status", "text", nullable=True),
    )
    assert catalog.table("active_parcels").attributes == (
        AttributeInfo("id", "bigint", nullable=True),
        AttributeInfo("parcel_id", "character varying(50)", nullable=True),
    )
    assert catalog.table("roads", "other").attributes == (
        AttributeInfo("id", "integer", nullable=False),
        AttributeInfo("name", "text", nullable=True),
    )


def test_primary_keys(catalog: Catalog) -> None:
    keys = {t.name: t.primary_key for t in catalog.tables}
    assert keys == {
        "roads": ("id",),
        "Landmarks": ("id",),
        "active_parcels": (),
        "parcels": ("id",),
        "secrets": ("id",),
        "sightings": ("id", "seen_on"),
        "sightings_2024": ("id", "seen_on"),
        "zone_hulls": (),
        "zones": ("id",),
    }


def test_indexes(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    assert [i.name for i in parcels.indexes] == [
        "ix_parcels_geom",
        "ix_parcels_geom_active",
        "ix_parcels_geom_geography",
        "ix_parcels_lower_status",
        "ix_parcels_peak",
        "ix_parcels_status",
        "parcels_pkey",
    ]
    plain = index(parcels, "ix_parcels_geom")
    assert (plain.method, plain.columns, plain.expressions, plain.predicate) == (
        "gist",
        ("geom",),
        (),
        None,
    )
    assert (plain.is_valid, plain.is_unique, plain.is_primary) == (True, False, False)
    assert plain.size_bytes > 0
    assert plain.definition == "CREATE INDEX ix_parcels_geom ON public.parcels USING gist (geom)"
    assert plain.covers("geom")
    assert not plain.is_geography_expression_on("geom")

    geography = index(parcels, "ix_parcels_geom_geography")
    assert geography.columns == ()
    assert geography.expressions == ("(geom)::geography",)
    assert geography.key_columns == (None,)
    assert geography.is_geography_expression_on("geom")
    assert not geography.is_geography_expression_on("footprint")
    assert not geography.covers("geom")

    partial = index(parcels, "ix_parcels_geom_active")
    assert partial.predicate == "(status = 'active'::text)"
    assert partial.covers("geom")

    brin = index(parcels, "ix_parcels_peak")
    assert (brin.method, brin.columns) == ("brin", ("peak",))

    mixed = index(parcels, "ix_parcels_lower_status")
    assert (mixed.method, mixed.columns, mixed.expressions) == (
        "btree",
        ("id",),
        ("lower(status)",),
    )
    assert mixed.key_columns == (None, "id")
    assert mixed.first_key_columns == ("status",)
    assert not mixed.covers("id")  # id is the second key

    invalid = index(parcels, "ix_parcels_status")
    assert (invalid.is_valid, invalid.is_unique, invalid.columns) == (False, True, ("status",))

    primary = index(parcels, "parcels_pkey")
    assert (primary.method, primary.is_primary, primary.is_unique) == ("btree", True, True)
    assert primary.columns == ("id",)


def test_indexes_on_a_column(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    on_geom = [i.name for i in parcels.indexes_on("geom")]
    assert on_geom == ["ix_parcels_geom", "ix_parcels_geom_active", "ix_parcels_geom_geography"]
    assert [i.name for i in parcels.spatial_indexes_on("geom")] == on_geom
    assert [i.name for i in parcels.spatial_indexes_on("peak")] == ["ix_parcels_peak"]
    assert parcels.spatial_indexes_on("footprint") == ()
    assert parcels.spatial_indexes_on("centroid") == ()
    assert [i.name for i in parcels.indexes_on("status")] == [
        "ix_parcels_lower_status",
        "ix_parcels_status",
    ]
    assert parcels.spatial_indexes_on("status") == ()

    landmarks = catalog.table("Landmarks")
    (shape,) = landmarks.spatial_indexes_on("Shape")
    assert shape.expressions == ('("Shape")::geography',)
    assert shape.is_geography_expression_on("Shape")


def test_views_have_no_indexes_but_materialized_views_can(catalog: Catalog) -> None:
    view = catalog.table("active_parcels")
    assert (view.indexes, view.constraints) == ((), ())
    (hull,) = catalog.table("zone_hulls").indexes
    assert (hull.name, hull.method, hull.columns) == ("ix_zone_hulls_hull", "gist", ("hull",))


def test_partitioned_indexes_and_sizes(catalog: Catalog) -> None:
    parent, child = catalog.table("sightings"), catalog.table("sightings_2024")
    assert [i.name for i in parent.spatial_indexes_on("geom")] == ["ix_sightings_geom"]
    (child_index,) = child.spatial_indexes_on("geom")
    assert child_index.name == "sightings_2024_geom_idx"
    assert index(parent, "ix_sightings_geom").size_bytes == child_index.size_bytes > 0
    assert parent.size_bytes == child.size_bytes > 0


def test_constraints(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    assert [c.name for c in parcels.constraints] == [
        "ck_parcels_footprint_valid",
        "ck_parcels_geom_valid",
        "parcels_pkey",
        "parcels_zone_id_fkey",
    ]
    assert constraint(parcels, "ck_parcels_geom_valid") == ConstraintInfo(
        name="ck_parcels_geom_valid",
        kind="check",
        definition="CHECK (st_isvalid(geom))",
        columns=("geom",),
        validated=True,
    )
    assert constraint(parcels, "ck_parcels_footprint_valid") == ConstraintInfo(
        name="ck_parcels_footprint_valid",
        kind="check",
        definition="CHECK (st_isvalid(footprint)) NOT VALID",
        columns=("footprint",),
        validated=False,
    )
    primary = constraint(parcels, "parcels_pkey")
    assert (primary.kind, primary.columns, primary.definition) == (
        "primary",
        ("id",),
        "PRIMARY KEY (id)",
    )
    foreign = constraint(parcels, "parcels_zone_id_fkey")
    assert (foreign.kind, foreign.columns, foreign.validated) == ("foreign", ("zone_id",), True)
    assert foreign.definition == "FOREIGN KEY (zone_id) REFERENCES zones(id)"
    assert [c.name for c in parcels.checks_on("geom")] == ["ck_parcels_geom_valid"]
    assert [c.name for c in parcels.checks_on("footprint")] == ["ck_parcels_footprint_valid"]
    assert parcels.checks_on("peak") == ()


def test_exclusion_and_unique_constraints(pgspatial_fresh_database: FreshDatabase) -> None:
    engine = pgspatial_fresh_database.engine
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE plots (id int PRIMARY KEY, code text UNIQUE, geom geometry(Polygon, 3857),"
                " CONSTRAINT ex_plots_no_overlap EXCLUDE USING gist (geom WITH &&))"
            )
        )
    plots = Catalog.load(engine).table("plots")
    kinds = {c.name: (c.kind, c.columns) for c in plots.constraints}
    assert kinds == {
        "ex_plots_no_overlap": ("exclusion", ("geom",)),
        "plots_code_key": ("unique", ("code",)),
        "plots_pkey": ("primary", ("id",)),
    }
    assert [i.name for i in plots.spatial_indexes_on("geom")] == ["ex_plots_no_overlap"]


def test_statistics_and_sizes(catalog: Catalog) -> None:
    parcels = catalog.table("parcels")
    assert parcels.estimated_rows == 4
    assert parcels.size_bytes > 0
    assert catalog.table("secrets").estimated_rows == -1  # never analyzed
    assert catalog.table("active_parcels").size_bytes == 0


def test_names_and_lookups(catalog: Catalog) -> None:
    assert catalog.table("Landmarks").qualified_name == 'public."Landmarks"'
    assert catalog.table("roads", "other").qualified_name == "other.roads"
    assert catalog.find("roads") is None
    assert catalog.find("roads", schema="other") is catalog.table("roads", "other")
    with pytest.raises(KeyError, match=r"public\.roads.*did you mean other\.roads"):
        catalog.table("roads")
    with pytest.raises(KeyError, match=r"did you mean public\.parcels"):
        catalog.table("parcel")


def test_schema_filter(spatial_db: FreshDatabase) -> None:
    only_other = Catalog.load(spatial_db.engine, schemas=["other"])
    assert [t.qualified_name for t in only_other.tables] == ["other.roads"]
    both = Catalog.load(spatial_db.engine, schemas=("other", "public"))
    assert len(both.tables) == 1 + len(PUBLIC_RELATIONS)
    assert Catalog.load(spatial_db.engine, schemas=[]).tables == ()
    with pytest.raises(ConfigError, match="sequence of schema names"):
        Catalog.load(spatial_db.engine, schemas="other")


def test_include_system(spatial_db: FreshDatabase) -> None:
    with spatial_db.engine.connect() as connection:
        connection.execute(text("CREATE TEMP TABLE scratch (geom geometry)"))
        default = Catalog.load(connection)
        everything = Catalog.load(connection, include_system=True)
    assert {t.name for t in default.tables} == {"roads", *PUBLIC_RELATIONS}
    extra = {(t.schema.startswith("pg_temp"), t.name) for t in everything.tables} - {
        (False, t.name) for t in default.tables
    }
    assert extra == {(False, "extension_owned"), (True, "scratch")}


def test_readable_reflects_the_current_role(spatial_db: FreshDatabase) -> None:
    role = f"pgspatial_catalog_{uuid.uuid4().hex[:12]}"
    engine = spatial_db.engine
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    try:
        with engine.begin() as connection:
            connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
            connection.execute(text(f'REVOKE SELECT ON secrets FROM "{role}"'))
            # other.roads: SELECT granted, but no USAGE on the schema, so still unreadable.
            connection.execute(text(f'GRANT SELECT ON other.roads TO "{role}"'))
        as_owner = Catalog.load(engine)
        assert all(t.readable for t in as_owner.tables)
        with engine.connect() as connection:
            connection.execute(text("SELECT set_config('role', :role, false)"), {"role": role})
            as_role = Catalog.load(connection)
            connection.rollback()
        assert [t.name for t in as_role.tables] == [t.name for t in as_owner.tables]
        unreadable = {t.qualified_name for t in as_role.tables if not t.readable}
        assert unreadable == {"public.secrets", "other.roads"}
        assert {t.name for t in as_role.readable_tables()} == set(PUBLIC_RELATIONS) - {"secrets"}
        assert as_role.postgis_version == as_owner.postgis_version
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))


def test_postgis_without_spatial_tables(pgspatial_fresh_database: FreshDatabase) -> None:
    engine = pgspatial_fresh_database.engine
    with count_statements(engine) as counter:
        catalog = Catalog.load(engine)
    assert catalog.tables == ()
    assert catalog.postgis_version is not None
    assert counter.count == 2


@pytest.fixture
def database_without_postgis(pgspatial_fresh_database: FreshDatabase) -> Iterator[Engine]:
    name = f"pgspatial_test_plain_{uuid.uuid4().hex[:12]}"
    server = pgspatial_fresh_database.engine
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    engine = create_engine(server.url.set(database=name), poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_database_without_postgis(database_without_postgis: Engine) -> None:
    with database_without_postgis.begin() as connection:
        connection.execute(text("CREATE TABLE plain (id integer PRIMARY KEY, body text)"))
    with count_statements(database_without_postgis) as counter:
        catalog = Catalog.load(database_without_postgis)
    assert catalog == Catalog(tables=(), postgis_version=None)
    assert catalog.readable_tables() == ()
    assert counter.count == 1


def test_bounded_round_trips(spatial_db: FreshDatabase) -> None:
    engine = spatial_db.engine
    Catalog.load(engine)  # warm up the engine's first connect
    with count_statements(engine) as counter:
        before = Catalog.load(engine)
    assert counter.count == 5
    with engine.begin() as connection:
        for n in range(25):
            connection.execute(
                text(
                    f"CREATE TABLE layer_{n} (id int PRIMARY KEY, geom geometry(Point, 4326));"
                    f"CREATE INDEX ix_layer_{n}_geom ON layer_{n} USING gist (geom)"
                )
            )
    with count_statements(engine) as counter:
        after = Catalog.load(engine)
    assert counter.count == 5
    assert len(after.tables) == len(before.tables) + 25


def test_a_connection_in_a_transaction_is_used_as_is(spatial_db: FreshDatabase) -> None:
    with spatial_db.engine.connect() as connection:
        connection.execute(text("CREATE TABLE uncommitted (geom geometry(Point, 4326))"))
        assert Catalog.load(connection).find("uncommitted") is not None
        assert connection.in_transaction()  # load neither commits nor ends it
        connection.rollback()
    assert Catalog.load(spatial_db.engine).find("uncommitted") is None


def test_hand_built_index_info_derives_its_keys() -> None:
    built = IndexInfo(
        name="ix",
        method="gist",
        columns=(),
        expressions=("(geom)::geography",),
        predicate=None,
        is_valid=True,
        is_unique=False,
        is_primary=False,
        size_bytes=0,
        definition="CREATE INDEX ix ON t USING gist (((geom)::geography))",
    )
    assert built.key_columns == (None,)
    assert built.first_key_columns == ("geom",)
    assert built.is_geography_expression_on("geom")


@pytest.mark.asyncio
async def test_load_async_matches_load(spatial_db: FreshDatabase) -> None:
    expected = Catalog.load(spatial_db.engine)
    engine = create_async_engine(spatial_db.url, poolclass=NullPool)
    try:
        assert await Catalog.load_async(engine) == expected
        async with engine.connect() as connection:
            assert await Catalog.load_async(connection) == expected
            only_other = await Catalog.load_async(connection, schemas=["other"])
        assert [t.name for t in only_other.tables] == ["roads"]
    finally:
        await engine.dispose()
