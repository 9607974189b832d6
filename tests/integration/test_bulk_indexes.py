"""A load into an empty table drops its plain indexes for the COPY and builds them after,
in the load's transaction: same definitions afterwards, constraint indexes untouched, and
nothing deferred when the table has rows, when someone holds a lock on it, or when asked."""

import pytest
import shapely
from sqlalchemy import text

from pgspatial.bulk import bulk_load
from pgspatial.engine import create_engine
from pgspatial.errors import LoadRejected

BOWTIE = shapely.from_wkt("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))")

TABLE = """
CREATE TABLE plots (
    id bigint PRIMARY KEY,
    code text UNIQUE,
    zone integer,
    geom geometry(Polygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX plots_geom_idx ON plots USING gist (geom);
CREATE INDEX plots_zone_idx ON plots (zone) WHERE zone > 0;
CREATE INDEX plots_commented_idx ON plots (code, zone);
COMMENT ON INDEX plots_commented_idx IS 'kept: a rebuild would lose this comment';
"""


@pytest.fixture(scope="module")
def engine(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        yield engine
        engine.dispose()


@pytest.fixture
def plots(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS plots")
        for statement in TABLE.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    return "plots"


def rows(n, *, start=0, bad=()):
    for i in range(start, start + n):
        x, y = -74.0 + (i % 300) * 0.001, 40.7 + (i // 300) * 0.001
        geom = BOWTIE if i in bad else shapely.box(x, y, x + 0.0005, y + 0.0005)
        yield {"id": i, "code": f"c{i}", "zone": i % 5, "geom": geom}


def indexes(engine):
    """name -> (oid, definition) of the table's indexes."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT c.relname, c.oid::int, pg_get_indexdef(c.oid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'plots'::regclass AND i.indisvalid"
            )
        ).all()
    return {name: (oid, definition) for name, oid, definition in found}


def test_an_empty_table_gets_its_plain_indexes_rebuilt_after_the_copy(engine, plots):
    before = indexes(engine)
    report = bulk_load(engine, plots, rows(3_000), batch_rows=1_000)
    after = indexes(engine)
    assert report.rows_loaded == 3_000 and report.analyzed
    assert sorted(report.indexes_rebuilt) == ["public.plots_geom_idx", "public.plots_zone_idx"]
    # the same indexes, the same definitions; only the two rebuilt ones are new objects
    assert {k: v[1] for k, v in after.items()} == {k: v[1] for k, v in before.items()}
    changed = {name for name in before if before[name][0] != after[name][0]}
    assert changed == {"plots_geom_idx", "plots_zone_idx"}
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = conn.exec_driver_sql(
            "EXPLAIN SELECT id FROM plots "
            "WHERE geom && ST_MakeEnvelope(-73.99, 40.70, -73.98, 40.71, 4326)"
        ).scalars()
        assert "plots_geom_idx" in "\n".join(plan)
        hits = conn.exec_driver_sql(
            "SELECT count(*) FROM plots "
            "WHERE geom && ST_MakeEnvelope(-73.99, 40.70, -73.98, 40.71, 4326)"
        ).scalar_one()
        conn.exec_driver_sql("SET enable_seqscan = on; SET enable_indexscan = off; "
                             "SET enable_bitmapscan = off")  # fmt: skip
        truth = conn.exec_driver_sql(
            "SELECT count(*) FROM plots "
            "WHERE geom && ST_MakeEnvelope(-73.99, 40.70, -73.98, 40.71, 4326)"
        ).scalar_one()
    assert hits == truth > 0  # the rebuilt index holds every row


def test_a_table_with_rows_keeps_its_indexes(engine, plots):
    bulk_load(engine, plots, rows(100))
    before = indexes(engine)
    report = bulk_load(engine, plots, rows(500, start=100))
    assert report.rows_loaded == 500 and report.indexes_rebuilt == ()
    assert indexes(engine) == before


def test_defer_indexes_false_keeps_them(engine, plots):
    before = indexes(engine)
    report = bulk_load(engine, plots, rows(500), defer_indexes=False)
    assert report.rows_loaded == 500 and report.indexes_rebuilt == ()
    assert indexes(engine) == before


def test_a_reader_holding_a_lock_means_the_indexes_stay_and_the_load_goes_on(engine, plots):
    before = indexes(engine)
    with engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM plots").scalar_one()  # lock held in tx
        report = bulk_load(engine, plots, rows(500))
        reader.rollback()
    assert report.rows_loaded == 500 and report.indexes_rebuilt == ()
    assert indexes(engine) == before


def test_a_refused_load_leaves_the_indexes_as_they_were(engine, plots):
    before = indexes(engine)
    with pytest.raises(LoadRejected):
        bulk_load(engine, plots, rows(3_000, bad={2_500}), batch_rows=1_000)
    assert indexes(engine) == before


def test_a_skip_load_that_stores_nothing_still_rebuilds(engine, plots, tmp_path):
    before = indexes(engine)
    report = bulk_load(
        engine, plots, rows(3, bad={0, 1, 2}), on_invalid="skip",
        report_path=tmp_path / "rejects.ndjson",
    )  # fmt: skip
    assert report.rows_loaded == 0 and report.rows_rejected == 3
    assert {k: v[1] for k, v in indexes(engine).items()} == {k: v[1] for k, v in before.items()}
