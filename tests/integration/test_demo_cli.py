"""`pgspatial demo --load-only` loads the demo data only when it is absent."""

from .conftest import run_cli


def test_demo_loads_when_absent_and_reloads_on_request(pgspatial_fresh_database):
    env = {"DATABASE_URL": pgspatial_fresh_database.url}
    first = run_cli("demo", "--load-only", "--parcels", "1000", env=env)
    assert first.returncode == 0, first.stderr
    assert "loaded 1,000 parcels" in first.stdout
    again = run_cli("demo", "--load-only", "--parcels", "5000", env=env)
    assert "already loaded (1,000 parcels)" in again.stdout
    reloaded = run_cli("demo", "--load-only", "--parcels", "2000", "--reload", env=env)
    assert "loaded 2,000 parcels" in reloaded.stdout
