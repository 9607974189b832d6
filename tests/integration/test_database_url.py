"""DATABASE_URL points every command elsewhere, and then no server is ever started."""

from .conftest import run_cli


def test_db_url_and_start_honour_database_url(tmp_path):
    home = tmp_path / "never-created"
    env = {"DATABASE_URL": "postgres://someone:pw@127.0.0.1:1/theirdb", "PGSPATIAL_HOME": str(home)}
    url = run_cli("db", "url", env=env)
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip() == "postgresql+psycopg://someone:pw@127.0.0.1:1/theirdb"
    start = run_cli("db", "start", env=env)
    assert start.returncode == 0
    assert "not starting one" in start.stdout
    assert "pw" not in start.stdout, "passwords are not printed"
    assert run_cli("db", "destroy", "--yes", env=env).returncode == 1
    assert not home.exists(), "nothing of the embedded cluster may be created"


def test_plugin_uses_database_url(pytester, monkeypatch, tmp_path, pgspatial_database_url):
    monkeypatch.setenv("DATABASE_URL", pgspatial_database_url)
    monkeypatch.setenv("PGSPATIAL_HOME", str(tmp_path / "never-created"))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        f"""
        def test_url(pgspatial_database_url, pgspatial_engine):
            assert pgspatial_database_url == {pgspatial_database_url!r}
            with pgspatial_engine.connect() as conn:
                assert conn.exec_driver_sql("select 1").scalar() == 1
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (tmp_path / "never-created").exists()
