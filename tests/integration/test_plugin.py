"""The pytest plugin's fixtures, exercised by running inner test sessions with pytester."""

import psycopg
import pytest
from sqlalchemy import text

from pgspatial.testing import count_statements
from pgspatial.urls import libpq_url

PROBE = "pgspatial_plugin_probe"


@pytest.fixture
def probe_table(pgspatial_engine):
    """A real, committed table (outside any test transaction), emptied and dropped after."""
    with pgspatial_engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {PROBE}"))
        conn.execute(
            text(f"CREATE TABLE {PROBE} (id serial PRIMARY KEY, geom geometry(Point, 4326))")
        )
    yield PROBE
    with pgspatial_engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {PROBE}"))


def _rows(url: str, sql: str):
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def inner(pytester, monkeypatch, pgspatial_database_url):
    """Run inner sessions against the same server the outer session uses."""
    monkeypatch.setenv("DATABASE_URL", pgspatial_database_url)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def test_rolled_back_session_leaves_no_rows_even_when_the_code_commits(
    inner, probe_table, pgspatial_database_url
):
    inner.makepyfile(
        f"""
        from sqlalchemy import text

        def test_commits(pgspatial_session):
            pgspatial_session.execute(text("INSERT INTO {PROBE} (geom) VALUES (ST_Point(1, 2, 4326))"))
            pgspatial_session.commit()
            pgspatial_session.execute(text("INSERT INTO {PROBE} (geom) VALUES (ST_Point(3, 4, 4326))"))
            pgspatial_session.rollback()
            count = pgspatial_session.execute(text("SELECT count(*) FROM {PROBE}")).scalar_one()
            assert count == 1  # the commit held inside the test, the rollback undid only its part

        def test_connection_refuses_to_commit(pgspatial_connection):
            import pytest
            pgspatial_connection.execute(text("INSERT INTO {PROBE} (geom) VALUES (ST_Point(5, 6, 4326))"))
            with pytest.raises(AssertionError, match="Use the pgspatial_session fixture"):
                pgspatial_connection.commit()
        """
    )
    inner.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert _rows(pgspatial_database_url, f"SELECT count(*) FROM {PROBE}") == [(0,)]


def test_async_session_is_rolled_back_too(inner, probe_table, pgspatial_database_url):
    inner.makepyfile(
        f"""
        import pytest
        from sqlalchemy import text

        @pytest.mark.asyncio
        async def test_commits(pgspatial_async_session):
            await pgspatial_async_session.execute(text("INSERT INTO {PROBE} (geom) VALUES (ST_Point(1, 2, 4326))"))
            await pgspatial_async_session.commit()
            count = (await pgspatial_async_session.execute(text("SELECT count(*) FROM {PROBE}"))).scalar_one()
            assert count == 1
        """
    )
    inner.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert _rows(pgspatial_database_url, f"SELECT count(*) FROM {PROBE}") == [(0,)]


def test_fresh_database_ddl_does_not_leak(inner, pgspatial_database_url, tmp_path):
    names = tmp_path / "names.txt"
    inner.makepyfile(
        f"""
        from sqlalchemy import inspect, text

        def record(database):
            with open({str(names)!r}, "a") as out:
                out.write(database.name + "\\n")

        def test_a_creates(pgspatial_fresh_database):
            record(pgspatial_fresh_database)
            with pgspatial_fresh_database.engine.begin() as conn:
                assert conn.execute(text("SELECT postgis_lib_version()")).scalar()
                conn.execute(text("CREATE TABLE leaked_probe (geom geometry(Point, 4326))"))
            assert inspect(pgspatial_fresh_database.engine).has_table("leaked_probe")

        def test_b_does_not_see_it(pgspatial_fresh_database, pgspatial_engine):
            record(pgspatial_fresh_database)
            assert not inspect(pgspatial_fresh_database.engine).has_table("leaked_probe")
            assert not inspect(pgspatial_engine).has_table("leaked_probe")
        """
    )
    inner.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
    used = names.read_text().split()
    assert len(set(used)) == 2, "each test gets its own database"
    leftovers = _rows(
        pgspatial_database_url,
        "SELECT datname FROM pg_database WHERE datname = ANY(%s)" % ("ARRAY" + repr(used)),
    )
    assert leftovers == [], "fresh databases must be dropped after their test"


def test_without_a_database_tests_skip_or_fail_on_request(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PGSPATIAL_HOME", str(tmp_path / "home"))
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    monkeypatch.setenv("PG_BINDIR", str(empty))
    monkeypatch.delenv("PGSPATIAL_REQUIRE_DB", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_needs_db(pgspatial_engine):\n    pass\n")

    skipped = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no database available*postgis-3*"])

    failed = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--pgspatial-require-db")
    failed.assert_outcomes(errors=1)


def test_count_statements_counts_round_trips(pgspatial_session):
    pgspatial_session.execute(text("SELECT 0"))  # opens the session's savepoint first
    with count_statements(pgspatial_session) as counter:
        for i in range(3):
            pgspatial_session.execute(text("SELECT :i"), {"i": i})
    assert counter.count == 3
    assert all("SELECT" in s for s in counter.statements)

    with count_statements(pgspatial_session) as batch:
        pgspatial_session.execute(text("CREATE TEMP TABLE t (x int)"))
        pgspatial_session.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}, {"x": 3}])
    # psycopg 3 sends an executemany as one pipelined batch: SQLAlchemy reports it once.
    assert batch.count == 2


def test_count_statements_enforces_a_maximum(pgspatial_connection):
    def two_statements():
        with count_statements(pgspatial_connection, max_count=1):
            pgspatial_connection.execute(text("SELECT 1"))
            pgspatial_connection.execute(text("SELECT 2"))

    with pytest.raises(AssertionError, match=r"at most 1 SQL statement\(s\), 2 ran") as caught:
        two_statements()
    assert "SELECT 2" in str(caught.value)
